"""``cards extract``: images in, extractions out (JSON lines, JSON, a table or vCards).

The JSON shape and exit codes are a contract other tools depend on: see README.md.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from cli.common import fail
from cli.context import settings
from core.errors import BadArgumentsError, CardError, ExitCode
from ingest.pipeline import extract_many, iter_images
from ingest.schema import Extraction
from services.export.contacts import contact_from_extraction
from services.export.vcard import contact_vcard
from services.extraction import pipeline_options


class Profile(StrEnum):
    accurate = "accurate"
    fast = "fast"
    best = "best"


class OutputFormat(StrEnum):
    jsonl = "jsonl"
    json = "json"
    table = "table"
    vcard = "vcard"


def extract(
    paths: Annotated[list[Path], typer.Argument(help="Image files and folders (searched recursively).")],
    format: Annotated[
        OutputFormat, typer.Option("--format", "-f", help="Output format.")
    ] = OutputFormat.jsonl,
    jobs: Annotated[int, typer.Option("--jobs", "-j", help="Parallel processes (default: CPU count).")] = 0,
    region: Annotated[str, typer.Option(help="Default country for phone numbers (ISO 3166 alpha-2).")] = "",
    profile: Annotated[
        Profile | None,
        typer.Option(
            help="accurate (default: CARDS_PROFILE); fast: one OCR pass at the image's size; "
            "best: both engines on every card."
        ),
    ] = None,
) -> None:
    """Extract contacts from card images. Exits 1 if any card failed, after processing all of them."""
    try:
        config = settings()
    except CardError as exc:
        fail(exc)
    region = (region or config.default_region).upper()
    if len(region) != 2 or not region.isalpha():
        fail(BadArgumentsError(f"--region must be a two-letter country code, not {region!r}."))
    files = list(iter_images(paths))
    if not files:
        fail(BadArgumentsError("No image files found in the given paths."))
    options = pipeline_options(config, region=region, profile=profile.value if profile else None)
    results = extract_many(files, options, jobs=jobs or None)
    failed = render(results, format)
    raise typer.Exit(int(ExitCode.card_failed) if failed else 0)


def render(results: Iterable[Extraction], format: OutputFormat) -> int:
    """Write results as they arrive; returns how many cards failed."""
    failed = 0
    collected: list[Extraction] = []
    console = Console(stderr=True)
    for extraction in results:
        failed += not extraction.ok
        if not extraction.ok:
            err = extraction.error or {}
            # File names and messages are data, not Rich markup: "[draft]" must print, "[/]" must not crash.
            reason = f"{extraction.source}: {err.get('code')}: {err.get('message')}"
            console.print(f"[red]failed[/red] {escape(reason)}", highlight=False, soft_wrap=True)
        if format is OutputFormat.jsonl:
            print(json.dumps(extraction.to_dict(), ensure_ascii=False), flush=True)
        elif format is OutputFormat.vcard:
            if extraction.ok:
                sys.stdout.write(contact_vcard(contact_from_extraction(extraction)))
        else:
            collected.append(extraction)
    if format is OutputFormat.json:
        print(json.dumps([e.to_dict() for e in collected], ensure_ascii=False, indent=2))
    elif format is OutputFormat.table:
        print_table(collected)
    return failed


def print_table(extractions: list[Extraction]) -> None:
    table = Table(title="Extracted cards", show_lines=True)
    for column in ("card", "name", "title", "company", "e-mail", "phones", "website", "address"):
        table.add_column(column, overflow="fold")
    for e in extractions:
        card = Text(Path(e.source).name)  # Text, not str: OCR'd values and file names are not markup
        if not e.ok:
            table.add_row(card, Text(str((e.error or {}).get("code")), style="red"), *[""] * 6)
            continue

        def values(name: str, fields: dict[str, list[Any]] = e.fields) -> Text:
            return Text("\n".join(v.value for v in fields.get(name, [])))

        phones = Text("\n".join(f"{p.value} ({p.type})" for p in e.fields.get("phones", [])))
        table.add_row(
            card,
            values("names"),
            values("job_titles"),
            values("companies"),
            values("emails"),
            phones,
            values("websites"),
            values("addresses"),
        )
    Console(width=None if sys.stdout.isatty() else 200).print(table)
