"""The broker side of the OCR queue: Celery on Redis, when ``CARDS_BROKER_URL`` is set.

Why it is shaped this way:

* **The job table is the truth.** Every queued card is an :class:`~models.tables.UploadJob`
  row committed *before* its message is published; a message carries only the job's id. The
  API answers ``/v1/jobs/{id}`` from the row (never from a result backend: there is none), an
  import counts its batch's rows, and a message lost with the broker is found again from them
  (:func:`republish_stalled`).
* **Settings that survive real work** (:func:`make_app`): a message is acknowledged only after
  its card is committed (``acks_late``), a worker holds one message per process
  (prefetch 1), a process killed mid-card puts its message back (``task_reject_on_worker_lost``),
  processes are replaced every ``CARDS_WORKER_MAX_TASKS`` cards, and each card's time limits
  follow ``CARDS_OCR_TIMEOUT``.
* **Fairness.** Uploads go to ``interactive``, imports to ``bulk``; workers consume both, and the
  Redis transport's ``priority`` order makes every fetch look at ``interactive`` first, so one
  uploader's million-card import never starves a phone waiting for its card.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from anyio import to_thread
from celery import Celery
from kombu.entity import Queue
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from core.settings import Settings
from models.tables import UploadJob, utcnow

log = logging.getLogger("cards.queue")

INTERACTIVE = "interactive"
BULK = "bulk"
QUEUES = (INTERACTIVE, BULK)  # in the order a worker looks at them
TASK = "cards.run_job"
MAX_ATTEMPTS = 3  # deliveries of one card before it is failed (a card that kills its worker every time)


def time_limits(settings: Settings) -> tuple[float, float]:
    """Soft and hard limits of one card: a card runs a few OCR calls, each bounded by ``ocr_timeout``."""
    soft = 3 * settings.ocr_timeout + 10
    return soft, soft + 30


def make_app(settings: Settings) -> Celery:
    """The Celery application of the broker in the settings (no result backend: the job table is)."""
    soft, hard = time_limits(settings)
    app = Celery("cardvault", broker=settings.broker_url, set_as_current=False)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_acks_on_failure_or_timeout=True,
        worker_prefetch_multiplier=1,
        worker_max_tasks_per_child=settings.worker_max_tasks,
        task_soft_time_limit=soft,
        task_time_limit=hard,
        task_ignore_result=True,
        task_store_errors_even_if_ignored=False,
        task_serializer="json",
        accept_content=["json"],
        task_queues=[Queue(name) for name in QUEUES],  # type: ignore[no-untyped-call]
        task_default_queue=INTERACTIVE,
        task_create_missing_queues=False,
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,  # a worker waits for Redis to come back, however long
        broker_transport_options={
            "queue_order_strategy": "priority",
            # a message a worker fetched but never acknowledged (its machine died) comes back after this
            "visibility_timeout": int(hard * 2 + 60),
            "socket_connect_timeout": 5,
            "socket_timeout": 30,
            "retry_on_timeout": True,
        },
        worker_cancel_long_running_tasks_on_connection_loss=False,
        worker_hijack_root_logger=False,
        worker_redirect_stdouts=False,
        task_default_retry_delay=1,
    )
    return app


class Publisher:
    """Publishes job ids; a message that cannot be sent now leaves its job queued for a republish."""

    def __init__(self, settings: Settings, app: Celery | None = None) -> None:
        self.settings = settings
        self.app = app or make_app(settings)

    def publish(self, job_ids: Iterable[int], queue: str, *, patient: bool = True) -> int:
        """Send one message per job; ``patient`` waits for the broker longer (an import, not a request)."""
        policy = (
            {"max_retries": 20, "interval_start": 0.2, "interval_step": 0.5, "interval_max": 3.0}
            if patient
            else {"max_retries": 1, "interval_start": 0.1, "interval_step": 0.2, "interval_max": 0.5}
        )
        sent = 0
        try:
            with self.app.producer_or_acquire() as producer:
                for job_id in job_ids:
                    self.app.send_task(
                        TASK, args=[job_id], queue=queue, producer=producer, retry=True, retry_policy=policy
                    )
                    sent += 1
        except Exception as exc:  # the broker is away: the job rows wait for the republish
            log.warning("%s: jobs not published after %d; they stay queued", type(exc).__name__, sent)
        return sent

    def depths(self) -> dict[str, int]:
        """Messages waiting in each queue (raises when the broker cannot be reached)."""
        found: dict[str, int] = {}
        with self.app.connection_for_read() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
            channel = conn.default_channel
            for name in QUEUES:
                found[name] = int(channel.client.llen(name))
        return found

    def close(self) -> None:
        self.app.close()


def queue_of(job: UploadJob) -> str:
    return BULK if job.batch else INTERACTIVE


@dataclass(frozen=True)
class BrokerCheck:
    ok: bool
    detail: str
    depths: dict[str, int]


def check_broker(publisher: Publisher) -> BrokerCheck:
    """Reachability and depths for ``/healthz``; never raises."""
    try:
        depths = publisher.depths()
    except Exception as exc:  # any failure means "not healthy", reported rather than raised
        return BrokerCheck(False, f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}", {})
    return BrokerCheck(True, "redis", depths)


def republish_stalled(
    engine: Engine, publisher: Publisher, settings: Settings, *, batch: str | None = None
) -> int:
    """Publish again the jobs whose messages were lost (a broker restarted without its data).

    A job is stalled when it has been queued for ``CARDS_QUEUE_REPUBLISH_SECONDS`` — or left
    running past the hard time limit — while its queue in the broker is empty: with a backlog
    in the broker nothing is lost, and a message published twice is harmless (a job runs to
    its end once; the card is stored once by its unique (uploader, SHA-256)).
    """
    depths = publisher.depths()
    now = utcnow()
    queued_before = now - timedelta(seconds=settings.queue_republish_seconds)
    running_before = now - timedelta(seconds=time_limits(settings)[1] + settings.queue_republish_seconds)
    sent = 0
    for queue in QUEUES:
        if depths.get(queue, 0) > 0:
            continue
        with Session(engine) as session:
            query = select(UploadJob.id).where(
                (
                    (col(UploadJob.status) == "queued") & (col(UploadJob.updated_at) < queued_before)
                    | (col(UploadJob.status) == "running") & (col(UploadJob.updated_at) < running_before)
                ),
                col(UploadJob.batch).is_not(None) if queue == BULK else col(UploadJob.batch).is_(None),
            )
            if batch is not None:
                query = query.where(UploadJob.batch == batch)
            ids = [i for i in session.exec(query.order_by(col(UploadJob.id))).all() if i is not None]
            if not ids:
                continue
            for start in range(0, len(ids), 500):
                session.execute(
                    update(UploadJob)
                    .where(col(UploadJob.id).in_(ids[start : start + 500]))
                    .values(updated_at=now)
                    .execution_options(synchronize_session=False)
                )
            session.commit()
        log.warning("%d %s jobs had no message in the broker: published again", len(ids), queue)
        sent += publisher.publish(ids, queue)
    return sent


class BrokerJobs:
    """The HTTP app's side of async uploads with a broker: publish each new job to ``interactive``,
    and every few seconds republish what a broker restart lost (same interface as the in-process
    :class:`~services.jobs.JobWorker`, which runs instead when no broker is configured)."""

    SWEEP_EVERY_S = 10.0

    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.engine, self.settings = engine, settings
        self.publisher = Publisher(settings)
        self.task: asyncio.Task[None] | None = None
        self.sending: set[asyncio.Task[int]] = set()

    def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self._sweep(), name="republish-jobs")

    def wake(self, job_id: int | None = None) -> None:
        """Publish the new job without holding the request (a broker away: the sweep sends it later)."""
        if job_id is None:
            return
        sending = asyncio.get_running_loop().create_task(
            to_thread.run_sync(lambda: self.publisher.publish([job_id], INTERACTIVE, patient=False))
        )
        self.sending.add(sending)
        sending.add_done_callback(self.sending.discard)

    async def stop(self) -> None:
        if self.sending:
            await asyncio.gather(*self.sending, return_exceptions=True)
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
            self.task = None
        self.publisher.close()

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(self.SWEEP_EVERY_S)
            try:
                await to_thread.run_sync(republish_stalled, self.engine, self.publisher, self.settings)
            except Exception as exc:  # the broker or the database is away: next time
                log.warning("republish sweep skipped: %s", type(exc).__name__)


def worker_argv(settings: Settings, concurrency: int, extra: list[str] | None = None) -> list[str]:
    """The ``celery worker`` arguments: prefork, both queues (interactive first), fair scheduling."""
    argv: list[str] = [
        "worker",
        "--pool=prefork",
        f"--concurrency={concurrency}",
        f"--queues={','.join(QUEUES)}",
        "--loglevel=INFO",
        "-O",
        "fair",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
    ]
    return argv + list(extra or [])


def job_payload(**values: Any) -> dict[str, Any]:
    """What a queued import's job row carries (the card's provenance; no file path)."""
    return {"kind": "import", **values}
