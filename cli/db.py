"""``cards db upgrade|current|sweep-blobs``: migrate the database named by ``DATABASE_URL``, sweep orphans.

Thin: the work is in :mod:`services.database` and :mod:`services.orphans`. Output is one JSON
object on stdout.
"""

from __future__ import annotations

from typing import Annotated

import typer

from cli.common import print_json, reported_errors
from cli.context import services_context, settings
from services import database

db_app = typer.Typer(help="Database schema: migrate and show the revision.", no_args_is_help=True)


@db_app.command()
def upgrade(
    revision: Annotated[str, typer.Option(help="Target revision.")] = "head",
) -> None:
    """Apply the migrations up to REVISION (default: the newest); a no-op when already there."""
    with reported_errors():
        print_json(database.upgrade(settings().database_url, revision=revision))


@db_app.command()
def current() -> None:
    """Show the database's revision and the newest one this version ships."""
    with reported_errors():
        state = database.schema_state(settings().database_url)
        print_json({"current": state.current, "head": state.head, "up_to_date": state.up_to_date})


GRACE_HELP = "Leave blobs younger than this many seconds (default CARDS_ORPHAN_GRACE_SECONDS)."


@db_app.command("sweep-blobs")
def sweep_blobs(
    grace_seconds: Annotated[float | None, typer.Option("--grace-seconds", min=0, help=GRACE_HELP)] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Count the orphans, delete nothing.")] = False,
) -> None:
    """Delete card images no record or pending job refers to (left by a crash before a commit)."""
    from datetime import timedelta

    from services.orphans import sweep_orphan_blobs

    with reported_errors():
        ctx = services_context()
        grace = ctx.settings.orphan_grace_seconds if grace_seconds is None else grace_seconds
        swept = sweep_orphan_blobs(ctx.engine, ctx.blobs, grace=timedelta(seconds=grace), apply=not dry_run)
        print_json(swept.summary())


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")
