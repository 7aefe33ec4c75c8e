"""The ``cards`` command line: thin layers over ``ingest`` and ``models``.

Each sub-command lives in its own module and registers itself on :data:`app`.
``cards extract`` registers only itself: the storage and HTTP stack it never uses
(SQLAlchemy, FastAPI) would add ~0.4 s to every run, a tenth of a small batch.
"""

from __future__ import annotations

import importlib
import sys

import typer

app = typer.Typer(
    help="Business-card contact ingestion with third-party-data controls.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

SUBCOMMAND_MODULES = (
    "db",
    "importer",
    "export",
    "subjects",
    "privacy",
    "principals",
    "serve",
    "demo",
    "worker",
)
_registered: set[str] = set()


@app.callback()
def root() -> None:
    """Business cards in, structured contacts out, used only as each record permits."""


def register(*, extract_only: bool = False) -> typer.Typer:
    """Add the sub-commands to :data:`app` (idempotent) and return it."""
    if "extract" not in _registered:
        from cli import extract

        app.command(help=extract.extract.__doc__)(extract.extract)
        _registered.add("extract")
    if not extract_only:
        for name in SUBCOMMAND_MODULES:
            if name not in _registered:
                importlib.import_module(f"cli.{name}").register(app)
                _registered.add(name)
    return app


def main() -> None:
    """The ``cards`` console script."""
    arguments = sys.argv[1:]
    register(extract_only=bool(arguments) and arguments[0] == "extract")
    app()
