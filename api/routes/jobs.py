"""Asynchronous uploads: ``GET /v1/jobs/{id}``. The queue and its worker are :mod:`services.jobs`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from api.deps import SessionDep, Uploader
from api.schemas import JobOut, problem_responses
from services.jobs import get_own_job
from services.paging import MAX_ID

router = APIRouter(prefix="/v1/jobs", tags=["jobs"], responses=problem_responses(401, 403))


@router.get("/{job_id}", response_model=JobOut, responses=problem_responses(404, 422))
def get_job(
    session: SessionDep, principal: Uploader, job_id: Annotated[int, Path(ge=1, le=MAX_ID)]
) -> JobOut:
    """An upload job of yours: queued, running, done (with `card_id`) or failed (with `error.code`)."""
    return JobOut.from_job(get_own_job(session, principal, job_id))
