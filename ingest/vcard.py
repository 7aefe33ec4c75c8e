"""vCard 4.0 (RFC 6350) rendering of an extraction, via vobject."""

from __future__ import annotations

import re

import vobject
from nameparser import HumanName

from ingest.schema import Extraction

PHONE_TYPES = {"work": "work,voice", "mobile": "cell", "fax": "fax", "other": "voice"}
_SCHEME = re.compile(r"^[a-z][a-z0-9+\-]*://", re.I)


def as_uri(address: str) -> str:
    """A web address as printed ("example.com") made into the URI that vCard's URL requires."""
    return address if _SCHEME.match(address) else f"https://{address}"


def to_vcard(extraction: Extraction) -> str:
    """One vCard per extraction; an empty card still gets FN so address books accept it."""
    fields = extraction.fields
    card = vobject.vCard()
    card.add("version").value = "4.0"
    names = fields.get("names", [])
    full_name = names[0].value if names else (fields["companies"][0].value if fields.get("companies") else "")
    card.add("fn").value = full_name or "Unknown"
    parsed = HumanName(names[0].value) if names else HumanName("")
    card.add("n").value = vobject.vcard.Name(
        family=parsed.last,
        given=parsed.first,
        additional=parsed.middle,
        prefix=parsed.title,
        suffix=parsed.suffix,
    )
    if fields.get("companies"):
        org = [fields["companies"][0].value] + [d.value for d in fields.get("departments", [])[:1]]
        card.add("org").value = org
    for title in fields.get("job_titles", [])[:1]:
        card.add("title").value = title.value
    for email in fields.get("emails", []):
        prop = card.add("email")
        prop.value = email.value
        prop.type_param = "work"
    for phone in fields.get("phones", []):
        prop = card.add("tel")
        prop.value = phone.value if phone.value.startswith("+") else phone.raw
        prop.type_param = PHONE_TYPES.get(phone.type or "other", "voice")
    for site in fields.get("websites", []):
        card.add("url").value = as_uri(site.value)
    for profile in fields.get("social", []):
        if "/" in profile.value:  # a profile URL such as linkedin.com/in/someone
            card.add("url").value = as_uri(profile.value)
        else:  # a bare handle is not a URI: RFC 6350 URL would be invalid
            prop = card.add("x-socialprofile")
            prop.value = profile.value
            if profile.type:
                prop.type_param = profile.type
    for address in fields.get("addresses", []):
        prop = card.add("adr")
        prop.value = vobject.vcard.Address(street=address.value)
        prop.type_param = "work"
    card.add("source").value = f"urn:sha256:{extraction.sha256}" if extraction.sha256 else ""
    return card.serialize()
