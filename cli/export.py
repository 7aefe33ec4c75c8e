"""``cards export``: an uploader's own contacts as vCard 4.0, CSV (Google / Outlook) or JSON lines.

Writes to stdout or, with ``--output``, to a file created readable by its owner only and
renamed into place when complete, so a failed export never leaves half a file behind.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, TextIO

import typer

from cli.common import reported_errors
from cli.context import services_context
from core.errors import BadArgumentsError
from services.export import ExportFormat
from services.export.stored import export_contacts
from services.principals import resolve_principal


def export(
    uploader: Annotated[str, typer.Option("--uploader", help="Principal id or name of the uploader.")],
    format: Annotated[ExportFormat, typer.Option("--format", "-f", help="Output format.")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file (mode 0600) instead of stdout.")
    ] = None,
) -> None:
    """Export an uploader's own contacts (vCard 4.0, Google/Outlook CSV or JSON lines)."""
    with reported_errors():
        if output is not None and output.is_dir():
            raise BadArgumentsError(f"--output {output} is a folder; give a file name.")
        with services_context().session() as session:  # commits the audit event
            principal = resolve_principal(session, uploader)
            if output is None:
                count = export_contacts(session, principal, format, sys.stdout)
                sys.stdout.flush()
            else:
                count = _export_to_file(lambda out: export_contacts(session, principal, format, out), output)
        print(f"exported {count} contacts", file=sys.stderr)


def _export_to_file(write: Callable[[TextIO], int], output: Path) -> int:
    """Write through a private temporary file renamed into place when complete."""
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(f".{output.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            count = write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, output)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return count


def register(app: typer.Typer) -> None:
    app.command("export", help=export.__doc__)(export)
