"""``cards worker``: a Celery worker that reads queued cards (``CARDS_BROKER_URL``) until SIGTERM.

Prefork processes, one card each at a time; one log line per card (job id, ms, outcome); SIGTERM
(or Ctrl-C) is Celery's warm shutdown: the cards being read are finished and acknowledged, the
rest stay in the queue for the other workers.
"""

from __future__ import annotations

from typing import Annotated

import typer

from cli.common import fail, reported_errors
from cli.context import services_context, settings
from core.errors import BadArgumentsError, InvalidConfigError

CONCURRENCY_HELP = "OCR processes (default CARDS_WORKER_CONCURRENCY, else one per core)."


def worker(
    concurrency: Annotated[int, typer.Option("--concurrency", "-c", help=CONCURRENCY_HELP)] = 0,
) -> None:
    """Read queued cards (uploads first, then imports) until stopped."""
    with reported_errors():
        config = settings()
        if not config.broker_url:
            fail(InvalidConfigError("CARDS_BROKER_URL is not set: there is no queue to read."))
        if concurrency < 0:
            fail(BadArgumentsError("--concurrency must be 0 (one per core) or more."))
        services_context()  # the database, its key and the blob store are checked before any card
        from services.worker import run_worker

        run_worker(config, concurrency or config.worker_concurrency)


def register(app: typer.Typer) -> None:
    app.command("worker", help=worker.__doc__)(worker)
