"""The partner registry, for a privacy admin: who each partner is, by contract, and what it receives."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from api.deps import PrivacyAdmin, SessionDep
from api.schemas import PartnerIn, PartnerList, PartnerOut, problem_responses
from services import partners
from services.errors import NotFoundError
from services.paging import MAX_ID
from services.principals import principal_by_id

router = APIRouter(prefix="/v1/partners", tags=["partners"], responses=problem_responses(401, 403, 422))

PartnerId = Annotated[int, Path(ge=1, le=MAX_ID, description="The partner principal's id.")]


@router.get("", response_model=PartnerList)
def list_partners(session: SessionDep, _: PrivacyAdmin) -> PartnerList:
    """Every registered partner."""
    return PartnerList(items=[PartnerOut(**p) for p in partners.list_partners(session)])


@router.put("/{partner_id}", response_model=PartnerOut, responses=problem_responses(400, 404))
def register(partner_id: PartnerId, session: SessionDep, admin: PrivacyAdmin, body: PartnerIn) -> PartnerOut:
    """Register a partner principal (or update its entry); until then it receives nothing."""
    principal = principal_by_id(session, partner_id)
    if principal is None:
        raise NotFoundError(f"No principal {partner_id}.")
    details = partners.PartnerDetails(
        body.legal_name, body.postal_address, body.country, body.contract_ref, tuple(body.purposes)
    )
    partners.register_partner(session, admin, principal, details)
    session.commit()
    return PartnerOut(**partners.get_partner(session, partner_id))
