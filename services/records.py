"""Storing extractions as records with provenance, and changing them with an audit trail.

Every write that matters to the person on the card writes an :class:`AuditEvent` in the
same transaction. Audit details hold ids, codes and field names, never personal values.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session, col, select

from ingest.schema import Extraction
from models.blobs import BlobStore
from models.enums import Basis, Channel, Use
from models.tables import (
    Attestation,
    ContactRecord,
    ExtractionRun,
    FieldCorrection,
    FieldValue,
    PermittedUse,
    Principal,
    Source,
    utcnow,
)
from services.audit import audit
from services.catalog import link_record, relink_record
from services.deletion import delete_records
from services.errors import InvalidAttestationError, NotFoundError
from services.notices import ensure_notice
from services.paging import MAX_ID
from services.subjects import (
    IDENTIFYING_FIELDS,
    admit,
    extraction_keys,
    record_keys,
    refresh_subject,
    resolve_subject,
)


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

    def row(self, record_id: int, attested_by: int, channel: Channel) -> Attestation:
        """The attestation as stored for one record."""
        return Attestation(
            record_id=record_id,
            basis=self.basis,
            basis_text=self.basis_text,
            text_version=self.text_version,
            attested_by=attested_by,
            channel=channel,
            details=self.details,
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
    keys = extraction_keys(extraction, salt)
    admit(session, keys)  # a child's card is refused, whichever of their e-mails, phones or names it shows
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
    assert source.id is not None
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
    assert record.id is not None
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
        session.add(attestation.row(record.id, uploader.id, channel))
    for use in sorted(uses):
        session.add(PermittedUse(record_id=record.id, use=use, set_by=uploader.id))
    record.subject_id = resolve_subject(session, keys)
    session.flush()
    ensure_notice(session, record)
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


def get_own_record(session: Session, uploader: Principal, record_id: int) -> ContactRecord:
    """An uploader's own record, or NotFound (never Forbidden: existence is not disclosed)."""
    record = session.get(ContactRecord, record_id)
    if record is None or record.uploader_id != uploader.id:
        raise NotFoundError(f"No card {record_id}.")
    return record


def correct_field(
    session: Session,
    actor: Principal,
    record: ContactRecord,
    value_id: int,
    new_value: str,
    *,
    salt: bytes,
) -> FieldValue:
    """Change a value; the OCR value and every earlier value stay in its history.

    Correcting an e-mail or phone re-resolves the record's person with the subject index ``salt``.
    """
    value = session.get(FieldValue, value_id)
    if value is None or value.record_id != record.id:
        raise NotFoundError(f"No value {value_id} on card {record.id}.")
    assert value.id is not None and actor.id is not None
    previous = value.value
    keys_before = record_keys(session, record, salt) if value.field in IDENTIFYING_FIELDS else set()
    session.add(
        FieldCorrection(
            field_value_id=value.id, previous_value=previous, new_value=new_value, corrected_by=actor.id
        )
    )
    value.value, value.corrected_by, value.corrected_at = new_value, actor.id, utcnow()
    record.updated_at = utcnow()
    session.add(value)
    if value.field in IDENTIFYING_FIELDS:
        refresh_subject(session, record, keys_before, salt)
        ensure_notice(session, record)  # the card may now be another person's
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


def set_uses(session: Session, actor: Principal, record: ContactRecord, uses: set[Use]) -> None:
    """Replace the record's permitted uses; audited with the before and after sets."""
    assert record.id is not None and actor.id is not None
    current = session.exec(select(PermittedUse).where(PermittedUse.record_id == record.id)).all()
    before = {u.use for u in current}
    for row in current:
        if row.use not in uses:
            session.delete(row)
    for use in uses - before:
        session.add(PermittedUse(record_id=record.id, use=use, set_by=actor.id))
    record.updated_at = utcnow()
    session.flush()
    ensure_notice(session, record)
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
    assert record.id is not None and actor.id is not None
    if attestation is not None:
        attestation.validate()
    for row in session.exec(
        select(Attestation).where(Attestation.record_id == record.id, col(Attestation.revoked_at).is_(None))
    ).all():
        row.revoked_at = utcnow()
    if attestation is not None:
        session.add(attestation.row(record.id, actor.id, channel))
    record.updated_at = utcnow()
    session.flush()
    ensure_notice(session, record)
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

    The deletion steps are an erasure's (:func:`services.deletion.delete_records`): values,
    corrections, attestations, uses, catalog links, source and OCR text go; the image blob
    goes after the commit unless another source still uses the same bytes. Unlike an
    erasure, the partner-disclosure and invite log stays (without the card reference).
    """
    assert record.id is not None
    return delete_records(session, [record.id], actor=actor, blobs=blobs, audit_action="deleted").counts()


def apply_changes(
    session: Session,
    actor: Principal,
    record: ContactRecord,
    *,
    corrections: Iterable[tuple[int, str]] = (),
    uses: set[Use] | None = None,
    attestation: AttestationInput | None = None,
    revoke_attestation: bool = False,
    channel: Channel = Channel.api,
    salt: bytes,
) -> None:
    """One edit of a card by its uploader (a PATCH, a review form): corrections, uses, attestation.

    Each change is audited; a value that does not belong to the card is not found. A
    corrected company or website moves the card's catalog link; unchanged values and an
    unchanged set of uses write nothing.
    """
    assert record.id is not None
    relink = False
    for value_id, new_value in corrections:
        value = session.get(FieldValue, value_id) if 0 < value_id <= MAX_ID else None
        if value is None or value.record_id != record.id:
            raise NotFoundError(f"No value {value_id} on card {record.id}.")
        if value.value != new_value:
            correct_field(session, actor, record, value_id, new_value, salt=salt)
            relink = relink or value.field in ("companies", "websites")
    if relink:
        relink_record(session, record)
    if uses is not None and uses != record_uses(session, record.id):
        set_uses(session, actor, record, uses)
    if attestation is not None:
        set_attestation(session, actor, record, attestation, channel=channel)
    elif revoke_attestation:
        set_attestation(session, actor, record, None, channel=channel)
