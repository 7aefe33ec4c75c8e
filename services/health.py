"""Is the service able to work? Each part checked cheaply and reported, never raised.

Load balancers and ``make run``'s users poll this, so it is cheap: one ``SELECT 1``, and the
tesseract version read once per process.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import text

from core.errors import CardError
from ingest.ocr import tesseract_version
from services.context import ServiceContext
from services.queue import Publisher, check_broker


@dataclass(frozen=True)
class Check:
    ok: bool
    detail: str
    queues: dict[str, int] = field(default_factory=dict)  # the broker's: messages waiting per queue


def database(ctx: ServiceContext) -> Check:
    try:
        with ctx.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # any failure means "not healthy", reported rather than raised
        return Check(False, f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}")
    return Check(True, ctx.engine.dialect.name)


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
    found = {"database": database(ctx), "tesseract": tesseract()}
    if ctx.settings.broker_url:
        owned = publisher is None
        publisher = publisher or Publisher(ctx.settings)
        try:
            found["broker"] = broker(publisher)
        finally:
            if owned:
                publisher.close()
    return found
