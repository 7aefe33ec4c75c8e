"""Running the pipeline for the services: options from the settings, OCR in the process pool.

:func:`pipeline_options` is the one place the settings become :class:`ingest.pipeline.Options`
(for ``cards extract``, the import and the HTTP API alike). :class:`OcrRunner` owns the
HTTP API's OCR pool: the event loop only awaits it, and a pool whose worker died is
replaced so the next card works.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import Executor
from concurrent.futures.process import BrokenProcessPool

from core.settings import Settings
from ingest.errors import OcrUnavailableError
from ingest.pipeline import Options, extract_bytes
from ingest.pool import default_workers, ocr_pool
from ingest.schema import Extraction


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
    """A pool of OCR processes that survives a worker's death (a decoder bug fails one card only)."""

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers or default_workers()
        self.pool: Executor = ocr_pool(self.workers)

    async def extract(self, data: bytes, source: str, options: Options) -> Extraction:
        """Run the pipeline in a worker process; raises the card's :class:`CardError` when it fails."""
        pool = self.pool
        try:
            return await asyncio.get_running_loop().run_in_executor(
                pool, extract_bytes, data, source, options
            )
        except BrokenProcessPool as exc:
            if self.pool is pool:
                self.pool = ocr_pool(self.workers)
                pool.shutdown(wait=False, cancel_futures=True)
            raise OcrUnavailableError("The OCR worker stopped while reading this card.") from exc

    def shutdown(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
