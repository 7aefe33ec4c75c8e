"""The company catalog: companies assembled from records permitted for the catalog.

Companies are derived data: a :class:`CatalogCompany` is keyed by its normalised name (and
web domain when the card has one) and linked to the records it came from. Links are made
for every stored record, whatever its uses, so that a use granted later needs no
re-processing. Reads therefore never trust the links or the company row alone: a company
is listed only while at least one linked record qualifies for the ``catalog`` purpose *now*
(:mod:`models.policy`), and everything shown — its name, domain, country, time of the last change
and details — is built from those records' catalog-visible values only. (The stored name,
domain and country are dedup keys and filter indexes; they may come from a record the
catalog may not use, so they are never shown as such.) Erasing a record removes its links
and :func:`drop_orphans` removes companies nobody vouches for any more.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

from sqlalchemy import Integer, any_, bindparam, delete, exists
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from core.errors import BadArgumentsError
from models.keys import normalise_company, web_domain
from models.policy import qualifying_records, visible_field_names, visible_fields
from models.tables import CatalogCompany, CatalogLink, ContactRecord, FieldValue, utcnow
from services.errors import NotFoundError
from services.paging import MAX_ID, decode_cursor, encode_cursor
from services.values import record_values

_IN_BATCH = 5_000  # ids per IN list (SQLite allows 32,766 parameters; PostgreSQL 65,535)


def link_record(session: Session, record: ContactRecord, values: list[FieldValue]) -> CatalogCompany | None:
    """Attach a record to its company (created on first sight). Called whenever a record is stored.

    The company is found by normalised name, else by web domain. Two transactions creating
    the same new company at once both get it: the insert runs in a savepoint, and the loser
    of the unique ``name_key`` race links to the winner's row.
    """
    companies = [v for v in values if v.field == "companies"]
    if not companies or not normalise_company(companies[0].value):
        return None
    name = companies[0].value
    domains = [web_domain(v.value) for v in values if v.field == "websites"]
    domain = next((d for d in domains if d), None)
    key = normalise_company(name)
    company = _find_company(session, key, domain)
    if company is None:
        try:
            with session.begin_nested():
                company = CatalogCompany(name=name, name_key=key, domain=domain, country=record.region)
                session.add(company)
        except IntegrityError:
            company = _find_company(session, key, domain)
            if company is None:
                raise
    else:
        company.domain = company.domain or domain
        company.country = company.country or record.region
    assert company.id is not None and record.id is not None
    already = session.exec(
        select(CatalogLink).where(CatalogLink.company_id == company.id, CatalogLink.record_id == record.id)
    ).first()
    if already is None:
        company.updated_at = utcnow()
        session.add(CatalogLink(company_id=company.id, record_id=record.id))
    session.flush()
    return company


def _find_company(session: Session, key: str, domain: str | None) -> CatalogCompany | None:
    company = session.exec(select(CatalogCompany).where(CatalogCompany.name_key == key)).first()
    if company is None and domain:
        company = session.exec(
            select(CatalogCompany).where(CatalogCompany.domain == domain).order_by(col(CatalogCompany.id))
        ).first()
    return company


def drop_orphans(session: Session) -> int:
    """Delete companies that no record links to any more (after an erasure or deletion)."""
    linked = exists().where(col(CatalogLink.company_id) == col(CatalogCompany.id))
    result = session.execute(delete(CatalogCompany).where(~linked))
    return int(getattr(result, "rowcount", 0) or 0)


def _qualifying_link(*record_conditions: Any) -> Any:
    """EXISTS a link from the company to a record the catalog may use now (and meeting the conditions).

    Correlated on the link's record (the policy's conditions tested for that one record by
    primary key), so the database stops at the first qualifying link of each company
    instead of building the set of every qualifying record for every page.
    """
    record = qualifying_records("catalog").where(
        col(ContactRecord.id) == CatalogLink.record_id, *record_conditions
    )
    return exists().where(
        col(CatalogLink.company_id) == col(CatalogCompany.id),
        exists(record.with_only_columns(col(ContactRecord.id))),
    )


class CatalogValue(NamedTuple):
    """The columns of a value a company view is built from."""

    record_id: int
    field: str
    value: str
    type: str | None


@dataclass
class CompanyView:
    """A company as the catalog may show it: every value comes from a qualifying record."""

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


def _as_utc(moment: datetime) -> datetime:
    """Aware UTC (a naive time is taken as UTC): SQLite compares stored UTC text, so offsets must go."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # year 1 with a positive offset, year 9999 with a negative one
        return (datetime.min if moment.year == 1 else datetime.max).replace(tzinfo=UTC)


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
    """One page of catalog companies (ordered by id) and the cursor of the next page (None: last page).

    ``q`` matches the normalised name, ``domain`` and ``country`` the shown values, and
    ``updated_since`` a change of a qualifying record at or after that time. The stored
    columns narrow the search in SQL; the shown (derived) values decide. A page may hold
    fewer than ``limit`` companies while more follow: always follow ``next_cursor``.
    """
    if limit < 1:
        raise BadArgumentsError("The page size must be at least 1.")
    want_domain = web_domain(domain) if domain else None
    want_country = country.strip().upper() if country else None
    if domain and want_domain is None:
        return [], None  # no host in it: matches no company
    record_conditions: list[Any] = []
    if updated_since is not None:
        record_conditions.append(col(ContactRecord.updated_at) >= _as_utc(updated_since))
    query = select(CatalogCompany).where(_qualifying_link(*record_conditions))
    if q and normalise_company(q):
        query = query.where(col(CatalogCompany.name_key).contains(normalise_company(q)))
    if domain:
        query = query.where(CatalogCompany.domain == want_domain)
    if want_country:
        query = query.where(CatalogCompany.country == want_country)
    after = decode_cursor(cursor)
    views: list[CompanyView] = []
    more = True
    while more and len(views) < limit:
        need = limit - len(views)
        page = query.order_by(col(CatalogCompany.id)).limit(need + 1)
        if after is not None:
            page = page.where(col(CatalogCompany.id) > after)
        rows = list(session.exec(page).all())
        more = len(rows) > need
        for company, view in zip(rows[:need], _views(session, rows[:need]), strict=True):
            after = company.id
            if view is None or (domain and view.domain != want_domain):
                continue
            if want_country and view.country != want_country:
                continue
            views.append(view)
    return views, (encode_cursor(after) if more and after is not None else None)


def iter_companies(
    engine: Engine,
    *,
    q: str | None = None,
    domain: str | None = None,
    country: str | None = None,
    updated_since: datetime | None = None,
    page_size: int = 200,
) -> Iterator[CompanyView]:
    """Every company the catalog may show, page by page (keyset on the id) in a session of its own.

    The read transaction ends between pages (no long snapshot), so an export of any size
    needs no memory for the whole catalog and holds no request session while a client reads.
    """
    with Session(engine, expire_on_commit=False) as session:
        cursor: str | None = None
        while True:
            views, cursor = list_companies(
                session,
                q=q,
                domain=domain,
                country=country,
                updated_since=updated_since,
                cursor=cursor,
                limit=page_size,
            )
            yield from views
            session.rollback()
            if cursor is None:
                return


def get_company(session: Session, company_id: int) -> CompanyView:
    """One catalog company, or NotFound when no record the catalog may use vouches for it now."""
    company = None
    if 0 < company_id <= MAX_ID:
        company = session.exec(
            select(CatalogCompany).where(CatalogCompany.id == company_id).where(_qualifying_link())
        ).first()
    view = _views(session, [company])[0] if company is not None else None
    if view is None:
        raise NotFoundError(f"No catalog company {company_id}.")
    return view


def _views(session: Session, companies: list[CatalogCompany]) -> list[CompanyView | None]:
    """Each company as built from its linked records that qualify now (None: nothing to show)."""
    if not companies:
        return []
    ids = [c.id for c in companies]
    # Two steps, so that the database tests the policy record by record (by primary key) for the
    # page's records only: joined with the links, its planner may hash whole tables instead.
    links = session.exec(
        select(CatalogLink.company_id, CatalogLink.record_id).where(col(CatalogLink.company_id).in_(ids))
    ).all()
    companies_of: dict[int, list[int]] = defaultdict(list)
    for company_id, linked in links:
        companies_of[linked].append(company_id)
    linked_ids = sorted(companies_of)
    columns = (col(ContactRecord.id), col(ContactRecord.region), col(ContactRecord.updated_at))
    qualifying: list[tuple[int | None, str | None, datetime]] = []
    for at in range(0, len(linked_ids), _IN_BATCH):
        chunk = linked_ids[at : at + _IN_BATCH]
        query = qualifying_records("catalog").with_only_columns(*columns)
        query = query.where(_among(session, col(ContactRecord.id), chunk))
        qualifying += [(row[0], row[1], row[2]) for row in session.execute(query).all()]
    records_of: dict[int, list[tuple[int, str | None, datetime]]] = defaultdict(list)
    for record_id, region, updated_at in sorted(qualifying, key=lambda row: row[0] or 0):
        assert record_id is not None
        for company_id in companies_of[record_id]:
            records_of[company_id].append((record_id, region, updated_at))
    record_ids = sorted({r for rows in records_of.values() for r, _, _ in rows})
    values_of: dict[int, list[CatalogValue]] = defaultdict(list)
    for at in range(0, len(record_ids), _IN_BATCH):
        # Only the columns a view needs, and only fields the catalog may see some values of;
        # visible_fields still decides value by value (phone types).
        rows = session.exec(
            select(FieldValue.record_id, FieldValue.field, FieldValue.value, FieldValue.type)
            .where(
                _among(session, col(FieldValue.record_id), record_ids[at : at + _IN_BATCH]),
                col(FieldValue.field).in_(visible_field_names("catalog")),
            )
            .order_by(col(FieldValue.record_id), col(FieldValue.field), col(FieldValue.position))
        ).all()
        for value in visible_fields("catalog", [CatalogValue(*row) for row in rows]):
            values_of[value.record_id].append(value)
    return [_view(company, records_of.get(company.id or 0, []), values_of) for company in companies]


def _among(session: Session, column: Any, ids: list[int]) -> Any:
    """``column IN ids``; on PostgreSQL as ``= ANY(one array parameter)``: a thousand separate
    parameters cost more to bind than the query costs to run."""
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam(None, ids, type_=ARRAY(Integer)))
    return column.in_(ids)


def _view(
    company: CatalogCompany,
    records: list[tuple[int, str | None, datetime]],
    values_of: dict[int, list[CatalogValue]],
) -> CompanyView | None:
    """Name, domain, country, time and details from the qualifying records, oldest record first."""
    values = [v for record_id, _, _ in records for v in values_of.get(record_id, [])]
    names = [v.value for v in values if v.field == "companies"]
    name = next((n for n in names if normalise_company(n) == company.name_key), None)
    name = name or next((n for n in names if normalise_company(n)), None)
    if name is None:
        return None
    domains = [d for d in (web_domain(v.value) for v in values if v.field == "websites") if d]
    regions = [region for _, region, _ in records if region]
    assert company.id is not None
    view = CompanyView(
        id=company.id,
        name=name,
        domain=company.domain if company.domain in domains else next(iter(domains), None),
        country=company.country if company.country in regions else next(iter(regions), None),
        updated_at=_as_utc(max(updated_at for _, _, updated_at in records)),
        sources=len(records),
    )
    seen: set[tuple[str, str, str | None]] = set()
    for value in values:
        phone_type = (value.type or "other") if value.field == "phones" else None
        if (value.field, value.value, phone_type) in seen:
            continue
        seen.add((value.field, value.value, phone_type))
        if value.field == "phones":
            view.phones.append({"value": value.value, "type": phone_type or "other"})
            continue
        target = getattr(view, value.field, None)
        if isinstance(target, list):
            target.append(value.value)
    return view


def relink_record(session: Session, record: ContactRecord) -> None:
    """Point the record's catalog link at the company its current values name (after a correction).

    A corrected company name or website would otherwise leave the record vouching for the
    misread company; companies nobody links to any more are dropped.
    """
    assert record.id is not None
    session.execute(delete(CatalogLink).where(col(CatalogLink.record_id) == record.id))
    session.flush()
    link_record(session, record, record_values(session, record.id))
    drop_orphans(session)
    session.flush()
