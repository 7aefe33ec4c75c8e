"""``cards db upgrade|current``: migrate the database named by ``DATABASE_URL``.

Thin: the work is in :mod:`services.database`. Output is one JSON object on stdout.
"""

from __future__ import annotations

from typing import Annotated

import typer

from cli.common import print_json, reported_errors
from cli.context import settings
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


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")
