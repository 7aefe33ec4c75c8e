"""The HTTP API: a thin FastAPI layer over ``ingest`` (extraction) and ``models`` (records, policy).

``create_app()`` builds the application around an engine (tests pass their own);
``app`` is the instance ``cards serve`` / uvicorn runs. OpenAPI is at ``/docs``.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import AsyncIterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from sqlalchemy.engine import Engine

from api import problems
from api.routes import cards, catalog, health, invites, jobs, partner, subjects
from models.blobs import BlobStore
from models.db import get_engine
from models.settings import get_settings

API_VERSION = "1.0.0"


def create_app(
    engine: Engine | None = None,
    *,
    blob_dir: Path | None = None,
    salt: bytes | None = None,
    ocr_workers: int | None = None,
) -> FastAPI:
    """Build the app. Everything stateful (engine, blobs, salt, OCR pool) hangs off ``app.state``."""
    settings = get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # OCR is CPU work in tesseract and OpenCV: it runs in worker processes, never on the event loop.
        workers = ocr_workers or int(os.environ.get("CARDS_OCR_WORKERS", "0")) or (os.cpu_count() or 1)
        # forkserver: forking a process that already runs threads (uvicorn, the job worker) is unsafe.
        context = multiprocessing.get_context("forkserver")
        app.state.ocr_pool = ProcessPoolExecutor(max_workers=workers, mp_context=context)
        jobs.start_worker(app)
        try:
            yield
        finally:
            await jobs.stop_worker(app)
            app.state.ocr_pool.shutdown(wait=False, cancel_futures=True)

    app = FastAPI(
        title="cardvault",
        version=API_VERSION,
        description=(
            "Business cards in, structured contacts out — used only as each record permits. "
            "Errors are RFC 9457 problem details whose `code` matches the CLI's `error.code`."
        ),
        lifespan=lifespan,
    )
    app.state.engine = engine or get_engine()
    app.state.blobs = BlobStore(blob_dir or settings.blob_dir)
    app.state.salt = salt or settings.salt()
    app.state.settings = settings
    problems.install(app)
    for module in (health, cards, jobs, catalog, partner, subjects, invites):
        app.include_router(module.router)
    return app


def __getattr__(name: str) -> FastAPI:
    """``api.main:app`` for uvicorn, built on first use (importing this module has no side effects)."""
    if name == "app":
        global app
        app = create_app()
        return app
    raise AttributeError(name)
