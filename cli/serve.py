"""``cards serve``: the HTTP API (``api.main:app``) under uvicorn.

It refuses to start on a database that is not migrated (``storage_error``, exit 7) or on a
wrong setting (``invalid_config``, exit 6) rather than answering 503 to every request:
``cards db upgrade`` first (``make run`` does). Each uvicorn worker is a process with its own
OCR pool (``CARDS_OCR_WORKERS``, default one per core), so on a small machine keep
``--workers 1`` and let the pool use the cores. SIGTERM
and Ctrl-C stop it gracefully (requests in flight finish) and exit 0.
"""

from __future__ import annotations

import signal
from types import FrameType
from typing import Annotated

import typer

from cli.common import fail, reported_errors
from cli.context import settings
from core.errors import BadArgumentsError
from models.errors import StorageError
from services import database


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on (0.0.0.0: every interface).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(help="Server processes (each with its own OCR pool).")] = 1,
    log_level: Annotated[str, typer.Option(help="critical, error, warning, info, debug.")] = "info",
) -> None:
    """Serve the HTTP API on HOST:PORT (OpenAPI at /docs) on the database named by DATABASE_URL."""
    with reported_errors():
        if not 0 < port < 65536 or workers < 1:
            fail(BadArgumentsError("--port is 1..65535 and --workers at least 1."))
        state = database.schema_state(settings().database_url)
        if not state.up_to_date:
            fail(
                StorageError(
                    f"The database is at revision {state.current or 'none'}, not {state.head}.",
                    hint="Run `cards db upgrade` first.",
                )
            )
        import uvicorn

        # uvicorn stops gracefully on SIGTERM, then raises the signal again: with the default
        # action that kills the process before ``atexit`` joins the OCR pool, leaving its
        # workers behind. Exiting through SystemExit instead lets the pool shut down cleanly.
        signal.signal(signal.SIGTERM, _exit_cleanly)
        # No ``server: uvicorn`` banner, and no X-Forwarded-For from anyone: the app believes it
        # only from CARDS_TRUSTED_PROXIES (api/hardening.py).
        uvicorn.run(
            "api.main:app",
            host=host,
            port=port,
            workers=workers,
            log_level=log_level,
            server_header=False,
            proxy_headers=False,
        )


def _exit_cleanly(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


def register(app: typer.Typer) -> None:
    app.command(help=serve.__doc__)(serve)
