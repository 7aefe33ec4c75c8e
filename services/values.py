"""Reading a record's values: one stable order (field, then position on the card) everywhere."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from sqlmodel import Session, col, select

from models.tables import FieldValue


def record_values(session: Session, record_id: int) -> list[FieldValue]:
    """Every value of a record, in a stable order (field, then position on the card)."""
    query = (
        select(FieldValue)
        .where(FieldValue.record_id == record_id)
        .order_by(col(FieldValue.field), col(FieldValue.position))
    )
    return list(session.exec(query).all())


def values_by_record(session: Session, record_ids: Sequence[int]) -> dict[int, list[FieldValue]]:
    """The values of many records in one query, grouped by record, each in the stable order."""
    grouped: dict[int, list[FieldValue]] = defaultdict(list)
    if record_ids:
        query = (
            select(FieldValue)
            .where(col(FieldValue.record_id).in_(list(record_ids)))
            .order_by(col(FieldValue.record_id), col(FieldValue.field), col(FieldValue.position))
        )
        for value in session.exec(query).all():
            grouped[value.record_id].append(value)
    return grouped
