"""The spreadsheet formats: Google Contacts CSV and Outlook CSV.

* ``csv`` — the header names Google Contacts exports today ("First Name", "E-mail 1 -
  Label", "Phone 1 - Value", "Address 1 - Formatted", ...), UTF-8 without BOM, as Google
  imports it. Outlook (Outlook.com / new Outlook, and classic Outlook's import wizard) maps
  these by name too: "First Name", "Middle Name", "Last Name" and "Notes" are Outlook's own
  names; the classic wizard asks the user to map "Organization Name", "Organization Title",
  "E-mail 1 - Value" and "Phone N - Value". For a file classic Outlook maps without asking,
  use ``outlook-csv``.
* ``outlook-csv`` — Outlook's own export header names ("Company", "Job Title", "E-mail
  Address", "Business Phone", "Mobile Phone", "Business Fax", "Business Street", "Web
  Page", ...), UTF-8 with a BOM so Outlook and Excel read non-ASCII names correctly.

Cells that a spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@`` first, also after
leading spaces or line breaks, also in fullwidth forms such as ``＝``) get a leading apostrophe —
card text is untrusted — except phone numbers in E.164 ("+14155550134", "+1 212 555 1031").
Values beyond the numbered columns go to Notes rather than being lost.
"""

from __future__ import annotations

import re
import unicodedata

from services.export.contacts import Contact
from services.export.vcard import as_uri, name_parts, phone_text

GOOGLE_EMAILS, GOOGLE_PHONES, GOOGLE_ADDRESSES, GOOGLE_WEBSITES = 3, 4, 2, 3

GOOGLE_PHONE_LABELS = {"work": "Work", "mobile": "Mobile", "fax": "Work Fax", "other": "Other"}

_ADDRESS_PARTS = (
    "Formatted",
    "Street",
    "City",
    "PO Box",
    "Region",
    "Postal Code",
    "Country",
    "Extended Address",
)


def _google_header() -> list[str]:
    header = [
        "First Name",
        "Middle Name",
        "Last Name",
        "Phonetic First Name",
        "Phonetic Middle Name",
        "Phonetic Last Name",
        "Name Prefix",
        "Name Suffix",
        "Nickname",
        "File As",
        "Organization Name",
        "Organization Title",
        "Organization Department",
        "Birthday",
        "Notes",
        "Photo",
        "Labels",
    ]
    for n in range(1, GOOGLE_EMAILS + 1):
        header += [f"E-mail {n} - Label", f"E-mail {n} - Value"]
    for n in range(1, GOOGLE_PHONES + 1):
        header += [f"Phone {n} - Label", f"Phone {n} - Value"]
    for n in range(1, GOOGLE_ADDRESSES + 1):
        header += [f"Address {n} - Label"] + [f"Address {n} - {part}" for part in _ADDRESS_PARTS]
    for n in range(1, GOOGLE_WEBSITES + 1):
        header += [f"Website {n} - Label", f"Website {n} - Value"]
    return header


GOOGLE_HEADER = _google_header()

OUTLOOK_HEADER = [
    "Title",
    "First Name",
    "Middle Name",
    "Last Name",
    "Suffix",
    "Company",
    "Department",
    "Job Title",
    "Business Street",
    "Business Street 2",
    "Business Fax",
    "Business Phone",
    "Business Phone 2",
    "Mobile Phone",
    "Other Phone",
    "E-mail Address",
    "E-mail 2 Address",
    "E-mail 3 Address",
    "Notes",
    "Web Page",
]

_FORMULA_START = frozenset("=+-@")
_CONTROL_START = ("\t", "\r", "\n")

# A phone number in E.164 (or E.164 grouped by spaces, "+1 212 555 1031"): only digits after the
# plus, so no formula can hide in it, and an apostrophe would corrupt the number.
_PHONE = re.compile(r"^\+\d[\d ]{5,22}\d( ext\. \d{1,8})?$")


def _formula_like(text: str) -> bool:
    """Whether a spreadsheet could read ``text`` as a formula: ``= + - @`` first after any spacing.

    Excel and LibreOffice skip leading spaces and line breaks, and read the fullwidth
    ``＝ ＋ － ＠`` (and other compatibility forms) as the ASCII ones, so these are checked
    after NFKC folding of the first visible character.
    """
    if text.startswith(_CONTROL_START):
        return True
    visible = text.lstrip()
    if not visible:
        return False
    return unicodedata.normalize("NFKC", visible[0])[:1] in _FORMULA_START


def safe_cell(text: str) -> str:
    """Neutralise spreadsheet formulas in untrusted card text (OWASP CSV injection), keeping phone numbers."""
    if _formula_like(text) and not _PHONE.match(text):
        return "'" + text
    return text


def _overflow(label: str, values: list[str]) -> str:
    return f"{label}: {', '.join(values)}" if values else ""


def google_row(contact: Contact) -> dict[str, str]:
    """One Google Contacts row; values beyond the numbered columns go to Notes rather than being lost."""
    name = name_parts(contact)
    row = dict.fromkeys(GOOGLE_HEADER, "")
    row.update(
        {
            "First Name": name.first,
            "Middle Name": name.middle,
            "Last Name": name.last,
            "Name Prefix": name.title,
            "Name Suffix": name.suffix,
            "Organization Name": contact.first("companies"),
            "Organization Title": contact.first("job_titles"),
            "Organization Department": contact.first("departments"),
            "Labels": "cardvault",
        }
    )
    notes = [contact.notes or ""]
    emails = [v.value for v in contact.of("emails")]
    for n, email in enumerate(emails[:GOOGLE_EMAILS], start=1):
        row[f"E-mail {n} - Label"], row[f"E-mail {n} - Value"] = "Work", email
    notes.append(_overflow("More e-mails", emails[GOOGLE_EMAILS:]))
    phones = contact.of("phones")
    for n, phone in enumerate(phones[:GOOGLE_PHONES], start=1):
        row[f"Phone {n} - Label"] = GOOGLE_PHONE_LABELS.get(phone.type or "other", "Other")
        row[f"Phone {n} - Value"] = phone_text(phone)
    notes.append(_overflow("More phones", [phone_text(p) for p in phones[GOOGLE_PHONES:]]))
    addresses = [v.value for v in contact.of("addresses")]
    for n, address in enumerate(addresses[:GOOGLE_ADDRESSES], start=1):
        row[f"Address {n} - Label"], row[f"Address {n} - Formatted"] = "Work", address
        row[f"Address {n} - Street"] = address
    notes.append(_overflow("More addresses", addresses[GOOGLE_ADDRESSES:]))
    sites = [("Work", as_uri(v.value)) for v in contact.of("websites")]
    handles = []
    for profile in contact.of("social"):
        label = (profile.type or "Profile").capitalize()
        if "/" in profile.value:
            sites.append((label, as_uri(profile.value)))
        else:
            handles.append(f"{label} {profile.value}")
    for n, (label, url) in enumerate(sites[:GOOGLE_WEBSITES], start=1):
        row[f"Website {n} - Label"], row[f"Website {n} - Value"] = label, url
    notes.append(_overflow("More websites", [url for _, url in sites[GOOGLE_WEBSITES:]]))
    notes.append(_overflow("Social", handles))
    row["Notes"] = "\n".join(n for n in notes if n)
    return {k: safe_cell(v) for k, v in row.items()}


def outlook_row(contact: Contact) -> dict[str, str]:
    """One row with Outlook's own column names (classic Outlook's import wizard maps them unasked)."""
    name = name_parts(contact)
    row = dict.fromkeys(OUTLOOK_HEADER, "")
    row.update(
        {
            "Title": name.title,
            "First Name": name.first,
            "Middle Name": name.middle,
            "Last Name": name.last,
            "Suffix": name.suffix,
            "Company": contact.first("companies"),
            "Department": contact.first("departments"),
            "Job Title": contact.first("job_titles"),
        }
    )
    extra: list[str] = []
    addresses = [v.value for v in contact.of("addresses")]
    if addresses:
        row["Business Street"] = addresses[0]
    extra.append(_overflow("More addresses", addresses[1:]))
    slots = {
        "work": ["Business Phone", "Business Phone 2"],
        "mobile": ["Mobile Phone"],
        "fax": ["Business Fax"],
        "other": ["Other Phone"],
    }
    spare: list[str] = []
    for phone in contact.of("phones"):
        free = [s for s in slots.get(phone.type or "other", slots["other"]) if not row[s]]
        if free:
            row[free[0]] = phone_text(phone)
        else:
            spare.append(phone_text(phone))
    extra.append(_overflow("More phones", spare))
    emails = [v.value for v in contact.of("emails")]
    email_columns = ("E-mail Address", "E-mail 2 Address", "E-mail 3 Address")
    for column, email in zip(email_columns, emails, strict=False):
        row[column] = email
    extra.append(_overflow("More e-mails", emails[3:]))
    sites = [as_uri(v.value) for v in contact.of("websites")]
    sites += [as_uri(v.value) for v in contact.of("social") if "/" in v.value]
    if sites:
        row["Web Page"] = sites[0]
    extra.append(_overflow("More websites", sites[1:]))
    row["Notes"] = "\n".join(n for n in [contact.notes or "", *extra] if n)
    return {k: safe_cell(v) for k, v in row.items()}
