"""Invites: who may be invited (through the policy's ``invites`` purpose), claimed before sending.

The people on the cards never signed up, so an invitation is sent at most
``CARDS_INVITE_LIFETIME_CAP`` times in a person's life (default once; never an automatic
reminder) and never within ``CARDS_INVITE_COOLDOWN_DAYS`` of another. A mailer works in
three steps, so that a person is checked *before* anything is sent and two mailers never
write to the same person:

1. :func:`claim_candidates` reserves eligible people (one open claim per person, enforced
   by a unique column; a claim expires after ``CARDS_INVITE_CLAIM_MINUTES``) and hands over
   each one's e-mail, the notice the invitation must carry (GDPR Art. 14) and an
   unsubscribe link;
2. the mailer sends;
3. :func:`confirm_sent` records the invite and marks the notice sent, or :func:`release`
   gives the person back. An opt-out, erasure, restriction or "already a user" releases open
   claims at once, so a confirmation after it is refused.

:func:`mark_users` is for the app to call when someone signs up (by e-mail; only its hash
is kept). :func:`unsubscribe` takes the token of an invitation's link and opts the person
out of invites in one request.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from core.errors import BadArgumentsError
from core.settings import Settings
from core.times import iso_utc
from models.enums import KeyKind, SuppressionReason
from models.keys import key_hash, normalise_email
from models.policy import qualifying_records, visible_fields
from models.tables import ContactRecord, FieldValue, Invite, InviteClaim, Notice, Principal, Subject, utcnow
from services.audit import audit
from services.errors import ForbiddenError, NotEligibleError, NotFoundError
from services.names import PrincipalNames
from services.notices import mark_sent as mark_notice_sent
from services.notices import notice_text
from services.subjects import contact_hashes, subject_keys, subjects_for, suppress
from services.values import values_by_record

_BATCH = 500
_TOKEN_PURPOSE = b"cardvault unsubscribe v1:"


@dataclass(frozen=True)
class InviteRules:
    """The limits every invite path applies (from the settings)."""

    cooldown_days: int
    lifetime_cap: int = 1
    claim_minutes: int = 60

    @classmethod
    def from_settings(cls, settings: Settings) -> InviteRules:
        return cls(settings.invite_cooldown_days, settings.invite_lifetime_cap, settings.invite_claim_minutes)

    def validate(self) -> None:
        if self.cooldown_days < 1 or self.lifetime_cap < 1 or self.claim_minutes < 1:
            raise BadArgumentsError(
                "The cooldown is 1 day or more, the lifetime cap and the claim at least 1."
            )


@dataclass(frozen=True)
class InviteCandidate:
    subject_id: int
    record_id: int
    email: str  # normalised
    name: str | None


@dataclass
class InviteClaimView:
    """A reserved candidate, with what the invitation must carry."""

    claim_id: int
    subject_id: int
    record_id: int
    email: str
    name: str | None
    expires_at: str | None
    unsubscribe_url: str
    notice: dict[str, Any] | None = field(default=None)  # None: the person's notice was sent already


def _invite_target(values: list[FieldValue]) -> tuple[str | None, str | None]:
    """(first valid e-mail, first name) among what the invites purpose may see."""
    seen = visible_fields("invites", values)
    email = next(
        (e for e in (normalise_email(v.value) for v in seen if v.field == "emails") if e is not None), None
    )
    name = next((v.value for v in seen if v.field == "names"), None)
    return email, name


def _invites_query(rules: InviteRules, now: datetime) -> Any:
    """Records usable for an invite: people under the cap, not invited recently, not claimed; newest first."""
    subject = col(ContactRecord.subject_id)
    recent = exists().where(
        and_(
            col(Invite.subject_id) == subject,
            col(Invite.sent_at) >= now - timedelta(days=rules.cooldown_days),
        )
    )
    invited = (
        select(func.count()).select_from(Invite).where(col(Invite.subject_id) == subject).scalar_subquery()
    )
    claimed = exists().where(
        and_(
            col(InviteClaim.open_subject_id) == subject,
            col(InviteClaim.status) == "reserved",
            col(InviteClaim.expires_at) > now,
        )
    )
    return (
        qualifying_records("invites")
        .where(subject.is_not(None), ~recent, ~claimed, invited < rules.lifetime_cap)
        .order_by(subject, col(ContactRecord.updated_at).desc(), col(ContactRecord.id).desc())
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


def invite_candidates(session: Session, *, rules: InviteRules, limit: int = 100) -> list[InviteCandidate]:
    """People who may be invited now: one per person across uploaders, with a valid e-mail (read-only)."""
    rules.validate()
    if limit < 1:
        raise BadArgumentsError("The limit is at least 1.")
    return _candidates(session, _invites_query(rules, utcnow()), limit)


def _expire_claims(session: Session, now: datetime) -> None:
    session.execute(
        update(InviteClaim)
        .where(col(InviteClaim.status) == "reserved", col(InviteClaim.expires_at) <= now)
        .values(status="expired", open_subject_id=None)
    )


def claim_candidates(
    session: Session, actor: Principal, settings: Settings, *, salt: bytes, limit: int = 10
) -> list[InviteClaimView]:
    """Reserve up to ``limit`` people for an invitation; each comes with its notice and unsubscribe link."""
    if actor.id is None or actor.revoked_at is not None:
        raise ForbiddenError("Invites are claimed by an active principal.")
    rules = InviteRules.from_settings(settings)
    now = utcnow()
    _expire_claims(session, now)
    claims: list[InviteClaimView] = []
    names = PrincipalNames(session)
    for candidate in invite_candidates(session, rules=rules, limit=limit):
        claim = InviteClaim(
            subject_id=candidate.subject_id,
            open_subject_id=candidate.subject_id,
            record_id=candidate.record_id,
            claimed_by=actor.id,
            expires_at=now + timedelta(minutes=rules.claim_minutes),
        )
        try:
            with session.begin_nested():
                session.add(claim)
        except IntegrityError:  # another mailer claimed this person a moment ago
            continue
        assert claim.id is not None
        notice = session.exec(select(Notice).where(Notice.subject_id == candidate.subject_id)).first()
        text = None
        if notice is None or notice.sent_at is None:
            records = list(
                session.exec(
                    qualifying_records("notices").where(ContactRecord.subject_id == candidate.subject_id)
                ).all()
            )
            text = notice_text(session, settings, records, names)
        claims.append(
            InviteClaimView(
                claim_id=claim.id,
                subject_id=candidate.subject_id,
                record_id=candidate.record_id,
                email=candidate.email,
                name=candidate.name,
                expires_at=iso_utc(claim.expires_at),
                unsubscribe_url=unsubscribe_url(settings, candidate.email, salt),
                notice=text,
            )
        )
        audit(session, "invite_claimed", actor, subject_id=candidate.subject_id, claim_id=claim.id)
    session.flush()
    return claims


def _open_claim(session: Session, claim_id: int) -> InviteClaim:
    claim = session.exec(select(InviteClaim).where(InviteClaim.id == claim_id).with_for_update()).first()
    if claim is None:
        raise NotFoundError(f"No invite claim {claim_id}.")
    if claim.status != "reserved":
        raise NotEligibleError(f"Invite claim {claim_id} is {claim.status}: do not send this invitation.")
    return claim


def confirm_sent(session: Session, claim_id: int, actor: Principal) -> Invite:
    """Record the invitation sent under a claim; it carried the person's notice, which is now sent too.

    A claim released meanwhile (the person opted out, was erased or restricted, or signed up)
    is refused with ``not_eligible``.
    """
    if actor.id is None or actor.revoked_at is not None:
        raise ForbiddenError("Invites are recorded by an active principal.")
    claim = _open_claim(session, claim_id)
    invite = Invite(subject_id=claim.subject_id, record_id=claim.record_id, sent_by=actor.id)
    session.add(invite)
    claim.status, claim.open_subject_id = "sent", None
    session.add(claim)
    session.flush()
    notice = session.exec(select(Notice).where(Notice.subject_id == claim.subject_id)).first()
    if notice is not None and notice.sent_at is None and notice.id is not None:
        mark_notice_sent(session, notice.id, actor, channel="invite")
    audit(
        session,
        "invited",
        actor,
        record_id=invite.record_id,
        subject_id=claim.subject_id,
        invite_id=invite.id,
    )
    session.flush()
    return invite


def release(session: Session, claim_id: int, actor: Principal | None) -> InviteClaim:
    """Give a claimed person back without sending."""
    claim = _open_claim(session, claim_id)
    claim.status, claim.open_subject_id = "released", None
    session.add(claim)
    audit(session, "invite_released", actor, subject_id=claim.subject_id, claim_id=claim.id)
    session.flush()
    return claim


def release_claims_of(session: Session, subject_ids: list[int]) -> int:
    """Release every open claim on these people (after an opt-out, erasure, restriction or sign-up)."""
    if not subject_ids:
        return 0
    result = session.execute(
        update(InviteClaim)
        .where(col(InviteClaim.subject_id).in_(subject_ids), col(InviteClaim.status) == "reserved")
        .values(status="released", open_subject_id=None)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def mark_users(session: Session, *, email: str, actor: Principal | None, salt: bytes) -> dict[str, Any]:
    """Someone signed up: never invite them again (their cards, and cards of them uploaded later)."""
    given = contact_hashes(email=email, phone=None, salt=salt)
    subjects = subjects_for(session, {h for _, h in given})
    ids = [s.id for s in subjects if s.id is not None]
    for subject in subjects:
        subject.is_user = True
        session.add(subject)
    keys = given | subject_keys(session, ids)
    suppress(session, keys, SuppressionReason.user)
    released = release_claims_of(session, ids)
    audit(session, "marked_user", actor, subject_ids=ids, keys=len(keys))
    session.flush()
    return {"found": bool(ids), "subject_ids": ids, "claims_released": released}


# --- unsubscribe links ---------------------------------------------------------------------


def unsubscribe_token(email: str, salt: bytes) -> str:
    """``<e-mail key hash>.<signature>``: names the person only by a hash, and cannot be forged."""
    normal = normalise_email(email)
    if normal is None:
        raise BadArgumentsError("The e-mail address is not valid.")
    hashed = key_hash("email", normal, salt)
    return f"{hashed}.{_signature(hashed, salt)}"


def _signature(hashed: str, salt: bytes) -> str:
    return hmac.new(salt, _TOKEN_PURPOSE + hashed.encode(), hashlib.sha256).hexdigest()[:32]


def unsubscribe_url(settings: Settings, email: str, salt: bytes) -> str:
    return f"{settings.public_url.rstrip('/')}/v1/invites/unsubscribe?token={unsubscribe_token(email, salt)}"


def unsubscribe(session: Session, token: str, *, salt: bytes) -> dict[str, Any]:
    """Opt the token's person out of invites (every key of theirs); a forged token is refused."""
    hashed, _, signature = token.partition(".")
    if len(hashed) != 64 or not hmac.compare_digest(signature, _signature(hashed, salt)):
        raise BadArgumentsError(
            "The unsubscribe link is not valid.", hint="Use the link from the invitation."
        )
    subjects = subjects_for(session, {hashed})
    ids = [s.id for s in subjects if s.id is not None]
    keys = {(KeyKind.email.value, hashed)} | subject_keys(session, ids)
    suppress(session, keys, SuppressionReason.opt_out_invites)
    release_claims_of(session, ids)
    audit(session, "unsubscribed", None, subject_ids=ids, keys=len(keys))
    session.flush()
    return {"status": "unsubscribed"}


def subject_of(session: Session, subject_id: int) -> Subject:
    subject = session.get(Subject, subject_id)
    if subject is None:
        raise NotFoundError(f"No subject {subject_id}.")
    return subject
