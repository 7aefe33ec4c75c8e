"""The partner registry: who each partner is, by contract, and which purposes it receives.

A partner principal reads shared contacts only once registered (fail closed): the registry
is what Shine-the-Light answers name (Cal. Civ. Code § 1798.83 asks for the recipients'
names and addresses), what notices list as recipients, and what the processing register
(Art. 30) lists.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, col, select

from core.errors import BadArgumentsError
from core.times import iso_utc
from models.enums import Role
from models.tables import PartnerProfile, Principal, utcnow
from services.audit import audit
from services.errors import ForbiddenError, NotFoundError

PARTNER_PURPOSES = ("partner_sharing",)


@dataclass(frozen=True)
class PartnerDetails:
    legal_name: str
    postal_address: str
    country: str
    contract_ref: str
    purposes: tuple[str, ...] = PARTNER_PURPOSES

    def validate(self) -> None:
        if not all(part.strip() for part in (self.legal_name, self.postal_address, self.contract_ref)):
            raise BadArgumentsError("A partner needs its legal name, postal address and contract reference.")
        if len(self.country) != 2 or not self.country.isalpha():
            raise BadArgumentsError("The partner's country is a two-letter code (ISO 3166 alpha-2).")
        unknown = set(self.purposes) - set(PARTNER_PURPOSES)
        if not self.purposes or unknown:
            raise BadArgumentsError(f"A partner receives data for {', '.join(PARTNER_PURPOSES)} only.")


def register_partner(
    session: Session, actor: Principal | None, partner: Principal, details: PartnerDetails
) -> PartnerProfile:
    """Add or update a partner's registry entry (audited; the contract reference is not personal data)."""
    details.validate()
    if partner.role != Role.partner or partner.id is None:
        raise BadArgumentsError(f"Principal {partner.name!r} is not a partner.")
    profile = session.get(PartnerProfile, partner.id)
    created = profile is None
    if profile is None:
        profile = PartnerProfile(
            principal_id=partner.id, legal_name="", postal_address="", country="", contract_ref=""
        )
    profile.legal_name = details.legal_name.strip()
    profile.postal_address = details.postal_address.strip()
    profile.country = details.country.upper()
    profile.contract_ref = details.contract_ref.strip()
    profile.purposes = list(details.purposes)
    profile.updated_at = utcnow()
    session.add(profile)
    audit(session, "partner_registered" if created else "partner_updated", actor, partner_id=partner.id)
    session.flush()
    return profile


def profile_of(session: Session, partner_id: int) -> PartnerProfile | None:
    return session.get(PartnerProfile, partner_id)


def require_registered(session: Session, partner: Principal) -> PartnerProfile:
    """The partner's registry entry; an unregistered partner receives nothing (fail closed)."""
    if partner.id is None or partner.role is not Role.partner or partner.revoked_at is not None:
        raise ForbiddenError("Only an active partner reads shared contacts.")
    profile = session.get(PartnerProfile, partner.id)
    if profile is None:
        raise ForbiddenError(
            "This partner is not in the partner registry.",
            hint="A privacy admin registers it first: `cards partners register NAME ...`.",
        )
    return profile


def list_partners(session: Session) -> list[dict[str, Any]]:
    """Every registered partner with its registry entry (for the register and the privacy desk)."""
    rows = session.exec(
        select(Principal, PartnerProfile)
        .join(PartnerProfile, col(PartnerProfile.principal_id) == col(Principal.id))
        .order_by(col(PartnerProfile.legal_name))
    ).all()
    return [partner_dict(p, profile) for p, profile in rows]


def partner_dict(principal: Principal, profile: PartnerProfile) -> dict[str, Any]:
    return {
        "id": principal.id,
        "name": principal.name,
        "legal_name": profile.legal_name,
        "postal_address": profile.postal_address,
        "country": profile.country,
        "contract_ref": profile.contract_ref,
        "purposes": profile.purposes,
        "active": principal.revoked_at is None,
        "registered_at": iso_utc(profile.registered_at),
    }


def get_partner(session: Session, principal_id: int) -> dict[str, Any]:
    principal = session.get(Principal, principal_id)
    profile = session.get(PartnerProfile, principal_id)
    if principal is None or profile is None:
        raise NotFoundError(f"No registered partner {principal_id}.")
    return partner_dict(principal, profile)
