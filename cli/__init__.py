"""The ``cards`` command line: thin layers over ``ingest`` and ``models``.

Each sub-command lives in its own module and registers itself on :data:`app`.
"""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Business-card contact ingestion with third-party-data controls.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def main() -> None:
    """Business cards in, structured contacts out, used only as each record permits."""


def _register() -> None:
    from cli import extract

    app.command(help=extract.extract.__doc__)(extract.extract)
    # Later sub-command modules (db, import, export, subjects, principals, serve, demo) register here.
    import importlib

    for name in ("db", "importer", "export", "subjects", "principals", "serve", "demo"):
        try:
            module = importlib.import_module(f"cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"cli.{name}":
                raise
            continue
        module.register(app)


_register()
