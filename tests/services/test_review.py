"""The review queue: own cards only, missing or doubtful key values first, filter by import batch."""

from __future__ import annotations

from typing import Any

from db_fixtures import make_extraction
from sqlmodel import Session

from models.tables import ContactRecord, Principal, Source
from services import records
from services.review import import_batches, next_in_queue, review_queue
from services.values import record_values

BELOW = 0.8


def _weak(confidence: float, **card: Any) -> Any:
    extraction = make_extraction(**card)
    for values in extraction.fields.values():
        for value in values:
            value.confidence = confidence
    return extraction


def _batch(session: Session, record: ContactRecord, batch: str) -> None:
    source = session.get(Source, record.source_id)
    assert source is not None
    source.client = {"import_batch": batch}
    session.add(source)
    session.commit()


def _ids(session: Session, uploader: Principal, **kwargs: Any) -> list[int]:
    items, _ = review_queue(session, uploader, below=BELOW, **kwargs)
    return [item.card.id for item in items]


def test_cards_with_a_low_confidence_key_value_come_first(
    session: Session, uploader: Principal, store_card
) -> None:  # type: ignore[no-untyped-def]
    good = store_card(uploader, name="Ada Good", email="ada@good.example")
    weak = store_card(uploader, _weak(0.4, name="Bo Weak", email="bo@weak.example"))
    weaker = store_card(uploader, _weak(0.2, name="Cy Weaker", email="cy@weaker.example"))
    assert _ids(session, uploader) == [weaker.id, weak.id, good.id]


def test_a_card_missing_a_way_to_reach_the_person_needs_review(
    session: Session, uploader: Principal, store_card
) -> None:  # type: ignore[no-untyped-def]
    good = store_card(uploader, name="Ada Good", email="ada@good.example")
    nameless = store_card(uploader, name="Only Name")
    items, total = review_queue(session, uploader, below=BELOW)
    assert [i.card.id for i in items] == [nameless.id, good.id] and total == 2
    assert items[0].needs_review and items[0].missing == ["e-mail or phone"]
    assert not items[1].needs_review


def test_a_corrected_value_counts_as_certain(
    session: Session, uploader: Principal, store_card, salt: bytes
) -> None:  # type: ignore[no-untyped-def]
    weak = store_card(uploader, _weak(0.3, name="Bo Weak", email="bo@weak.example"))
    half = store_card(uploader, _weak(0.5, name="Cy Half", email="cy@half.example"))
    record = session.get(ContactRecord, weak.id)
    assert record is not None and weak.id is not None
    fixed = {"names": "Bo Weakly", "emails": "bo@weakly.example"}
    corrections = [(v.id or 0, fixed[v.field]) for v in record_values(session, weak.id)]
    records.apply_changes(session, uploader, record, corrections=corrections, salt=salt)
    session.commit()
    items, _ = review_queue(session, uploader, below=BELOW)
    assert [i.card.id for i in items] == [half.id, weak.id]
    assert items[1].lowest == 1.0 and not items[1].needs_review


def test_the_queue_holds_only_the_uploaders_own_cards(
    session: Session, uploader: Principal, other_uploader: Principal, store_card
) -> None:  # type: ignore[no-untyped-def]
    mine = store_card(uploader, name="Ada Mine", email="ada@mine.example")
    store_card(other_uploader, _weak(0.1, name="Bo Theirs", email="bo@theirs.example"))
    assert _ids(session, uploader) == [mine.id]


def test_the_queue_filters_by_import_batch(session: Session, uploader: Principal, store_card) -> None:  # type: ignore[no-untyped-def]
    first = store_card(uploader, name="Ada One", email="ada@one.example")
    second = store_card(uploader, name="Bo Two", email="bo@two.example")
    _batch(session, first, "import-20261201T000000Z")
    _batch(session, second, "web-20261202T000000Z")
    assert _ids(session, uploader, batch="web-20261202T000000Z") == [second.id]
    assert set(import_batches(session, uploader)) == {"import-20261201T000000Z", "web-20261202T000000Z"}


def test_next_in_queue_follows_the_review_order_and_wraps(
    session: Session, uploader: Principal, store_card
) -> None:  # type: ignore[no-untyped-def]
    good = store_card(uploader, name="Ada Good", email="ada@good.example")
    weak = store_card(uploader, _weak(0.2, name="Bo Weak", email="bo@weak.example"))
    assert next_in_queue(session, uploader, weak.id, below=BELOW) == good.id
    assert next_in_queue(session, uploader, good.id, below=BELOW) == weak.id
