"""Invites for a privacy admin: who may be invited now, and logging an invite that was sent.

Thin over :mod:`services.invites`: candidates come through the invites purpose of the policy,
and logging re-checks the person at that moment (409 ``not_eligible`` if they opted out,
were erased, became a user or were invited within the cooldown since the list was taken).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, status

from api.deps import PrivacyAdmin, ServicesDep, SessionDep
from api.schemas import InviteCandidateOut, InviteCandidates, InviteOut, InviteSentIn, problem_responses
from services import invites
from services.paging import MAX_ID

router = APIRouter(prefix="/v1/invites", tags=["invites"], responses=problem_responses(401, 403, 422))


@router.get("/candidates", response_model=InviteCandidates)
def candidates(
    session: SessionDep,
    _: PrivacyAdmin,
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> InviteCandidates:
    """People who may be invited now: one per person, with a valid e-mail, not invited within the cooldown."""
    found = invites.invite_candidates(
        session, cooldown_days=services.settings.invite_cooldown_days, limit=limit
    )
    return InviteCandidates(items=[InviteCandidateOut(**vars(c)) for c in found])


@router.post(
    "/{subject_id}/sent",
    status_code=status.HTTP_201_CREATED,
    response_model=InviteOut,
    responses=problem_responses(404, 409),
)
def sent(
    subject_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    session: SessionDep,
    admin: PrivacyAdmin,
    services: ServicesDep,
    body: InviteSentIn | None = None,
) -> InviteOut:
    """Log that an invite was sent to this person (re-checked now: 409 if they no longer qualify)."""
    invite = invites.record_invite(
        session,
        subject_id=subject_id,
        actor=admin,
        record_id=body.record_id if body else None,
        cooldown_days=services.settings.invite_cooldown_days,
    )
    session.commit()
    assert invite.id is not None
    return InviteOut(
        id=invite.id, subject_id=invite.subject_id, record_id=invite.record_id, sent_at=invite.sent_at
    )
