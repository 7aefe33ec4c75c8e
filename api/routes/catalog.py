"""The catalog builder's reads: companies assembled from records permitted for the catalog.

Thin over :mod:`services.catalog`, which asks the purpose policy on every call: a use or an
attestation revoked is gone from the very next page. The export streams NDJSON page by
page (keyset on the company id) from its own session, so it needs no memory for the whole
catalog and holds no request session open while the client reads slowly.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query
from fastapi.responses import StreamingResponse

from api.deps import CatalogBuilder, ServicesDep, SessionDep
from api.schemas import CompanyOut, CompanyPage, problem_responses
from services.catalog import CompanyView, get_company, iter_companies, list_companies
from services.paging import MAX_ID

router = APIRouter(prefix="/v1/catalog", tags=["catalog"], responses=problem_responses(401, 403, 422))

EXPORT_PAGE = 200
NDJSON = "application/x-ndjson"

Q = Annotated[
    str | None, Query(max_length=200, description="Part of the name (case, accents, Inc/GmbH… ignored).")
]
Cursor = Annotated[str | None, Query(max_length=200, description="`next_cursor` of the previous page.")]
Domain = Annotated[str | None, Query(max_length=253, description="Web domain, e.g. `acme.com`.")]
Country = Annotated[str | None, Query(pattern=r"^[A-Za-z]{2}$", description="ISO 3166 alpha-2.")]
Since = Annotated[
    datetime | None, Query(description="Only companies with a record changed at or after this time.")
]


def _out(view: CompanyView) -> CompanyOut:
    return CompanyOut.model_validate(view, from_attributes=True)


@router.get("/companies", response_model=CompanyPage, responses=problem_responses(400))
def companies(
    session: SessionDep,
    _: CatalogBuilder,
    q: Q = None,
    domain: Domain = None,
    country: Country = None,
    updated_since: Since = None,
    cursor: Cursor = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> CompanyPage:
    """One page of companies, oldest first; follow `next_cursor` (null on the last page)."""
    views, next_cursor = list_companies(
        session, q=q, domain=domain, country=country, updated_since=updated_since, cursor=cursor, limit=limit
    )
    return CompanyPage(items=[_out(v) for v in views], next_cursor=next_cursor)


@router.get("/companies/{company_id}", response_model=CompanyOut, responses=problem_responses(404))
def company(
    session: SessionDep, _: CatalogBuilder, company_id: Annotated[int, Path(ge=1, le=MAX_ID)]
) -> CompanyOut:
    """One company; 404 when no record the catalog may use vouches for it (any more)."""
    return _out(get_company(session, company_id))


@router.get(
    "/export",
    response_class=StreamingResponse,
    responses={200: {"description": "One company (as in `/companies`) per line.", "content": {NDJSON: {}}}},
)
def export(
    services: ServicesDep,
    _: CatalogBuilder,
    q: Q = None,
    domain: Domain = None,
    country: Country = None,
    updated_since: Since = None,
) -> StreamingResponse:
    """Every company the catalog may show, as NDJSON (`application/x-ndjson`), streamed."""

    def lines() -> Iterator[bytes]:
        companies = iter_companies(
            services.engine,
            q=q,
            domain=domain,
            country=country,
            updated_since=updated_since,
            page_size=EXPORT_PAGE,
        )
        for view in companies:
            yield _out(view).model_dump_json().encode() + b"\n"

    return StreamingResponse(lines(), media_type=NDJSON)
