"""The access report (GDPR Art. 15): everything stored about a person, where it came from, whom it went to.

Read-only and JSON-ready: records with every value, its OCR evidence and corrections; the
sources (uploader, channel, time) and extraction runs; attestations and uses; disclosures,
invites, suppressions in force and the audit history of the person's records.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import or_
from sqlmodel import Session, col, select

from core.times import iso_utc
from models.tables import (
    Attestation,
    AuditEvent,
    ContactRecord,
    Disclosure,
    DisclosureLedger,
    ExtractionRun,
    FieldCorrection,
    FieldValue,
    Invite,
    PermittedUse,
    Source,
    Suppression,
)
from services.disclosures import disclosures_of
from services.names import PrincipalNames
from services.notices import notice_state
from services.subjects import resolve_contact, subject_keys
from services.values import record_values


def _value_report(
    value: FieldValue, corrections: list[FieldCorrection], name: PrincipalNames
) -> dict[str, Any]:
    return {
        "value": value.value,
        "raw": value.raw,
        "ocr_value": value.ocr_value,
        "confidence": value.confidence,
        "bbox": value.bbox,
        "method": value.method,
        "type": value.type,
        "extension": value.extension,
        "corrected_by": name(value.corrected_by),
        "corrected_at": iso_utc(value.corrected_at),
        "corrections": [
            {
                "previous_value": c.previous_value,
                "new_value": c.new_value,
                "corrected_by": name(c.corrected_by),
                "corrected_at": iso_utc(c.corrected_at),
            }
            for c in corrections
        ],
    }


def _record_report(session: Session, record: ContactRecord, name: PrincipalNames) -> dict[str, Any]:
    assert record.id is not None
    source = session.get(Source, record.source_id)
    run = session.get(ExtractionRun, record.extraction_run_id) if record.extraction_run_id else None
    values = record_values(session, record.id)
    corrections: dict[int, list[FieldCorrection]] = defaultdict(list)
    if values:
        query = (
            select(FieldCorrection)
            .where(col(FieldCorrection.field_value_id).in_([v.id for v in values]))
            .order_by(col(FieldCorrection.corrected_at), col(FieldCorrection.id))
        )
        for c in session.exec(query).all():
            corrections[c.field_value_id].append(c)
    fields: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for v in values:
        fields[v.field].append(_value_report(v, corrections[v.id or 0], name))
    attestations = session.exec(
        select(Attestation).where(Attestation.record_id == record.id).order_by(col(Attestation.id))
    ).all()
    uses = session.exec(
        select(PermittedUse).where(PermittedUse.record_id == record.id).order_by(col(PermittedUse.use))
    ).all()
    return {
        "id": record.id,
        "subject_id": record.subject_id,
        "uploader": name(record.uploader_id),
        "region": record.region,
        "notes": record.notes,
        "created_at": iso_utc(record.created_at),
        "updated_at": iso_utc(record.updated_at),
        "source": None
        if source is None
        else {
            "id": source.id,
            "uploader": name(source.uploader_id),
            "channel": source.channel.value,
            "received_at": iso_utc(source.received_at),
            "client": source.client,
            "sha256": source.sha256,
            "byte_size": source.byte_size,
            "image_stored": source.blob_key is not None,
            "status": source.status,
        },
        "extraction": None
        if run is None
        else {
            "engine": run.engine,
            "engine_version": run.engine_version,
            "pipeline_version": run.pipeline_version,
            "text": run.text,
            "created_at": iso_utc(run.created_at),
        },
        "fields": dict(fields),
        "attestations": [
            {
                "basis": a.basis.value,
                "basis_text": a.basis_text,
                "text_version": a.text_version,
                "attested_by": name(a.attested_by),
                "attested_at": iso_utc(a.attested_at),
                "channel": a.channel.value,
                "revoked_at": iso_utc(a.revoked_at),
            }
            for a in attestations
        ],
        "uses": [{"use": u.use.value, "set_by": name(u.set_by), "set_at": iso_utc(u.set_at)} for u in uses],
    }


def access_report(
    session: Session,
    *,
    email: str | None = None,
    phone: str | None = None,
    name: str | None = None,
    company: str | None = None,
    salt: bytes,
    region: str | None = None,
) -> dict[str, Any]:
    """Everything stored about a person, where it came from and to whom it went (JSON-ready; read-only).

    Also what an erasure kept: the disclosure ledger (recipient, time, categories) and the
    suppressions in force, found by the person's hashes.
    """
    given, subjects = resolve_contact(
        session, email=email, phone=phone, salt=salt, region=region, name=name, company=company
    )
    subject_ids = [s.id for s in subjects if s.id is not None]
    names = PrincipalNames(session)
    records = session.exec(
        select(ContactRecord)
        .where(col(ContactRecord.subject_id).in_(subject_ids))
        .order_by(col(ContactRecord.id))
    ).all()
    record_ids = [r.id for r in records if r.id is not None]
    disclosures = session.exec(
        disclosures_of(subject_ids, record_ids).order_by(col(Disclosure.disclosed_at), col(Disclosure.id))
    ).all()
    invites = session.exec(
        select(Invite).where(col(Invite.subject_id).in_(subject_ids)).order_by(col(Invite.sent_at))
    ).all()
    keys = given | subject_keys(session, subject_ids)
    suppressions = session.exec(
        select(Suppression)
        .where(col(Suppression.key_hash).in_({h for _, h in keys}))
        .order_by(col(Suppression.created_at), col(Suppression.id))
    ).all()
    events = session.exec(
        select(AuditEvent)
        .where(or_(col(AuditEvent.subject_id).in_(subject_ids), col(AuditEvent.record_id).in_(record_ids)))
        .order_by(col(AuditEvent.at), col(AuditEvent.id))
    ).all()
    return {
        "found": bool(subject_ids),
        "subjects": [
            {"id": s.id, "created_at": iso_utc(s.created_at), "is_user": s.is_user} for s in subjects
        ],
        "records": [_record_report(session, r, names) for r in records],
        "disclosures": [
            {
                "partner": names(d.partner_id),
                "record_id": d.record_id,
                "categories": d.categories,
                "purpose": d.purpose,
                "direct_marketing": d.direct_marketing,
                "disclosed_at": iso_utc(d.disclosed_at),
            }
            for d in disclosures
        ],
        "invites": [
            {"record_id": i.record_id, "sent_by": names(i.sent_by), "sent_at": iso_utc(i.sent_at)}
            for i in invites
        ],
        "notices": notice_state(session, subject_ids),
        "ledger": _ledger_report(session, {h for _, h in keys}, names),
        "suppressions": _suppression_report(suppressions),
        "history": [
            {
                "at": iso_utc(e.at),
                "action": e.action,
                "actor": names(e.actor_id),
                "record_id": e.record_id,
                "details": e.details,
            }
            for e in events
        ],
    }


def _ledger_report(session: Session, hashes: set[str], names: PrincipalNames) -> list[dict[str, Any]]:
    """Disclosures kept after an erasure, one per disclosure (a disclosure has a row per hash)."""
    rows = session.exec(
        select(DisclosureLedger)
        .where(col(DisclosureLedger.key_hash).in_(hashes))
        .order_by(col(DisclosureLedger.disclosed_at), col(DisclosureLedger.id))
    ).all()
    seen: dict[int, dict[str, Any]] = {}
    for row in rows:
        seen.setdefault(
            row.disclosure_ref,
            {
                "partner": names(row.partner_id),
                "categories": row.categories,
                "purpose": row.purpose,
                "disclosed_at": iso_utc(row.disclosed_at),
            },
        )
    return list(seen.values())


def _suppression_report(rows: Sequence[Suppression]) -> list[dict[str, Any]]:
    """Reasons in force per kind of contact (earliest date wins); hashes mean nothing to the person."""
    since: dict[tuple[str, str], str | None] = {}
    for row in rows:
        since.setdefault((row.kind, row.reason.value), iso_utc(row.created_at))
    return [{"kind": kind, "reason": reason, "since": at} for (kind, reason), at in sorted(since.items())]
