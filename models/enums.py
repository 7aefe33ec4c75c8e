"""The controls' vocabulary: roles, channels, permitted uses, attestation bases, suppressions.

Column types of :mod:`models.tables`, and the words the fronts speak (CLI options, request
bodies): the one part of ``models`` the fronts may import directly.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    uploader = "uploader"
    catalog_builder = "catalog_builder"
    partner = "partner"
    privacy_admin = "privacy_admin"


class Channel(StrEnum):
    mobile = "mobile"
    batch = "batch"
    api = "api"


class Use(StrEnum):
    """Permitted uses a record can carry, beyond its uploader's own address book."""

    invites = "invites"
    catalog = "catalog"
    partner_sharing = "partner_sharing"


class Basis(StrEnum):
    """The uploader's attested authority to upload the card."""

    received_in_person = "received_in_person"
    subject_consented = "subject_consented"
    public_business_information = "public_business_information"
    other = "other"


class SuppressionReason(StrEnum):
    """Why a person's hashes must not be used (for the purposes the policy names)."""

    opt_out_invites = "opt_out_invites"
    opt_out_partners = "opt_out_partners"
    erased = "erased"
    child = "child"
    restricted = "restricted"  # GDPR Art. 18: kept, shown to the uploader, used for nothing else; liftable
    user = "user"  # already a user of the service: never invited


class KeyKind(StrEnum):
    """What a subject key hashes: an e-mail, an E.164 phone, or a full name with a company or web domain."""

    email = "email"
    phone = "phone"
    name_org = "name_org"


class NoticeTrigger(StrEnum):
    """What made a notice to the person (GDPR Art. 14) due."""

    first_use = "first_use"  # a record of the person may now be used beyond its uploader's address book
    invite = "invite"  # sent inside the first invite
