"""``cards import --queue``: the folder's cards as jobs on the ``bulk`` queue, read by ``cards worker``s.

The same guarantees as the in-process import, kept by the job table: each card's image goes to
the blob store (the database's blob table, or a folder every worker mounts) and its job row
(provenance, no file path) is committed *before* its message is published, so whatever the
broker loses is published again from the rows (:func:`services.queue.republish_stalled`), and a
card delivered twice is stored once (unique (uploader, SHA-256)). This process then waits on
the rows — never on Celery — and writes the same report as the in-process import.
"""

from __future__ import annotations

import contextlib
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from core.settings import Settings
from models.blobs import BlobStore
from models.enums import Basis, Use
from models.tables import Principal, UploadJob, utcnow
from services import queue
from services.importer.files import hash_and_filter
from services.importer.report import CardResult, ImportReport, Outcome, ProgressCallback, file_label
from services.importer.run import Tally, attestation_for, checked_inputs

CHUNK = 100  # job rows per commit, then their messages
POLL_S = 0.5
SWEEP_EVERY_S = 5.0
FINISHED_MARGIN_S = 120.0  # finished jobs are looked for this far back (clocks of other machines)
DIRECT_CHECK_BELOW = 2000  # fewer jobs left: each sweep also asks for them by id


def import_folder_queued(
    root: Path,
    *,
    uploader: Principal,
    basis: Basis,
    uses: set[Use] | frozenset[Use],
    engine: Engine,
    blobs: BlobStore,
    settings: Settings,
    publisher: queue.Publisher,
    manifest: Path | None = None,
    basis_text: str | None = None,
    jobs: int | None = None,
    region: str | None = None,
    profile: str | None = None,
    progress: ProgressCallback | None = None,
    batch: str | None = None,
) -> ImportReport:
    """Queue every image under ``root`` for ``uploader`` and wait until the workers have read them all."""
    clock = time.perf_counter()
    uploader_id, default_attestation, rows = checked_inputs(
        root, uploader, basis, basis_text, settings.attestation_version, manifest
    )
    report = ImportReport(root=str(root.resolve()), uploader_id=uploader_id)
    batch = batch or f"import-{report.started_at.strftime('%Y%m%dT%H%M%SZ')}"
    tally = Tally(report, progress)
    finish, place = tally.finish, tally.place

    try:
        candidates = tally.walk(root, rows)
        todo = hash_and_filter(candidates, engine, uploader_id, jobs, report, finish)
        report.ocr_cards = len(todo)

        queue_clock = time.perf_counter()
        pending: dict[int, tuple[str, str]] = {}  # job id -> (file, sha256)
        for start in range(0, len(todo), CHUNK):
            made: list[int] = []
            with Session(engine, expire_on_commit=False) as session:
                for candidate in todo[start : start + CHUNK]:
                    assert candidate.sha256 is not None
                    try:
                        data = candidate.path.read_bytes()
                    except OSError as exc:
                        finish(CardResult(candidate.rel, Outcome.failed, "unreadable_file", str(exc)))
                        continue
                    key = blobs.put(data)
                    if key != candidate.sha256:
                        message = "The file changed while it was being imported. Run again."
                        finish(CardResult(candidate.rel, Outcome.failed, "unreadable_file", message, key))
                        continue
                    row = rows.get(candidate.rel)
                    label = file_label(place[candidate.rel], candidate.sha256)
                    client: dict[str, Any] = {"import_batch": batch, "file": label}
                    if row and row.notes:
                        client["notes"] = row.notes
                    attestation = attestation_for(row, default_attestation)
                    card_uses = row.uses if row and row.uses is not None else uses
                    job = UploadJob(
                        principal_id=uploader_id,
                        blob_key=key,
                        batch=batch,
                        metadata_=queue.job_payload(
                            sha256=key,
                            byte_size=len(data),
                            filename=label,
                            region=region,
                            profile=profile,
                            client=client,
                            uses=sorted(u.value for u in card_uses),
                            attestation={
                                "basis": attestation.basis.value,
                                "basis_text": attestation.basis_text,
                                "text_version": attestation.text_version,
                                "details": attestation.details,
                            },
                        ),
                    )
                    session.add(job)
                    session.flush()
                    assert job.id is not None
                    made.append(job.id)
                    pending[job.id] = (candidate.rel, key)
                session.commit()
            publisher.publish(made, queue.BULK)
        report.timings_s["queue"] = time.perf_counter() - queue_clock
        _wait(engine, publisher, settings, batch, pending, finish)
        report.timings_s["ocr_and_write"] = time.perf_counter() - queue_clock
    except KeyboardInterrupt:
        report.interrupted = True  # the queued cards go on in the workers; a re-run skips what they stored
    report.finished_at = datetime.now(UTC)
    report.timings_s["total"] = time.perf_counter() - clock
    return report


def _wait(
    engine: Engine,
    publisher: queue.Publisher,
    settings: Settings,
    batch: str,
    pending: dict[int, tuple[str, str]],
    finish: Any,
) -> None:
    """Report each job as it finishes; republish what a broker restart lost."""
    swept = time.monotonic()
    while pending:
        since = utcnow() - timedelta(seconds=FINISHED_MARGIN_S)
        try:
            with Session(engine) as session:
                finished = session.exec(
                    select(UploadJob.id, UploadJob.status, UploadJob.record_id, UploadJob.error).where(
                        UploadJob.batch == batch,
                        col(UploadJob.status).in_(["done", "failed"]),
                        col(UploadJob.updated_at) >= since,
                    )
                ).all()
        except Exception:  # the database is away for a moment: look again
            finished = []
        for job_id, status, record_id, error in finished:
            if job_id is None or job_id not in pending:
                continue
            rel, sha = pending.pop(job_id)
            finish(_result(rel, sha, status, record_id, error))
        if not pending:
            return
        if time.monotonic() - swept > SWEEP_EVERY_S:
            swept = time.monotonic()
            if len(pending) <= DIRECT_CHECK_BELOW:  # also what finished while this process looked away
                _check_directly(engine, pending, finish)
            with contextlib.suppress(Exception):  # the broker is still away: the next sweep
                queue.republish_stalled(engine, publisher, settings, batch=batch)
        time.sleep(POLL_S)


def _result(rel: str, sha: str, status: str, record_id: int | None, error: Any) -> CardResult:
    if status == "done":
        return CardResult(rel, Outcome.imported, sha256=sha, record_id=record_id)
    err = error or {}
    return CardResult(rel, Outcome.failed, code=err.get("code"), message=err.get("message"), sha256=sha)


def _check_directly(engine: Engine, pending: dict[int, tuple[str, str]], finish: Any) -> None:
    ids = list(pending)
    try:
        with Session(engine) as session:
            for start in range(0, len(ids), 500):
                for job in session.exec(
                    select(UploadJob).where(
                        col(UploadJob.id).in_(ids[start : start + 500]),
                        col(UploadJob.status).in_(["done", "failed"]),
                    )
                ).all():
                    if job.id is not None and job.id in pending:
                        rel, sha = pending.pop(job.id)
                        finish(_result(rel, sha, job.status, job.record_id, job.error))
    except Exception:  # the database is away for a moment: the next sweep
        return
