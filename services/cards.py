"""An uploader's own cards, as the ``own`` purpose of the policy lets them be read.

Every read goes through :func:`models.policy.qualifying_records` (``own``: the reading
uploader's records only) and values through :func:`models.policy.visible_fields`; another
uploader's card is "not found", exactly like one that does not exist. :func:`load_cards`
is the one batch load (a fixed number of queries per page, not per card) behind the HTTP
card answers, the web pages and every export.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from models.blobs import BlobStore
from models.enums import Use
from models.policy import qualifying_records, visible_fields
from models.tables import (
    Attestation,
    ContactRecord,
    ExtractionRun,
    FieldValue,
    PermittedUse,
    Principal,
    Source,
)
from services.errors import NotFoundError
from services.paging import MAX_ID, decode_cursor, encode_cursor

PAGE_SIZE = 500


@dataclass
class Card:
    """One record with what is read around it: its visible values, source, OCR run, attestation, uses."""

    record: ContactRecord
    values: list[FieldValue]
    source: Source | None = None
    run: ExtractionRun | None = None
    attestation: Attestation | None = None
    uses: list[Use] = field(default_factory=list)

    @property
    def id(self) -> int:
        assert self.record.id is not None
        return self.record.id


def load_cards(session: Session, records: Sequence[ContactRecord], purpose: str = "own") -> list[Card]:
    """The records with their values (filtered by ``purpose``), sources, runs, attestations and uses."""
    ids = [r.id for r in records if r.id is not None]
    if not ids:
        return []
    values: dict[int, list[FieldValue]] = defaultdict(list)
    rows = session.exec(
        select(FieldValue)
        .where(col(FieldValue.record_id).in_(ids))
        .order_by(col(FieldValue.record_id), col(FieldValue.field), col(FieldValue.position))
    ).all()
    for value in visible_fields(purpose, rows):
        values[value.record_id].append(value)
    uses: dict[int, list[Use]] = defaultdict(list)
    for use in session.exec(
        select(PermittedUse).where(col(PermittedUse.record_id).in_(ids)).order_by(col(PermittedUse.use))
    ):
        uses[use.record_id].append(Use(use.use))
    attestations = {
        a.record_id: a
        for a in session.exec(
            select(Attestation)
            .where(col(Attestation.record_id).in_(ids), col(Attestation.revoked_at).is_(None))
            .order_by(col(Attestation.id))
        )
    }
    sources = {
        s.id: s
        for s in session.exec(select(Source).where(col(Source.id).in_({r.source_id for r in records})))
    }
    run_ids = {r.extraction_run_id for r in records if r.extraction_run_id is not None}
    runs = {r.id: r for r in session.exec(select(ExtractionRun).where(col(ExtractionRun.id).in_(run_ids)))}
    return [
        Card(
            record=record,
            values=values.get(record.id, []),
            source=sources.get(record.source_id),
            run=runs.get(record.extraction_run_id) if record.extraction_run_id else None,
            attestation=attestations.get(record.id),
            uses=sorted(uses.get(record.id, [])),
        )
        for record in records
        if record.id is not None
    ]


def get_own_card(session: Session, principal: Principal, card_id: int) -> ContactRecord:
    """One of the principal's records through the policy's ``own`` purpose; not found for anyone else's."""
    record = None
    if 0 < card_id <= MAX_ID:
        record = session.exec(
            qualifying_records("own", principal=principal).where(col(ContactRecord.id) == card_id)
        ).first()
    if record is None:
        raise NotFoundError(f"No card {card_id}.")
    return record


def own_card(session: Session, principal: Principal, card_id: int) -> Card:
    """One of the principal's cards, loaded."""
    return load_cards(session, [get_own_card(session, principal, card_id)])[0]


def own_card_now(engine: Engine, principal: Principal, card_id: int) -> Card:
    """One of the principal's cards as it is now, read in a session of its own (an upload's answer)."""
    with Session(engine) as session:
        return own_card(session, principal, card_id)


def list_own_cards(
    session: Session, principal: Principal, *, cursor: str | None, limit: int, newest: bool = True
) -> tuple[list[Card], str | None]:
    """A page of the principal's cards by id (newest or oldest first) and the next page's cursor."""
    query = qualifying_records("own", principal=principal)
    after = decode_cursor(cursor)
    if after is not None:
        query = query.where(col(ContactRecord.id) < after if newest else col(ContactRecord.id) > after)
    query = query.order_by(col(ContactRecord.id).desc() if newest else col(ContactRecord.id))
    rows = list(session.exec(query.limit(limit + 1)).all())
    page = rows[:limit]
    last = page[-1].id if len(rows) > limit else None
    return load_cards(session, page), (encode_cursor(last) if last else None)


def count_own_cards(session: Session, principal: Principal) -> int:
    """How many cards the principal has (the export's audit event says how many it held)."""
    subquery = qualifying_records("own", principal=principal).subquery()
    return int(session.exec(select(func.count()).select_from(subquery)).one())


def iter_own_cards(session: Session, principal: Principal, page_size: int = PAGE_SIZE) -> Iterator[Card]:
    """The principal's cards in id order, a page at a time: an export of any size streams."""
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
        yield from load_cards(session, records)
        assert records[-1].id is not None
        last_id = records[-1].id


def card_image(session: Session, blobs: BlobStore, principal: Principal, card_id: int) -> bytes:
    """The card's image exactly as uploaded; not found when it is not stored (or not yours)."""
    record = get_own_card(session, principal, card_id)
    source = session.get(Source, record.source_id)
    if source is None or not source.blob_key or not blobs.exists(source.blob_key):
        raise NotFoundError(f"The image of card {card_id} is not stored.")
    return blobs.get(source.blob_key)
