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
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy.engine import Engine

from api import problems
from api.hardening import HardeningMiddleware, Limits
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
from services.extraction import OcrRunner, stop_with_supervisor
from services.jobs import Housekeeping, JobWorker
from services.queue import BrokerJobs
from web.app import install as install_web  # the one front-to-front edge: /app is mounted here

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
        stop_with_supervisor()  # under `cards serve --workers N`: die with uvicorn's supervisor
        # OCR is CPU work in tesseract and OpenCV: it runs in worker processes, never on the event loop.
        app.state.ocr = OcrRunner(
            ocr_workers or settings.ocr_workers or None,
            max_queue_seconds=settings.max_queue_seconds,
            card_seconds=settings.ocr_card_seconds,
        )
        if settings.broker_url:  # async uploads go to the queue's workers, on any machine
            app.state.jobs = BrokerJobs(services.engine, settings)
        else:
            concurrency = settings.job_concurrency or app.state.ocr.workers
            app.state.jobs = JobWorker(services, app.state.ocr, concurrency)
        app.state.jobs.start()
        app.state.chores = Housekeeping(services)  # in both modes: the orphan sweep, key expiry
        app.state.chores.start()
        try:
            yield
        finally:
            await app.state.chores.stop()
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
        docs_url=None,  # served below from the local Swagger UI package, never from a CDN
        redoc_url=None,
    )
    app.state.services = services
    problems.install(app)
    app.add_middleware(
        HardeningMiddleware,
        limits=lambda: Limits(
            json_max=services.settings.max_json_bytes,
            image_max=services.settings.max_image_bytes,
            trusted=services.settings.trusted_networks(),
        ),
    )
    if settings.api_docs:
        _serve_docs(app)
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
    install_web(app)  # the web app's pages at /app, on the same services and policy
    return app


def swagger_assets() -> Path | None:
    """The Swagger UI files of the pinned ``swagger-ui-bundle`` package, or None when it is missing."""
    try:
        from swagger_ui_bundle import swagger_ui_path  # type: ignore[import-untyped]
    except ImportError:
        return None
    folder = Path(str(swagger_ui_path))
    return folder if (folder / "swagger-ui-bundle.js").is_file() else None


def _serve_docs(app: FastAPI) -> None:
    """``/docs`` with every script and style from this server (``CARDS_API_DOCS``; off without the assets)."""
    assets = swagger_assets()
    if assets is None:
        return
    app.mount("/docs/assets", StaticFiles(directory=assets), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} — API",
            swagger_js_url="/docs/assets/swagger-ui-bundle.js",
            swagger_css_url="/docs/assets/swagger-ui.css",
            swagger_favicon_url="/docs/assets/favicon-32x32.png",
        )


def __getattr__(name: str) -> FastAPI:
    """``api.main:app`` for uvicorn, built on first use (importing this module has no side effects)."""
    if name == "app":
        global app
        app = create_app()
        return app
    raise AttributeError(name)
