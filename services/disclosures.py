"""Disclosures to partners: the partner read path (each disclosure logged first) and Shine-the-Light.

Only a partner in the partner registry reads shared contacts. Disclosures are logged per
record with data categories derived from the fields actually sent (see
:data:`FIELD_CATEGORIES`, worded after Cal. Civ. Code § 1798.83). The log rows are added to
the caller's transaction: commit before handing the data over, so nothing leaves unlogged.
After an erasure the ledger (:mod:`services.recipients`) answers for the person.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import or_
from sqlmodel import Session, col, select

from core.errors import BadArgumentsError
from models.policy import qualifying_records, visible_fields
from models.tables import ContactRecord, Disclosure, DisclosureLedger, FieldValue, PartnerProfile, Principal
from services.audit import audit
from services.names import PrincipalNames
from services.partners import require_registered
from services.subjects import resolve_contact, subject_keys
from services.values import values_by_record

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


def disclosures_of(subject_ids: list[int], record_ids: list[int]) -> Any:
    """Disclosures by subject or by record: a subject merge may have cleared ``subject_id``."""
    return select(Disclosure).where(
        or_(col(Disclosure.subject_id).in_(subject_ids), col(Disclosure.record_id).in_(record_ids))
    )


def shine_the_light(
    session: Session,
    *,
    email: str | None = None,
    phone: str | None = None,
    name: str | None = None,
    company: str | None = None,
    year: int,
    salt: bytes,
    region: str | None = None,
) -> dict[str, Any]:
    """California Civil Code § 1798.83: who got the person's data for direct marketing in ``year`` (UTC).

    Each recipient by its registry entry (legal name and postal address) with the categories
    of data sent. Disclosures of an erased person are answered from the ledger (by hash).
    """
    if not 1970 <= year <= 9998:
        raise BadArgumentsError("Give the calendar year as four digits, e.g. 2026.")
    given, subjects = resolve_contact(
        session, email=email, phone=phone, salt=salt, region=region, name=name, company=company
    )
    subject_ids = [s.id for s in subjects if s.id is not None]
    record_ids = [
        r
        for r in session.exec(select(ContactRecord.id).where(col(ContactRecord.subject_id).in_(subject_ids)))
        if r is not None
    ]
    hashes = {h for _, h in given | subject_keys(session, subject_ids)}
    start, end = datetime(year, 1, 1, tzinfo=UTC), datetime(year + 1, 1, 1, tzinfo=UTC)
    live: Sequence[Disclosure] = session.exec(
        disclosures_of(subject_ids, record_ids).where(
            col(Disclosure.direct_marketing).is_(True),
            col(Disclosure.disclosed_at) >= start,
            col(Disclosure.disclosed_at) < end,
        )
    ).all()
    ledger = session.exec(
        select(DisclosureLedger).where(
            col(DisclosureLedger.key_hash).in_(hashes),
            col(DisclosureLedger.direct_marketing).is_(True),
            col(DisclosureLedger.disclosed_at) >= start,
            col(DisclosureLedger.disclosed_at) < end,
        )
    ).all()
    by_partner: dict[int, dict[str, Any]] = {}
    name_of = PrincipalNames(session)
    # A disclosure of an erased person is one ledger row per key hash: count each one once.
    counted: set[int | None] = set()
    for partner_id, categories, ref in [
        *((d.partner_id, d.categories, d.id) for d in live),
        *((d.partner_id, d.categories, d.disclosure_ref) for d in ledger),
    ]:
        entry = by_partner.setdefault(partner_id, _recipient(session, partner_id, name_of))
        entry["categories"].update(categories)
        if ref not in counted:
            counted.add(ref)
            entry["disclosures"] += 1
    partners = sorted(
        ({**e, "categories": sorted(e["categories"])} for e in by_partner.values()),
        key=lambda e: e["legal_name"] or e["partner"] or "",
    )
    return {"year": year, "found": bool(subject_ids) or bool(ledger), "partners": partners}


def _recipient(session: Session, partner_id: int, name_of: PrincipalNames) -> dict[str, Any]:
    profile = session.get(PartnerProfile, partner_id)
    return {
        "partner": name_of(partner_id),
        "legal_name": profile.legal_name if profile else None,
        "postal_address": profile.postal_address if profile else None,
        "country": profile.country if profile else None,
        "categories": set(),
        "disclosures": 0,
    }


def data_categories(values: Iterable[FieldValue]) -> list[str]:
    """The categories of personal data in the values actually sent."""
    return sorted({FIELD_CATEGORIES.get(v.field, v.field) for v in values})


def partner_contacts(
    session: Session, partner: Principal, *, limit: int = 100, after_id: int | None = None
) -> list[dict[str, Any]]:
    """The partner read path: contacts that may be shared, only the fields partners may see, each logged.

    One ``Disclosure`` row (and one "disclosed" audit event) per contact returned, added in
    the caller's transaction: commit before handing the data over, so nothing leaves unlogged.
    A record with nothing a partner may see is skipped, not disclosed. Page with ``after_id``
    = the last ``id`` returned.
    """
    require_registered(session, partner)
    assert partner.id is not None
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
        values = values_by_record(session, [r.id for r in batch if r.id is not None])
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
                shown: dict[str, str | None] = {"value": v.value}
                if v.field == "phones":
                    shown |= {"type": v.type or "other", "extension": v.extension}
                fields[v.field].append(shown)
            contacts.append({"id": record.id, "fields": dict(fields)})
    session.flush()
    return contacts
