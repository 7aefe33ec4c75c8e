"""Disclosures to partners: the partner read path (each disclosure logged first) and Shine-the-Light.

Partner disclosures are logged per record with data categories derived from the fields
actually sent (see :data:`FIELD_CATEGORIES`, worded after Cal. Civ. Code § 1798.83). The
log rows are added to the caller's transaction: commit before handing the data over, so
nothing leaves unlogged.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import or_
from sqlmodel import Session, col, select

from core.errors import BadArgumentsError
from models.enums import Role
from models.policy import qualifying_records, visible_fields
from models.tables import ContactRecord, Disclosure, FieldValue, Principal
from services.audit import audit
from services.errors import ForbiddenError
from services.names import PrincipalNames
from services.subjects import resolve_contact
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
    year: int,
    salt: bytes,
    region: str | None = None,
) -> dict[str, Any]:
    """California Civil Code § 1798.83: who got the person's data for direct marketing in ``year`` (UTC)."""
    if not 1970 <= year <= 9998:
        raise BadArgumentsError("Give the calendar year as four digits, e.g. 2026.")
    _, subjects = resolve_contact(session, email=email, phone=phone, salt=salt, region=region)
    subject_ids = [s.id for s in subjects if s.id is not None]
    record_ids = [
        r
        for r in session.exec(select(ContactRecord.id).where(col(ContactRecord.subject_id).in_(subject_ids)))
        if r is not None
    ]
    start, end = datetime(year, 1, 1, tzinfo=UTC), datetime(year + 1, 1, 1, tzinfo=UTC)
    rows: Sequence[Disclosure] = session.exec(
        disclosures_of(subject_ids, record_ids)
        .where(
            col(Disclosure.direct_marketing).is_(True),
            col(Disclosure.disclosed_at) >= start,
            col(Disclosure.disclosed_at) < end,
        )
        .order_by(col(Disclosure.disclosed_at))
    ).all()
    by_partner: dict[int, dict[str, Any]] = {}
    name = PrincipalNames(session)
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
