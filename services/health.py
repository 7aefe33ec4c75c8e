"""Is the service able to work? Each part checked cheaply and reported, never raised.

Load balancers and ``make run``'s users poll this, so it is cheap — but a database that
answers ``SELECT 1`` may still refuse every write (a read-only file or mount, a full disk, a
replica), and so may the blob folder; each would turn every upload into an error. So the
database is probed with a one-row INSERT rolled back at once, the blob folder with a
one-byte unnamed file, and tesseract's version is read once per process.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import insert

from core.errors import CardError
from ingest.ocr import tesseract_version
from models.tables import RateLimitHit, utcnow
from services.context import ServiceContext
from services.queue import Publisher, check_broker


@dataclass(frozen=True)
class Check:
    ok: bool
    detail: str
    queues: dict[str, int] = field(default_factory=dict)  # the broker's: messages waiting per queue


def _failure(exc: BaseException) -> Check:
    text = str(exc).splitlines()[0][:200] if str(exc) else ""
    return Check(False, f"{type(exc).__name__}: {text}")


def database(ctx: ServiceContext) -> Check:
    """Reads and takes a write: an INSERT into a scratch table, rolled back (nothing is kept)."""
    try:
        with ctx.engine.connect() as conn:
            transaction = conn.begin()
            try:
                conn.execute(insert(RateLimitHit).values(client_hash="healthz-probe", at=utcnow()))
            finally:
                transaction.rollback()
    except Exception as exc:  # any failure means "not healthy", reported rather than raised
        return _failure(exc)
    return Check(True, f"{ctx.engine.dialect.name}, writable")


def blobs(ctx: ServiceContext) -> Check:
    """The blob folder takes a write (a one-byte unnamed file, gone when closed)."""
    try:
        ctx.blobs.probe()
    except CardError as exc:
        return Check(False, exc.message[:300])
    except Exception as exc:
        return _failure(exc)
    return Check(True, "writable")


def tesseract() -> Check:
    try:
        return Check(True, tesseract_version())
    except CardError as exc:
        return Check(False, exc.full_message)


def broker(publisher: Publisher) -> Check:
    found = check_broker(publisher)
    return Check(found.ok, found.detail, found.depths)


def checks(ctx: ServiceContext, publisher: Publisher | None = None) -> dict[str, Check]:
    """Every part, by name; the broker too when one is configured (``CARDS_BROKER_URL``)."""
    found = {"database": database(ctx), "blobs": blobs(ctx), "tesseract": tesseract()}
    if ctx.settings.broker_url:
        owned = publisher is None
        publisher = publisher or Publisher(ctx.settings)
        try:
            found["broker"] = broker(publisher)
        finally:
            if owned:
                publisher.close()
    return found
