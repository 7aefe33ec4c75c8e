"""``Idempotency-Key`` bookkeeping: claim a key before the work, store the answer after it.

The claim is an INSERT into :class:`IdempotencyKey` committed in a transaction of its own,
so the unique ``(principal_id, key)`` constraint decides between racing requests on SQLite
and PostgreSQL alike: exactly one INSERT wins, every other gets an IntegrityError and then
waits for the winner's answer (:func:`run_once`).

What is stored as the answer is a *reference* — ``{"card_id": 7}``, ``{"job_id": 3}`` — or
a problem body, never the card itself: the rows outlive requests, and a card's values are
personal data that must live only where erasure and deletion find them. A replay renders
the referenced card as it is now (a deleted card answers 404).

Lifetimes: an answered key is kept :data:`KEY_TTL` (then the same key starts afresh); a
claim still unanswered after :data:`STALE_CLAIM` belonged to a process that died and may be
taken over. Sooner when the claimant is known dead: an unanswered claim names its process
(this machine's boot, the pid and the pid's start time), so the retry of a request whose
server was killed (``kill -9``, OOM) takes the claim over at once on the same machine instead
of waiting ten minutes behind a claim nobody will ever answer.
"""

from __future__ import annotations

import functools
import os
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
from anyio import to_thread
from sqlalchemy import delete
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from core.errors import CardError
from models.tables import IdempotencyKey, utcnow
from services.errors import IdempotencyInProgressError, IdempotencyKeyReusedError, InvalidIdempotencyKeyError

KEY_TTL = timedelta(hours=24)
STALE_CLAIM = timedelta(minutes=10)  # far beyond the OCR timeout: the claimant is gone
WAIT_S = 60.0  # how long a duplicate waits for the first request's answer
KEY_MAX = 255  # the column's length


@dataclass(frozen=True)
class Outcome:
    """What a request produced, as stored for replays: a reference or a problem, never a card's data."""

    status: int
    ref: dict[str, Any]  # {"card_id": n} | {"job_id": n} | {"problem": {"status", "code", "detail"}}

    @classmethod
    def of_error(cls, exc: CardError) -> Outcome:
        return cls(
            exc.http_status,
            {"problem": {"status": exc.http_status, "code": exc.code, "detail": exc.full_message}},
        )


@dataclass(frozen=True)
class Claim:
    """The outcome of one attempt to claim a key."""

    mine: bool  # this request runs the work
    row: IdempotencyKey | None = None  # someone else's claim or answer (when not mine)

    @property
    def answered(self) -> bool:
        return self.row is not None and self.row.status_code is not None


def _aware(moment: datetime) -> datetime:
    """SQLite hands timestamps back naive; they were stored as UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@functools.cache
def _machine() -> str:
    """This machine's boot (a pid means nothing across boots or hosts)."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        boot = ""
    return f"{socket.gethostname()}/{boot}"


def _started(pid: int) -> str | None:
    """When process ``pid`` started (clock ticks since boot, /proc), None if it is gone or unknown."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def claimant() -> dict[str, Any]:
    """What an unanswered claim holds: the process working on it."""
    pid = os.getpid()
    return {"claimant": {"machine": _machine(), "pid": pid, "started": _started(pid)}}


def claimant_gone(response: dict[str, Any] | None) -> bool:
    """The claim's process was on this machine and is not running any more (a pid reused is not it)."""
    who = (response or {}).get("claimant")
    if not isinstance(who, dict) or who.get("machine") != _machine() or who.get("started") is None:
        return False  # another machine, or no /proc: only STALE_CLAIM tells
    return bool(_started(int(who.get("pid", 0))) != who["started"])


def claim(engine: Engine, principal_id: int, key: str, request_hash: str) -> Claim:
    """Try to claim ``key`` for this principal; commits on its own connection.

    Returns ``Claim(mine=True)`` when this request won, else the existing row. An expired
    answer, a stale claim or one whose process is gone is deleted and the claim retried, so a
    later request runs.
    """
    for _ in range(3):
        with Session(engine, expire_on_commit=False) as session:
            session.add(
                IdempotencyKey(
                    principal_id=principal_id, key=key, request_hash=request_hash, response=claimant()
                )
            )
            try:
                session.commit()
                return Claim(mine=True)
            except IntegrityError:
                session.rollback()
            row = session.exec(
                select(IdempotencyKey).where(
                    IdempotencyKey.principal_id == principal_id, IdempotencyKey.key == key
                )
            ).first()
            if row is None:  # the winner failed and released it meanwhile: try again
                continue
            age = utcnow() - _aware(row.created_at)
            unanswered = row.status_code is None
            if age > KEY_TTL or (unanswered and (age > STALE_CLAIM or claimant_gone(row.response))):
                # Delete exactly this row (by id and time), so two takers cannot both succeed.
                session.execute(
                    delete(IdempotencyKey).where(
                        col(IdempotencyKey.id) == row.id, col(IdempotencyKey.created_at) == row.created_at
                    )
                )
                session.commit()
                continue
            return Claim(mine=False, row=row)
    return Claim(mine=False, row=None)


def complete(engine: Engine, principal_id: int, key: str, status_code: int, response: dict[str, Any]) -> None:
    """Store the answer of a claimed key; from now on every retry replays it."""
    with Session(engine) as session:
        row = session.exec(
            select(IdempotencyKey).where(
                IdempotencyKey.principal_id == principal_id, IdempotencyKey.key == key
            )
        ).first()
        if row is None:  # taken over as stale meanwhile (a request slower than STALE_CLAIM)
            return
        row.status_code, row.response = status_code, response
        session.add(row)
        session.commit()


def release(engine: Engine, principal_id: int, key: str) -> None:
    """Give up an unanswered claim (the work failed with a 5xx): a retry runs the work again."""
    with Session(engine) as session:
        session.execute(
            delete(IdempotencyKey).where(
                col(IdempotencyKey.principal_id) == principal_id,
                col(IdempotencyKey.key) == key,
                col(IdempotencyKey.status_code).is_(None),
            )
        )
        session.commit()


def prune(engine: Engine, before: datetime | None = None) -> int:
    """Delete keys older than :data:`KEY_TTL` (or ``before``); returns how many went."""
    cutoff = before or utcnow() - KEY_TTL
    with Session(engine) as session:
        outcome = session.execute(delete(IdempotencyKey).where(col(IdempotencyKey.created_at) < cutoff))
        session.commit()
        return int(getattr(outcome, "rowcount", 0) or 0)


def check_key(key: str | None) -> str | None:
    """The header's value, or None when absent; 400 for an empty, overlong or non-ASCII key."""
    if key is None:
        return None
    if not key or len(key) > KEY_MAX or not all(33 <= ord(c) <= 126 for c in key):
        raise InvalidIdempotencyKeyError("The Idempotency-Key header is not usable.")
    return key


async def run_once(
    engine: Engine,
    principal_id: int,
    key: str,
    request_hash: str,
    work: Callable[[], Awaitable[Outcome]],
) -> tuple[Outcome, bool]:
    """Run ``work`` once per key; returns its outcome and whether it is a replay of an earlier one.

    The key is claimed first (a committed INSERT: the unique constraint picks one winner).
    Others poll with short sleeps, in threads off the event loop's back, until the winner's
    outcome is stored, then replay it. 4xx outcomes are stored and replayed; a 5xx or a crash
    releases the claim so that a retry runs the work again.
    """
    deadline = time.monotonic() + WAIT_S
    delay = 0.02
    while True:
        taken = await to_thread.run_sync(claim, engine, principal_id, key, request_hash)
        if taken.mine:
            break
        row = taken.row
        if row is not None and row.request_hash != request_hash:
            raise IdempotencyKeyReusedError(f"Idempotency-Key {key!r} was used for a different request.")
        if row is not None and row.status_code is not None:
            return Outcome(row.status_code, row.response or {}), True
        if time.monotonic() > deadline:
            raise IdempotencyInProgressError(f"A request with Idempotency-Key {key!r} is still running.")
        await anyio.sleep(delay)
        delay = min(delay * 1.5, 0.5)
    try:
        try:
            outcome = await work()
        except CardError as exc:
            if exc.http_status >= 500:
                raise
            outcome = Outcome.of_error(exc)
        await to_thread.run_sync(complete, engine, principal_id, key, outcome.status, outcome.ref)
    except BaseException:
        with anyio.CancelScope(shield=True):
            await to_thread.run_sync(release, engine, principal_id, key)
        raise
    return outcome, False
