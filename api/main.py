"""The HTTP API: a thin FastAPI front over the services layer.

``create_app()`` builds the application from the settings (tests pass their own engine,
blob folder and salt); ``app`` is the instance ``cards serve`` / uvicorn runs. OpenAPI is
at ``/docs``. Everything stateful hangs off ``app.state``: the :class:`ServiceContext`
(``services``), the OCR pool (``ocr``) and the async-upload worker (``jobs``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from sqlalchemy.engine import Engine

from api import problems
from api.routes import (
    cards,
    catalog,
    health,
    invites,
    jobs,
    notices,
    opt_out,
    partner,
    partners,
    register,
    subjects,
)
from core.settings import Settings, get_settings
from services.context import ServiceContext
from services.extraction import OcrRunner
from services.jobs import JobWorker
from services.queue import BrokerJobs

API_VERSION = "1.0.0"
app: FastAPI  # built on first use, by __getattr__ below


def create_app(
    engine: Engine | None = None,
    *,
    settings: Settings | None = None,
    blob_dir: Path | None = None,
    salt: bytes | None = None,
    ocr_workers: int | None = None,
) -> FastAPI:
    """Build the app around the settings (read from the environment when not given)."""
    settings = settings or get_settings()
    services = ServiceContext.from_settings(settings, engine=engine, blob_dir=blob_dir, salt=salt)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # OCR is CPU work in tesseract and OpenCV: it runs in worker processes, never on the event loop.
        app.state.ocr = OcrRunner(ocr_workers or settings.ocr_workers or None)
        if settings.broker_url:  # async uploads go to the queue's workers, on any machine
            app.state.jobs = BrokerJobs(services.engine, settings)
        else:
            concurrency = settings.job_concurrency or app.state.ocr.workers
            app.state.jobs = JobWorker(services, app.state.ocr, concurrency)
        app.state.jobs.start()
        try:
            yield
        finally:
            await app.state.jobs.stop()
            app.state.ocr.shutdown()

    app = FastAPI(
        title="cardvault",
        version=API_VERSION,
        description=(
            "Business cards in, structured contacts out — used only as each record permits. "
            "Errors are RFC 9457 problem details whose `code` matches the CLI's `error.code`."
        ),
        lifespan=lifespan,
    )
    app.state.services = services
    problems.install(app)
    for module in (
        health,
        cards,
        jobs,
        catalog,
        partner,
        partners,
        subjects,
        opt_out,
        invites,
        notices,
        register,
    ):
        app.include_router(module.router)
    return app


def __getattr__(name: str) -> FastAPI:
    """``api.main:app`` for uvicorn, built on first use (importing this module has no side effects)."""
    if name == "app":
        global app
        app = create_app()
        return app
    raise AttributeError(name)
