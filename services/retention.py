"""Retention: nothing is kept longer than its period (settings ``CARDS_RETAIN_*``), swept by one command.

``cards retention sweep`` reports what each rule would remove and, with ``--apply``, removes
it. It is idempotent (a second run finds nothing) and counts-only in its audit event.

| what | kept | then |
| --- | --- | --- |
| card images | ``CARDS_RETAIN_IMAGES_DAYS`` after receipt | the blob is deleted; the record stays, without its image |
| OCR text and value boxes | ``CARDS_RETAIN_OCR_DAYS`` after extraction | the run's text, the values' raw text and boxes are cleared |
| records with no permitted use | ``CARDS_RETAIN_UNUSED_MONTHS`` unchanged | deleted like a card its uploader deletes |
| disclosure log, ledger, partner feed | ``CARDS_RETAIN_LEDGER_DAYS`` | deleted (at least 400 days: Shine-the-Light asks about the previous year) |
| audit events | ``CARDS_RETAIN_AUDIT_DAYS`` | deleted |
| finished upload jobs, ended invite claims, answered idempotency keys | ``CARDS_RETAIN_JOBS_DAYS`` | deleted |
| import reports | ``CARDS_RETAIN_REPORTS_DAYS`` | the files are deleted |
| orphan images (no source, no waiting job: a crash between blob and commit) | a day | the blob is deleted, from the folder or the database's blob table |

A period of 0 keeps that kind of data (where the setting allows 0).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import and_, delete, func, update
from sqlmodel import Session, col, select

from core.settings import Settings
from models.blobs import BlobStore
from models.tables import (
    AuditEvent,
    ContactRecord,
    Disclosure,
    DisclosureLedger,
    ExtractionRun,
    FieldValue,
    IdempotencyKey,
    InviteClaim,
    PartnerSuppression,
    PermittedUse,
    Source,
    UploadJob,
    utcnow,
)
from services.audit import audit
from services.deletion import DeletionResult, after_commit, blobs_in_use, delete_records, finish_deletion

DAYS_PER_MONTH = 30.44
ORPHAN_GRACE = timedelta(days=1)  # an image younger than this may belong to a card not yet committed
ORPHAN_CHUNK = 500


@dataclass
class SweepReport:
    """What a sweep found (dry run) or removed (applied), per rule."""

    applied: bool
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"applied": self.applied, "counts": self.counts, "seconds": round(self.seconds, 3)}


def sweep(session: Session, settings: Settings, blobs: BlobStore, *, apply: bool = False) -> SweepReport:
    """Find (and with ``apply`` remove) everything past its retention period; the caller commits."""
    started = time.perf_counter()
    now = utcnow()
    report = SweepReport(applied=apply)
    report.counts["images"] = _images(session, blobs, _before(now, settings.retain_images_days), apply)
    report.counts["ocr_text"] = _ocr_text(session, _before(now, settings.retain_ocr_days), apply)
    report.counts["unused_records"] = _unused_records(
        session, blobs, _before(now, settings.retain_unused_months * DAYS_PER_MONTH), apply
    )
    ledger = _before(now, settings.retain_ledger_days)
    jobs = _before(now, settings.retain_jobs_days)
    audit_cutoff = _before(now, settings.retain_audit_days)
    rules: dict[str, tuple[Any, Callable[[datetime], Any], datetime | None]] = {
        "disclosures": (Disclosure, lambda t: col(Disclosure.disclosed_at) < t, ledger),
        "ledger": (DisclosureLedger, lambda t: col(DisclosureLedger.disclosed_at) < t, ledger),
        "partner_feed": (PartnerSuppression, lambda t: col(PartnerSuppression.created_at) < t, ledger),
        "jobs": (
            UploadJob,
            lambda t: and_(col(UploadJob.status).in_(["done", "failed"]), col(UploadJob.updated_at) < t),
            jobs,
        ),
        "invite_claims": (
            InviteClaim,
            lambda t: and_(col(InviteClaim.status) != "reserved", col(InviteClaim.claimed_at) < t),
            jobs,
        ),
        "idempotency_keys": (IdempotencyKey, lambda t: col(IdempotencyKey.created_at) < t, jobs),
        "audit_events": (AuditEvent, lambda t: col(AuditEvent.at) < t, audit_cutoff),
    }
    for name, (table, condition, cutoff) in rules.items():
        report.counts[name] = 0 if cutoff is None else _rows(session, table, condition(cutoff), apply)
    report.counts["orphan_images"] = _orphans(session, blobs, now - ORPHAN_GRACE, apply)
    report.counts["import_reports"] = _reports(
        settings.report_dir, _before(now, settings.retain_reports_days), apply
    )
    if apply:
        audit(session, "retention_swept", None, **report.counts)
        session.flush()
    report.seconds = time.perf_counter() - started
    return report


def _before(now: datetime, days: float) -> datetime | None:
    """The cutoff of a period, or None when the period is 0 (keep)."""
    return now - timedelta(days=days) if days > 0 else None


def _rows(session: Session, table: Any, condition: Any, apply: bool) -> int:
    """Count, or delete, the rows of ``table`` matching ``condition``."""
    if not apply:
        return int(session.exec(select(func.count()).select_from(table).where(condition)).one())
    outcome = session.execute(delete(table).where(condition))
    return int(getattr(outcome, "rowcount", 0) or 0)


def _images(session: Session, blobs: BlobStore, cutoff: datetime | None, apply: bool) -> int:
    if cutoff is None:
        return 0
    old = col(Source.received_at) < cutoff
    sources = session.exec(select(Source).where(old, col(Source.blob_key).is_not(None))).all()
    if not apply:
        return len(sources)
    keys = {s.blob_key for s in sources if s.blob_key}
    session.execute(update(Source).where(old, col(Source.blob_key).is_not(None)).values(blob_key=None))
    session.flush()
    result = DeletionResult(blob_keys=sorted(keys - blobs_in_use(session, keys)))
    after_commit(session, lambda engine: finish_deletion(engine, blobs, result))
    return len(sources)


def _orphans(session: Session, blobs: BlobStore, cutoff: datetime, apply: bool) -> int:
    """Images no source and no waiting job refers to (both stores: the interface lists its keys)."""
    keys = list(blobs.keys(older_than=cutoff))
    orphans: list[str] = []
    for start in range(0, len(keys), ORPHAN_CHUNK):
        chunk = keys[start : start + ORPHAN_CHUNK]
        used = blobs_in_use(session, chunk)
        orphans += [k for k in chunk if k not in used]
    if apply and orphans:
        result = DeletionResult(blob_keys=sorted(orphans))  # checked again after the commit
        after_commit(session, lambda engine: finish_deletion(engine, blobs, result))
    return len(orphans)


def _ocr_text(session: Session, cutoff: datetime | None, apply: bool) -> int:
    if cutoff is None:
        return 0
    runs = select(ExtractionRun.id).where(
        col(ExtractionRun.created_at) < cutoff, col(ExtractionRun.text) != ""
    )
    count = int(session.exec(select(func.count()).select_from(runs.subquery())).one())
    if not apply or not count:
        return count
    records = select(ContactRecord.id).where(col(ContactRecord.extraction_run_id).in_(runs))
    session.execute(
        update(FieldValue)
        .where(col(FieldValue.record_id).in_(records))
        .values(raw="", bbox=None)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(ExtractionRun)
        .where(col(ExtractionRun.created_at) < cutoff, col(ExtractionRun.text) != "")
        .values(text="")
        .execution_options(synchronize_session=False)
    )
    return count


def _unused_records(session: Session, blobs: BlobStore, cutoff: datetime | None, apply: bool) -> int:
    if cutoff is None:
        return 0
    used = select(PermittedUse.record_id)
    ids = [
        r
        for r in session.exec(
            select(ContactRecord.id).where(
                col(ContactRecord.updated_at) < cutoff, col(ContactRecord.id).not_in(used)
            )
        ).all()
        if r is not None
    ]
    if apply and ids:
        delete_records(session, ids, actor=None, blobs=blobs, audit_action="retention_deleted")
    return len(ids)


def _reports(folder: Path, cutoff: datetime | None, apply: bool) -> int:
    if cutoff is None or not folder.is_dir():
        return 0
    old = [p for p in folder.glob("import-*.json") if p.stat().st_mtime < cutoff.timestamp()]
    if apply:
        for path in old:
            path.unlink(missing_ok=True)
    return len(old)
