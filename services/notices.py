"""Notices to the people on the cards (GDPR Art. 14): they never gave us their data, so we tell them.

A notice is owed to each person whose data may be used beyond its uploader's own address
book: it becomes due, one month ahead, the moment one of their records carries a permitted
use and a current attestation (:func:`ensure_notice`, called by every write that can make a
record usable). The policy then holds their data back until it is sent: partner sharing
needs a sent notice (it is due before the first disclosure) and the catalog drops a person
whose notice is overdue; an invitation carries the notice inside it (confirming the invite
marks it sent).

The mailer takes the due notices (:func:`due_notices`: only people it can write to, read
through the policy's ``notices`` purpose) with their text — who holds the data, where it
came from (uploader, channel, date), the purposes and recipients, the person's rights and
an opt-out link — and confirms each one it sent (:func:`mark_sent`). A person with no
e-mail cannot be written to: their notice stays due, and their data stays out of partner
sharing and, once overdue, out of the catalog.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from core.settings import Settings
from core.times import as_utc, iso_utc
from models.enums import NoticeTrigger, Role
from models.keys import normalise_email
from models.policy import qualifying_records, visible_fields
from models.tables import (
    Attestation,
    ContactRecord,
    Notice,
    PartnerProfile,
    PermittedUse,
    Principal,
    Source,
    utcnow,
)
from services.audit import audit
from services.errors import NotFoundError
from services.names import PrincipalNames
from services.values import values_by_record

NOTICE_DAYS = 30  # "within a reasonable period, at the latest within one month" (Art. 14(3)(a))
RIGHTS = (
    "access your data (Art. 15)",
    "have it corrected (Art. 16) or erased (Art. 17)",
    "restrict its use (Art. 18)",
    "object to its use, including for direct marketing (Art. 21)",
    "complain to a supervisory authority (Art. 77)",
)
PURPOSE_WORDS = {
    "invites": "an invitation to try the service (e-mail)",
    "catalog": "an industry and company catalog (business details only)",
    "partner_sharing": "disclosure to business partners for their marketing",
}


def usable_beyond_uploader(session: Session, record_id: int) -> bool:
    """Whether the record carries a permitted use and a current attestation: its data may leave the book."""
    used = session.exec(select(PermittedUse.id).where(PermittedUse.record_id == record_id)).first()
    attested = session.exec(
        select(Attestation.id).where(
            Attestation.record_id == record_id, col(Attestation.revoked_at).is_(None)
        )
    ).first()
    return used is not None and attested is not None


def ensure_notice(session: Session, record: ContactRecord) -> Notice | None:
    """Make the person's notice due (one month ahead) if the record is now usable beyond its uploader.

    Idempotent: a person has one notice; a later record or use does not move its deadline.
    """
    if record.subject_id is None or record.id is None or not usable_beyond_uploader(session, record.id):
        return None
    existing = session.exec(select(Notice).where(Notice.subject_id == record.subject_id)).first()
    if existing is not None:
        return existing
    notice = Notice(
        subject_id=record.subject_id,
        trigger=NoticeTrigger.first_use,
        due_at=utcnow() + timedelta(days=NOTICE_DAYS),
    )
    try:
        with session.begin_nested():
            session.add(notice)
    except IntegrityError:  # a concurrent card of the same person made it first
        return session.exec(select(Notice).where(Notice.subject_id == record.subject_id)).first()
    return notice


@dataclass
class DueNotice:
    """A notice to send: to whom, by when, and what it says."""

    id: int
    subject_id: int
    email: str
    name: str | None
    due_at: str | None
    overdue: bool
    text: dict[str, Any] = field(default_factory=dict)


def due_notices(session: Session, settings: Settings, *, limit: int = 100) -> list[DueNotice]:
    """Notices due and unsent, oldest deadline first, for people the mailer can write to.

    People are read through the policy's ``notices`` purpose (an attested, usable record of
    an identified person not erased, a child or restricted); their e-mail is the first valid
    one the purpose may see.
    """
    pending = session.exec(
        select(Notice).where(col(Notice.sent_at).is_(None)).order_by(col(Notice.due_at), col(Notice.id))
    ).all()
    found: list[DueNotice] = []
    names = PrincipalNames(session)
    now = utcnow()
    for notice in pending:
        records = list(
            session.exec(
                qualifying_records("notices")
                .where(ContactRecord.subject_id == notice.subject_id)
                .order_by(col(ContactRecord.id))
            ).all()
        )
        values = values_by_record(session, [r.id for r in records if r.id is not None])
        seen = [v for r in records for v in visible_fields("notices", values.get(r.id or 0, []))]
        email = next((e for e in (normalise_email(v.value) for v in seen if v.field == "emails") if e), None)
        if email is None:
            continue  # nobody to write to: the notice stays due (and the policy keeps the data back)
        assert notice.id is not None
        found.append(
            DueNotice(
                id=notice.id,
                subject_id=notice.subject_id,
                email=email,
                name=next((v.value for v in seen if v.field == "names"), None),
                due_at=iso_utc(notice.due_at),
                overdue=as_utc(notice.due_at) < now,
                text=notice_text(session, settings, records, names),
            )
        )
        if len(found) == limit:
            break
    return found


def notice_text(
    session: Session, settings: Settings, records: list[ContactRecord], names: PrincipalNames
) -> dict[str, Any]:
    """What the notice says (Art. 14(1)-(2)): controller, sources, purposes, recipients, rights, opt-out."""
    sources = []
    for record in records:
        source = session.get(Source, record.source_id)
        if source is not None:
            sources.append(
                {
                    "uploader": names(source.uploader_id),
                    "channel": source.channel.value,
                    "received_at": iso_utc(source.received_at),
                }
            )
    ids = [r.id for r in records if r.id is not None]
    uses = sorted(
        {str(u) for u in session.exec(select(PermittedUse.use).where(col(PermittedUse.record_id).in_(ids)))}
    )
    recipients = []
    if "partner_sharing" in uses:
        partners = session.exec(
            select(PartnerProfile)
            .join(Principal, col(Principal.id) == col(PartnerProfile.principal_id))
            .where(Principal.role == Role.partner, col(Principal.revoked_at).is_(None))
            .order_by(col(PartnerProfile.legal_name))
        ).all()
        recipients = [{"name": p.legal_name, "country": p.country} for p in partners]
    return {
        "controller": {"name": settings.controller_name, "contact": settings.controller_contact},
        "source": "A business card of yours, uploaded by people you gave it to.",
        "sources": sources,
        "data": ["name", "job title", "company", "business e-mail", "business phone", "business address"],
        "purposes": [PURPOSE_WORDS[u] for u in uses if u in PURPOSE_WORDS],
        "legal_basis": "legitimate interests (Art. 6(1)(f)) of the people who uploaded your card",
        "recipients": recipients,
        "rights": list(RIGHTS),
        "opt_out_url": f"{settings.public_url.rstrip('/')}/opt-out",
    }


def mark_sent(session: Session, notice_id: int, actor: Principal | None, *, channel: str = "email") -> Notice:
    """Record that a notice was sent (idempotent: the first time stays)."""
    notice = session.get(Notice, notice_id)
    if notice is None:
        raise NotFoundError(f"No notice {notice_id}.", hint="`cards notices due` lists the notices to send.")
    if notice.sent_at is None:
        notice.sent_at = utcnow()
        notice.sent_by = actor.id if actor else None
        session.add(notice)
        audit(
            session, "notice_sent", actor, subject_id=notice.subject_id, notice_id=notice.id, channel=channel
        )
        session.flush()
    return notice


def notice_state(session: Session, subject_ids: list[int]) -> list[dict[str, Any]]:
    """The notices of these people, for the access report."""
    rows = session.exec(
        select(Notice).where(col(Notice.subject_id).in_(subject_ids)).order_by(col(Notice.id))
    ).all()
    return [
        {
            "trigger": n.trigger.value,
            "due_at": iso_utc(n.due_at),
            "sent_at": iso_utc(n.sent_at),
        }
        for n in rows
    ]
