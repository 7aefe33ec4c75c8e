"""Storing extractions as records with provenance, and changing them with an audit trail.

Every write that matters to the person on the card writes an :class:`AuditEvent` in the
same transaction. Audit details hold ids, codes and field names, never personal values.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session, col, delete, select

from ingest.errors import InvalidAttestationError, NotFoundError, SubjectSuppressedError
from ingest.schema import Extraction
from models.keys import contact_keys
from models.tables import (
    Attestation,
    AuditEvent,
    Basis,
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


@dataclass(frozen=True)
class AttestationInput:
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
    items = text.split(",") if isinstance(text, str) else list(text)
    try:
        return {Use(item.strip()) for item in items if item.strip()}
    except ValueError as exc:
        raise InvalidAttestationError(
            f"Unknown use: {exc}. Uses are {', '.join(u.value for u in Use)}."
        ) from exc


def find_source(session: Session, uploader_id: int, sha256: str) -> Source | None:
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
    if keys and _suppressed(session, {h for _, h in keys}, {SuppressionReason.child}):
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
    for name, values in extraction.fields.items():
        for position, v in enumerate(values):
            session.add(
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
            )
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


def _keys_of(extraction: Extraction, salt: bytes) -> set[tuple[str, str]]:
    emails = [v.value for v in extraction.fields.get("emails", [])]
    phones = [v.value for v in extraction.fields.get("phones", []) if v.value.startswith("+")]
    return contact_keys(emails, phones, salt, extraction.region)


def _suppressed(session: Session, hashes: set[str], reasons: set[SuppressionReason]) -> bool:
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
    for record in session.exec(select(ContactRecord).where(ContactRecord.subject_id == source_id)).all():
        record.subject_id = target_id
    for key in session.exec(select(SubjectKey).where(SubjectKey.subject_id == source_id)).all():
        key.subject_id = target_id
    session.flush()
    audit(session, "subjects_merged", None, subject_id=target_id, merged_subject_id=source_id)
    session.exec(delete(Subject).where(col(Subject.id) == source_id))  # type: ignore[call-overload]


def get_own_record(session: Session, uploader: Principal, record_id: int) -> ContactRecord:
    """An uploader's own record, or NotFound (never Forbidden: existence is not disclosed)."""
    record = session.get(ContactRecord, record_id)
    if record is None or record.uploader_id != uploader.id:
        raise NotFoundError(f"No card {record_id}.")
    return record


def record_values(session: Session, record_id: int) -> list[FieldValue]:
    query = (
        select(FieldValue)
        .where(FieldValue.record_id == record_id)
        .order_by(col(FieldValue.field), col(FieldValue.position))
    )
    return list(session.exec(query).all())


def correct_field(
    session: Session, actor: Principal, record: ContactRecord, value_id: int, new_value: str
) -> FieldValue:
    """Change a value; the OCR value and every earlier value stay in its history."""
    value = session.get(FieldValue, value_id)
    if value is None or value.record_id != record.id:
        raise NotFoundError(f"No value {value_id} on card {record.id}.")
    session.add(
        FieldCorrection(
            field_value_id=value.id, previous_value=value.value, new_value=new_value, corrected_by=actor.id
        )
    )
    value.value, value.corrected_by, value.corrected_at = new_value, actor.id, utcnow()
    record.updated_at = utcnow()
    session.add(value)
    if value.field in ("emails", "phones"):
        _refresh_subject(session, record)
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


def _refresh_subject(session: Session, record: ContactRecord) -> None:
    from models.settings import get_settings

    values = record_values(session, record.id)  # type: ignore[arg-type]
    keys = contact_keys(
        [v.value for v in values if v.field == "emails"],
        [v.value for v in values if v.field == "phones"],
        get_settings().salt(),
        record.region,
    )
    record.subject_id = resolve_subject(session, keys) or record.subject_id


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
    return session.exec(
        select(Attestation).where(Attestation.record_id == record_id, col(Attestation.revoked_at).is_(None))
    ).first()
