"""Batch import of a folder of card images: ``cards import DIR``.

Why it is shaped this way:

* **Exactly once.** A card counts as imported only when its ``Source`` row is committed, and
  ``Source`` is unique per (uploader, SHA-256). A re-run, a run after ``kill -9`` or a second
  import running at the same time can therefore never store a card twice; whatever was not
  committed is simply done again.
* **Cheap re-runs.** Every file is hashed and compared with the uploader's sources *before*
  any OCR, so a re-run of a finished folder reads the files once and OCRs nothing.
* **One writer.** OCR runs in worker processes; every database write happens in this
  (main) process, in batches of up to ``batch_size`` cards or ``max_batch_seconds``. Inside
  a batch each card has its own SAVEPOINT, so one card that cannot be stored (a suppressed
  child, a duplicate another process committed first) rolls back alone.
* **Blob before commit.** A card's original is written (fsynced, atomic, content-addressed)
  inside its savepoint, after its rows were accepted and before the batch commits: a
  committed source always has its blob, and a crash leaves at worst an unreferenced blob
  that the re-run stores again under the same key.
* **Failed cards are not stored.** Nothing about a card that could not be read is kept; the
  report names it with its reason on every run, and every run tries it again.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from ingest.pipeline import Options
from ingest.schema import Extraction
from models.blobs import BlobStore
from models.enums import Basis, Use
from models.tables import Principal
from services.importer.files import hash_and_filter
from services.importer.manifest import NO_USES
from services.importer.ocr import ocr_results
from services.importer.report import (
    CardResult,
    ImportReport,
    Outcome,
    Progress,
    ProgressCallback,
    default_report_path,
    file_label,
)
from services.importer.run import Tally, attestation_for, checked_inputs
from services.importer.writer import Ready, Writer

__all__ = [
    "BATCH_SIZE",
    "NO_USES",
    "CardResult",
    "ImportReport",
    "Outcome",
    "Progress",
    "default_report_path",
    "import_folder",
]

BATCH_SIZE = 16
MAX_BATCH_SECONDS = 2.0


def import_folder(
    root: Path,
    *,
    uploader: Principal,
    basis: Basis,
    uses: set[Use] | frozenset[Use],
    engine: Engine,
    blobs: BlobStore,
    salt: bytes,
    manifest: Path | None = None,
    basis_text: str | None = None,
    jobs: int | None = None,
    options: Options | None = None,
    attestation_version: str,
    progress: ProgressCallback | None = None,
    batch_size: int = BATCH_SIZE,
    max_batch_seconds: float = MAX_BATCH_SECONDS,
    batch: str | None = None,
) -> ImportReport:
    """Import every image under ``root`` for ``uploader``; see the module docstring for the guarantees.

    Raises before touching anything for bad arguments (missing folder, invalid manifest or
    attestation, a principal that may not upload); afterwards only a database that stays
    unavailable (StorageError) stops the run. Ctrl-C stops it too: the report then has
    ``interrupted`` set and lists what was committed. Each stored source names its import
    ``batch`` (default: the time of the run) and its file label, never the file's path.
    """
    clock = time.perf_counter()
    uploader_id, default_attestation, rows = checked_inputs(
        root, uploader, basis, basis_text, attestation_version, manifest
    )
    report = ImportReport(root=str(root.resolve()), uploader_id=uploader_id)
    tally = Tally(report, progress)
    finish, place = tally.finish, tally.place
    batch = batch or f"import-{report.started_at.strftime('%Y%m%dT%H%M%SZ')}"

    try:
        candidates = tally.walk(root, rows)
        report.timings_s["walk"] = time.perf_counter() - clock

        todo = hash_and_filter(candidates, engine, uploader_id, jobs, report, finish)

        writer = Writer(engine, blobs, uploader, salt, finish)
        by_index: list[Ready | None] = []
        for candidate in todo:
            row = rows.get(candidate.rel)
            client: dict[str, Any] = {
                "import_batch": batch,
                "file": file_label(place[candidate.rel], candidate.sha256),
            }
            notes = row.notes if row and row.notes else None
            if notes:
                client["notes"] = notes
            by_index.append(
                Ready(
                    candidate=candidate,
                    extraction=Extraction(source=candidate.rel),
                    attestation=attestation_for(row, default_attestation),
                    uses=row.uses if row and row.uses is not None else frozenset(uses),
                    client=client,
                )
            )
        report.ocr_cards = len(todo)
        ocr_clock = time.perf_counter()
        pending: list[Ready] = []
        first_pending_at = 0.0
        workers = max(1, jobs or os.cpu_count() or 1)
        tick = min(0.5, max_batch_seconds)
        for item in ocr_results([c.path for c in todo], options or Options(), workers, tick):
            if item is not None:
                index, extraction = item
                ready = by_index[index]
                assert ready is not None
                by_index[index] = None  # keep memory flat on big folders
                if not extraction.ok:
                    err = extraction.error or {}
                    finish(
                        CardResult(
                            ready.candidate.rel,
                            Outcome.failed,
                            code=err.get("code"),
                            message=err.get("message"),
                            sha256=extraction.sha256 or ready.candidate.sha256,
                        )
                    )
                else:
                    ready.extraction = extraction
                    if not pending:
                        first_pending_at = time.monotonic()
                    pending.append(ready)
            if pending and (
                len(pending) >= batch_size or time.monotonic() - first_pending_at >= max_batch_seconds
            ):
                writer.write(pending)
                pending = []
        writer.write(pending)
        report.timings_s["ocr_and_write"] = time.perf_counter() - ocr_clock
        report.timings_s["write"] = writer.seconds
    except KeyboardInterrupt:
        report.interrupted = True  # cards not yet committed are simply done again by the next run
    report.finished_at = datetime.now(UTC)
    report.timings_s["total"] = time.perf_counter() - clock
    return report

