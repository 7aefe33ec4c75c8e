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
    opt_out_invites = "opt_out_invites"
    opt_out_partners = "opt_out_partners"
    erased = "erased"
    child = "child"
