"""The company catalog: companies assembled from records permitted for the catalog.

Companies are derived data: a :class:`CatalogCompany` is keyed by its normalised name (and
web domain when the card has one) and linked to the records it came from. Reads never
trust the links alone: a company is listed only while at least one linked record
qualifies for the ``catalog`` purpose *now* (models.policy), and its details are built
from those records' catalog-visible values only. Erasing a record removes its links
(cascade) and :func:`drop_orphans` removes companies nobody vouches for any more.
"""

from __future__ import annotations

import base64
import json
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, exists
from sqlmodel import Session, col, delete, select

from ingest.errors import BadArgumentsError, NotFoundError
from models.policy import qualifying_records, visible_fields
from models.tables import CatalogCompany, CatalogLink, ContactRecord, FieldValue, utcnow

LEGAL_WORDS = {
    "inc", "llc", "ltd", "limited", "co", "corp", "corporation", "company", "gmbh", "ag", "sa", "sarl", "srl",
    "bv", "nv", "plc", "pte", "pty", "kk", "llp", "lp", "spa", "ab", "as", "oy", "kg", "the",
}  # fmt: skip


def normalise_company(name: str) -> str:
    """Case, accents, punctuation and legal suffixes do not make another company."""
    text = unicodedata.normalize("NFKD", name)
    text = "".join(c for c in text if not unicodedata.combining(c)).casefold()
    words = [w for w in re.findall(r"[a-z0-9]+", text) if w not in LEGAL_WORDS]
    return " ".join(words)


def web_domain(value: str) -> str | None:
    host = re.sub(r"^(?:https?://)?(?:www\d?\.)?", "", value.strip().casefold()).split("/")[0]
    return host or None


def link_record(session: Session, record: ContactRecord, values: list[FieldValue]) -> CatalogCompany | None:
    """Attach a record to its company (created on first sight). Called whenever a record is stored."""
    companies = [v for v in values if v.field == "companies"]
    if not companies or not normalise_company(companies[0].value):
        return None
    name = companies[0].value
    domains = [web_domain(v.value) for v in values if v.field == "websites"]
    domain = next((d for d in domains if d), None)
    key = normalise_company(name)
    company = session.exec(select(CatalogCompany).where(CatalogCompany.name_key == key)).first()
    if company is None and domain:
        company = session.exec(select(CatalogCompany).where(CatalogCompany.domain == domain)).first()
    if company is None:
        company = CatalogCompany(name=name, name_key=key, domain=domain, country=record.region)
        session.add(company)
        session.flush()
    else:
        company.updated_at = utcnow()
        company.domain = company.domain or domain
        company.country = company.country or record.region
    already = session.exec(
        select(CatalogLink).where(CatalogLink.company_id == company.id, CatalogLink.record_id == record.id)
    ).first()
    if already is None:
        session.add(CatalogLink(company_id=company.id, record_id=record.id))
    session.flush()
    return company


def drop_orphans(session: Session) -> int:
    """Delete companies that no record links to any more (after an erasure or deletion)."""
    linked = exists().where(CatalogLink.company_id == CatalogCompany.id)
    result = session.exec(delete(CatalogCompany).where(~linked))  # type: ignore[call-overload]
    return int(result.rowcount or 0)


def _qualifying_link() -> Any:
    """EXISTS a link from the company to a record the catalog purpose may use right now."""
    records = qualifying_records("catalog").with_only_columns(col(ContactRecord.id)).subquery()
    return exists().where(
        and_(
            CatalogLink.company_id == CatalogCompany.id, col(CatalogLink.record_id).in_(select(records.c.id))
        )
    )


@dataclass
class CompanyView:
    id: int
    name: str
    domain: str | None
    country: str | None
    updated_at: datetime
    websites: list[str] = field(default_factory=list)
    addresses: list[str] = field(default_factory=list)
    phones: list[dict[str, str]] = field(default_factory=list)
    job_titles: list[str] = field(default_factory=list)
    departments: list[str] = field(default_factory=list)
    sources: int = 0


def encode_cursor(company_id: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"after": company_id}).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int | None:
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        after = json.loads(base64.urlsafe_b64decode(padded.encode()))["after"]
        if not isinstance(after, int):
            raise ValueError
        return after
    except (ValueError, KeyError, TypeError, json.JSONDecodeError) as exc:
        raise BadArgumentsError(
            "The cursor is not valid.", hint="Use the next_cursor of a previous page."
        ) from exc


def list_companies(
    session: Session,
    *,
    q: str | None = None,
    domain: str | None = None,
    country: str | None = None,
    updated_since: datetime | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> tuple[list[CompanyView], str | None]:
    """One page of catalog companies (ordered by id) and the cursor of the next page."""
    query = select(CatalogCompany).where(_qualifying_link())
    if q:
        query = query.where(col(CatalogCompany.name_key).contains(normalise_company(q)))
    if domain:
        query = query.where(CatalogCompany.domain == web_domain(domain))
    if country:
        query = query.where(CatalogCompany.country == country.upper())
    if updated_since:
        query = query.where(CatalogCompany.updated_at >= updated_since)
    after = decode_cursor(cursor)
    if after is not None:
        query = query.where(col(CatalogCompany.id) > after)
    rows = list(session.exec(query.order_by(col(CatalogCompany.id)).limit(limit + 1)).all())
    page, more = rows[:limit], len(rows) > limit
    views = _views(session, page)
    return views, (encode_cursor(page[-1].id) if more and page and page[-1].id is not None else None)


def get_company(session: Session, company_id: int) -> CompanyView:
    company = session.exec(
        select(CatalogCompany).where(CatalogCompany.id == company_id).where(_qualifying_link())
    ).first()
    if company is None:
        raise NotFoundError(f"No catalog company {company_id}.")
    return _views(session, [company])[0]


def _views(session: Session, companies: list[CatalogCompany]) -> list[CompanyView]:
    """Details from the linked records that qualify now, through the catalog's visible fields."""
    if not companies:
        return []
    ids = [c.id for c in companies]
    records = qualifying_records("catalog").with_only_columns(col(ContactRecord.id)).subquery()
    links = session.exec(
        select(CatalogLink).where(
            col(CatalogLink.company_id).in_(ids), col(CatalogLink.record_id).in_(select(records.c.id))
        )
    ).all()
    by_record: dict[int, int] = {link.record_id: link.company_id for link in links}
    values = (
        session.exec(
            select(FieldValue)
            .where(col(FieldValue.record_id).in_(list(by_record)))
            .order_by(col(FieldValue.record_id), col(FieldValue.field), col(FieldValue.position))
        ).all()
        if by_record
        else []
    )
    views = {
        c.id: CompanyView(
            id=c.id,
            name=c.name,
            domain=c.domain,
            country=c.country,  # type: ignore[arg-type]
            updated_at=c.updated_at,
        )
        for c in companies
    }
    sources: dict[int, set[int]] = {}
    for value in visible_fields("catalog", values):
        view = views[by_record[value.record_id]]
        sources.setdefault(view.id, set()).add(value.record_id)
        if value.field == "phones":
            entry = {"value": value.value, "type": value.type or "other"}
            if entry not in view.phones:
                view.phones.append(entry)
            continue
        target = getattr(view, value.field, None)
        if isinstance(target, list) and value.value not in target:
            target.append(value.value)
    for view in views.values():
        view.sources = len(sources.get(view.id, set()))
    return [views[c.id] for c in companies]  # type: ignore[index]
