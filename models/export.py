"""``cards export``: an uploader's own contacts as vCard 4.0, a Google/Outlook CSV or JSON lines.

Why a module of its own: the export is a read for the ``own`` purpose, so it reads records
only through :func:`models.policy.qualifying_records` and values only through
:func:`models.policy.visible_fields` — never another uploader's records, never a field the
policy hides. Records are read in pages of ``PAGE_SIZE``, so an export of any size streams.

Formats:

* ``vcard`` — vCard 4.0 (RFC 6350) through vobject, one card per record, with a stable
  ``UID`` and ``REV`` so an address book updates instead of duplicating on a second import.
  The mapping follows ``ingest/vcard.py`` (same phone types, same URL rules) but is built
  from the stored values: those carry corrections, notes and phone extensions an extraction
  does not.
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
* ``jsonl`` — one contact per line: every value with its provenance (OCR value and raw
  text, confidence, box, method, correction time), the source image's SHA-256, the
  extraction engine, the current attestation and the permitted uses.

CSV cells that a spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@`` first) get a
leading apostrophe — card text is untrusted — except E.164 phone numbers ("+14155550134").
"""

from __future__ import annotations

import csv
import json
import re
import uuid
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, TextIO

import vobject
from nameparser import HumanName
from sqlmodel import Session, col, select

from ingest.vcard import PHONE_TYPES, as_uri
from models.policy import qualifying_records, visible_fields
from models.records import audit
from models.tables import (
    Attestation,
    ContactRecord,
    ExtractionRun,
    FieldValue,
    PermittedUse,
    Principal,
    Source,
)

PAGE_SIZE = 500
UID_NAMESPACE = uuid.UUID("6f1c3c2e-2b0e-5d7a-9b51-6a0e4c1d8f37")  # cardvault records; never change it
PRODID = "-//cardvault//cards export//EN"


class ExportFormat(StrEnum):
    vcard = "vcard"
    csv = "csv"
    outlook_csv = "outlook-csv"
    jsonl = "jsonl"


@dataclass
class Contact:
    """One record as the ``own`` purpose sees it, with what the export needs around it."""

    record: ContactRecord
    values: list[FieldValue]
    source: Source | None = None
    run: ExtractionRun | None = None
    attestation: Attestation | None = None
    uses: list[str] = field(default_factory=list)

    def of(self, name: str) -> list[FieldValue]:
        return [v for v in self.values if v.field == name]

    def first(self, name: str) -> str:
        values = self.of(name)
        return values[0].value if values else ""

    @property
    def uid(self) -> str:
        """Stable across exports and databases' id reuse: record id plus the image it came from."""
        sha = self.source.sha256 if self.source else ""
        return f"urn:uuid:{uuid.uuid5(UID_NAMESPACE, f'{self.record.id}:{sha}')}"


def iter_contacts(session: Session, principal: Principal, page_size: int = PAGE_SIZE) -> Iterator[Contact]:
    """The principal's own records in id order, a page at a time, values filtered by the policy."""
    last_id = 0
    while True:
        query = (
            qualifying_records("own", principal=principal)
            .where(col(ContactRecord.id) > last_id)
            .order_by(col(ContactRecord.id))
            .limit(page_size)
        )
        records = list(session.exec(query).all())
        if not records:
            return
        ids = [r.id for r in records]
        values: dict[int, list[FieldValue]] = defaultdict(list)
        rows = session.exec(
            select(FieldValue)
            .where(col(FieldValue.record_id).in_(ids))
            .order_by(col(FieldValue.record_id), col(FieldValue.field), col(FieldValue.position))
        ).all()
        for value in visible_fields("own", rows):
            values[value.record_id].append(value)
        sources = {
            s.id: s
            for s in session.exec(select(Source).where(col(Source.id).in_({r.source_id for r in records})))
        }
        run_ids = {r.extraction_run_id for r in records if r.extraction_run_id is not None}
        runs = {
            r.id: r for r in session.exec(select(ExtractionRun).where(col(ExtractionRun.id).in_(run_ids)))
        }
        attestations = {
            a.record_id: a
            for a in session.exec(
                select(Attestation)
                .where(col(Attestation.record_id).in_(ids), col(Attestation.revoked_at).is_(None))
                .order_by(col(Attestation.id))
            )
        }
        uses: dict[int, list[str]] = defaultdict(list)
        for use in session.exec(select(PermittedUse).where(col(PermittedUse.record_id).in_(ids))):
            uses[use.record_id].append(str(use.use))
        for record in records:
            assert record.id is not None
            yield Contact(
                record=record,
                values=values.get(record.id, []),
                source=sources.get(record.source_id),
                run=runs.get(record.extraction_run_id) if record.extraction_run_id else None,
                attestation=attestations.get(record.id),
                uses=sorted(uses.get(record.id, [])),
            )
        last_id = ids[-1]  # type: ignore[assignment]


# --- shared helpers ------------------------------------------------------------------------------


def _name_parts(contact: Contact) -> HumanName:
    return HumanName(contact.first("names"))


def _phone_text(value: FieldValue) -> str:
    text = value.value if value.value.startswith("+") else (value.raw or value.value)
    return f"{text} ext. {value.extension}" if value.extension else text


def _display_name(contact: Contact) -> str:
    for name in ("names", "companies", "emails"):
        if contact.first(name):
            return contact.first(name)
    return "Unknown"


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


# --- vCard 4.0 -----------------------------------------------------------------------------------


def contact_vcard(contact: Contact) -> str:
    """One RFC 6350 vCard; FN is always present (a company or e-mail stands in for a missing name)."""
    card = vobject.vCard()
    card.add("version").value = "4.0"
    card.add("prodid").value = PRODID
    card.add("uid").value = contact.uid
    card.add("fn").value = _display_name(contact)
    parsed = _name_parts(contact)
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
        prop.value = _phone_text(phone)
        # a list, not "work,voice": one quoted string would be a single (unknown) type
        prop.params["TYPE"] = PHONE_TYPES.get(phone.type or "other", "voice").split(",")
    for site in contact.of("websites"):
        card.add("url").value = as_uri(site.value)
    for profile in contact.of("social"):
        if "/" in profile.value:
            card.add("url").value = as_uri(profile.value)
        else:  # a bare handle is not a URI
            prop = card.add("x-socialprofile")
            prop.value = profile.value
            if profile.type:
                prop.params["TYPE"] = [profile.type]
    for address in contact.of("addresses"):
        prop = card.add("adr")
        prop.value = vobject.vcard.Address(street=address.value)
        prop.params["TYPE"] = ["work"]
    if contact.record.notes:
        card.add("note").value = contact.record.notes
    updated = _utc(contact.record.updated_at)
    if updated is not None:
        card.add("rev").value = updated.strftime("%Y%m%dT%H%M%SZ")
    return card.serialize()


# --- CSV ----------------------------------------------------------------------------------------

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

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_E164 = re.compile(r"^\+\d{6,15}( ext\. \d+)?$")


def safe_cell(text: str) -> str:
    """Neutralise spreadsheet formulas in untrusted card text (OWASP CSV injection), keeping E.164 phones."""
    if text.startswith(_FORMULA_START) and not _E164.match(text):
        return "'" + text
    return text


def _overflow(label: str, values: list[str]) -> str:
    return f"{label}: {', '.join(values)}" if values else ""


def google_row(contact: Contact) -> dict[str, str]:
    """One Google Contacts row; values beyond the numbered columns go to Notes rather than being lost."""
    name = _name_parts(contact)
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
    notes = [contact.record.notes or ""]
    emails = [v.value for v in contact.of("emails")]
    for n, email in enumerate(emails[:GOOGLE_EMAILS], start=1):
        row[f"E-mail {n} - Label"], row[f"E-mail {n} - Value"] = "Work", email
    notes.append(_overflow("More e-mails", emails[GOOGLE_EMAILS:]))
    phones = contact.of("phones")
    for n, phone in enumerate(phones[:GOOGLE_PHONES], start=1):
        row[f"Phone {n} - Label"] = GOOGLE_PHONE_LABELS.get(phone.type or "other", "Other")
        row[f"Phone {n} - Value"] = _phone_text(phone)
    notes.append(_overflow("More phones", [_phone_text(p) for p in phones[GOOGLE_PHONES:]]))
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
    name = _name_parts(contact)
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
            row[free[0]] = _phone_text(phone)
        else:
            spare.append(_phone_text(phone))
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
    row["Notes"] = "\n".join(n for n in [contact.record.notes or "", *extra] if n)
    return {k: safe_cell(v) for k, v in row.items()}


# --- JSON lines ---------------------------------------------------------------------------------


def _iso(moment: datetime | None) -> str | None:
    moment = _utc(moment)
    return moment.isoformat() if moment else None


def contact_json(contact: Contact) -> dict[str, Any]:
    """The contact with provenance: where each value came from, and under which attestation and uses."""
    fields: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for v in contact.values:
        fields[v.field].append(
            {
                "value": v.value,
                "type": v.type,
                "extension": v.extension,
                "ocr_value": v.ocr_value,
                "raw": v.raw,
                "confidence": v.confidence,
                "bbox": v.bbox,
                "method": v.method,
                "corrected": v.corrected_at is not None,
                "corrected_at": _iso(v.corrected_at),
            }
        )
    record, source, run, attestation = contact.record, contact.source, contact.run, contact.attestation
    return {
        "id": record.id,
        "uid": contact.uid,
        "created_at": _iso(record.created_at),
        "updated_at": _iso(record.updated_at),
        "region": record.region,
        "notes": record.notes,
        "fields": dict(fields),
        "source": {
            "sha256": source.sha256,
            "channel": str(source.channel),
            "received_at": _iso(source.received_at),
            "byte_size": source.byte_size,
        }
        if source
        else None,
        "extraction": {
            "engine": run.engine,
            "engine_version": run.engine_version,
            "pipeline_version": run.pipeline_version,
            "created_at": _iso(run.created_at),
        }
        if run
        else None,
        "attestation": {
            "basis": str(attestation.basis),
            "basis_text": attestation.basis_text,
            "text_version": attestation.text_version,
            "attested_at": _iso(attestation.attested_at),
            "channel": str(attestation.channel),
        }
        if attestation
        else None,
        "uses": contact.uses,
    }


# --- writing -------------------------------------------------------------------------------------


def write_contacts(contacts: Iterable[Contact], fmt: ExportFormat, out: TextIO) -> int:
    """Write contacts in ``fmt`` as they are read; returns how many were written.

    ``out`` should be opened with ``newline=""`` for the CSV formats (the csv module writes
    CRLF itself, as RFC 4180 and the importers expect); vCard lines are CRLF already.
    """
    count = 0
    if fmt in (ExportFormat.csv, ExportFormat.outlook_csv):
        google = fmt is ExportFormat.csv
        writer = csv.DictWriter(out, fieldnames=GOOGLE_HEADER if google else OUTLOOK_HEADER)
        if not google:
            out.write("\ufeff")
        writer.writeheader()
        for contact in contacts:
            writer.writerow(google_row(contact) if google else outlook_row(contact))
            count += 1
        return count
    for contact in contacts:
        if fmt is ExportFormat.vcard:
            out.write(contact_vcard(contact))
        else:
            out.write(json.dumps(contact_json(contact), ensure_ascii=False) + "\n")
        count += 1
    return count


def export_contacts(session: Session, principal: Principal, fmt: ExportFormat, out: TextIO) -> int:
    """Export ``principal``'s own contacts to ``out`` and audit that it happened (the caller commits).

    The audit event holds the format and the count only, as every audit event does.
    """
    count = write_contacts(iter_contacts(session, principal), fmt, out)
    audit(session, "exported", principal, format=fmt.value, count=count)
    return count
