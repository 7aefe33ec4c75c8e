"""``GET /healthz``: is the service able to work? (database and blobs writable, tesseract, the broker).

No auth.

Answers 503 — as a problem — when a check fails, naming which one (:mod:`services.health`).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from api.deps import ServicesDep
from api.problems import problem
from api.schemas import CheckOut, HealthOut, problem_responses
from services import health

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=HealthOut, responses=problem_responses(503))
def healthz(request: Request, services: ServicesDep) -> HealthOut | JSONResponse:
    """Database and blob store take a write, tesseract is there, the broker (when set) answers; else 503."""
    found = health.checks(services, getattr(getattr(request.app.state, "jobs", None), "publisher", None))
    checks = {
        name: CheckOut(status="ok" if check.ok else "failing", detail=check.detail)
        for name, check in found.items()
    }
    failing = [name for name, check in checks.items() if check.status != "ok"]
    if failing:
        return problem(
            503,
            "unhealthy",
            f"Not ready: {', '.join(failing)} failing.",
            checks={name: check.model_dump() for name, check in checks.items()},
        )
    return HealthOut(
        status="ok",
        version=request.app.version,
        database=checks["database"],
        blobs=checks["blobs"],
        tesseract=checks["tesseract"],
        broker=checks.get("broker"),
        queues=found["broker"].queues if "broker" in found else None,
    )
