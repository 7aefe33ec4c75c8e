"""What an import did: one result per file found, and the JSON report written at the end.

File names can name people ("jane-doe.jpg"), so the report and the progress lines name a
file by :func:`file_label` — its place in the folder and the start of its SHA-256, enough
to find it again (``sha256sum``) — unless the operator asks for paths (``--report-paths``).
The report is readable by its owner only and removed by the retention sweep.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any


class Outcome(StrEnum):
    imported = "imported"
    skipped = "skipped"
    failed = "failed"


@dataclass
class CardResult:
    """What happened to one file. ``code`` is the error code (failed) or the reason (skipped)."""

    path: str  # relative to the imported folder, with "/" separators
    outcome: Outcome
    code: str | None = None
    message: str | None = None
    sha256: str | None = None
    record_id: int | None = None
    same_as: str | None = None  # skipped as a duplicate: the file that was taken instead

    def to_dict(self, label: Callable[[str], str] | None = None) -> dict[str, Any]:
        """The result as JSON; with ``label`` the file (and ``same_as``) are named by their labels."""
        data = {k: v for k, v in self.__dict__.items() if v is not None}
        data["outcome"] = self.outcome.value
        if label is not None:
            data["file"] = label(data.pop("path"))
            if self.same_as:
                data["same_as"] = label(self.same_as)
        return data


def file_label(index: int, sha256: str | None) -> str:
    """How a report names a file without its name: ``#12 sha256:3fa2c1d9e0b4``."""
    return f"#{index}" + (f" sha256:{sha256[:12]}" if sha256 else "")


@dataclass(frozen=True)
class Progress:
    """Sent to the progress callback: once after the walk (``result`` None), then once per file."""

    total: int
    done: int
    result: CardResult | None
    label: str = ""  # how to name the file without its path (see file_label)


ProgressCallback = Callable[[Progress], None]


@dataclass
class ImportReport:
    """Everything a run did; ``to_dict()`` is the JSON report. Every file found has exactly one result."""

    root: str
    uploader_id: int
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    finished_at: datetime | None = None
    found: int = 0
    results: list[CardResult] = field(default_factory=list)
    manifest_unmatched: list[dict[str, Any]] = field(default_factory=list)
    timings_s: dict[str, float] = field(default_factory=dict)
    ocr_cards: int = 0  # files sent to OCR (a re-run of a finished folder sends none)
    interrupted: bool = False

    def count(self, outcome: Outcome) -> int:
        return sum(r.outcome is outcome for r in self.results)

    @property
    def imported(self) -> int:
        return self.count(Outcome.imported)

    @property
    def skipped(self) -> int:
        return self.count(Outcome.skipped)

    @property
    def failed(self) -> int:
        return self.count(Outcome.failed)

    @property
    def failures(self) -> list[CardResult]:
        return [r for r in self.results if r.outcome is Outcome.failed]

    def summary(self) -> dict[str, Any]:
        elapsed = self.timings_s.get("total", 0.0)
        return {
            "found": self.found,
            "imported": self.imported,
            "skipped": self.skipped,
            "failed": self.failed,
            "interrupted": self.interrupted,
            "elapsed_s": round(elapsed, 3),
            "imported_per_s": round(self.imported / elapsed, 3) if elapsed > 0 else None,
        }

    def labels(self) -> dict[str, str]:
        """Each file's label: its place in the folder (sorted paths) and the start of its SHA-256."""
        ordered = sorted({r.path for r in self.results})
        shas = {r.path: r.sha256 for r in self.results}
        return {path: file_label(n, shas.get(path)) for n, path in enumerate(ordered, start=1)}

    def to_dict(self, *, paths: bool = False) -> dict[str, Any]:
        """The JSON report; files are named by their labels unless ``paths`` (see the module doc)."""
        ordered = sorted(self.results, key=lambda r: r.path)
        labels = self.labels()
        label = None if paths else labels.__getitem__
        name = "path" if paths else "file"
        return {
            "root": self.root,
            "uploader_id": self.uploader_id,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "summary": self.summary(),
            "ocr_cards": self.ocr_cards,
            "timings_s": {k: round(v, 3) for k, v in self.timings_s.items()},
            "failures": [
                {
                    name: r.path if paths else labels[r.path],
                    "code": r.code,
                    "message": r.message
                    if paths or not r.message
                    else r.message.replace(r.path, labels[r.path]),
                    "sha256": r.sha256,
                }
                for r in ordered
                if r.outcome is Outcome.failed
            ],
            "skipped": [r.to_dict(label) for r in ordered if r.outcome is Outcome.skipped],
            "imported": [r.to_dict(label) for r in ordered if r.outcome is Outcome.imported],
            "manifest_unmatched": self.manifest_unmatched
            if paths
            else [{"line": row["line"]} for row in self.manifest_unmatched],
        }

    def write(self, path: Path, *, paths: bool = False) -> Path:
        """Write the JSON report atomically, readable by its owner only (file names can name people)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(self.to_dict(paths=paths), fh, ensure_ascii=False, indent=2)
            fh.write("\n")
        os.replace(tmp, path)
        return path


def default_report_path(folder: Path, now: datetime | None = None) -> Path:
    """``<folder>/import-<UTC time>-<pid>.json``; its stem is the import's batch name."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    return folder / f"import-{stamp}-{os.getpid()}.json"
