"""Deleting records and everything read from their images; the cleanup that must wait for the commit.

One set of steps for an erasure (:mod:`services.rights`) and for an uploader deleting a card
(:func:`services.records.delete_record`). Transactions: this works inside the caller's
session and only flushes. What must happen outside the database — deleting image blobs and
checkpointing SQLite's write-ahead log so the deleted rows leave the files — runs only
*after* that transaction commits (a session ``after_commit`` hook): a rolled-back erasure
never deletes an image, and a blob is deleted only if, after the commit, no source still
references it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from sqlalchemy import delete, event, or_, update
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session, col, select

from models.blobs import BlobStore
from models.tables import (
    Attestation,
    CatalogLink,
    ContactRecord,
    Disclosure,
    ExtractionRun,
    FieldCorrection,
    FieldValue,
    Invite,
    InviteClaim,
    Notice,
    PermittedUse,
    Principal,
    Source,
    Subject,
    SubjectKey,
    UploadJob,
)
from services.audit import audit
from services.catalog import drop_orphans

log = logging.getLogger(__name__)


@dataclass
class DeletionResult:
    """What deleting records removed (numbers only), and the image blobs to delete after the commit."""

    records: int = 0
    field_values: int = 0
    corrections: int = 0
    attestations: int = 0
    uses: int = 0
    extraction_runs: int = 0
    sources: int = 0
    disclosures: int = 0
    invites: int = 0
    subject_keys: int = 0
    blob_keys: list[str] = field(default_factory=list)  # blobs no other source used at deletion time
    blobs_deleted: list[str] = field(default_factory=list)  # filled in after the commit

    def counts(self) -> dict[str, int]:
        """What was deleted, as numbers only: the shape of the audit event."""
        data = {f.name: getattr(self, f.name) for f in fields(DeletionResult)}
        for name in ("blob_keys", "blobs_deleted"):
            data.pop(name)
        return {**data, "blobs": len(self.blob_keys)}


def delete_records(
    session: Session,
    record_ids: Iterable[int],
    *,
    actor: Principal | None,
    blobs: BlobStore,
    subject_ids: Sequence[int] = (),
    result: DeletionResult | None = None,
    audit_action: str | None = "deleted",
) -> DeletionResult:
    """Delete records and everything read from their images; the blobs go after the commit.

    One set of steps for an erasure and for an uploader deleting a card. Deleted: the
    records with their values, corrections, attestations, uses and catalog links; the
    sources they came from (with every record on them: the image shows the person) and
    their extraction runs (the OCR text); companies nobody vouches for any more. Child rows
    are deleted explicitly rather than trusting ON DELETE CASCADE, which a hand-migrated
    schema may lack.

    With ``subject_ids`` (an erasure) those people go entirely: their disclosure and invite
    rows, keys and subjects. Without, disclosure and invite rows stay with their record
    cleared (the disclosure log and the invite cooldown outlive a deleted card), and a
    subject left with no record, invite, disclosure or user flag is deleted with its keys.
    ``audit_action`` names the one counts-only audit event written (None: the caller writes it).
    """
    result = result if result is not None else DeletionResult()
    wanted = list(record_ids)
    session.flush()
    if session.get_bind().dialect.name == "sqlite":
        # make_engine sets it on every connection; an engine made elsewhere may not have.
        session.connection().exec_driver_sql("PRAGMA secure_delete=ON")
    source_ids = list(
        session.exec(select(ContactRecord.source_id).where(col(ContactRecord.id).in_(wanted))).all()
    )
    record_ids = list(
        r
        for r in session.exec(
            select(ContactRecord.id).where(
                or_(col(ContactRecord.id).in_(wanted), col(ContactRecord.source_id).in_(source_ids))
            )
        ).all()
        if r is not None
    )
    other_subjects = {
        s
        for s in session.exec(
            select(ContactRecord.subject_id).where(col(ContactRecord.id).in_(record_ids))
        ).all()
        if s is not None and s not in subject_ids
    }
    value_ids = select(FieldValue.id).where(col(FieldValue.record_id).in_(record_ids))
    result.corrections += _delete(
        session, FieldCorrection, col(FieldCorrection.field_value_id).in_(value_ids)
    )
    result.field_values += _delete(session, FieldValue, col(FieldValue.record_id).in_(record_ids))
    result.attestations += _delete(session, Attestation, col(Attestation.record_id).in_(record_ids))
    result.uses += _delete(session, PermittedUse, col(PermittedUse.record_id).in_(record_ids))
    if subject_ids:
        result.disclosures += _delete(
            session,
            Disclosure,
            or_(col(Disclosure.record_id).in_(record_ids), col(Disclosure.subject_id).in_(subject_ids)),
        )
        result.invites += _delete(
            session,
            Invite,
            or_(col(Invite.record_id).in_(record_ids), col(Invite.subject_id).in_(subject_ids)),
        )
        _delete(session, InviteClaim, col(InviteClaim.subject_id).in_(subject_ids))
        _delete(session, Notice, col(Notice.subject_id).in_(subject_ids))
    else:
        for model in (Disclosure, Invite):
            _unlink(session, model, record_ids)
    _unlink(session, UploadJob, record_ids)
    _unlink(session, InviteClaim, record_ids)
    _delete(session, CatalogLink, col(CatalogLink.record_id).in_(record_ids))
    result.records += _delete(session, ContactRecord, col(ContactRecord.id).in_(record_ids))
    drop_orphans(session)  # derived catalog data nobody vouches for any more
    result.extraction_runs += _delete(session, ExtractionRun, col(ExtractionRun.source_id).in_(source_ids))
    blob_keys = set(
        session.exec(
            select(Source.blob_key).where(col(Source.id).in_(source_ids), col(Source.blob_key).is_not(None))
        ).all()
    )
    result.sources += _delete(session, Source, col(Source.id).in_(source_ids))
    if subject_ids:
        result.subject_keys += _delete(session, SubjectKey, col(SubjectKey.subject_id).in_(subject_ids))
        _delete(session, Subject, col(Subject.id).in_(subject_ids))
    result.subject_keys += _drop_forgotten_subjects(session, other_subjects)
    still_used = blobs_in_use(session, {k for k in blob_keys if k})
    result.blob_keys = sorted(set(result.blob_keys) | {k for k in blob_keys - still_used if k})
    if audit_action:
        audit(
            session,
            audit_action,
            actor,
            record_id=wanted[0] if len(wanted) == 1 else None,
            record_ids=record_ids,
            **result.counts(),
        )
    session.flush()
    after_commit(session, lambda engine: finish_deletion(engine, blobs, result))
    return result


def _unlink(session: Session, model: Any, record_ids: list[int]) -> None:
    """Clear ``record_id`` where it points at a deleted record (the row itself stays)."""
    session.exec(
        update(model)
        .where(col(model.record_id).in_(record_ids))
        .values(record_id=None)
        .execution_options(synchronize_session="fetch")
    )


def _drop_forgotten_subjects(session: Session, subject_ids: Iterable[int]) -> int:
    """Delete subjects nothing refers to any more (with their keys); returns the keys deleted.

    A subject still named by a record, an invite (the cooldown), a disclosure (the log) or
    marked as a user is kept: forgetting it would undo what those rows need.
    """
    deleted = 0
    for subject_id in sorted(subject_ids):
        subject = session.get(Subject, subject_id)
        if subject is None or subject.is_user:
            continue
        referenced = any(
            session.exec(select(model.id).where(model.subject_id == subject_id).limit(1)).first() is not None
            for model in (ContactRecord, Invite, Disclosure)
        )
        if not referenced:  # its notice and claims meant nothing without a record
            _delete(session, InviteClaim, col(InviteClaim.subject_id) == subject_id)
            _delete(session, Notice, col(Notice.subject_id) == subject_id)
            deleted += _delete(session, SubjectKey, col(SubjectKey.subject_id) == subject_id)
            _delete(session, Subject, col(Subject.id) == subject_id)
    return deleted


def blobs_in_use(session: Session | Connection, keys: Iterable[str]) -> set[str]:
    """The keys a source, or an upload job still waiting for extraction, refers to."""
    wanted = [k for k in keys if k]
    if not wanted:
        return set()
    by_source = select(Source.blob_key).where(col(Source.blob_key).in_(wanted))
    by_job = select(UploadJob.blob_key).where(
        col(UploadJob.blob_key).in_(wanted), col(UploadJob.status).in_(["queued", "running"])
    )
    found: set[str] = set()
    for query in (by_source, by_job):
        if isinstance(session, Session):
            rows = session.exec(query).all()
        else:
            rows = session.execute(query).scalars().all()
        found |= {k for k in rows if k}
    return found


def _delete(session: Session, table: type, condition: Any) -> int:
    outcome = session.execute(delete(table).where(condition).execution_options(synchronize_session="fetch"))
    return int(getattr(outcome, "rowcount", 0) or 0)


def finish_deletion(engine: Engine, blobs: BlobStore, result: DeletionResult) -> None:
    """After the commit: delete blobs still unreferenced, then flush SQLite's WAL into the file."""
    with engine.connect() as conn:
        if result.blob_keys:
            referenced = blobs_in_use(conn, result.blob_keys)
            for key in result.blob_keys:
                if key not in referenced and blobs.delete(key):
                    result.blobs_deleted.append(key)
        if engine.dialect.name == "sqlite":
            # The WAL still holds the pages as they were before the delete: copy the (zeroed,
            # secure_delete=ON) pages into the database file and truncate the log to nothing.
            busy, *_ = conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").one()
            conn.commit()
            if busy:
                # The erased pages stay in the -wal file until a later TRUNCATE/RESTART checkpoint.
                log.warning(
                    "A reader blocked the WAL checkpoint after an erasure: run "
                    "`PRAGMA wal_checkpoint(TRUNCATE)` when the database is idle."
                )


_PENDING = "services.deletion.after_commit"


def after_commit(session: Session, action: Callable[[Engine], None]) -> None:
    """Run ``action(engine)`` once the session's transaction commits; drop it if it rolls back."""
    if _PENDING not in session.info:
        session.info[_PENDING] = []
        event.listen(session, "after_commit", _run_pending)
        event.listen(session, "after_rollback", _drop_pending)
    session.info[_PENDING].append(action)


def _run_pending(session: Session) -> None:
    actions, session.info[_PENDING] = session.info.get(_PENDING, []), []
    if not actions:
        return
    bind = session.get_bind()
    engine = bind.engine if isinstance(bind, Connection) else bind
    for action in actions:
        action(engine)


def _drop_pending(session: Session) -> None:
    session.info[_PENDING] = []
