"""One writer per format, read back by the readers address books use (no database needed).

``cards extract --format vcard``, ``cards export`` and the HTTP export all write through
:data:`services.export.WRITERS`; these tests pin what each format carries.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest
import vobject

from ingest.schema import Extraction
from ingest.schema import FieldValue as ExtractedField
from services.export import WRITERS, ExportFormat, write_contacts
from services.export.contacts import Contact, ExtractedValue, contact_from_extraction
from services.export.spreadsheet import GOOGLE_HEADER, OUTLOOK_HEADER
from services.export.vcard import contact_vcard


def extracted(value: str, *, type: str | None = None, extension: str | None = None) -> ExtractedField:
    return ExtractedField(value=value, raw=value, confidence=0.9, bbox=[1, 2, 3, 4], method="test", type=type,
                          extension=extension)  # fmt: skip


def an_extraction() -> Extraction:
    return Extraction(
        source="card.png",
        sha256="ab" * 32,
        fields={
            "names": [extracted("Dr. Ada Maria Quillfeather")],
            "job_titles": [extracted("Head of Research")],
            "departments": [extracted("R&D")],
            "companies": [extracted("Orrery Works")],
            "emails": [extracted("ada@orrery.example")],
            "websites": [extracted("orrery.example")],
            "phones": [
                extracted("+14155550134", type="work", extension="12"),
                extracted("+14155550199", type="mobile"),
                extracted("+14155550100", type="fax"),
            ],
            "addresses": [extracted("1 Market St, San Francisco, CA 94105")],
            "social": [extracted("linkedin.com/in/adaq", type="linkedin"), extracted("@adaq", type="x")],
        },
    )


def a_contact() -> Contact:
    values = [ExtractedValue(field="names", value="Jane Doe", raw="Jane Doe")]
    return Contact(
        values=values, uid="urn:uuid:1", notes="met at the fair", updated_at=datetime(2026, 1, 2, tzinfo=UTC)
    )


def test_an_extractions_vcard_parses_with_vobject_and_carries_every_field() -> None:
    card = vobject.readOne(contact_vcard(contact_from_extraction(an_extraction())))
    assert card.fn.value == "Dr. Ada Maria Quillfeather"
    assert (card.n.value.given, card.n.value.family) == ("Ada", "Quillfeather")
    assert card.org.value == ["Orrery Works", "R&D"] and card.title.value == "Head of Research"
    assert [e.value for e in card.contents["email"]] == ["ada@orrery.example"]
    urls = [u.value for u in card.contents["url"]]
    assert urls == ["https://orrery.example", "https://linkedin.com/in/adaq"]
    assert card.contents["x-socialprofile"][0].value == "@adaq"
    assert card.adr.value.street == "1 Market St, San Francisco, CA 94105"
    assert card.source.value == "urn:sha256:" + "ab" * 32
    assert card.uid.value.startswith("urn:uuid:")


def test_phone_types_are_a_list_of_types_not_one_quoted_string() -> None:
    card = vobject.readOne(contact_vcard(contact_from_extraction(an_extraction())))
    types = {tel.value: tel.params["TYPE"] for tel in card.contents["tel"]}
    assert types == {
        "+14155550134 ext. 12": ["work", "voice"],
        "+14155550199": ["cell"],
        "+14155550100": ["fax"],
    }
    assert 'TYPE="' not in contact_vcard(contact_from_extraction(an_extraction()))


def test_the_same_extraction_gives_the_same_uid_every_time() -> None:
    first = vobject.readOne(contact_vcard(contact_from_extraction(an_extraction())))
    again = vobject.readOne(contact_vcard(contact_from_extraction(an_extraction())))
    assert first.uid.value == again.uid.value


def test_a_contact_without_a_name_is_named_by_its_company() -> None:
    contact = contact_from_extraction(
        Extraction(source="x", sha256="cd" * 32, fields={"companies": [extracted("Tern Labs")]})
    )
    assert vobject.readOne(contact_vcard(contact)).fn.value == "Tern Labs"


def test_the_vcard_writer_carries_notes_and_the_time_of_the_last_change() -> None:
    card = vobject.readOne(WRITERS[ExportFormat.vcard].render(a_contact()))
    assert card.note.value == "met at the fair" and card.rev.value == "20260102T000000Z"


def test_the_google_csv_reads_back_with_its_header_and_no_bom() -> None:
    out = io.StringIO(newline="")
    write_contacts([contact_from_extraction(an_extraction())], ExportFormat.csv, out)
    text = out.getvalue()
    assert not text.startswith("\ufeff") and "\r\n" in text
    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0]) == GOOGLE_HEADER
    assert (rows[0]["First Name"], rows[0]["Phone 2 - Label"], rows[0]["Phone 3 - Label"]) == (
        "Ada",
        "Mobile",
        "Work Fax",
    )


def test_the_outlook_csv_starts_with_a_bom_and_uses_outlooks_columns() -> None:
    out = io.StringIO(newline="")
    write_contacts([contact_from_extraction(an_extraction())], ExportFormat.outlook_csv, out)
    text = out.getvalue()
    assert text.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))
    assert list(rows[0]) == OUTLOOK_HEADER
    assert (rows[0]["Mobile Phone"], rows[0]["Business Fax"]) == ("+14155550199", "+14155550100")


def test_every_format_declares_its_media_type_and_file_name() -> None:
    assert {
        fmt: (w.media_type.split(";")[0], w.filename.rsplit(".", 1)[1]) for fmt, w in WRITERS.items()
    } == {
        ExportFormat.vcard: ("text/vcard", "vcf"),
        ExportFormat.csv: ("text/csv", "csv"),
        ExportFormat.outlook_csv: ("text/csv", "csv"),
        ExportFormat.jsonl: ("application/x-ndjson", "jsonl"),
    }


def test_json_lines_are_written_for_stored_cards_only() -> None:
    """JSON lines carry provenance (source, run, attestation), which an unstored extraction lacks."""
    with pytest.raises(ValueError, match="stored cards"):
        WRITERS[ExportFormat.jsonl].render(a_contact())
