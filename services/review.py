"""The uploader's review queue: their own cards, the ones most likely wrong first.

OCR misreads about a quarter of the values on unseen cards, so a reviewer's minutes go
furthest on the cards whose key fields (name, company, e-mail, phone) are missing or were
read with low confidence. A card *needs review* when a key field is missing or one of its
key values is below ``CARDS_REVIEW_BELOW`` and nobody has corrected it; those come first,
lowest confidence first, then the rest, newest first. A value a person corrected counts as
certain. Cards are read through the policy's ``own`` purpose only (:mod:`services.cards`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, func
from sqlmodel import Session, col, select

from models.policy import qualifying_records
from models.tables import ContactRecord, FieldValue, Principal, Source
from services.cards import Card, load_cards

KEY_FIELDS = ("names", "companies", "emails", "phones")
PAGE = 50


@dataclass
class QueueItem:
    """One card in the queue: the card, its weakest key value, what is missing, its import batch."""

    card: Card
    lowest: float  # the lowest confidence among its uncorrected key values (1.0: none)
    missing: list[str]
    batch: str | None
    needs_review: bool


@dataclass
class _Order:
    ids: list[int]
    lowest: dict[int, float]
    missing: dict[int, list[str]]
    batches: dict[int, str | None]
    weak: set[int]


def _batch_of(client: Mapping[str, Any] | None) -> str | None:
    value = (client or {}).get("import_batch")
    return str(value) if value else None


def import_batches(session: Session, principal: Principal) -> list[str]:
    """The import batches of the principal's cards (``cards import`` and web uploads), newest first."""
    own = qualifying_records("own", principal=principal).subquery()
    query = select(Source.client, Source.received_at).join(own, own.c.source_id == col(Source.id))
    rows = session.exec(query)
    latest: dict[str, Any] = {}
    for client, received in rows.all():
        batch = _batch_of(client)
        if batch and (batch not in latest or received > latest[batch]):
            latest[batch] = received
    return sorted(latest, key=lambda b: (latest[b], b), reverse=True)


def _order(session: Session, principal: Principal, below: float, batch: str | None) -> _Order:
    """Every card id of the (filtered) queue in review order: two aggregate queries, no values loaded."""
    own = qualifying_records("own", principal=principal).subquery()
    cards = session.exec(
        select(own.c.id, Source.client).join(Source, col(Source.id) == own.c.source_id)
    ).all()
    batches = {int(card_id): _batch_of(client) for card_id, client in cards}
    if batch:
        batches = {card_id: b for card_id, b in batches.items() if b == batch}
    certain = case((col(FieldValue.corrected_at).is_not(None), 1.0), else_=col(FieldValue.confidence))
    stats = session.exec(
        select(col(FieldValue.record_id), col(FieldValue.field), func.min(certain))
        .where(col(FieldValue.record_id).in_(select(own.c.id)), col(FieldValue.field).in_(KEY_FIELDS))
        .group_by(col(FieldValue.record_id), col(FieldValue.field))
    ).all()
    lowest: dict[int, float] = {}
    present: dict[int, set[str]] = {}
    for record_id, field, confidence in stats:
        lowest[record_id] = min(lowest.get(record_id, 1.0), float(confidence))
        present.setdefault(record_id, set()).add(field)
    missing: dict[int, list[str]] = {}
    for card_id in batches:
        have = present.get(card_id, set())
        # A card needs a name or a company, and a way to reach the person: an e-mail or a phone.
        gaps = [] if have & {"names", "companies"} else ["name or company"]
        missing[card_id] = gaps + ([] if have & {"emails", "phones"} else ["e-mail or phone"])
    weak = {c for c in batches if missing[c] or lowest.get(c, 1.0) < below}

    def key(card_id: int) -> tuple[int, float, int]:
        return (0, lowest.get(card_id, 0.0), -card_id) if card_id in weak else (1, 0.0, -card_id)

    return _Order(sorted(batches, key=key), lowest, missing, batches, weak)


def review_queue(
    session: Session,
    principal: Principal,
    *,
    below: float,
    batch: str | None = None,
    page: int = 0,
    size: int = PAGE,
) -> tuple[list[QueueItem], int]:
    """One page of the principal's cards in review order, and how many cards the (filtered) queue holds."""
    order = _order(session, principal, below, batch)
    chosen = order.ids[page * size : (page + 1) * size]
    records = {r.id: r for r in session.exec(select(ContactRecord).where(col(ContactRecord.id).in_(chosen)))}
    loaded = {card.id: card for card in load_cards(session, [records[i] for i in chosen if i in records])}
    items = [
        QueueItem(
            card=loaded[card_id],
            lowest=order.lowest.get(card_id, 1.0),
            missing=order.missing[card_id],
            batch=order.batches[card_id],
            needs_review=card_id in order.weak,
        )
        for card_id in chosen
        if card_id in loaded
    ]
    return items, len(order.ids)


def next_in_queue(session: Session, principal: Principal, card_id: int, *, below: float) -> int | None:
    """The card after this one in review order (the reviewer's "next card" key), from the top after the
    last; None when this is the only card."""
    ids = _order(session, principal, below, None).ids
    if card_id not in ids:
        return ids[0] if ids else None
    following = ids[(ids.index(card_id) + 1) % len(ids)]
    return None if following == card_id else following


def image_size(data: bytes) -> tuple[int, int] | None:
    """The image's width and height as a browser shows it (EXIF orientation applied), from its header."""
    import io

    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            orientation = image.getexif().get(0x0112, 1)
    except Exception:  # not an image PIL reads: no overlay, the values are still listed
        return None
    return (height, width) if orientation in (5, 6, 7, 8) else (width, height)
