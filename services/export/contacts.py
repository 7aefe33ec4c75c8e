"""What the export writers read: a contact, built from a stored card or straight from an extraction.

The writers (:mod:`~services.export.vcard`, :mod:`~services.export.spreadsheet`,
:mod:`~services.export.jsonl`) never query anything: a :class:`Contact` carries the values
and the provenance they need, so ``cards export``, the HTTP export and ``cards extract
--format vcard`` write the same format from the same code.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from ingest.schema import Extraction

if TYPE_CHECKING:  # a type only: the writers never import storage code
    from services.cards import Card

UID_NAMESPACE = uuid.UUID("6f1c3c2e-2b0e-5d7a-9b51-6a0e4c1d8f37")  # cardvault records; never change it


class ValueLike(Protocol):
    """What a writer reads of a value (a stored :class:`~models.tables.FieldValue` has it)."""

    @property
    def field(self) -> str: ...
    @property
    def value(self) -> str: ...
    @property
    def raw(self) -> str: ...
    @property
    def type(self) -> str | None: ...
    @property
    def extension(self) -> str | None: ...


@dataclass(frozen=True)
class ExtractedValue:
    """A value straight from the pipeline, in the shape the writers read."""

    field: str
    value: str
    raw: str
    type: str | None = None
    extension: str | None = None


@dataclass
class Contact:
    """One contact to write: its values, a stable UID, and (for stored cards) the card behind it."""

    values: list[ValueLike]
    uid: str
    notes: str | None = None
    updated_at: datetime | None = None
    source_uri: str | None = None  # vCard SOURCE: where this contact was read from
    card: Card | None = None  # stored cards only: provenance for the JSON lines export

    def of(self, name: str) -> list[ValueLike]:
        return [v for v in self.values if v.field == name]

    def first(self, name: str) -> str:
        values = self.of(name)
        return values[0].value if values else ""


def contact_from_card(card: Card) -> Contact:
    """A stored card; its UID is stable across exports and databases' id reuse (id plus image hash)."""
    sha = card.source.sha256 if card.source else ""
    return Contact(
        values=list(card.values),
        uid=f"urn:uuid:{uuid.uuid5(UID_NAMESPACE, f'{card.record.id}:{sha}')}",
        notes=card.record.notes,
        updated_at=card.record.updated_at,
        card=card,
    )


def contact_from_extraction(extraction: Extraction) -> Contact:
    """An extraction not stored anywhere: named by its image's SHA-256."""
    sha = extraction.sha256 or ""
    values: list[ValueLike] = [
        ExtractedValue(field=name, value=v.value, raw=v.raw, type=v.type, extension=v.extension)
        for name, found in extraction.fields.items()
        for v in found
    ]
    return Contact(
        values=values,
        uid=f"urn:uuid:{uuid.uuid5(UID_NAMESPACE, f'image:{sha}')}",
        source_uri=f"urn:sha256:{sha}" if sha else None,
    )
