"""Invites for a privacy admin (the mailer): candidates, claims before sending, confirmation; and sign-ups.

Thin over :mod:`services.invites`: a mailer claims people (each comes with the notice the
invitation must carry and an unsubscribe link), sends, then confirms each claim — or
releases it. ``POST /v1/invites/unsubscribe`` is public: the token in an invitation's link
opts its person out of invites in one request (RFC 8058 one-click). ``POST /v1/users``
tells the service someone signed up, so they are never invited.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, status

from api.deps import PrivacyAdmin, ServicesDep, SessionDep
from api.schemas import (
    InviteCandidateOut,
    InviteCandidates,
    InviteClaimIn,
    InviteClaimOut,
    InviteClaims,
    InviteOut,
    UserIn,
    problem_responses,
)
from services import invites
from services.paging import MAX_ID

router = APIRouter(tags=["invites"], responses=problem_responses(401, 403, 422))

ClaimId = Annotated[int, Path(ge=1, le=MAX_ID, description="The claim's id.")]


@router.get("/v1/invites/candidates", response_model=InviteCandidates)
def candidates(
    session: SessionDep,
    _: PrivacyAdmin,
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> InviteCandidates:
    """People who may be invited now (read-only): under the lifetime cap, outside the cooldown, unclaimed."""
    found = invites.invite_candidates(
        session, rules=invites.InviteRules.from_settings(services.settings), limit=limit
    )
    return InviteCandidates(items=[InviteCandidateOut(**vars(c)) for c in found])


@router.post("/v1/invites/claims", status_code=status.HTTP_201_CREATED, response_model=InviteClaims)
def claim(
    session: SessionDep, admin: PrivacyAdmin, services: ServicesDep, body: InviteClaimIn
) -> InviteClaims:
    """Reserve people to invite; send each one its invitation (with the notice and the link), then confirm."""
    claimed = invites.claim_candidates(
        session, admin, services.settings, salt=services.salt, limit=body.limit
    )
    session.commit()  # the reservations hold before the mailer sends a thing
    return InviteClaims(items=[InviteClaimOut.model_validate(c, from_attributes=True) for c in claimed])


@router.post(
    "/v1/invites/claims/{claim_id}/sent",
    status_code=status.HTTP_201_CREATED,
    response_model=InviteOut,
    responses=problem_responses(404, 409),
)
def sent(claim_id: ClaimId, session: SessionDep, admin: PrivacyAdmin) -> InviteOut:
    """Record the invitation sent under a claim (409 if the claim was released: the person opted out)."""
    invite = invites.confirm_sent(session, claim_id, admin)
    session.commit()
    assert invite.id is not None
    return InviteOut(
        id=invite.id, subject_id=invite.subject_id, record_id=invite.record_id, sent_at=invite.sent_at
    )


@router.post("/v1/invites/claims/{claim_id}/release", responses=problem_responses(404, 409))
def release(claim_id: ClaimId, session: SessionDep, admin: PrivacyAdmin) -> dict[str, str]:
    """Give a claimed person back without sending."""
    invites.release(session, claim_id, admin)
    session.commit()
    return {"status": "released"}


@router.post("/v1/invites/unsubscribe", responses=problem_responses(400))
def unsubscribe(
    session: SessionDep,
    services: ServicesDep,
    token: Annotated[
        str, Query(min_length=10, max_length=200, description="The token of the invitation's link.")
    ],
) -> dict[str, str]:
    """Stop invitations to the person of this link (no key needed; the token cannot be forged)."""
    result = invites.unsubscribe(session, token, salt=services.salt)
    session.commit()
    return {"status": str(result["status"])}


@router.post("/v1/users", responses=problem_responses(400))
def mark_user(
    session: SessionDep, admin: PrivacyAdmin, services: ServicesDep, body: UserIn
) -> dict[str, object]:
    """Someone signed up: they are never invited (only a hash of the e-mail is kept)."""
    result = invites.mark_users(session, email=body.email, actor=admin, salt=services.salt)
    session.commit()
    return {"status": "recorded", "claims_released": result["claims_released"]}
