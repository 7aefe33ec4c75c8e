"""Asynchronous uploads: a job table in the database, and the worker that runs queued jobs.

An upload with ``?mode=async`` is queued: its image waits in the blob store and its metadata
in the job row until a worker extracts and stores it. The job row is the source of truth
(``GET /v1/jobs/{id}``); a finished job keeps no personal data (no notes, no file name, no
blob).

The worker (:class:`JobWorker`) is one asyncio task per server process. It takes queued
jobs oldest first — a conditional UPDATE, so several server processes never take the same
job — runs OCR in the :class:`~services.extraction.OcrRunner` and the database work in
threads: the event loop is never blocked. It runs up to ``CARDS_JOB_CONCURRENCY`` jobs at
once and sleeps until an upload wakes it or ``POLL_S`` passes (a job queued by another
process is found by the poll). At start-up, jobs left ``running`` by a stopped or crashed
server go back to the queue (a job running through :data:`MAX_INTERRUPTIONS` crashes is
failed instead); a job is finished only once its card is committed, and the card store
answers a repeated image with the existing card, so a re-run never makes a second record.
Beside it, in both modes (with a broker too, where the worker is :class:`services.queue.BrokerJobs`),
:class:`Housekeeping` sweeps orphan image blobs (:mod:`services.orphans`) at start-up and
every ``CARDS_ORPHAN_SWEEP_SECONDS``, and deletes expired ``Idempotency-Key`` rows every hour.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from datetime import timedelta
from typing import Any

import anyio
from anyio import to_thread
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from core.errors import CardError, error_from_exception
from ingest.errors import OcrEngineError
from models.tables import Principal, UploadJob, utcnow
from services import idempotency
from services.context import ServiceContext
from services.errors import NotFoundError
from services.extraction import OcrRunner, pipeline_options
from services.orphans import sweep_orphan_blobs
from services.schemas import CardMetadata
from services.uploads import drop_blob_if_unused, find_existing_card, keep_blob, store_card

log = logging.getLogger(__name__)

POLL_S = 0.2
MAX_INTERRUPTIONS = 5  # crashes a job may be running through before it is failed
PRUNE_EVERY_S = 3600.0


def create_job(
    ctx: ServiceContext, principal_id: int, data: bytes, filename: str, metadata: CardMetadata, sha256: str
) -> int:
    """Queue an upload: the image goes to the blob store, the metadata into the job row."""
    blob_key = ctx.blobs.put(data)
    try:
        with Session(ctx.engine, expire_on_commit=False) as session:
            job = UploadJob(
                principal_id=principal_id,
                blob_key=blob_key,
                metadata_={
                    "metadata": metadata.model_dump(mode="json"),
                    "filename": filename,
                    "sha256": sha256,
                    "byte_size": len(data),
                },
            )
            session.add(job)
            session.commit()
            assert job.id is not None
        keep_blob(ctx.blobs, blob_key, data)
        return job.id
    except BaseException:
        drop_blob_if_unused(ctx.engine, ctx.blobs, blob_key)
        raise


def get_own_job(session: Session, principal: Principal, job_id: int) -> UploadJob:
    """The principal's own job, or not found (another uploader's job is not disclosed either)."""
    job = session.get(UploadJob, job_id)
    if job is None or job.principal_id != principal.id:
        raise NotFoundError(f"No job {job_id}.")
    return job


def own_job_now(engine: Engine, principal: Principal, job_id: int) -> UploadJob:
    """One of the principal's jobs as it is now, read in a session of its own (an upload's answer)."""
    with Session(engine, expire_on_commit=False) as session:
        return get_own_job(session, principal, job_id)


def claim_next_job(engine: Engine) -> UploadJob | None:
    """Move the oldest queued job to running and return it; None when none waits."""
    with Session(engine, expire_on_commit=False) as session:
        for _ in range(5):
            job_id = session.exec(
                select(UploadJob.id).where(UploadJob.status == "queued").order_by(col(UploadJob.id)).limit(1)
            ).first()
            if job_id is None:
                return None
            moved = session.execute(
                update(UploadJob)
                .where(col(UploadJob.id) == job_id, col(UploadJob.status) == "queued")
                .values(status="running", updated_at=utcnow())
            )
            session.commit()
            if getattr(moved, "rowcount", 0) == 1:
                return session.get(UploadJob, job_id)
    return None


def requeue_running_jobs(ctx: ServiceContext) -> int:
    """Jobs left running by a crashed server go back to the queue (at start-up); returns how many.

    Each such interruption is counted in the job; a job that was running during
    :data:`MAX_INTERRUPTIONS` crashes is failed instead (``ocr_failed``), so a card that
    kills the server cannot take it down again on every start.
    """
    with Session(ctx.engine) as session:
        found = session.exec(select(UploadJob.id).where(UploadJob.status == "running")).all()
    running = [job_id for job_id in found if job_id is not None]
    requeued = 0
    for job_id in running:
        with Session(ctx.engine) as session:
            job = session.get(UploadJob, job_id)
            if job is None or job.status != "running":
                continue
            times = int(job.metadata_.get("interrupted", 0)) + 1
            if times >= MAX_INTERRUPTIONS:
                give_up = True
            else:
                give_up = False
                job.metadata_ = {**job.metadata_, "interrupted": times}
                job.status, job.updated_at = "queued", utcnow()
                session.add(job)
                session.commit()
                requeued += 1
        if give_up:
            error = OcrEngineError(
                f"The server stopped {times} times while reading this card.",
                hint="Check the image (it may crash the reader) before sending it again.",
            )
            finish_job(ctx, job_id, error=error.to_dict())
    return requeued


def requeue_job(engine: Engine, job_id: int) -> None:
    with Session(engine) as session:
        session.execute(
            update(UploadJob)
            .where(col(UploadJob.id) == job_id, col(UploadJob.status) == "running")
            .values(status="queued", updated_at=utcnow())
        )
        session.commit()


def finish_job(
    ctx: ServiceContext, job_id: int, *, record_id: int | None = None, error: dict[str, str] | None = None
) -> None:
    """Record the job's end; the image blob stays only if the stored source uses it."""
    with Session(ctx.engine) as session:
        job = session.get(UploadJob, job_id)
        if job is None or job.status in ("done", "failed"):  # a second delivery of a finished job
            return
        blob_key = job.blob_key
        kept = {k: job.metadata_.get(k) for k in ("sha256", "byte_size")}
        if "attempts" in job.metadata_:  # deliveries by the queue's workers (how often it was redelivered)
            kept["attempts"] = job.metadata_["attempts"]
        job.status = "failed" if error else "done"
        job.record_id, job.error, job.blob_key, job.metadata_ = record_id, error, None, kept
        job.updated_at = utcnow()
        session.add(job)
        session.commit()
    drop_blob_if_unused(ctx.engine, ctx.blobs, blob_key)


async def process_job(ctx: ServiceContext, ocr: OcrRunner, job: UploadJob) -> None:
    """Extract and store one claimed job: running → done (with the card) or failed (with the code)."""
    assert job.id is not None
    meta: dict[str, Any] = job.metadata_
    try:
        metadata = CardMetadata.model_validate(meta.get("metadata", {}))
        sha256 = str(meta.get("sha256") or "")
        found = await to_thread.run_sync(find_existing_card, ctx.engine, job.principal_id, sha256)
        if found is None:
            if not job.blob_key:
                raise NotFoundError("The uploaded image is no longer stored.")
            data = await to_thread.run_sync(ctx.blobs.get, job.blob_key)
            options = pipeline_options(ctx.settings, region=metadata.region)
            extraction = await ocr.extract(data, str(meta.get("filename") or "upload"), options)
            stored = await to_thread.run_sync(store_card, ctx, job.principal_id, data, extraction, metadata)
            found = stored.record_id
        await to_thread.run_sync(lambda: finish_job(ctx, job.id or 0, record_id=found))
    except asyncio.CancelledError:
        with anyio.CancelScope(shield=True):  # the server is stopping: another run takes the job
            await to_thread.run_sync(requeue_job, ctx.engine, job.id)
        raise
    except CardError as exc:
        failure = exc.to_dict()
        await to_thread.run_sync(lambda: finish_job(ctx, job.id or 0, error=failure))
    except Exception as exc:
        log.exception("upload job %s failed", job.id)
        error = {"code": error_from_exception(exc).code, "message": "Internal error; it has been logged."}
        await to_thread.run_sync(lambda: finish_job(ctx, job.id or 0, error=error))


class Housekeeping:
    """The server's chores, with or without a broker: at start-up and then every
    ``CARDS_ORPHAN_SWEEP_SECONDS`` the orphan image sweep; hourly, expired idempotency keys."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self._housekeeping(), name="housekeeping")

    async def stop(self) -> None:
        await _cancel(self.task)
        self.task = None

    async def _housekeeping(self) -> None:
        """Each chore when it is due; a failure is logged and tried again at the next round."""
        settings = self.ctx.settings
        grace = timedelta(seconds=settings.orphan_grace_seconds)
        every = settings.orphan_sweep_seconds
        swept = pruned = -math.inf
        while True:
            now = time.monotonic()
            try:
                if now - swept >= (every or math.inf):
                    swept = now
                    await to_thread.run_sync(
                        lambda: sweep_orphan_blobs(self.ctx.engine, self.ctx.blobs, grace=grace)
                    )
                if now - pruned >= PRUNE_EVERY_S:
                    pruned = now
                    await to_thread.run_sync(idempotency.prune, self.ctx.engine)
            except Exception:  # the database or the blob folder is away: try at the next round
                log.exception("housekeeping failed")
            await asyncio.sleep(min(every or PRUNE_EVERY_S, PRUNE_EVERY_S, 60.0))



async def _cancel(task: asyncio.Task[None] | None) -> None:
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


class JobWorker:
    """Runs queued upload jobs on the running event loop (started and stopped by the app's lifespan)."""

    def __init__(self, ctx: ServiceContext, ocr: OcrRunner, concurrency: int) -> None:
        self.ctx, self.ocr, self.concurrency = ctx, ocr, max(1, concurrency)
        self.wakeup = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self._work(), name="upload-jobs")

    def wake(self, job_id: int | None = None) -> None:
        """A job was queued: look now rather than at the next poll."""
        self.wakeup.set()

    async def stop(self) -> None:
        """Stop the worker; jobs it was running go back to the queue for the next start."""
        await _cancel(self.task)
        self.task = None

    async def _work(self) -> None:
        engine = self.ctx.engine
        slots = asyncio.Semaphore(self.concurrency)
        running: set[asyncio.Task[None]] = set()
        try:
            try:
                requeued = await to_thread.run_sync(requeue_running_jobs, self.ctx)
            except Exception:  # a read-only or absent database: the API still answers (503s, /healthz)
                log.exception("the upload job worker cannot requeue jobs left running")
                requeued = 0
            if requeued:
                log.info("requeued %d upload jobs left running", requeued)
            while True:
                await slots.acquire()
                try:
                    job = await to_thread.run_sync(claim_next_job, engine)
                except Exception:  # the database is away: keep the worker alive and try again
                    log.exception("the upload job worker cannot reach the database")
                    slots.release()
                    await asyncio.sleep(1.0)
                    continue
                if job is None:
                    slots.release()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self.wakeup.wait(), POLL_S)
                    self.wakeup.clear()
                    continue
                task = asyncio.create_task(process_job(self.ctx, self.ocr, job), name=f"upload-job-{job.id}")
                running.add(task)
                task.add_done_callback(running.discard)
                task.add_done_callback(lambda _: slots.release())
        finally:
            for task in running:
                task.cancel()
            await asyncio.gather(*running, return_exceptions=True)
