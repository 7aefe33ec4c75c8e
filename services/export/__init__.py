"""Exports: contacts as vCard 4.0, a Google/Outlook CSV or JSON lines — one writer per format.

:data:`WRITERS` is used by ``cards export``, the HTTP export and ``cards extract --format
vcard`` alike. The writers read :class:`~services.export.contacts.Contact` objects and
never the database, so this package imports no storage code (``cards extract`` stays
light); reading an uploader's stored contacts is :mod:`services.export.stored`.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import TextIO

from services.export.contacts import Contact
from services.export.jsonl import contact_json
from services.export.spreadsheet import GOOGLE_HEADER, OUTLOOK_HEADER, google_row, outlook_row
from services.export.vcard import contact_vcard


class ExportFormat(StrEnum):
    vcard = "vcard"
    csv = "csv"
    outlook_csv = "outlook-csv"
    jsonl = "jsonl"


@dataclass(frozen=True)
class Writer:
    """How one format is written: its media type, file name, preamble and one piece per contact."""

    media_type: str
    filename: str
    render: Callable[[Contact], str]
    preamble: str = ""


def _csv_writer(
    header: list[str], row: Callable[[Contact], dict[str, str]], bom: bool
) -> tuple[str, Callable[[Contact], str]]:
    """A CSV header line and a renderer of one row (CRLF line ends, as RFC 4180 and importers expect)."""

    def line(values: dict[str, str] | None) -> str:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=header)
        if values is None:
            writer.writeheader()
        else:
            writer.writerow(values)
        return buffer.getvalue()

    return ("\ufeff" if bom else "") + line(None), lambda contact: line(row(contact))


_GOOGLE_PREAMBLE, _google = _csv_writer(GOOGLE_HEADER, google_row, bom=False)
_OUTLOOK_PREAMBLE, _outlook = _csv_writer(
    OUTLOOK_HEADER, outlook_row, bom=True
)  # Excel reads UTF-8 only with it

WRITERS: dict[ExportFormat, Writer] = {
    ExportFormat.vcard: Writer("text/vcard; charset=utf-8", "cards.vcf", contact_vcard),
    ExportFormat.csv: Writer("text/csv; charset=utf-8", "cards.csv", _google, _GOOGLE_PREAMBLE),
    ExportFormat.outlook_csv: Writer(
        "text/csv; charset=utf-8", "cards-outlook.csv", _outlook, _OUTLOOK_PREAMBLE
    ),
    ExportFormat.jsonl: Writer(
        "application/x-ndjson",
        "cards.jsonl",
        lambda c: json.dumps(contact_json(c), ensure_ascii=False) + "\n",
    ),
}


def write_contacts(contacts: Iterable[Contact], fmt: ExportFormat, out: TextIO) -> int:
    """Write contacts in ``fmt`` as they are read; returns how many were written.

    ``out`` should be opened with ``newline=""`` (the CSV rows carry their own CRLF, and
    vCard lines are CRLF already).
    """
    writer = WRITERS[fmt]
    out.write(writer.preamble)
    count = 0
    for contact in contacts:
        out.write(writer.render(contact))
        count += 1
    return count
