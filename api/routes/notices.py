"""Notices to the people on the cards (GDPR Art. 14), for the mailer (a privacy admin): due, then sent.

Thin over :mod:`services.notices`. Until a person's notice is sent their data is not shared
with partners, and once it is overdue their cards leave the catalog (the policy decides).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from api.deps import PrivacyAdmin, ServicesDep, SessionDep
from api.schemas import NoticeOut, NoticesDue, NoticeSentIn, problem_responses
from services import notices
from services.paging import MAX_ID

router = APIRouter(prefix="/v1/notices", tags=["notices"], responses=problem_responses(401, 403, 422))


@router.get("/due", response_model=NoticesDue)
def due(
    session: SessionDep,
    _: PrivacyAdmin,
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> NoticesDue:
    """Notices to send now, oldest deadline first, with the text each must carry."""
    found = notices.due_notices(session, services.settings, limit=limit)
    return NoticesDue(items=[NoticeOut.model_validate(n, from_attributes=True) for n in found])


@router.post("/{notice_id}/sent", responses=problem_responses(404))
def sent(
    notice_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    session: SessionDep,
    admin: PrivacyAdmin,
    body: NoticeSentIn | None = None,
) -> dict[str, str]:
    """Record that a notice was sent (by e-mail, post or another way)."""
    notices.mark_sent(session, notice_id, admin, channel=body.channel if body else "email")
    session.commit()
    return {"status": "sent"}
