"""Exports: an uploader's own contacts, in formats address books import.

Every test runs on SQLite and on PostgreSQL, on synthetic records (no OCR). What matters:
the output parses with the readers address books use (vobject for vCard, csv.DictReader with
Google's header names), carries the contact, and never holds another uploader's records.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from typing import Any

import pytest
import vobject
from sqlmodel import Session, select

import services.cards as cards_service
from models.tables import AuditEvent, ContactRecord, Principal
from services.export import ExportFormat
from services.export.contacts import contact_from_card
from services.export.spreadsheet import GOOGLE_HEADER, OUTLOOK_HEADER, safe_cell
from services.export.stored import export_contacts
from services.records import correct_field
from services.values import record_values

pytestmark = pytest.mark.usefixtures("settings_salt_forbidden")


GOOGLE_FIXED = (
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
)


GOOGLE_COLUMNS = (  # the names Google Contacts' own CSV export uses, and its importer maps
    "First Name",
    "Middle Name",
    "Last Name",
    "Name Prefix",
    "Name Suffix",
    "Organization Name",
    "Organization Title",
    "Organization Department",
    "Notes",
    "Labels",
    "E-mail 1 - Label",
    "E-mail 1 - Value",
    "Phone 1 - Label",
    "Phone 1 - Value",
    "Address 1 - Label",
    "Address 1 - Formatted",
    "Website 1 - Label",
    "Website 1 - Value",
)


def exported(session: Session, principal: Principal, fmt: ExportFormat) -> str:
    out = io.StringIO(newline="")
    export_contacts(session, principal, fmt, out)
    return out.getvalue()


def test_vcard_parses_with_vobject_and_holds_only_the_uploaders_contacts(
    session: Session, uploader: Principal, contacts: dict[str, ContactRecord]
) -> None:
    text = exported(session, uploader, ExportFormat.vcard)

    cards = list(vobject.readComponents(text))

    assert len(cards) == 3
    assert "Bob Secret" not in text and "bob.secret" not in text
    assert all(c.version.value == "4.0" and c.fn.value for c in cards)
    assert "\r\n" in text and text.startswith("BEGIN:VCARD\r\nVERSION:4.0\r\n")  # VERSION right after BEGIN
    ada = next(c for c in cards if c.fn.value == "Dr. Ada Maria Quillfeather")
    assert (ada.n.value.given, ada.n.value.family, ada.n.value.prefix) == ("Ada", "Quillfeather", "Dr.")
    assert ada.org.value == ["Orrery Works", "R&D"]
    assert ada.title.value == "Head of Research"
    assert {e.value for e in ada.email_list} == {"ada@orrery.example", "ada.q@example.org"}
    phones = {t.value: t.params["TYPE"] for t in ada.tel_list}
    assert phones == {
        "+14155550134 ext. 12": ["work", "voice"],  # two TYPE values, not one quoted "work,voice"
        "+14155550199": ["cell"],
        "+14155550100": ["fax"],
    }
    assert {u.value for u in ada.url_list} == {"https://orrery.example", "https://linkedin.com/in/adaq"}
    assert ada.adr.value.street == "1 Market St, San Francisco, CA 94105"
    assert ada.note.value == "Met at the Lisbon fair; wants a demo"
    assert ada.uid.value.startswith("urn:uuid:") and ada.rev.value.endswith("Z")
    company = next(c for c in cards if c.fn.value == "Tern Labs")  # no name: the company stands in
    assert company.tel.value == "+442079460958"
    again = list(vobject.readComponents(exported(session, uploader, ExportFormat.vcard)))
    assert [c.uid.value for c in again] == [c.uid.value for c in cards], "stable UIDs: re-import updates"
    assert len({c.uid.value for c in cards}) == 3


def test_google_csv_has_googles_headers_and_the_contacts(
    session: Session, uploader: Principal, contacts: dict[str, ContactRecord]
) -> None:
    rows = list(csv.DictReader(io.StringIO(exported(session, uploader, ExportFormat.csv))))

    assert list(rows[0].keys()) == GOOGLE_HEADER
    assert set(GOOGLE_COLUMNS) <= set(GOOGLE_HEADER)
    assert GOOGLE_HEADER[:17] == list(GOOGLE_FIXED), "Google's export starts with these, in this order"
    assert len(rows) == 3 and not any("Bob" in json.dumps(r) for r in rows)
    ada = next(r for r in rows if r["Last Name"] == "Quillfeather")
    assert (ada["First Name"], ada["Middle Name"], ada["Name Prefix"]) == ("Ada", "Maria", "Dr.")
    assert ada["Organization Name"] == "Orrery Works" and ada["Organization Title"] == "Head of Research"
    assert ada["Organization Department"] == "R&D"
    assert (ada["E-mail 1 - Label"], ada["E-mail 1 - Value"]) == ("Work", "ada@orrery.example")
    assert ada["E-mail 2 - Value"] == "ada.q@example.org"
    phones = {ada[f"Phone {n} - Label"]: ada[f"Phone {n} - Value"] for n in (1, 2, 3)}
    assert phones == {"Work": "+14155550134 ext. 12", "Mobile": "+14155550199", "Work Fax": "+14155550100"}
    assert ada["Address 1 - Formatted"] == "1 Market St, San Francisco, CA 94105"
    assert ada["Website 1 - Value"] == "https://orrery.example"
    assert ada["Website 2 - Value"] == "https://linkedin.com/in/adaq"
    assert "X @adaq" in ada["Notes"]  # a bare handle has no column: it goes to the notes, not lost
    evil = next(r for r in rows if r["E-mail 1 - Value"] == "evil@example.com")
    assert any(cell.startswith("'=HYPERLINK") for cell in evil.values()), "the formula is kept, defused"
    cells = [cell for row in rows for cell in row.values()]
    assert not [c for c in cells if c[:1] in ("=", "@", "-") or (c[:1] == "+" and not c[1:2].isdigit())]
    company = next(r for r in rows if r["Organization Name"] == "Tern Labs")
    assert company["Phone 1 - Value"] == "+442079460958", "an E.164 phone is left as it is"


def test_outlook_csv_uses_outlooks_own_column_names(
    session: Session, uploader: Principal, contacts: dict[str, ContactRecord]
) -> None:
    text = exported(session, uploader, ExportFormat.outlook_csv)

    assert text.startswith("\ufeff")  # Outlook reads UTF-8 names correctly with the BOM
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    assert list(rows[0].keys()) == OUTLOOK_HEADER
    ada = next(r for r in rows if r["Last Name"] == "Quillfeather")
    assert (ada["Company"], ada["Job Title"], ada["Department"]) == (
        "Orrery Works",
        "Head of Research",
        "R&D",
    )
    assert ada["Business Phone"] == "+14155550134 ext. 12"
    assert (ada["Mobile Phone"], ada["Business Fax"]) == ("+14155550199", "+14155550100")
    assert (ada["E-mail Address"], ada["E-mail 2 Address"]) == ("ada@orrery.example", "ada.q@example.org")
    assert ada["Business Street"] == "1 Market St, San Francisco, CA 94105"
    assert ada["Web Page"] == "https://orrery.example"


def test_jsonl_carries_values_with_provenance_attestation_and_uses(
    session: Session, uploader: Principal, contacts: dict[str, ContactRecord], salt: bytes
) -> None:
    ada = contacts["ada"]
    email = next(v for v in record_values(session, ada.id) if v.value == "ada@orrery.example")  # type: ignore[arg-type]
    correct_field(session, uploader, ada, email.id, "ada@orrery.example.com", salt=salt)  # type: ignore[arg-type]
    session.commit()

    lines = [json.loads(line) for line in exported(session, uploader, ExportFormat.jsonl).splitlines()]

    assert [line["id"] for line in lines] == sorted(c.id for k, c in contacts.items() if k != "bob")
    first = lines[0]
    corrected = next(v for v in first["fields"]["emails"] if v["corrected"])
    assert corrected["value"] == "ada@orrery.example.com" and corrected["ocr_value"] == "ada@orrery.example"
    assert corrected["raw"] and corrected["confidence"] == 0.9 and corrected["bbox"] == [10, 10, 200, 24]
    assert first["fields"]["phones"][0]["extension"] == "12"
    assert first["source"]["sha256"] and first["source"]["channel"] == "batch"
    assert first["extraction"]["engine"] == "tesseract"
    assert first["attestation"]["basis"] == "received_in_person"
    assert first["uses"] == ["invites"]
    assert first["uid"].startswith("urn:uuid:")


def test_export_reads_through_the_purpose_policy_and_is_audited(
    session: Session,
    uploader: Principal,
    contacts: dict[str, ContactRecord],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    purposes: list[tuple[str, Any]] = []
    real_records, real_fields = cards_service.qualifying_records, cards_service.visible_fields

    def records_spy(purpose: str, *, principal: Principal | None = None) -> Any:
        purposes.append(("records", purpose))
        return real_records(purpose, principal=principal)

    def fields_spy(purpose: str, values: Any) -> Any:
        purposes.append(("fields", purpose))
        return real_fields(purpose, values)

    monkeypatch.setattr(cards_service, "qualifying_records", records_spy)
    monkeypatch.setattr(cards_service, "visible_fields", fields_spy)

    exported(session, uploader, ExportFormat.jsonl)
    session.commit()

    assert ("records", "own") in purposes and ("fields", "own") in purposes
    assert {p for _, p in purposes} == {"own"}
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "exported")).one()
    assert event.actor_id == uploader.id and event.details == {"format": "jsonl", "count": 3}


def test_export_pages_through_many_records(
    session: Session, uploader: Principal, store_card: Callable[..., ContactRecord]
) -> None:
    for n in range(7):
        store_card(uploader, name=f"Person {n}", email=f"p{n}@example.com")

    contacts = [contact_from_card(c) for c in cards_service.iter_own_cards(session, uploader, page_size=3)]

    assert [c.first("names") for c in contacts] == [f"Person {n}" for n in range(7)]


@pytest.mark.parametrize(
    ("text", "safe"),
    [
        ("=1+2", "'=1+2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("-2+3", "'-2+3"),
        ("+1 (415) 555", "'+1 (415) 555"),
        ("+14155550134", "+14155550134"),
        ("+14155550134 ext. 12", "+14155550134 ext. 12"),
        ("+1 212 555 1031", "+1 212 555 1031"),  # E.164 grouped by spaces: a phone, not a formula
        ("Ada", "Ada"),
        (" =1+1", "' =1+1"),  # spreadsheets skip the spacing before a formula
        ("\n=2+2", "'\n=2+2"),
        ("\t@x", "'\t@x"),
        ("\u3000=1+1", "'\u3000=1+1"),
        ("\uff1d1+1", "'\uff1d1+1"),  # fullwidth = is read as =
        ("\uff0b1", "'\uff0b1"),
        ("\uff0d1", "'\uff0d1"),
        ("\uff20SUM(A1)", "'\uff20SUM(A1)"),
        ("  \uff1dHYPERLINK()", "'  \uff1dHYPERLINK()"),
        ("+1 212 555 1031 =1", "'+1 212 555 1031 =1"),
        ("", ""),
        ("   ", "   "),
    ],
)
def test_safe_cell(text: str, safe: str) -> None:
    assert safe_cell(text) == safe
