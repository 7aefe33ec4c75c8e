"""Reading an uploader's stored contacts for an export: the ``own`` purpose, a page at a time.

The export is a read for the ``own`` purpose, so stored contacts come only through
:func:`services.cards.iter_own_cards` — never another uploader's records, never a field the
policy hides — a page at a time, so an export of any size streams.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TextIO

from sqlalchemy.engine import Engine
from sqlmodel import Session

from models.tables import Principal
from services.audit import audit
from services.cards import iter_own_cards
from services.export import WRITERS, ExportFormat, write_contacts
from services.export.contacts import Contact, contact_from_card

FLUSH_BYTES = 64 * 1024


def own_contacts(session: Session, principal: Principal) -> Iterator[Contact]:
    """The principal's own stored contacts, a page at a time."""
    return (contact_from_card(card) for card in iter_own_cards(session, principal))


def export_contacts(session: Session, principal: Principal, fmt: ExportFormat, out: TextIO) -> int:
    """Export ``principal``'s own contacts to ``out`` and audit that it happened (the caller commits).

    The audit event holds the format and the count only, as every audit event does.
    """
    count = write_contacts(own_contacts(session, principal), fmt, out)
    audit(session, "exported", principal, format=fmt.value, count=count)
    return count


def stream_export(engine: Engine, principal: Principal, fmt: ExportFormat) -> Iterator[str]:
    """The export in chunks of about :data:`FLUSH_BYTES`, read as it is sent (for HTTP).

    Its own session: the request's may be gone while a slow client is still reading.
    """
    writer = WRITERS[fmt]
    chunk = [writer.preamble]
    size = len(writer.preamble)
    with Session(engine) as session:
        for contact in own_contacts(session, principal):
            piece = writer.render(contact)
            chunk.append(piece)
            size += len(piece)
            if size >= FLUSH_BYTES:
                yield "".join(chunk)
                chunk, size = [], 0
    yield "".join(chunk)
