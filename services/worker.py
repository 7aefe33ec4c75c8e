"""What a queue worker does with one card, and the Celery worker that does it (``cards worker``).

A task is one job id. Running it is idempotent, because messages can arrive twice (a worker
killed mid-card, a republish after a broker restart): a finished job is skipped; otherwise the
card is looked up by (uploader, SHA-256) before any OCR and stored under that unique key, so a
second delivery finds the first one's card instead of storing another. The job is finished
only after its card is committed, and only then is the message acknowledged (``acks_late``).

Retries: only for storage (the database or the blob store away), with backoff; a card that
cannot be read fails its job at once with the pipeline's code, never retried. A card delivered
:data:`~services.queue.MAX_ATTEMPTS` times without finishing (it kills its process) fails too.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

from celery import Celery, Task
from celery.exceptions import SoftTimeLimitExceeded
from celery.signals import worker_process_init
from sqlalchemy import update
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlmodel import Session, col

from core.errors import CardError, error_from_exception
from core.settings import Settings, load_settings
from ingest.errors import OcrTimeoutError
from ingest.ocr import limit_threads
from ingest.pipeline import extract_bytes
from models.blobs import BlobMissingError
from models.db import forget_inherited_connections
from models.enums import Basis, Channel, Use
from models.errors import StorageError
from models.tables import UploadJob, utcnow
from services import queue
from services.context import ServiceContext
from services.errors import NotFoundError
from services.extraction import pipeline_options
from services.jobs import finish_job
from services.records import AttestationInput
from services.schemas import CardMetadata
from services.uploads import find_existing_card, store_card, store_card_as

log = logging.getLogger("cards.worker")

RETRY_BACKOFF_S = (1.0, 2.0, 5.0, 10.0, 30.0, 60.0)
_context: ServiceContext | None = None


def worker_context() -> ServiceContext:
    """This process's services, built on first use (after the fork: no connection crosses it)."""
    global _context
    if _context is None:
        _context = ServiceContext.from_settings(load_settings())
    return _context


def claim(ctx: ServiceContext, job_id: int) -> UploadJob | None:
    """Mark the job running (one more attempt) and return it; None when it is finished or gone."""
    with Session(ctx.engine, expire_on_commit=False) as session:
        job = session.get(UploadJob, job_id, with_for_update=ctx.engine.dialect.name == "postgresql")
        if job is None or job.status not in ("queued", "running"):
            return None
        attempts = int(job.metadata_.get("attempts", 0)) + 1
        session.execute(
            update(UploadJob)
            .where(col(UploadJob.id) == job_id)
            .values(status="running", updated_at=utcnow(), metadata_={**job.metadata_, "attempts": attempts})
        )
        session.commit()
        session.refresh(job)
        return job


def run_job(ctx: ServiceContext, job_id: int) -> str:
    """Extract and store one queued card; the outcome word for the log line.

    Storage failures are raised (the task retries them); everything about the card itself ends
    the job: ``done`` with its card, or ``failed`` with the code.
    """
    job = claim(ctx, job_id)
    if job is None:
        return "skipped"
    meta: dict[str, Any] = job.metadata_
    if int(meta.get("attempts", 1)) > queue.MAX_ATTEMPTS:
        stopped = {"code": "ocr_failed", "message": "The OCR worker stopped on this card every time."}
        finish_job(ctx, job_id, error=stopped)
        return "failed:ocr_failed"
    try:
        found = find_existing_card(ctx.engine, job.principal_id, str(meta.get("sha256") or ""))
        if found is None:
            found = _extract_and_store(ctx, job, meta)
    except (StorageError, OperationalError, DBAPIError):
        raise
    except SoftTimeLimitExceeded:
        error = OcrTimeoutError("The card took longer than its time limit.").to_dict()
        finish_job(ctx, job_id, error=error)
        return "failed:ocr_timeout"
    except CardError as exc:
        finish_job(ctx, job_id, error=exc.to_dict())
        return f"failed:{exc.code}"
    except Exception as exc:
        log.exception("queued job %s failed", job_id)
        error = {"code": error_from_exception(exc).code, "message": "Internal error; it has been logged."}
        finish_job(ctx, job_id, error=error)
        return f"failed:{error['code']}"
    finish_job(ctx, job_id, record_id=found)
    return f"done:{found}"


def _extract_and_store(ctx: ServiceContext, job: UploadJob, meta: dict[str, Any]) -> int:
    if not job.blob_key:
        raise NotFoundError("The queued image is no longer stored.")
    try:
        data = ctx.blobs.get(job.blob_key)
    except BlobMissingError as exc:
        raise NotFoundError("The queued image is no longer stored.") from exc
    except OSError as exc:
        raise StorageError(f"Cannot read the queued image: {exc}.") from exc
    filename = str(meta.get("filename") or "upload")
    if meta.get("kind") == "import":
        options = pipeline_options(ctx.settings, region=meta.get("region"), profile=meta.get("profile"))
        extraction = extract_bytes(data, filename, options)
        attestation = meta["attestation"]
        stored = store_card_as(
            ctx,
            job.principal_id,
            data,
            extraction,
            channel=Channel.batch,
            client=dict(meta.get("client") or {}),
            attestation=AttestationInput(
                basis=Basis(attestation["basis"]),
                text_version=attestation["text_version"],
                basis_text=attestation.get("basis_text"),
                details=dict(attestation.get("details") or {}),
            ),
            uses={Use(u) for u in meta.get("uses", [])},
        )
        return stored.record_id
    metadata = CardMetadata.model_validate(meta.get("metadata", {}))
    extraction = extract_bytes(data, filename, pipeline_options(ctx.settings, region=metadata.region))
    return store_card(ctx, job.principal_id, data, extraction, metadata).record_id


def _task(task: Task, job_id: int) -> str:
    started = time.perf_counter()
    try:
        outcome = run_job(worker_context(), job_id)
    except (StorageError, OperationalError, DBAPIError) as exc:
        retries = int(task.request.retries or 0)
        delay = RETRY_BACKOFF_S[min(retries, len(RETRY_BACKOFF_S) - 1)]
        name = type(exc).__name__
        log.warning("card job=%s storage error (%s): retry %d in %.0f s", job_id, name, retries + 1, delay)
        raise task.retry(exc=exc, countdown=delay, max_retries=len(RETRY_BACKOFF_S) * 2) from exc
    log.info("card job=%s ms=%.0f outcome=%s", job_id, (time.perf_counter() - started) * 1000, outcome)
    return outcome


def celery_app(settings: Settings) -> Celery:
    """The Celery app with the task registered (what a worker runs; publishers need only the broker)."""
    app = queue.make_app(settings)
    app.task(name=queue.TASK, bind=True)(_task)
    return app


@worker_process_init.connect  # type: ignore[untyped-decorator]
def _one_thread_per_process(**_: Any) -> None:
    """Each prefork process reads one card at a time on one core (no OpenMP threads fighting) and
    opens its own database connections (a connection shared across a fork corrupts both)."""
    limit_threads()
    forget_inherited_connections()


def run_worker(settings: Settings, concurrency: int) -> None:
    """Run a Celery worker in this process until SIGTERM (warm shutdown: the running cards finish)."""
    limit_threads()  # OMP_THREAD_LIMIT=1, inherited by the prefork processes before tesseract loads
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    app = celery_app(settings)
    app.worker_main(argv=queue.worker_argv(settings, concurrency or (os.cpu_count() or 1)))
