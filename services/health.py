"""Is the service able to work? Each part checked cheaply and reported, never raised.

Load balancers and ``make run``'s users poll this, so it is cheap: one ``SELECT 1``, and the
tesseract version read once per process.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text

from core.errors import CardError
from ingest.ocr import tesseract_version
from services.context import ServiceContext


@dataclass(frozen=True)
class Check:
    ok: bool
    detail: str


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


def checks(ctx: ServiceContext) -> dict[str, Check]:
    """Every part, by name."""
    return {"database": database(ctx), "tesseract": tesseract()}
