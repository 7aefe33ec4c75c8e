"""``GET /healthz``: is the service able to work? (database reachable, tesseract installed). No auth.

Load balancers and ``make run``'s users poll it, so it is cheap (one ``SELECT 1``; the
tesseract version is read once per process) and answers 503 — as a problem — when either
check fails, naming which one.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from api.problems import problem
from api.schemas import CheckOut, HealthOut, problem_responses
from ingest.errors import CardError
from ingest.ocr import tesseract_version

router = APIRouter(tags=["health"])


def _database(request: Request) -> CheckOut:
    try:
        with request.app.state.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # any failure means "not healthy", reported rather than raised
        return CheckOut(status="failing", detail=f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}")
    return CheckOut(status="ok", detail=request.app.state.engine.dialect.name)


def _tesseract() -> CheckOut:
    try:
        return CheckOut(status="ok", detail=tesseract_version())
    except CardError as exc:
        return CheckOut(status="failing", detail=exc.full_message)


@router.get("/healthz", response_model=HealthOut, responses=problem_responses(503))
def healthz(request: Request) -> HealthOut | JSONResponse:
    """Database ping and tesseract version; 503 (problem+json, with ``checks``) if either fails."""
    database, tesseract = _database(request), _tesseract()
    if database.status != "ok" or tesseract.status != "ok":
        failing = [name for name, c in (("database", database), ("tesseract", tesseract)) if c.status != "ok"]
        return problem(
            503,
            "unhealthy",
            f"Not ready: {', '.join(failing)} failing.",
            checks={"database": database.model_dump(), "tesseract": tesseract.model_dump()},
        )
    return HealthOut(status="ok", version=request.app.version, database=database, tesseract=tesseract)
