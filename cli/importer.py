"""``cards import DIR``: a folder of card images into the database, resumable and idempotent.

The work is :func:`services.importer.import_folder`; this module only reads the options,
shows progress (a Rich bar on a terminal, one log line per file otherwise, so logs and CI
stay readable), writes the JSON report and turns the outcome into an exit status: 0 when no
card failed, 1 when some did (after all were tried), 130 when interrupted, and the error
vocabulary's codes for everything that stops the run before or during it.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from cli.common import fail, reported_errors
from cli.context import services_context
from core.errors import BadArgumentsError, ExitCode
from models.enums import Basis, Use
from services.errors import InvalidAttestationError
from services.extraction import pipeline_options
from services.importer import (
    BATCH_SIZE,
    NO_USES,
    CardResult,
    ImportReport,
    Outcome,
    default_report_path,
    import_folder,
)
from services.importer import (
    Progress as ImportProgress,
)
from services.importer.queued import import_folder_queued
from services.principals import resolve_principal
from services.queue import Publisher
from services.records import parse_uses

log = logging.getLogger("cards.import")
INTERRUPTED = 130


def _describe(result: CardResult, name: str) -> str:
    """One line about one file, naming it ``name`` (its label, or its path with --report-paths)."""
    if result.outcome is Outcome.imported:
        return f"imported {name} (record {result.record_id})"
    if result.outcome is Outcome.skipped:
        extra = f", same as {result.same_as}" if result.same_as and name == result.path else ""
        return f"skipped {name}: {result.code}{extra}"
    message = (result.message or "").replace(result.path, name)
    return f"failed {name}: {result.code}: {message}"


class _Display:
    """A Rich progress bar on a terminal; plain timestamped lines on stderr otherwise."""

    def __init__(self, paths: bool) -> None:
        self.paths = paths
        self.tty = sys.stderr.isatty()
        self.progress: Progress | None = None
        self.task: TaskID | None = None
        self.counts = {o: 0 for o in Outcome}
        self.handler: logging.Handler | None = None

    def __enter__(self) -> _Display:
        if self.tty:
            self.progress = Progress(
                TextColumn("[bold]importing"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.description}"),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=Console(stderr=True),
                transient=False,
            )
            self.progress.start()
        else:
            self.handler = logging.StreamHandler(sys.stderr)
            self.handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
            log.addHandler(self.handler)
            log.setLevel(logging.INFO)
            log.propagate = False
        return self

    def __exit__(self, *_exc: object) -> None:
        if self.progress is not None:
            self.progress.stop()
        if self.handler is not None:
            log.removeHandler(self.handler)

    def __call__(self, event: ImportProgress) -> None:
        if event.result is None:
            if self.progress is not None:
                self.task = self.progress.add_task("", total=event.total)
            else:
                log.info("found %d image files", event.total)
            return
        result = event.result
        self.counts[result.outcome] += 1
        if self.progress is not None and self.task is not None:
            description = " ".join(f"{o.value} {n}" for o, n in self.counts.items())
            self.progress.update(self.task, completed=event.done, description=description)
            if result.outcome is Outcome.failed:  # file names and messages are data, not markup
                reason = escape(_describe(result, self._name(event)).removeprefix("failed "))
                self.progress.console.print(f"[red]failed[/red] {reason}", highlight=False)
        else:
            log.info("[%d/%d] %s", event.done, event.total, _describe(result, self._name(event)))

    def _name(self, event: ImportProgress) -> str:
        assert event.result is not None
        return event.result.path if self.paths else event.label


USES_HELP = "Permitted uses, comma-separated: invites,catalog,partner_sharing; 'none': your own use only."
MANIFEST_HELP = "CSV with columns path,basis,basis_text,uses,notes: per-file overrides."
REPORT_HELP = "Where to write the JSON report (default CARDS_REPORT_DIR/import-*.json)."
QUEUE_HELP = "One job per card on the bulk queue (CARDS_BROKER_URL), read by `cards worker`s; waits for them."
PATHS_HELP = "Name files by their paths in the report and the log (they can name people: off by default)."


def import_cards(
    folder: Annotated[Path, typer.Argument(help="Folder of card images, searched recursively.")],
    uploader: Annotated[str, typer.Option("--uploader", help="Principal id or name of the uploader.")],
    basis: Annotated[Basis, typer.Option("--basis", help="Your authority to upload these cards.")],
    uses: Annotated[str, typer.Option("--uses", help=USES_HELP)],
    basis_text: Annotated[str, typer.Option("--basis-text", help="What the authorisation was.")] = "",
    manifest: Annotated[Path | None, typer.Option("--manifest", help=MANIFEST_HELP)] = None,
    jobs: Annotated[int, typer.Option("--jobs", "-j", help="OCR processes (default: CPU count).")] = 0,
    region: Annotated[str, typer.Option(help="Default country for phone numbers (ISO 3166 alpha-2).")] = "",
    report: Annotated[Path | None, typer.Option("--report", help=REPORT_HELP)] = None,
    json_summary: Annotated[bool, typer.Option("--json", help="Summary as JSON on stdout.")] = False,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Cards per commit.")] = BATCH_SIZE,
    report_paths: Annotated[bool, typer.Option("--report-paths", help=PATHS_HELP)] = False,
    queued: Annotated[bool, typer.Option("--queue", help=QUEUE_HELP)] = False,
) -> None:
    """Import a folder of card images for an uploader. Re-running skips what is already imported."""
    with reported_errors():
        ctx = services_context()
        region = (region or ctx.settings.default_region).upper()
        if len(region) != 2 or not region.isalpha():
            fail(BadArgumentsError(f"--region must be a two-letter country code, not {region!r}."))
        if jobs < 0:
            fail(BadArgumentsError("--jobs must be 0 (one per CPU) or more."))
        if queued and not ctx.settings.broker_url:
            fail(BadArgumentsError("--queue needs CARDS_BROKER_URL (redis://host:6379/0)."))
        use_set: set[Use] = set() if uses.strip().lower() in NO_USES else parse_uses(uses)
        if manifest is not None and not manifest.is_file():
            fail(BadArgumentsError(f"The manifest {manifest} does not exist."))
        if basis is Basis.other and not basis_text.strip():
            fail(InvalidAttestationError("--basis other needs --basis-text: what the authorisation was."))

        report_path = report or default_report_path(ctx.settings.report_dir)
        with ctx.session() as session:
            principal = resolve_principal(session, uploader)
        with _Display(report_paths) as display:
            if queued:
                publisher = Publisher(ctx.settings)
                try:
                    result = import_folder_queued(
                        folder,
                        uploader=principal,
                        basis=basis,
                        basis_text=basis_text or None,
                        uses=use_set,
                        manifest=manifest,
                        jobs=jobs or None,
                        region=region,
                        profile=ctx.settings.profile,
                        engine=ctx.engine,
                        blobs=ctx.blobs,
                        settings=ctx.settings,
                        publisher=publisher,
                        progress=display,
                        batch=report_path.stem,
                    )
                finally:
                    publisher.close()
            else:
                result = import_folder(
                    folder,
                    uploader=principal,
                    basis=basis,
                    basis_text=basis_text or None,
                    uses=use_set,
                    manifest=manifest,
                    jobs=jobs or None,
                    options=pipeline_options(ctx.settings, region=region),
                    engine=ctx.engine,
                    blobs=ctx.blobs,
                    salt=ctx.salt,
                    attestation_version=ctx.settings.attestation_version,
                    progress=display,
                    batch_size=batch_size,
                    batch=report_path.stem,
                )
        written = result.write(report_path, paths=report_paths)
        _print_summary(result, written, json_summary)
    if result.interrupted:
        raise typer.Exit(INTERRUPTED)
    raise typer.Exit(int(ExitCode.card_failed) if result.failed else 0)


def _print_summary(result: ImportReport, report_path: Path, as_json: bool) -> None:
    summary = {**result.summary(), "report": str(report_path)}
    if as_json:
        print(json.dumps(summary))
        return
    state = "interrupted: " if result.interrupted else ""
    print(
        f"{state}imported {result.imported}, skipped {result.skipped}, failed {result.failed} "
        f"of {result.found} files in {summary['elapsed_s']:.1f} s; report: {report_path}"
    )


def register(app: typer.Typer) -> None:
    app.command("import", help=import_cards.__doc__)(import_cards)
