"""Telling the recipients: the disclosure ledger an erasure keeps, and the partners' suppression feed.

One rule, written in the README's privacy operations: when a person is erased, every
disclosure of their data is kept as :class:`~models.tables.DisclosureLedger` rows — partner,
time, purpose and categories, keyed by the person's salted hashes, with no contact data and
no record — so that a Shine-the-Light request after the erasure still answers, and every
partner that received the person's data is told (GDPR Art. 19, CCPA § 1798.105(c)). An
opt-out of partner sharing tells them too. Partners are told through a feed
(``GET /v1/partner/suppressions``) of plain SHA-256 hashes of the normalised e-mails and
E.164 phones they were sent, which they can match against what they hold; every read of
the feed is audited.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, or_
from sqlmodel import Session, col, select

from core.errors import BadArgumentsError
from core.times import as_utc, iso_utc
from models.enums import SuppressionReason
from models.keys import identifier_sha256, normalise_email, normalise_phone
from models.tables import ContactRecord, Disclosure, DisclosureLedger, PartnerSuppression, Principal, utcnow
from services.audit import audit
from services.paging import MAX_ID
from services.values import values_by_record

Identifiers = set[tuple[str, str]]  # {(kind, plain SHA-256 of the normalised value)}


def identifiers_of(
    session: Session,
    subject_ids: Iterable[int],
    *,
    email: str | None = None,
    phone: str | None = None,
    region: str | None = None,
) -> Identifiers:
    """The hashes a partner can match: the e-mails and E.164 phones on file, and the contact given."""
    found: Identifiers = set()
    emails, phones = [email] if email else [], [phone] if phone else []
    ids = list(subject_ids)
    if ids:
        records = session.exec(select(ContactRecord).where(col(ContactRecord.subject_id).in_(ids))).all()
        values = values_by_record(session, [r.id for r in records if r.id is not None])
        for record in records:
            for v in values.get(record.id or 0, []):
                if v.field == "emails":
                    emails.append(v.value)
                elif v.field == "phones" and v.value.startswith("+"):
                    phones.append(v.value)
    found |= {("email", identifier_sha256(e)) for e in (normalise_email(x) for x in emails) if e}
    found |= {("phone", identifier_sha256(p)) for p in (normalise_phone(x, region) for x in phones) if p}
    return found


def recipients(session: Session, subject_ids: list[int], key_hashes: set[str]) -> set[int]:
    """Partners that received the person's data: the live disclosure log and the ledger."""
    partners: set[int] = set()
    if subject_ids:
        record_ids = select(ContactRecord.id).where(col(ContactRecord.subject_id).in_(subject_ids))
        partners |= set(
            session.exec(
                select(Disclosure.partner_id).where(
                    or_(
                        col(Disclosure.subject_id).in_(subject_ids), col(Disclosure.record_id).in_(record_ids)
                    )
                )
            ).all()
        )
    if key_hashes:
        partners |= set(
            session.exec(
                select(DisclosureLedger.partner_id).where(col(DisclosureLedger.key_hash).in_(key_hashes))
            ).all()
        )
    return partners


def keep_ledger(session: Session, subject_ids: list[int], key_hashes: set[str]) -> int:
    """Before an erasure deletes them: each disclosure of the person as ledger rows, one per key hash."""
    if not subject_ids or not key_hashes:
        return 0
    record_ids = select(ContactRecord.id).where(col(ContactRecord.subject_id).in_(subject_ids))
    disclosures = session.exec(
        select(Disclosure).where(
            or_(col(Disclosure.subject_id).in_(subject_ids), col(Disclosure.record_id).in_(record_ids))
        )
    ).all()
    rows = [
        {
            "partner_id": d.partner_id,
            "disclosure_ref": d.id,
            "key_hash": key,
            "categories": d.categories,
            "purpose": d.purpose,
            "direct_marketing": d.direct_marketing,
            "disclosed_at": d.disclosed_at,
            "recorded_at": utcnow(),
        }
        for d in disclosures
        for key in sorted(key_hashes)
    ]
    if rows:
        session.execute(insert(DisclosureLedger), rows)
    return len(rows)


def notify(
    session: Session,
    actor: Principal | None,
    *,
    partners: set[int],
    identifiers: Identifiers,
    reason: SuppressionReason,
) -> int:
    """Put the person's identifiers in each recipient's suppression feed (idempotent); returns rows added."""
    if not partners or not identifiers:
        return 0
    existing = {
        (p, h)
        for p, h in session.exec(
            select(PartnerSuppression.partner_id, PartnerSuppression.identifier_hash).where(
                col(PartnerSuppression.partner_id).in_(partners),
                col(PartnerSuppression.identifier_hash).in_({h for _, h in identifiers}),
                PartnerSuppression.reason == reason,
            )
        ).all()
    }
    added = 0
    for partner_id in sorted(partners):
        for kind, hashed in sorted(identifiers):
            if (partner_id, hashed) not in existing:
                session.add(
                    PartnerSuppression(
                        partner_id=partner_id, kind=kind, identifier_hash=hashed, reason=reason
                    )
                )
                added += 1
    audit(
        session,
        "recipients_notified",
        actor,
        reason=reason.value,
        partners=len(partners),
        identifiers=len(identifiers),
    )
    session.flush()
    return added


@dataclass(frozen=True)
class FeedPage:
    items: list[dict[str, Any]]
    next_after: int | None


def suppression_feed(
    session: Session,
    partner: Principal,
    *,
    since: datetime | None = None,
    after_id: int | None = None,
    limit: int = 500,
) -> FeedPage:
    """One partner's feed of erasures and opt-outs, oldest first; each read is audited (counts only)."""
    if partner.id is None:
        raise BadArgumentsError("The partner has no id.")
    if after_id is not None and not 0 <= after_id <= MAX_ID:
        raise BadArgumentsError("The cursor is not valid.")
    query = select(PartnerSuppression).where(PartnerSuppression.partner_id == partner.id)
    if since is not None:
        query = query.where(col(PartnerSuppression.created_at) >= as_utc(since))
    if after_id:
        query = query.where(col(PartnerSuppression.id) > after_id)
    rows = list(session.exec(query.order_by(col(PartnerSuppression.id)).limit(limit + 1)).all())
    page = rows[:limit]
    items = [
        {
            "id": r.id,
            "kind": r.kind,
            "sha256": r.identifier_hash,
            "reason": r.reason.value,
            "since": iso_utc(r.created_at),
        }
        for r in page
    ]
    audit(session, "suppression_feed_read", partner, partner_id=partner.id, items=len(items))
    session.flush()
    return FeedPage(items, page[-1].id if len(rows) > limit and page else None)
