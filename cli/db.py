"""``cards db upgrade|current``: migrate the database named by ``DATABASE_URL``.

Thin: the work is in :mod:`models.migrate`. Output is one JSON object on stdout.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from sqlalchemy.exc import SQLAlchemyError

from cli.common import print_json, reported_errors
from ingest.errors import StorageError

db_app = typer.Typer(help="Database schema: migrate and show the revision.", no_args_is_help=True)


@contextmanager
def database_errors() -> Iterator[None]:
    """A database failure (down, not migrated) as ``storage_error`` rather than as a bug."""
    try:
        yield
    except SQLAlchemyError as exc:
        first_line = str(exc).splitlines()[0] if str(exc) else ""
        raise StorageError(f"The database failed: {type(exc).__name__}: {first_line}.") from exc


@db_app.command()
def upgrade(
    revision: Annotated[str, typer.Option(help="Target revision.")] = "head",
) -> None:
    """Apply the migrations up to REVISION (default: the newest); a no-op when already there."""
    from models import migrate

    with reported_errors():
        print_json(migrate.upgrade(revision=revision))


@db_app.command()
def current() -> None:
    """Show the database's revision and the newest one this version ships."""
    from models import migrate

    with reported_errors():
        revision = migrate.current()
        head = migrate.head()
        print_json({"current": revision, "head": head, "up_to_date": revision == head})


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")
