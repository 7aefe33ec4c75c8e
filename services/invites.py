"""Invites: who may be invited now (through the policy's ``invites`` purpose), and logging an invite.

Logging re-checks the person at that moment: someone who opted out, was erased, became a
user or was invited within the cooldown since the list was taken is refused (``not_eligible``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists
from sqlmodel import Session, col, select

from core.errors import BadArgumentsError
from models.keys import normalise_email
from models.policy import qualifying_records, visible_fields
from models.tables import ContactRecord, FieldValue, Invite, Principal, Subject, utcnow
from services.audit import audit
from services.errors import ForbiddenError, NotEligibleError, NotFoundError
from services.values import values_by_record

_BATCH = 500


@dataclass(frozen=True)
class InviteCandidate:
    subject_id: int
    record_id: int
    email: str  # normalised
    name: str | None


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
    recent = exists().where(
        and_(col(Invite.subject_id) == col(ContactRecord.subject_id), col(Invite.sent_at) >= since)
    )
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
        values = values_by_record(session, [r.id for r in pending])
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
    cooldown_days: int,
) -> Invite:
    """Log an invite that was sent, re-checking that the person still qualifies at this moment.

    Refuses (NotEligibleError) a subject that opted out, was erased, became a user, lost its
    permitted use or attestation, has no valid e-mail, or was invited within the cooldown
    (``CARDS_INVITE_COOLDOWN_DAYS`` for the fronts). The subject row is locked (PostgreSQL) so two
    workers cannot both log an invite for one person.
    """
    if actor.id is None or actor.revoked_at is not None:
        raise ForbiddenError("Invites are recorded by an active principal.")
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
