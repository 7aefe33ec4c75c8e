"""The partner's read: contacts permitted for partner sharing, each disclosure logged first.

:func:`services.disclosures.partner_contacts` adds one ``Disclosure`` row per contact to the
request's transaction. The session dependency would commit only after the response has
been sent (FastAPI runs a yield dependency's exit after the body), so this route commits
itself before returning: if the log cannot be written, the partner gets an error, never
the data.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import Partner, SessionDep
from api.schemas import PartnerContactPage, SuppressionFeed, SuppressionFeedItem, problem_responses
from services.disclosures import partner_contacts
from services.paging import decode_cursor, encode_cursor
from services.partners import require_registered
from services.recipients import suppression_feed

Cursor = Annotated[str | None, Query(max_length=200, description="`next_cursor` of the previous page.")]

router = APIRouter(prefix="/v1/partner", tags=["partner"], responses=problem_responses(400, 401, 403, 422))


@router.get("/contacts", response_model=PartnerContactPage)
def contacts(
    session: SessionDep,
    partner: Partner,
    cursor: Cursor = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> PartnerContactPage:
    """Contacts that may be shared with partners, with only the fields partners may see; each is logged."""
    items = partner_contacts(session, partner, limit=limit, after_id=decode_cursor(cursor))
    session.commit()  # the disclosure log is durable before a byte of the data leaves
    next_cursor = encode_cursor(items[-1]["id"]) if len(items) == limit else None
    return PartnerContactPage(items=items, next_cursor=next_cursor)


@router.get("/suppressions", response_model=SuppressionFeed)
def suppressions(
    session: SessionDep,
    partner: Partner,
    since: Annotated[datetime | None, Query(description="Only entries added at or after this time.")] = None,
    cursor: Cursor = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 500,
) -> SuppressionFeed:
    """People you were sent who erased their data or opted out: stop using them, delete what you hold.

    Each entry is the SHA-256 (hex) of a normalised e-mail (lower case) or E.164 phone you
    received; match it against yours. Every read of this feed is logged.
    """
    require_registered(session, partner)
    page = suppression_feed(session, partner, since=since, after_id=decode_cursor(cursor), limit=limit)
    session.commit()
    return SuppressionFeed(
        items=[SuppressionFeedItem(**item) for item in page.items],
        next_cursor=encode_cursor(page.next_after) if page.next_after else None,
    )
