"""vCard 4.0 (RFC 6350) through vobject, one card per contact.

A stable ``UID`` and ``REV`` let an address book update instead of duplicating on a second
import. Phone types are a list (``TYPE=work,voice``), never one quoted string
(``TYPE="work,voice"`` would be a single, unknown type); a web address is made a URI; a
bare social handle is not a URI, so it goes to ``X-SOCIALPROFILE``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import vobject
from nameparser import HumanName

from services.export.contacts import Contact, ValueLike

PRODID = "-//cardvault//cards export//EN"
PHONE_TYPES = {"work": ["work", "voice"], "mobile": ["cell"], "fax": ["fax"], "other": ["voice"]}
_SCHEME = re.compile(r"^[a-z][a-z0-9+\-]*://", re.I)


def as_uri(address: str) -> str:
    """A web address as printed ("example.com") made into the URI that vCard's URL requires."""
    return address if _SCHEME.match(address) else f"https://{address}"


def phone_text(value: ValueLike) -> str:
    """The number to write: the current value (a correction, E.164, or as printed), with its extension.

    Never the raw OCR text: a corrected number must be exported as corrected, and a number the
    pipeline could not place is already stored as printed.
    """
    text = value.value
    return f"{text} ext. {value.extension}" if value.extension else text


def name_parts(contact: Contact) -> HumanName:
    return HumanName(contact.first("names"))


def display_name(contact: Contact) -> str:
    """FN is required: a company or e-mail stands in for a missing name."""
    for name in ("names", "companies", "emails"):
        if contact.first(name):
            return contact.first(name)
    return "Unknown"


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def contact_vcard(contact: Contact) -> str:
    """One RFC 6350 vCard; FN is always present (a company or e-mail stands in for a missing name)."""
    card = vobject.vCard()
    card.add("version").value = "4.0"
    card.add("prodid").value = PRODID
    card.add("uid").value = contact.uid
    card.add("fn").value = display_name(contact)
    parsed = name_parts(contact)
    card.add("n").value = vobject.vcard.Name(
        family=parsed.last,
        given=parsed.first,
        additional=parsed.middle,
        prefix=parsed.title,
        suffix=parsed.suffix,
    )
    if contact.first("companies"):
        card.add("org").value = [contact.first("companies")] + (
            [contact.first("departments")] if contact.first("departments") else []
        )
    if contact.first("job_titles"):
        card.add("title").value = contact.first("job_titles")
    for email in contact.of("emails"):
        prop = card.add("email")
        prop.value = email.value
        prop.params["TYPE"] = ["work"]
    for phone in contact.of("phones"):
        prop = card.add("tel")
        prop.value = phone_text(phone)
        prop.params["TYPE"] = list(PHONE_TYPES.get(phone.type or "other", ["voice"]))
    for site in contact.of("websites"):
        card.add("url").value = as_uri(site.value)
    for profile in contact.of("social"):
        if "/" in profile.value:  # a profile URL such as linkedin.com/in/someone
            card.add("url").value = as_uri(profile.value)
        else:  # a bare handle is not a URI: RFC 6350 URL would be invalid
            prop = card.add("x-socialprofile")
            prop.value = profile.value
            if profile.type:
                prop.params["TYPE"] = [profile.type]
    for address in contact.of("addresses"):
        prop = card.add("adr")
        prop.value = vobject.vcard.Address(street=address.value)
        prop.params["TYPE"] = ["work"]
    if contact.notes:
        card.add("note").value = contact.notes
    if contact.source_uri:
        card.add("source").value = contact.source_uri
    updated = _utc(contact.updated_at)
    if updated is not None:
        card.add("rev").value = updated.strftime("%Y%m%dT%H%M%SZ")
    return str(card.serialize())
