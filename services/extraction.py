"""Running the pipeline for the services: options from the settings, OCR in the process pool.

:func:`pipeline_options` is the one place the settings become :class:`ingest.pipeline.Options`
(for ``cards extract``, the import and the HTTP API alike). :class:`OcrRunner` owns the
HTTP API's OCR pool: the event loop only awaits it, and a pool whose worker died is
replaced so the next card works.
"""

from __future__ import annotations

import asyncio
import math
from concurrent.futures import Executor
from concurrent.futures.process import BrokenProcessPool

from core.settings import Settings
from ingest.errors import OcrUnavailableError
from ingest.pipeline import Options, extract_bytes
from ingest.pool import default_workers, die_with_supervisor, ocr_pool
from ingest.schema import Extraction
from services.errors import OverloadedError


def pipeline_options(settings: Settings, *, region: str | None = None, profile: str | None = None) -> Options:
    """The pipeline's options from the settings; ``region`` and ``profile`` override theirs."""
    return Options(
        region=(region or settings.default_region).upper(),
        lang=settings.ocr_lang,
        timeout_s=settings.ocr_timeout,
        second_pass_below=settings.second_pass_below,
        max_pixels=settings.max_image_pixels,
        max_bytes=settings.max_image_bytes,
    ).with_profile(profile or settings.profile)


class OcrRunner:
    """A pool of OCR processes that survives a worker's death (a decoder bug fails one card only).

    It also bounds the queue in front of the pool: it counts the cards handed to it and learns
    how long one takes (seeded with ``card_seconds``), and a card that asks to be admitted
    (a synchronous upload, whose client is waiting) is refused with :class:`OverloadedError`
    when it would wait more than ``max_queue_seconds`` before a worker is free for it. Cards
    that do not ask (queued jobs, whose concurrency is bounded elsewhere) always go in.
    """

    LEARN = 0.2  # weight of the newest card in the running estimate of a card's seconds

    def __init__(
        self, workers: int | None = None, *, max_queue_seconds: float = 0.0, card_seconds: float = 1.0
    ) -> None:
        self.workers = workers or default_workers()
        self.pool: Executor = ocr_pool(self.workers)
        self.max_queue_seconds = max_queue_seconds
        self.card_seconds = card_seconds
        self.pending = 0  # cards handed to the pool and not yet back (running or waiting)

    def queue_seconds(self) -> float:
        """How long a card handed in now would wait before a worker starts on it (an estimate)."""
        waiting = max(0, self.pending - self.workers + 1)
        return waiting / self.workers * self.card_seconds

    def admit(self) -> None:
        """Refuse a card that would wait too long (503 ``overloaded`` with a ``Retry-After``)."""
        if not self.max_queue_seconds:
            return
        wait = self.queue_seconds()
        if wait > self.max_queue_seconds:
            retry = max(1, math.ceil(wait - self.max_queue_seconds + self.card_seconds))
            raise OverloadedError(
                f"{self.pending} cards are waiting for OCR (about {wait:.0f} s).", retry_after=retry
            )

    async def extract(self, data: bytes, source: str, options: Options, *, admit: bool = False) -> Extraction:
        """Run the pipeline in a worker process; raises the card's :class:`CardError` when it fails.

        With ``admit``, a card that would wait longer than ``max_queue_seconds`` is refused first.
        """
        if admit:
            self.admit()
        pool = self.pool
        self.pending += 1
        try:
            extraction = await asyncio.get_running_loop().run_in_executor(
                pool, extract_bytes, data, source, options
            )
        except BrokenProcessPool as exc:
            if self.pool is pool:
                self.pool = ocr_pool(self.workers)
                pool.shutdown(wait=False, cancel_futures=True)
            raise OcrUnavailableError("The OCR worker stopped while reading this card.") from exc
        finally:
            self.pending -= 1
        self._learn(extraction)
        return extraction

    def _learn(self, extraction: Extraction) -> None:
        spent = sum(float(v) for v in (extraction.timings_ms or {}).values()) / 1000
        if spent > 0:
            self.card_seconds += self.LEARN * (spent - self.card_seconds)

    def shutdown(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)


def stop_with_supervisor(grace_s: float = 10.0) -> bool:
    """A server process started by uvicorn's supervisor stops when the supervisor dies (``kill -9``).

    SIGTERM first (requests in flight finish, running jobs go back to the queue), SIGKILL after
    ``grace_s``; the OCR pool's workers watch this process in turn. False when not such a child.
    """
    return die_with_supervisor(grace_s)
