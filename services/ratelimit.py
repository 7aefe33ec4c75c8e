"""Per-client rate limits shared by every server process: a sliding window kept in the database.

An in-memory window counts per process, so ``cards serve --workers 4`` (or four replicas)
allowed four times the limit. Each counted request is a row of
:class:`~models.tables.RateLimitHit` (the client as a hash, and the time); a request counts
its client's rows of the last window. The row is inserted *before* counting: on SQLite the
INSERT takes the database's write lock until the commit, and on PostgreSQL an advisory lock
on the client's hash does the same, so racing processes cannot both see room for one more.
Rows older than the window are deleted as requests pass, so the table stays small.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from sqlalchemy import delete, func, text
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from models.errors import storage_errors
from models.tables import RateLimitHit, utcnow

WINDOW = timedelta(seconds=60)


def client_hash(limit: str, client: str) -> str:
    """What is stored of a client: never its address."""
    return hashlib.sha256(f"{limit}\0{client}".encode()).hexdigest()


def retry_after(
    engine: Engine, limit: str, client: str, per_minute: int, *, now: datetime | None = None
) -> int:
    """0 when the call is within the limit (and it is counted), else the seconds to wait (not counted)."""
    key = client_hash(limit, client)
    now = now or utcnow()
    with storage_errors(), Session(engine) as session:
        if engine.dialect.name == "postgresql":
            session.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"), {"k": key})
        session.add(RateLimitHit(client_hash=key, at=now))
        session.flush()
        session.execute(delete(RateLimitHit).where(col(RateLimitHit.at) <= now - WINDOW))
        count, oldest = session.exec(
            select(func.count(), func.min(RateLimitHit.at)).where(RateLimitHit.client_hash == key)
        ).one()
        if count <= per_minute:
            session.commit()
            return 0
        session.rollback()  # over the limit: this call is not counted
    assert oldest is not None
    first = oldest if oldest.tzinfo else oldest.replace(tzinfo=now.tzinfo)
    return max(1, int((first + WINDOW - now).total_seconds()) + 1)
