"""Asynchronous uploads: ``GET /v1/jobs/{id}`` and the worker that runs queued jobs.

The worker is one asyncio task per server process, started and stopped by the app's
lifespan. It takes queued jobs (oldest first; a conditional UPDATE, so several server
processes never take the same job), runs OCR in the app's process pool and the database
work in threads: the event loop is never blocked. It runs up to ``CARDS_JOB_CONCURRENCY``
jobs at once (default: the number of cores, the OCR pool's size), and sleeps until an
upload wakes it or ``POLL_S`` passes (a job queued by another process is found by the poll).

At startup, jobs left ``running`` by a stopped or crashed server go back to the queue; a
job is only finished once its card is committed, and the card store answers a repeated
image with the existing card, so a re-run never makes a second record. Every hour the
worker also deletes expired ``Idempotency-Key`` rows.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from typing import Annotated

from fastapi import APIRouter, FastAPI, Path
from starlette.concurrency import run_in_threadpool

from api import uploads
from api.deps import SessionDep, Uploader
from api.schemas import JobOut, problem_responses
from models import idempotency

log = logging.getLogger(__name__)

router = APIRouter(prefix="/v1/jobs", tags=["jobs"], responses=problem_responses(401, 403))

POLL_S = 0.2
PRUNE_EVERY_S = 3600.0


@router.get("/{job_id}", response_model=JobOut, responses=problem_responses(404, 422))
def get_job(
    session: SessionDep, principal: Uploader, job_id: Annotated[int, Path(ge=1, le=2**31 - 1)]
) -> JobOut:
    """An upload job of yours: queued, running, done (with `card_id`) or failed (with `error.code`)."""
    return uploads.job_out(uploads.get_own_job(session, principal, job_id))


def start_worker(app: FastAPI) -> None:
    """Start the job worker on the running event loop (called by the lifespan)."""
    app.state.job_wakeup = asyncio.Event()
    concurrency = int(os.environ.get("CARDS_JOB_CONCURRENCY", "0")) or os.cpu_count() or 1
    app.state.job_worker = asyncio.get_running_loop().create_task(_work(app, concurrency), name="upload-jobs")


async def stop_worker(app: FastAPI) -> None:
    """Stop the worker; jobs it was running go back to the queue for the next start."""
    task: asyncio.Task[None] | None = getattr(app.state, "job_worker", None)
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    app.state.job_worker = None


async def _work(app: FastAPI, concurrency: int) -> None:
    engine = app.state.engine
    wakeup: asyncio.Event = app.state.job_wakeup
    slots = asyncio.Semaphore(concurrency)
    running: set[asyncio.Task[None]] = set()
    pruned = 0.0
    try:
        requeued = await run_in_threadpool(uploads.requeue_running_jobs, engine)
        if requeued:
            log.info("requeued %d upload jobs left running", requeued)
        while True:
            await slots.acquire()
            try:
                if time.monotonic() - pruned > PRUNE_EVERY_S:
                    await run_in_threadpool(idempotency.prune, engine)
                    pruned = time.monotonic()
                job = await run_in_threadpool(uploads.claim_next_job, engine)
            except Exception:  # the database is away: keep the worker alive and try again
                log.exception("the upload job worker cannot reach the database")
                slots.release()
                await asyncio.sleep(1.0)
                continue
            if job is None:
                slots.release()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wakeup.wait(), POLL_S)
                wakeup.clear()
                continue
            task = asyncio.create_task(uploads.process_job(app, job), name=f"upload-job-{job.id}")
            running.add(task)
            task.add_done_callback(running.discard)
            task.add_done_callback(lambda _: slots.release())
    finally:
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
