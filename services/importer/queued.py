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

from core.errors import BadArgumentsError
from core.settings import Settings
from models.blobs import BlobStore
from models.enums import Basis, Use
from models.tables import Principal, UploadJob, utcnow
from services import queue
from services.errors import NotFoundError
from services.importer import _attestation_for
from services.importer.files import hash_and_filter, walk_images
from services.importer.manifest import read_manifest
from services.importer.report import CardResult, ImportReport, Outcome, Progress, ProgressCallback, file_label
from services.principals import check_can_upload
from services.records import AttestationInput

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
    if uploader.id is None:
        raise NotFoundError("The uploader has no id: store the principal first.")
    uploader_id = uploader.id
    check_can_upload(uploader)
    if not root.is_dir():
        raise BadArgumentsError(f"{root} is not a folder.", hint="Give the folder of card images to import.")
    default_attestation = AttestationInput(
        basis=basis,
        text_version=settings.attestation_version,
        basis_text=basis_text,
        details={"via": "cards import"},
    )
    default_attestation.validate()
    rows = read_manifest(manifest) if manifest is not None else {}
    for manifest_row in rows.values():
        _attestation_for(manifest_row, default_attestation).validate()

    report = ImportReport(root=str(root.resolve()), uploader_id=uploader_id)
    batch = batch or f"import-{report.started_at.strftime('%Y%m%dT%H%M%SZ')}"
    place: dict[str, int] = {}
    done = 0

    def finish(result: CardResult) -> None:
        nonlocal done
        report.results.append(result)
        done += 1
        if progress is not None:
            label = file_label(place.get(result.path, 0), result.sha256)
            progress(Progress(total=report.found, done=done, result=result, label=label))

    try:
        candidates, left_out = walk_images(root)
        report.found = len(candidates) + len(left_out)
        every_file = sorted([c.rel for c in candidates] + [r.path for r in left_out])
        place.update({rel: n for n, rel in enumerate(every_file, start=1)})
        known = {c.rel for c in candidates}
        report.manifest_unmatched = [
            {"line": r.line, "path": r.path} for r in rows.values() if r.path not in known
        ]
        if progress is not None:
            progress(Progress(total=report.found, done=0, result=None))
        for result in left_out:
            finish(result)
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
                    attestation = _attestation_for(row, default_attestation)
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
