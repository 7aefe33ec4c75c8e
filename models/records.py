"""Storing extractions as records with provenance, and changing them with an audit trail.

Every write that matters to the person on the card writes an :class:`AuditEvent` in the
same transaction. Audit details hold ids, codes and field names, never personal values.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session, SQLModel, col, delete, select, update

from ingest.errors import InvalidAttestationError, NotFoundError, SubjectSuppressedError
from ingest.schema import Extraction
from models.blobs import BlobStore
from models.catalog import drop_orphans, link_record
from models.keys import contact_keys
from models.tables import (
    Attestation,
    AuditEvent,
    Basis,
    CatalogLink,
    Channel,
    ContactRecord,
    ExtractionRun,
    FieldCorrection,
    FieldValue,
    PermittedUse,
    Principal,
    Source,
    Subject,
    SubjectKey,
    Suppression,
    SuppressionReason,
    Use,
    utcnow,
)

#: The fields whose values identify a person across cards (hashed into :class:`SubjectKey`).
IDENTIFYING_FIELDS = ("emails", "phones")


@dataclass(frozen=True)
class AttestationInput:
    """What the uploader attests, before it is stored: validated so an empty 'other' never lands."""

    basis: Basis
    text_version: str
    basis_text: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def validate(self) -> None:
        if self.basis is Basis.other and not (self.basis_text or "").strip():
            raise InvalidAttestationError("Basis 'other' needs a text saying what the authorisation was.")


def audit(
    session: Session,
    action: str,
    actor: Principal | None,
    *,
    record_id: int | None = None,
    subject_id: int | None = None,
    **details: Any,
) -> None:
    """Add an audit event to the caller's transaction: it commits or rolls back with the change."""
    session.add(
        AuditEvent(
            action=action,
            actor_id=actor.id if actor else None,
            record_id=record_id,
            subject_id=subject_id,
            details=details,
        )
    )


def parse_uses(text: str | Iterable[str]) -> set[Use]:
    """Uses from ``"catalog,invites"`` or a list; an unknown one is refused, never ignored."""
    items = text.split(",") if isinstance(text, str) else list(text)
    try:
        return {Use(item.strip()) for item in items if item.strip()}
    except ValueError as exc:
        raise InvalidAttestationError(
            f"Unknown use: {exc}. Uses are {', '.join(u.value for u in Use)}."
        ) from exc


def find_source(session: Session, uploader_id: int, sha256: str) -> Source | None:
    """The uploader's earlier source of the same bytes: a re-import is answered from it."""
    return session.exec(
        select(Source).where(Source.uploader_id == uploader_id, Source.sha256 == sha256)
    ).first()


def store_extraction(
    session: Session,
    *,
    uploader: Principal,
    channel: Channel,
    extraction: Extraction,
    byte_size: int,
    blob_key: str | None,
    client: dict[str, Any],
    attestation: AttestationInput | None,
    uses: set[Use],
    salt: bytes,
) -> ContactRecord:
    """Store one card: source, extraction run, record, values, attestation, uses, subject; one audit event.

    The caller owns the transaction (one card = one transaction or savepoint).
    """
    assert uploader.id is not None and extraction.sha256
    if attestation is not None:
        attestation.validate()
    keys = _keys_of(extraction, salt)
    # The suppression may name another e-mail or phone of the same person, known from other cards.
    if keys and _suppressed(session, _person_hashes(session, keys), {SuppressionReason.child}):
        raise SubjectSuppressedError("This card belongs to a person whose data must not be kept.")
    source = Source(
        uploader_id=uploader.id,
        channel=channel,
        client=client,
        sha256=extraction.sha256,
        byte_size=byte_size,
        blob_key=blob_key,
    )
    session.add(source)
    session.flush()
    run = ExtractionRun(
        source_id=source.id,
        engine=extraction.engine.get("name", "tesseract"),
        engine_version=str(extraction.engine.get("version", "")),
        pipeline_version=str(extraction.engine.get("pipeline", "")),
        params={**extraction.engine.get("params", {}), "steps": extraction.engine.get("steps", [])},
        timings_ms=extraction.timings_ms,
        text=extraction.text,
    )
    session.add(run)
    session.flush()
    record = ContactRecord(
        source_id=source.id,
        extraction_run_id=run.id,
        uploader_id=uploader.id,
        region=extraction.region,
        notes=client.get("notes"),
    )
    session.add(record)
    session.flush()
    stored = [
        FieldValue(
            record_id=record.id,
            field=name,
            position=position,
            value=v.value,
            ocr_value=v.value,
            raw=v.raw,
            confidence=v.confidence,
            bbox=v.bbox,
            method=v.method,
            type=v.type,
            extension=v.extension,
        )
        for name, values in extraction.fields.items()
        for position, v in enumerate(values)
    ]
    session.add_all(stored)
    if attestation is not None:
        session.add(
            Attestation(
                record_id=record.id,
                basis=attestation.basis,
                basis_text=attestation.basis_text,
                text_version=attestation.text_version,
                attested_by=uploader.id,
                channel=channel,
                details=attestation.details,
            )
        )
    for use in sorted(uses):
        session.add(PermittedUse(record_id=record.id, use=use, set_by=uploader.id))
    record.subject_id = resolve_subject(session, keys)
    session.flush()
    # The company link is made for every record; whether the catalog may show it is decided
    # at read time by the policy, so a use granted later needs no re-processing.
    link_record(session, record, stored)
    audit(
        session,
        "created",
        uploader,
        record_id=record.id,
        subject_id=record.subject_id,
        channel=channel.value,
        uses=sorted(u.value for u in uses),
        attested=attestation is not None,
        fields=sorted(k for k, v in extraction.fields.items() if v),
    )
    session.flush()
    return record


def identifying_keys(
    emails: Iterable[str], phones: Iterable[str], salt: bytes, region: str | None = None
) -> set[tuple[str, str]]:
    """The subject keys of a record's e-mails and phones: one rule for storing and for correcting.

    Only E.164 phones (a leading ``+``) count: a digit run that OCR could not place in a
    country would be hashed under a guessed one, and could link two strangers.
    """
    return contact_keys(list(emails), [p for p in phones if p.strip().startswith("+")], salt, region)


def _keys_of(extraction: Extraction, salt: bytes) -> set[tuple[str, str]]:
    """The subject keys a new card brings."""
    return identifying_keys(
        (v.value for v in extraction.fields.get("emails", [])),
        (v.value for v in extraction.fields.get("phones", [])),
        salt,
        extraction.region,
    )


def _values_keys(values: Iterable[FieldValue], salt: bytes, region: str | None) -> set[tuple[str, str]]:
    """The subject keys a stored record's current values bring."""
    values = list(values)
    return identifying_keys(
        (v.value for v in values if v.field == "emails"),
        (v.value for v in values if v.field == "phones"),
        salt,
        region,
    )


def _person_hashes(session: Session, keys: set[tuple[str, str]]) -> set[str]:
    """These key hashes and every other hash of the subjects that own any of them."""
    hashes = {h for _, h in keys}
    owners = select(SubjectKey.subject_id).where(col(SubjectKey.key_hash).in_(hashes))
    known = session.exec(select(SubjectKey.key_hash).where(col(SubjectKey.subject_id).in_(owners))).all()
    return hashes | set(known)


def _suppressed(session: Session, hashes: set[str], reasons: set[SuppressionReason]) -> bool:
    """Whether any of these hashes is suppressed for any of these reasons."""
    query = select(Suppression.id).where(
        col(Suppression.key_hash).in_(hashes), col(Suppression.reason).in_(list(reasons))
    )
    return session.exec(query).first() is not None


def resolve_subject(session: Session, keys: set[tuple[str, str]]) -> int | None:
    """The subject owning any of these keys (merging subjects the keys prove are one), or a new one."""
    if not keys:
        return None
    hashes = {h for _, h in keys}
    existing = session.exec(select(SubjectKey).where(col(SubjectKey.key_hash).in_(hashes))).all()
    subject_ids = sorted({k.subject_id for k in existing})
    if not subject_ids:
        subject = Subject()
        session.add(subject)
        session.flush()
        subject_id = subject.id
    else:
        subject_id = subject_ids[0]
        for other in subject_ids[1:]:  # the same person was two subjects until this card linked them
            _merge_subject(session, other, subject_id)
    known = {(k.kind, k.key_hash) for k in existing}
    for kind, hashed in keys - known:
        session.add(SubjectKey(subject_id=subject_id, kind=kind, key_hash=hashed))
    session.flush()
    return subject_id


def _merge_subject(session: Session, source_id: int, target_id: int) -> None:
    """Fold subject ``source_id`` into ``target_id``: everything that points at the person moves.

    Every table with a foreign key to ``subject`` is repointed before the source row is
    deleted, so no ``ON DELETE CASCADE`` (invites: the invite cooldown) or ``SET NULL``
    (disclosures: the disclosure log) silently drops the person's history, including tables
    added after this function was written. "Already a user" survives from either side.
    """
    source, target = session.get(Subject, source_id), session.get(Subject, target_id)
    assert source is not None and target is not None
    target.is_user = target.is_user or source.is_user
    for model, column in _subject_references():
        session.exec(update(model).where(column == source_id).values({column.key: target_id}))
    session.flush()
    audit(session, "subjects_merged", None, subject_id=target_id, merged_subject_id=source_id)
    session.delete(source)
    session.flush()


def _subject_references() -> list[tuple[type[SQLModel], Any]]:
    """``(table class, column)`` for every mapped column that is a foreign key to ``subject.id``."""
    found = []
    for mapper in SQLModel._sa_registry.mappers:  # every table class, including ones added later
        for column in mapper.columns:
            if any(fk.column.table.name == "subject" for fk in column.foreign_keys):
                found.append((mapper.class_, getattr(mapper.class_, column.key)))
    return sorted(found, key=lambda pair: pair[0].__name__)


def get_own_record(session: Session, uploader: Principal, record_id: int) -> ContactRecord:
    """An uploader's own record, or NotFound (never Forbidden: existence is not disclosed)."""
    record = session.get(ContactRecord, record_id)
    if record is None or record.uploader_id != uploader.id:
        raise NotFoundError(f"No card {record_id}.")
    return record


def record_values(session: Session, record_id: int) -> list[FieldValue]:
    """Every value of a record, in a stable order (field, then position on the card)."""
    query = (
        select(FieldValue)
        .where(FieldValue.record_id == record_id)
        .order_by(col(FieldValue.field), col(FieldValue.position))
    )
    return list(session.exec(query).all())


def correct_field(
    session: Session,
    actor: Principal,
    record: ContactRecord,
    value_id: int,
    new_value: str,
    *,
    salt: bytes | None = None,
) -> FieldValue:
    """Change a value; the OCR value and every earlier value stay in its history.

    Correcting an e-mail or phone re-resolves the record's person, which needs the subject
    index ``salt``; pass it (None falls back to the settings, which may create ./var).
    """
    value = session.get(FieldValue, value_id)
    if value is None or value.record_id != record.id:
        raise NotFoundError(f"No value {value_id} on card {record.id}.")
    previous = value.value
    session.add(
        FieldCorrection(
            field_value_id=value.id, previous_value=previous, new_value=new_value, corrected_by=actor.id
        )
    )
    value.value, value.corrected_by, value.corrected_at = new_value, actor.id, utcnow()
    record.updated_at = utcnow()
    session.add(value)
    if value.field in IDENTIFYING_FIELDS:
        salt = salt if salt is not None else _settings_salt()
        _refresh_subject(session, record, salt)
        _forget_unbacked_keys(session, value.field, previous, salt, record.region)
    audit(
        session,
        "corrected",
        actor,
        record_id=record.id,
        subject_id=record.subject_id,
        field=value.field,
        value_id=value.id,
    )
    session.flush()
    return value


def _settings_salt() -> bytes:
    """The configured salt: only for callers that pass none (it may create ./var/suppression.salt)."""
    from models.settings import get_settings

    return get_settings().salt()


def _refresh_subject(session: Session, record: ContactRecord, salt: bytes | None = None) -> None:
    """Re-resolve the record's person from its current e-mails and phones (after a correction).

    A record left with no identifying value keeps its subject: a suppression of that person
    must keep applying to it.
    """
    salt = salt if salt is not None else _settings_salt()
    session.flush()
    keys = _values_keys(record_values(session, record.id), salt, record.region)  # type: ignore[arg-type]
    record.subject_id = resolve_subject(session, keys) or record.subject_id


def _forget_unbacked_keys(
    session: Session, field: str, old_value: str, salt: bytes, region: str | None
) -> None:
    """Drop the key of a replaced e-mail or phone unless another card of the person still shows it.

    A misreading left in the index would keep identifying the person: a stranger whose real
    address it is would be merged into them, with their suppressions and disclosures.
    """
    dropped = identifying_keys(
        [old_value] if field == "emails" else [], [old_value] if field == "phones" else [], salt, region
    )
    for kind, hashed in dropped:
        key = session.exec(
            select(SubjectKey).where(SubjectKey.kind == kind, SubjectKey.key_hash == hashed)
        ).first()
        if key is not None and (kind, hashed) not in _backed_keys(session, key.subject_id, salt):
            session.delete(key)
    session.flush()


def _backed_keys(session: Session, subject_id: int, salt: bytes) -> set[tuple[str, str]]:
    """The keys that the current values of the subject's records produce."""
    keys: set[tuple[str, str]] = set()
    for record in session.exec(select(ContactRecord).where(ContactRecord.subject_id == subject_id)).all():
        keys |= _values_keys(record_values(session, record.id), salt, record.region)  # type: ignore[arg-type]
    return keys


def set_uses(session: Session, actor: Principal, record: ContactRecord, uses: set[Use]) -> None:
    """Replace the record's permitted uses; audited with the before and after sets."""
    current = session.exec(select(PermittedUse).where(PermittedUse.record_id == record.id)).all()
    before = {u.use for u in current}
    for row in current:
        if row.use not in uses:
            session.delete(row)
    for use in uses - before:
        session.add(PermittedUse(record_id=record.id, use=use, set_by=actor.id))
    record.updated_at = utcnow()
    audit(
        session,
        "uses_changed",
        actor,
        record_id=record.id,
        subject_id=record.subject_id,
        before=sorted(u.value for u in before),
        after=sorted(u.value for u in uses),
    )
    session.flush()


def record_uses(session: Session, record_id: int) -> set[Use]:
    """The uses the record currently permits."""
    return {
        u.use for u in session.exec(select(PermittedUse).where(PermittedUse.record_id == record_id)).all()
    }


def set_attestation(
    session: Session,
    actor: Principal,
    record: ContactRecord,
    attestation: AttestationInput | None,
    channel: Channel = Channel.api,
) -> None:
    """Revoke the current attestation and, unless None, record the new one."""
    if attestation is not None:
        attestation.validate()
    for row in session.exec(
        select(Attestation).where(Attestation.record_id == record.id, col(Attestation.revoked_at).is_(None))
    ).all():
        row.revoked_at = utcnow()
    if attestation is not None:
        session.add(
            Attestation(
                record_id=record.id,
                basis=attestation.basis,
                basis_text=attestation.basis_text,
                text_version=attestation.text_version,
                attested_by=actor.id,
                channel=channel,
                details=attestation.details,
            )
        )
    record.updated_at = utcnow()
    audit(
        session,
        "attestation_changed" if attestation else "attestation_revoked",
        actor,
        record_id=record.id,
        subject_id=record.subject_id,
        basis=attestation.basis.value if attestation else None,
    )
    session.flush()


def current_attestation(session: Session, record_id: int) -> Attestation | None:
    """The record's unrevoked attestation; earlier ones stay as revoked evidence."""
    return session.exec(
        select(Attestation).where(Attestation.record_id == record_id, col(Attestation.revoked_at).is_(None))
    ).first()


def delete_record(
    session: Session, actor: Principal, record: ContactRecord, blobs: BlobStore
) -> dict[str, int]:
    """Delete one of the uploader's records with its image and OCR text; audited with counts only.

    The deletion steps are an erasure's (:func:`models.rights.delete_records`): values,
    corrections, attestations, uses, catalog links, source and OCR text go; the image blob
    goes after the commit unless another source still uses the same bytes. Unlike an
    erasure, the partner-disclosure and invite log stays (without the card reference).
    """
    from models.rights import delete_records  # rights builds on this module

    assert record.id is not None
    return delete_records(session, [record.id], actor=actor, blobs=blobs, audit_action="deleted").counts()


def relink_catalog(session: Session, record: ContactRecord) -> None:
    """Point the record's catalog link at the company its current values name (after a correction).

    A corrected company name or website would otherwise leave the record vouching for the
    misread company; companies nobody links to any more are dropped.
    """
    assert record.id is not None
    session.exec(delete(CatalogLink).where(col(CatalogLink.record_id) == record.id))  # type: ignore[call-overload]
    session.flush()
    link_record(session, record, record_values(session, record.id))
    drop_orphans(session)
    session.flush()
