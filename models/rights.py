"""Subject rights, partner disclosure and invites: what the person on a card can ask of us.

A person is named by an e-mail or a phone. Both are normalised and hashed with the
suppression salt (:mod:`models.keys`), so the same hash finds their subject (through
``SubjectKey``) and outlives them in ``Suppression`` — the only trace an erasure keeps,
together with an audit event that holds counts, never their data.

Transactions: every function here works inside the caller's session and only *flushes*;
the caller commits (as in :mod:`models.records`: one request = one transaction). So a
partner's read and its disclosure log are one transaction, and an opt-out or erasure is
all or nothing. What an erasure must do outside the database — deleting image blobs and
checkpointing SQLite's write-ahead log so the deleted rows leave the files — runs only
*after* that transaction commits (a session ``after_commit`` hook): a rolled-back erasure
never deletes an image, and a blob is deleted only if, after the commit, no source still
references it.

Choices a privacy officer should know:

* Erasure deletes the person's disclosure and invite rows too: the log keeps no trace of an
  erased person (a Shine-the-Light request after erasure answers "nothing"). The audit log
  keeps its earlier events (ids and codes only, append-only) and gains one "erased" event
  with counts.
* An opt-out or erasure with no known subject still writes the suppression rows for the
  contact given, so the person's future uploads are suppressed from the first card.
* Suppression rows cover the contact given *and* every e-mail/phone key of the subjects it
  resolves to: opting out by e-mail also suppresses the phone on their cards.
* Partner disclosures are logged per record with data categories derived from the fields
  actually sent (see :data:`FIELD_CATEGORIES`, worded after Cal. Civ. Code § 1798.83).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, event, exists, insert, or_, update
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session, col, delete, select

from ingest.errors import BadArgumentsError, ForbiddenError, NotEligibleError, NotFoundError
from models.blobs import BlobStore
from models.catalog import drop_orphans
from models.keys import key_hash, normalise_email, normalise_phone
from models.policy import qualifying_records, visible_fields
from models.records import audit, record_values
from models.tables import (
    Attestation,
    AuditEvent,
    CatalogLink,
    ContactRecord,
    Disclosure,
    ExtractionRun,
    FieldCorrection,
    FieldValue,
    Invite,
    PermittedUse,
    Principal,
    Role,
    Source,
    Subject,
    SubjectKey,
    Suppression,
    SuppressionReason,
    UploadJob,
    utcnow,
)

log = logging.getLogger(__name__)

OPT_OUT_SCOPES: dict[str, SuppressionReason] = {
    "invites": SuppressionReason.opt_out_invites,
    "partners": SuppressionReason.opt_out_partners,
}

# The data category each card field belongs to, for the disclosure log and Shine-the-Light reports.
FIELD_CATEGORIES: dict[str, str] = {
    "names": "name",
    "addresses": "address",
    "emails": "email_address",
    "phones": "telephone_number",
    "job_titles": "occupation",
    "departments": "occupation",
    "companies": "occupation",
    "websites": "occupation",  # the employer's site: says where the person works
    "social": "social_media_handle",
}

PARTNER_PURPOSE = "partner_sharing"
_BATCH = 500


# --- results ------------------------------------------------------------------------------


@dataclass
class OptOutResult:
    scopes: list[str]
    subject_ids: list[int]
    keys_suppressed: int  # distinct e-mail/phone hashes now suppressed for each scope
    rows_added: int  # suppression rows that did not exist before

    @property
    def found(self) -> bool:
        return bool(self.subject_ids)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "found": self.found}


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


@dataclass(kw_only=True)
class ErasureResult(DeletionResult):
    reason: str
    subject_ids: list[int]
    keys_suppressed: int

    @property
    def found(self) -> bool:
        return bool(self.subject_ids)

    def counts(self) -> dict[str, int]:
        """What was erased, as numbers only: the shape of the audit event."""
        return {"keys_suppressed": self.keys_suppressed, **super().counts()}

    def to_dict(self) -> dict[str, Any]:
        return {
            "reason": self.reason,
            "found": self.found,
            "subject_ids": self.subject_ids,
            **self.counts(),
            "blobs_deleted": len(self.blobs_deleted),
        }


@dataclass(frozen=True)
class InviteCandidate:
    subject_id: int
    record_id: int
    email: str  # normalised
    name: str | None


# --- finding a person -----------------------------------------------------------------------


def contact_hashes(
    *, email: str | None, phone: str | None, salt: bytes, region: str | None = None
) -> set[tuple[str, str]]:
    """``{(kind, hash)}`` of the contact given; refuses a missing or unparseable one (no silent no-op)."""
    if not (email or "").strip() and not (phone or "").strip():
        raise BadArgumentsError("Give the person's e-mail address or phone number.")
    keys: set[tuple[str, str]] = set()
    if email and email.strip():
        normal = normalise_email(email)
        if normal is None:
            raise BadArgumentsError("The e-mail address given is not a valid address.")
        keys.add(("email", key_hash("email", normal, salt)))
    if phone and phone.strip():
        normal = normalise_phone(phone, region)
        if normal is None:
            raise BadArgumentsError("The phone number given cannot be parsed; give it as +<country><number>.")
        keys.add(("phone", key_hash("phone", normal, salt)))
    return keys


def _subjects_for(session: Session, hashes: Iterable[str]) -> list[Subject]:
    """Every subject owning one of the hashes (an e-mail and a phone may still be two subjects)."""
    wanted = set(hashes)
    if not wanted:
        return []
    ids = select(SubjectKey.subject_id).where(col(SubjectKey.key_hash).in_(wanted))
    return list(session.exec(select(Subject).where(col(Subject.id).in_(ids)).order_by(col(Subject.id))).all())


def _resolve(
    session: Session, *, email: str | None, phone: str | None, salt: bytes, region: str | None
) -> tuple[set[tuple[str, str]], list[Subject]]:
    given = contact_hashes(email=email, phone=phone, salt=salt, region=region)
    return given, _subjects_for(session, {h for _, h in given})


def find_subject(
    session: Session,
    *,
    email: str | None = None,
    phone: str | None = None,
    salt: bytes,
    region: str | None = None,
) -> Subject | None:
    """The (oldest) subject known by this e-mail or phone, or None."""
    _, subjects = _resolve(session, email=email, phone=phone, salt=salt, region=region)
    return subjects[0] if subjects else None


def _subject_keys(session: Session, subject_ids: Sequence[int]) -> set[tuple[str, str]]:
    if not subject_ids:
        return set()
    rows = session.exec(select(SubjectKey).where(col(SubjectKey.subject_id).in_(subject_ids))).all()
    return {(k.kind, k.key_hash) for k in rows}


def _suppress(session: Session, keys: set[tuple[str, str]], reason: SuppressionReason) -> int:
    """Insert the missing (hash, reason) rows; idempotent, and safe against a concurrent same request."""
    if not keys:
        return 0
    existing = set(
        session.exec(
            select(Suppression.key_hash).where(
                col(Suppression.key_hash).in_({h for _, h in keys}), Suppression.reason == reason
            )
        ).all()
    )
    rows = [
        {"key_hash": h, "kind": kind, "reason": reason, "created_at": utcnow()}
        for kind, h in sorted(keys)
        if h not in existing
    ]
    if not rows:
        return 0
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        stmt: Any = pg_insert(Suppression).on_conflict_do_nothing(index_elements=["key_hash", "reason"])
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        stmt = sqlite_insert(Suppression).on_conflict_do_nothing(index_elements=["key_hash", "reason"])
    else:
        stmt = insert(Suppression)
    session.exec(stmt.values(rows))
    return len(rows)


# --- opt-out and erasure --------------------------------------------------------------------


def opt_out(
    session: Session,
    *,
    email: str | None = None,
    phone: str | None = None,
    scopes: set[str],
    actor: Principal | None,
    salt: bytes,
    region: str | None = None,
) -> OptOutResult:
    """Stop invites and/or partner sharing for a person: every uploader's copy, now and for future cards.

    Policy reads suppression through the subject's keys, so suppressing the hashes is enough:
    no record is changed, and a card uploaded later resolves to keys that are already suppressed.
    """
    unknown = set(scopes) - set(OPT_OUT_SCOPES)
    if not scopes or unknown:
        raise BadArgumentsError(
            f"Opt-out scopes are {', '.join(OPT_OUT_SCOPES)}; got {', '.join(sorted(scopes)) or 'none'}."
        )
    given, subjects = _resolve(session, email=email, phone=phone, salt=salt, region=region)
    subject_ids = [s.id for s in subjects if s.id is not None]
    keys = given | _subject_keys(session, subject_ids)
    added = sum(_suppress(session, keys, OPT_OUT_SCOPES[scope]) for scope in sorted(scopes))
    audit(
        session,
        "opted_out",
        actor,
        subject_id=subject_ids[0] if len(subject_ids) == 1 else None,
        scopes=sorted(scopes),
        subject_ids=subject_ids,
        keys=len(keys),
    )
    session.flush()
    return OptOutResult(sorted(scopes), subject_ids, len(keys), added)


def erase(
    session: Session,
    *,
    email: str | None = None,
    phone: str | None = None,
    actor: Principal | None,
    salt: bytes,
    blobs: BlobStore,
    reason: SuppressionReason = SuppressionReason.erased,
    region: str | None = None,
) -> ErasureResult:
    """Delete everything stored about a person; keep only suppression hashes and a counts-only audit event.

    Deleted: the subject's records with their values, corrections, attestations and uses; the
    sources they came from (with every record on them: the image shows the person) and their
    extraction runs (the OCR text); disclosure and invite rows; the subject and its keys. The
    image blobs no remaining source uses are deleted after the commit. Child rows are deleted
    explicitly rather than trusting ON DELETE CASCADE, which a hand-migrated schema may lack.
    """
    if reason not in (SuppressionReason.erased, SuppressionReason.child):
        raise BadArgumentsError("An erasure's reason is 'erased' or 'child'.")
    given, subjects = _resolve(session, email=email, phone=phone, salt=salt, region=region)
    subject_ids = [s.id for s in subjects if s.id is not None]
    keys = given | _subject_keys(session, subject_ids)
    _suppress(session, keys, reason)
    result = ErasureResult(reason=reason.value, subject_ids=subject_ids, keys_suppressed=len(keys))

    if subject_ids:
        own = select(ContactRecord.id).where(col(ContactRecord.subject_id).in_(subject_ids))
        delete_records(
            session,
            list(session.exec(own).all()),
            actor=actor,
            blobs=blobs,
            subject_ids=subject_ids,
            result=result,
            audit_action=None,  # one "erased" event below, with the counts
        )
    else:
        # Nothing to delete, but the WAL may still hold pages of earlier deletions.
        _after_commit(session, lambda engine: _finish_erasure(engine, blobs, result))

    audit(session, "erased", actor, reason=reason.value, **result.counts())
    session.flush()
    return result


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
        session.exec(
            select(ContactRecord.id).where(
                or_(col(ContactRecord.id).in_(wanted), col(ContactRecord.source_id).in_(source_ids))
            )
        ).all()
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
    else:
        for model in (Disclosure, Invite):
            _unlink(session, model, record_ids)
    _unlink(session, UploadJob, record_ids)
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
    still_used = blobs_in_use(session, blob_keys)
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
    _after_commit(session, lambda engine: _finish_erasure(engine, blobs, result))
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
        if not referenced:
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


def flag_child(
    session: Session,
    *,
    email: str | None = None,
    phone: str | None = None,
    actor: Principal | None,
    salt: bytes,
    blobs: BlobStore,
    region: str | None = None,
) -> ErasureResult:
    """A subject under 13: erase them, and refuse their cards from now on (``store_extraction`` checks)."""
    return erase(
        session,
        email=email,
        phone=phone,
        actor=actor,
        salt=salt,
        blobs=blobs,
        reason=SuppressionReason.child,
        region=region,
    )


def _delete(session: Session, table: type, condition: Any) -> int:
    outcome = session.exec(delete(table).where(condition).execution_options(synchronize_session="fetch"))  # type: ignore[call-overload]
    return int(outcome.rowcount or 0)


def _finish_erasure(engine: Engine, blobs: BlobStore, result: DeletionResult) -> None:
    """After the commit: delete blobs still unreferenced, then flush SQLite's WAL into the file.

    Shared by erasures and card deletions (its name predates the latter).
    """
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


_PENDING = "models.rights.after_commit"


def _after_commit(session: Session, action: Callable[[Engine], None]) -> None:
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


# --- reports ---------------------------------------------------------------------------------


def iso_utc(value: datetime | None) -> str | None:
    """ISO 8601 in UTC; SQLite hands timestamps back naive, but they were stored as UTC."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat()


class _Names:
    """Principal names by id, loaded once each: reports name uploaders and partners, not ids."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.cache: dict[int, str | None] = {}

    def __call__(self, principal_id: int | None) -> str | None:
        if principal_id is None:
            return None
        if principal_id not in self.cache:
            principal = self.session.get(Principal, principal_id)
            self.cache[principal_id] = principal.name if principal else None
        return self.cache[principal_id]


def _value_report(value: FieldValue, corrections: list[FieldCorrection], name: _Names) -> dict[str, Any]:
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


def _record_report(session: Session, record: ContactRecord, name: _Names) -> dict[str, Any]:
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


def _disclosures_of(subject_ids: list[int], record_ids: list[int]) -> Any:
    """Disclosures by subject or by record: a subject merge may have cleared ``subject_id``."""
    return select(Disclosure).where(
        or_(col(Disclosure.subject_id).in_(subject_ids), col(Disclosure.record_id).in_(record_ids))
    )


def access_report(
    session: Session,
    *,
    email: str | None = None,
    phone: str | None = None,
    salt: bytes,
    region: str | None = None,
) -> dict[str, Any]:
    """Everything stored about a person, where it came from and to whom it went (JSON-ready; read-only)."""
    given, subjects = _resolve(session, email=email, phone=phone, salt=salt, region=region)
    subject_ids = [s.id for s in subjects if s.id is not None]
    name = _Names(session)
    records = session.exec(
        select(ContactRecord)
        .where(col(ContactRecord.subject_id).in_(subject_ids))
        .order_by(col(ContactRecord.id))
    ).all()
    record_ids = [r.id for r in records if r.id is not None]
    disclosures = session.exec(
        _disclosures_of(subject_ids, record_ids).order_by(col(Disclosure.disclosed_at), col(Disclosure.id))
    ).all()
    invites = session.exec(
        select(Invite).where(col(Invite.subject_id).in_(subject_ids)).order_by(col(Invite.sent_at))
    ).all()
    keys = given | _subject_keys(session, subject_ids)
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
        "records": [_record_report(session, r, name) for r in records],
        "disclosures": [
            {
                "partner": name(d.partner_id),
                "record_id": d.record_id,
                "categories": d.categories,
                "purpose": d.purpose,
                "direct_marketing": d.direct_marketing,
                "disclosed_at": iso_utc(d.disclosed_at),
            }
            for d in disclosures
        ],
        "invites": [
            {"record_id": i.record_id, "sent_by": name(i.sent_by), "sent_at": iso_utc(i.sent_at)}
            for i in invites
        ],
        "suppressions": _suppression_report(suppressions),
        "history": [
            {
                "at": iso_utc(e.at),
                "action": e.action,
                "actor": name(e.actor_id),
                "record_id": e.record_id,
                "details": e.details,
            }
            for e in events
        ],
    }


def _suppression_report(rows: Sequence[Suppression]) -> list[dict[str, Any]]:
    """Reasons in force per kind of contact (earliest date wins); hashes mean nothing to the person."""
    since: dict[tuple[str, str], str | None] = {}
    for row in rows:
        since.setdefault((row.kind, row.reason.value), iso_utc(row.created_at))
    return [{"kind": kind, "reason": reason, "since": at} for (kind, reason), at in sorted(since.items())]


def shine_the_light(
    session: Session,
    *,
    email: str | None = None,
    phone: str | None = None,
    year: int,
    salt: bytes,
    region: str | None = None,
) -> dict[str, Any]:
    """California Civil Code § 1798.83: who got the person's data for direct marketing in ``year`` (UTC)."""
    if not 1970 <= year <= 9998:
        raise BadArgumentsError("Give the calendar year as four digits, e.g. 2026.")
    _, subjects = _resolve(session, email=email, phone=phone, salt=salt, region=region)
    subject_ids = [s.id for s in subjects if s.id is not None]
    record_ids = list(
        session.exec(select(ContactRecord.id).where(col(ContactRecord.subject_id).in_(subject_ids))).all()
    )
    start, end = datetime(year, 1, 1, tzinfo=UTC), datetime(year + 1, 1, 1, tzinfo=UTC)
    rows = session.exec(
        _disclosures_of(subject_ids, record_ids)
        .where(
            col(Disclosure.direct_marketing).is_(True),
            col(Disclosure.disclosed_at) >= start,
            col(Disclosure.disclosed_at) < end,
        )
        .order_by(col(Disclosure.disclosed_at))
    ).all()
    by_partner: dict[int, dict[str, Any]] = {}
    name = _Names(session)
    for d in rows:
        entry = by_partner.setdefault(
            d.partner_id, {"partner": name(d.partner_id), "categories": set(), "disclosures": 0}
        )
        entry["categories"].update(d.categories)
        entry["disclosures"] += 1
    partners = sorted(
        ({**e, "categories": sorted(e["categories"])} for e in by_partner.values()),
        key=lambda e: e["partner"] or "",
    )
    return {"year": year, "found": bool(subject_ids), "partners": partners}


# --- partners -----------------------------------------------------------------------------


def data_categories(values: Iterable[FieldValue]) -> list[str]:
    """The categories of personal data in the values actually sent."""
    return sorted({FIELD_CATEGORIES.get(v.field, v.field) for v in values})


def _values_by_record(session: Session, record_ids: list[int]) -> dict[int, list[FieldValue]]:
    grouped: dict[int, list[FieldValue]] = defaultdict(list)
    if record_ids:
        query = (
            select(FieldValue)
            .where(col(FieldValue.record_id).in_(record_ids))
            .order_by(col(FieldValue.record_id), col(FieldValue.field), col(FieldValue.position))
        )
        for v in session.exec(query).all():
            grouped[v.record_id].append(v)
    return grouped


def partner_contacts(
    session: Session, partner: Principal, *, limit: int = 100, after_id: int | None = None
) -> list[dict[str, Any]]:
    """The partner read path: contacts that may be shared, only the fields partners may see, each logged.

    One ``Disclosure`` row (and one "disclosed" audit event) per contact returned, added in
    the caller's transaction: commit before handing the data over, so nothing leaves unlogged.
    A record with nothing a partner may see is skipped, not disclosed. Page with ``after_id``
    = the last ``id`` returned.
    """
    if partner.id is None or partner.role is not Role.partner or partner.revoked_at is not None:
        raise ForbiddenError("Only an active partner reads shared contacts.")
    if limit < 1:
        raise BadArgumentsError("The page size must be at least 1.")
    contacts: list[dict[str, Any]] = []
    cursor = after_id or 0
    while len(contacts) < limit:
        query = (
            qualifying_records(PARTNER_PURPOSE)
            .where(col(ContactRecord.id) > cursor)
            .order_by(col(ContactRecord.id))
            .limit(limit - len(contacts))
        )
        batch = session.exec(query).all()
        if not batch:
            break
        values = _values_by_record(session, [r.id for r in batch if r.id is not None])
        for record in batch:
            assert record.id is not None
            cursor = record.id
            sent = visible_fields(PARTNER_PURPOSE, values.get(record.id, []))
            if not sent:
                continue
            categories = data_categories(sent)
            session.add(
                Disclosure(
                    partner_id=partner.id,
                    record_id=record.id,
                    subject_id=record.subject_id,
                    categories=categories,
                    purpose=PARTNER_PURPOSE,
                    direct_marketing=True,
                )
            )
            audit(
                session,
                "disclosed",
                partner,
                record_id=record.id,
                subject_id=record.subject_id,
                partner_id=partner.id,
                purpose=PARTNER_PURPOSE,
                categories=categories,
            )
            fields: dict[str, list[dict[str, Any]]] = defaultdict(list)
            for v in sent:
                shown = {"value": v.value}
                if v.field == "phones":
                    shown |= {"type": v.type or "other", "extension": v.extension}
                fields[v.field].append(shown)
            contacts.append({"id": record.id, "fields": dict(fields)})
    session.flush()
    return contacts


# --- invites ------------------------------------------------------------------------------


def _invite_target(values: list[FieldValue]) -> tuple[str | None, str | None]:
    """(first valid e-mail, first name) among what the invites purpose may see."""
    seen = visible_fields("invites", values)
    email = next(
        (e for e in (normalise_email(v.value) for v in seen if v.field == "emails") if e is not None), None
    )
    name = next((v.value for v in seen if v.field == "names"), None)
    return email, name


def _invites_query(since: datetime) -> Any:
    """Records that may be used for an invite, of subjects not invited since ``since``; newest first."""
    recent = exists().where(and_(Invite.subject_id == ContactRecord.subject_id, Invite.sent_at >= since))
    return (
        qualifying_records("invites")
        .where(col(ContactRecord.subject_id).is_not(None), ~recent)
        .order_by(
            col(ContactRecord.subject_id), col(ContactRecord.updated_at).desc(), col(ContactRecord.id).desc()
        )
    )


def _candidates(session: Session, query: Any, limit: int) -> list[InviteCandidate]:
    found: list[InviteCandidate] = []
    decided: set[int] = set()
    offset = 0
    while len(found) < limit:
        batch = session.exec(query.offset(offset).limit(_BATCH)).all()
        if not batch:
            break
        offset += len(batch)
        pending = [r for r in batch if r.subject_id not in decided]
        values = _values_by_record(session, [r.id for r in pending])
        for record in pending:
            if record.subject_id in decided:
                continue
            email, name = _invite_target(values.get(record.id, []))
            if email is None:
                continue  # another of the subject's records may carry a valid e-mail
            decided.add(record.subject_id)
            found.append(InviteCandidate(record.subject_id, record.id, email, name))
            if len(found) == limit:
                break
    return found


def invite_candidates(session: Session, *, cooldown_days: int, limit: int = 100) -> list[InviteCandidate]:
    """People to invite: one per subject across uploaders, with a valid e-mail, not invited recently.

    Records without a subject are skipped (no e-mail or phone: nobody to write to). Among a
    subject's records the most recently updated one with a valid e-mail is chosen.
    """
    if cooldown_days < 0 or limit < 1:
        raise BadArgumentsError("The cooldown is 0 or more days and the limit at least 1.")
    return _candidates(session, _invites_query(utcnow() - timedelta(days=cooldown_days)), limit)


def record_invite(
    session: Session,
    *,
    subject_id: int,
    actor: Principal,
    record_id: int | None = None,
    cooldown_days: int | None = None,
) -> Invite:
    """Log an invite that was sent, re-checking that the person still qualifies at this moment.

    Refuses (NotEligibleError) a subject that opted out, was erased, became a user, lost its
    permitted use or attestation, has no valid e-mail, or was invited within the cooldown
    (default ``CARDS_INVITE_COOLDOWN_DAYS``). The subject row is locked (PostgreSQL) so two
    workers cannot both log an invite for one person.
    """
    if actor.id is None or actor.revoked_at is not None:
        raise ForbiddenError("Invites are recorded by an active principal.")
    if cooldown_days is None:
        from models.settings import get_settings

        cooldown_days = get_settings().invite_cooldown_days
    subject = session.exec(select(Subject).where(Subject.id == subject_id).with_for_update()).first()
    if subject is None:
        raise NotFoundError(f"No subject {subject_id}.")
    query = _invites_query(utcnow() - timedelta(days=cooldown_days)).where(
        ContactRecord.subject_id == subject_id
    )
    if record_id is not None:
        query = query.where(ContactRecord.id == record_id)
    chosen = _candidates(session, query, 1)
    if not chosen:
        raise NotEligibleError(f"Subject {subject_id} may not be invited now.")
    invite = Invite(subject_id=subject_id, record_id=chosen[0].record_id, sent_by=actor.id)
    session.add(invite)
    session.flush()
    audit(session, "invited", actor, record_id=invite.record_id, subject_id=subject_id, invite_id=invite.id)
    session.flush()
    return invite
