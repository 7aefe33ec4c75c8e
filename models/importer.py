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

import csv
import ctypes
import ctypes.util
import hashlib
import json
import logging
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, ThreadPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path, PurePosixPath
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlmodel import Session, col, select

from ingest.errors import (
    BadArgumentsError,
    CardError,
    ForbiddenError,
    InvalidAttestationError,
    NotFoundError,
    OcrEngineError,
    StorageError,
    UnreadableFileError,
    error_from_exception,
)
from ingest.ocr import limit_threads
from ingest.pipeline import IMAGE_SUFFIXES, Options, extract_file
from ingest.schema import Extraction
from models.blobs import BlobStore
from models.records import AttestationInput, find_source, parse_uses, store_extraction
from models.tables import Basis, Channel, Principal, Role, Source, Use

log = logging.getLogger("cards.import")

BATCH_SIZE = 16
MAX_BATCH_SECONDS = 2.0
HASH_CHUNK = 1 << 20
LOOKUP_CHUNK = 500  # sha256 values per "already imported?" query
RETRY_DELAYS_S = (0.2, 0.5, 1.0, 2.0)  # a card that lost a race with another writer is tried again
NO_USES = frozenset({"", "none", "-"})


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

    def to_dict(self) -> dict[str, Any]:
        data = {k: v for k, v in self.__dict__.items() if v is not None}
        data["outcome"] = self.outcome.value
        return data


@dataclass(frozen=True)
class Progress:
    """Sent to the progress callback: once after the walk (``result`` None), then once per file."""

    total: int
    done: int
    result: CardResult | None


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

    def to_dict(self) -> dict[str, Any]:
        ordered = sorted(self.results, key=lambda r: r.path)
        return {
            "root": self.root,
            "uploader_id": self.uploader_id,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "summary": self.summary(),
            "ocr_cards": self.ocr_cards,
            "timings_s": {k: round(v, 3) for k, v in self.timings_s.items()},
            "failures": [
                {"path": r.path, "code": r.code, "message": r.message, "sha256": r.sha256}
                for r in ordered
                if r.outcome is Outcome.failed
            ],
            "skipped": [r.to_dict() for r in ordered if r.outcome is Outcome.skipped],
            "imported": [r.to_dict() for r in ordered if r.outcome is Outcome.imported],
            "manifest_unmatched": self.manifest_unmatched,
        }

    def write(self, path: Path) -> Path:
        """Write the JSON report atomically, readable by its owner only (file names can name people)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(self.to_dict(), fh, ensure_ascii=False, indent=2)
            fh.write("\n")
        os.replace(tmp, path)
        return path


# --- who imports -----------------------------------------------------------------------------


def resolve_principal(session: Session, ref: str) -> Principal:
    """A principal by id (digits) or by name; NotFound names the command that creates one."""
    ref = ref.strip()
    principal = session.get(Principal, int(ref)) if ref.isdigit() else None
    if principal is None:
        principal = session.exec(select(Principal).where(Principal.name == ref)).first()
    if principal is None:
        raise NotFoundError(
            f"No principal {ref!r}.", hint="Create it first: `cards principals create NAME --role uploader`."
        )
    return principal


def check_can_upload(principal: Principal) -> None:
    if principal.revoked_at is not None:
        raise ForbiddenError(f"Principal {principal.name!r} is revoked.")
    if principal.role != Role.uploader:
        role = Role(principal.role).value
        raise ForbiddenError(f"Principal {principal.name!r} is a {role}, not an uploader.")


# --- the manifest ------------------------------------------------------------------------------

MANIFEST_COLUMNS = ("path", "basis", "basis_text", "uses", "notes")


@dataclass(frozen=True)
class ManifestRow:
    """Per-file overrides; None means "use the command-line value"."""

    line: int
    path: str
    basis: Basis | None = None
    basis_text: str | None = None
    uses: frozenset[Use] | None = None
    notes: str | None = None


def _manifest_key(raw: str) -> str:
    """Normalise a manifest path the way walked files are named: relative, "/" separators, no "./"."""
    text = raw.strip().replace("\\", "/")
    path = PurePosixPath(text)
    if not text or path.is_absolute() or ".." in path.parts:
        raise BadArgumentsError(f"Manifest path {raw!r} must be relative to the imported folder.")
    return path.as_posix()


def read_manifest(path: Path) -> dict[str, ManifestRow]:
    """Read and validate the whole manifest before anything is imported: a typo must not import cards
    under the wrong basis or uses."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise BadArgumentsError(f"Cannot read the manifest {path}: {exc}.") from exc
    reader = csv.DictReader(text.splitlines())
    columns = [(c or "").strip().lower() for c in reader.fieldnames or []]
    unknown = sorted(set(columns) - set(MANIFEST_COLUMNS))
    if "path" not in columns or unknown:
        raise BadArgumentsError(
            f"Manifest {path}: columns must be {', '.join(MANIFEST_COLUMNS)} (path required)"
            + (f"; unknown: {', '.join(unknown)}." if unknown else ".")
        )
    rows: dict[str, ManifestRow] = {}
    for number, raw in enumerate(reader, start=2):
        cells = {(k or "").strip().lower(): (v or "").strip() for k, v in raw.items() if k is not None}
        if not any(cells.values()):
            continue
        where = f"manifest line {number}"
        key = _manifest_key(cells.get("path", ""))
        if key in rows:
            raise BadArgumentsError(f"{where}: {key!r} is already on line {rows[key].line}.")
        basis: Basis | None = None
        if cells.get("basis"):
            try:
                basis = Basis(cells["basis"])
            except ValueError as exc:
                raise InvalidAttestationError(f"{where}: unknown basis {cells['basis']!r}.") from exc
        uses: frozenset[Use] | None = None
        if "uses" in cells and cells["uses"] != "":
            text_uses = "" if cells["uses"].lower() in NO_USES else cells["uses"]
            try:
                uses = frozenset(parse_uses(text_uses))
            except CardError as exc:
                raise InvalidAttestationError(f"{where}: {exc.message}") from exc
        rows[key] = ManifestRow(
            line=number,
            path=key,
            basis=basis,
            basis_text=cells.get("basis_text") or None,
            uses=uses,
            notes=cells.get("notes") or None,
        )
    return rows


# --- finding the files -----------------------------------------------------------------------


@dataclass
class Candidate:
    """One image file to import, from the walk to the database."""

    path: Path  # where to read it (a symlink inside the folder is read through)
    rel: str
    sha256: str | None = None


def walk_images(root: Path) -> tuple[list[Candidate], list[CardResult]]:
    """Images under ``root`` in sorted order, and the image files deliberately left out.

    Symbolic links are never followed out of ``root``: a linked folder is not entered at all
    and a linked file is taken only when its target lies inside ``root``. Hidden folders
    (``.git``, ``.thumbnails``) are not searched and hidden files (macOS ``._card.jpg``
    resource forks) are listed as skipped, so they never fail the batch.
    """
    root = root.resolve(strict=True)
    found: list[Candidate] = []
    left_out: list[CardResult] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        here = Path(dirpath)
        for name in sorted(filenames):
            if Path(name).suffix.lower() not in IMAGE_SUFFIXES:
                continue
            path = here / name
            rel = path.relative_to(root).as_posix()
            if name.startswith("."):
                left_out.append(CardResult(rel, Outcome.skipped, code="hidden_file"))
            elif path.is_symlink() and not path.resolve().is_relative_to(root):
                left_out.append(CardResult(rel, Outcome.skipped, code="symlink_outside_folder"))
            else:
                found.append(Candidate(path=path, rel=rel))
    found.sort(key=lambda c: c.rel)
    return found, left_out


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def imported_hashes(engine: Engine, uploader_id: int, hashes: list[str]) -> set[str]:
    """Which of ``hashes`` this uploader already has: one query per LOOKUP_CHUNK hashes."""
    have: set[str] = set()
    with Session(engine) as session:
        for start in range(0, len(hashes), LOOKUP_CHUNK):
            chunk = hashes[start : start + LOOKUP_CHUNK]
            query = select(Source.sha256).where(
                Source.uploader_id == uploader_id, col(Source.sha256).in_(chunk)
            )
            have.update(session.exec(query).all())
    return have


# --- OCR in worker processes -------------------------------------------------------------------


def _die_with_parent(parent_pid: int) -> None:
    """Linux: a worker gets SIGKILL when the importer dies, so ``kill -9`` leaves no orphan OCR."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
            libc.prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent_pid:  # the parent died before the line above took effect
        os._exit(1)


def _init_worker(parent_pid: int) -> None:
    limit_threads()
    _die_with_parent(parent_pid)


def ocr_results(
    paths: list[Path], options: Options, jobs: int, tick_s: float
) -> Iterator[tuple[int, Extraction] | None]:
    """Yield ``(index, extraction)`` as cards finish (any order), or None every ``tick_s`` idle seconds.

    Not ``ingest.pipeline.extract_many``: the writer must be woken while OCR is busy (to
    commit a batch on time), results are taken as they finish rather than in input order,
    at most ``2 * jobs`` cards are in flight, and workers must die with this process. A
    worker that crashes (a decoder bug) fails only the cards it had in flight; the pool is
    started again for the rest.
    """
    if jobs <= 1:
        for index, path in enumerate(paths):
            yield index, extract_file(path, options)
        return
    next_index = 0
    while next_index < len(paths):
        pool = ProcessPoolExecutor(max_workers=jobs, initializer=_init_worker, initargs=(os.getpid(),))
        in_flight: dict[Future[Extraction], int] = {}
        try:
            broken = False
            while not broken and (in_flight or next_index < len(paths)):
                while next_index < len(paths) and len(in_flight) < 2 * jobs:
                    try:
                        future = pool.submit(extract_file, paths[next_index], options)
                    except BrokenProcessPool:  # a worker died since the last look
                        broken = True
                        break
                    in_flight[future] = next_index
                    next_index += 1
                if broken:
                    break
                done, _ = wait(in_flight, timeout=tick_s, return_when=FIRST_COMPLETED)
                if not done:
                    yield None
                    continue
                for future in sorted(done, key=lambda f: in_flight[f]):
                    index = in_flight.pop(future)
                    try:
                        extraction = future.result()
                    except BrokenProcessPool:
                        broken = True
                        extraction = _worker_died(paths[index])
                    except Exception as exc:  # e.g. a result that cannot be pickled: this card only
                        error = error_from_exception(exc).to_dict()
                        extraction = Extraction(source=str(paths[index]), error=error)
                    yield index, extraction
            if broken:
                for index in sorted(in_flight.values()):
                    yield index, _worker_died(paths[index])
                in_flight.clear()
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


def _worker_died(path: Path) -> Extraction:
    error = OcrEngineError("The OCR worker process died while this card was in it.")
    return Extraction(source=str(path), error=error.to_dict())


# --- the writer --------------------------------------------------------------------------------


@dataclass
class _Ready:
    """A card read successfully, waiting for the next batch write."""

    candidate: Candidate
    extraction: Extraction
    attestation: AttestationInput
    uses: frozenset[Use]
    client: dict[str, Any]


class _Writer:
    """The only code that writes: batches of cards, one savepoint per card, blobs before commit."""

    def __init__(
        self,
        engine: Engine,
        blobs: BlobStore,
        uploader: Principal,
        salt: bytes,
        on_result: Callable[[CardResult], None],
    ) -> None:
        self.engine, self.blobs, self.uploader, self.salt = engine, blobs, uploader, salt
        self.on_result = on_result
        self.seconds = 0.0
        self.sqlite = engine.dialect.name == "sqlite"

    def _begin(self, session: Session) -> None:
        """SQLite: take the write lock first (BEGIN IMMEDIATE), so a read inside the batch can never
        meet a concurrent writer's commit and fail at once with "database is locked"; a busy lock is
        waited for (busy_timeout) instead."""
        connection = session.connection()
        if self.sqlite:
            dbapi = connection.connection.dbapi_connection
            if dbapi is not None and not getattr(dbapi, "in_transaction", False):
                connection.exec_driver_sql("BEGIN IMMEDIATE")

    def write(self, cards: list[_Ready]) -> None:
        """Store a batch in one transaction; cards that lost a race with another writer go again alone."""
        if not cards:
            return
        started = time.perf_counter()
        last_error: Exception | None = None
        for delay in (0.0, *RETRY_DELAYS_S):
            time.sleep(delay)
            try:
                with Session(self.engine, expire_on_commit=False) as session:
                    self._begin(session)
                    outcomes = [(card, self._store(session, card)) for card in cards]
                    session.commit()
                break
            except (OperationalError, DBAPIError) as exc:  # the whole batch: lock timeout, lost connection
                last_error = exc
                log.warning("batch of %d cards not stored (%s); trying again", len(cards), type(exc).__name__)
        else:
            raise StorageError(f"The database refused a batch of {len(cards)} cards: {last_error}.")
        self._recheck_blobs(outcomes)
        self.seconds += time.perf_counter() - started
        for card, result in outcomes:
            self.on_result(result if result is not None else self._store_alone(card))

    def _recheck_blobs(self, outcomes: list[tuple[_Ready, CardResult | None]]) -> None:
        """After the commit, put back any image a concurrent erasure removed while our source was not
        yet visible to it (its "no source uses this blob" check ran between our blob and our commit)."""
        for card, result in outcomes:
            if result is None or result.outcome is not Outcome.imported or result.sha256 is None:
                continue
            if not self.blobs.exists(result.sha256):
                try:
                    data = card.candidate.path.read_bytes()
                    if hashlib.sha256(data).hexdigest() == result.sha256:
                        self.blobs.put(data)
                        log.warning("image of %s was removed during the import: written again", result.path)
                        continue
                except OSError:
                    pass
                log.error("image of %s was removed during the import and cannot be read again", result.path)

    def _store_alone(self, card: _Ready) -> CardResult:
        started = time.perf_counter()
        try:
            for delay in RETRY_DELAYS_S:
                time.sleep(delay)
                try:
                    with Session(self.engine, expire_on_commit=False) as session:
                        self._begin(session)
                        result = self._store(session, card)
                        if result is not None:
                            session.commit()
                            self._recheck_blobs([(card, result)])
                            return result
                except (OperationalError, DBAPIError):
                    continue
            error = StorageError("Other writers kept conflicting with this card; run the import again.")
            return _failed(card.candidate, error, card.extraction.sha256)
        finally:
            self.seconds += time.perf_counter() - started

    def _store(self, session: Session, card: _Ready) -> CardResult | None:
        """Store one card inside a savepoint: the result, or None when it must be tried again after commit."""
        candidate, extraction = card.candidate, card.extraction
        sha = extraction.sha256
        assert sha is not None and self.uploader.id is not None
        if find_source(session, self.uploader.id, sha) is not None:
            return CardResult(candidate.rel, Outcome.skipped, code="already_imported", sha256=sha)
        try:
            data = candidate.path.read_bytes()
        except OSError as exc:
            return _failed(candidate, UnreadableFileError(f"Cannot read the file again: {exc}."), sha)
        if hashlib.sha256(data).hexdigest() != sha:
            changed = UnreadableFileError("The file changed while it was being imported.", hint="Run again.")
            return _failed(candidate, changed, sha)
        savepoint = session.begin_nested()
        try:
            record = store_extraction(
                session,
                uploader=self.uploader,
                channel=Channel.batch,
                extraction=extraction,
                byte_size=len(data),
                blob_key=sha,
                client=card.client,
                attestation=card.attestation,
                uses=set(card.uses),
                salt=self.salt,
            )
            if self.blobs.put(data) != sha:  # content-addressed: the key is the SHA-256
                raise StorageError("The blob store returned another key than the image's SHA-256.")
            savepoint.commit()
        except (IntegrityError, OperationalError) as exc:
            savepoint.rollback()
            if isinstance(exc, IntegrityError) and find_source(session, self.uploader.id, sha) is not None:
                # another import committed the same image first
                return CardResult(candidate.rel, Outcome.skipped, code="already_imported", sha256=sha)
            return None  # a race on a shared row (subject key, lock): again, after this batch commits
        except CardError as exc:  # subject_suppressed, invalid_attestation, ...
            savepoint.rollback()
            return _failed(candidate, exc, sha)
        except OSError as exc:  # the blob could not be written
            savepoint.rollback()
            return _failed(candidate, StorageError(f"Cannot write the image to the blob store: {exc}."), sha)
        except Exception as exc:  # a bug with one card must not stop the batch
            savepoint.rollback()
            return _failed(candidate, error_from_exception(exc), sha)
        return CardResult(candidate.rel, Outcome.imported, sha256=sha, record_id=record.id)


def _failed(candidate: Candidate, error: CardError, sha: str | None) -> CardResult:
    return CardResult(candidate.rel, Outcome.failed, code=error.code, message=error.full_message, sha256=sha)


# --- the import ----------------------------------------------------------------------------------


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
    attestation_version: str | None = None,
    progress: ProgressCallback | None = None,
    batch_size: int = BATCH_SIZE,
    max_batch_seconds: float = MAX_BATCH_SECONDS,
) -> ImportReport:
    """Import every image under ``root`` for ``uploader``; see the module docstring for the guarantees.

    Raises before touching anything for bad arguments (missing folder, invalid manifest or
    attestation, a principal that may not upload); afterwards only a database that stays
    unavailable (StorageError) stops the run. Ctrl-C stops it too: the report then has
    ``interrupted`` set and lists what was committed.
    """
    clock = time.perf_counter()
    if uploader.id is None:
        raise NotFoundError("The uploader has no id: store the principal first.")
    check_can_upload(uploader)
    if not root.is_dir():
        raise BadArgumentsError(f"{root} is not a folder.", hint="Give the folder of card images to import.")
    if attestation_version is None:
        from models.settings import get_settings

        attestation_version = get_settings().attestation_version
    default_attestation = AttestationInput(
        basis=basis, text_version=attestation_version, basis_text=basis_text, details={"via": "cards import"}
    )
    default_attestation.validate()
    rows = read_manifest(manifest) if manifest is not None else {}
    for row in rows.values():
        _attestation_for(row, default_attestation).validate()

    report = ImportReport(root=str(root.resolve()), uploader_id=uploader.id)
    done = 0

    def finish(result: CardResult) -> None:
        nonlocal done
        report.results.append(result)
        done += 1
        if progress is not None:
            progress(Progress(total=report.found, done=done, result=result))

    try:
        candidates, left_out = walk_images(root)
        report.found = len(candidates) + len(left_out)
        known = {c.rel for c in candidates}
        report.manifest_unmatched = [
            {"line": row.line, "path": row.path} for row in rows.values() if row.path not in known
        ]
        report.timings_s["walk"] = time.perf_counter() - clock
        if progress is not None:
            progress(Progress(total=report.found, done=0, result=None))
        for result in left_out:
            finish(result)

        todo = _hash_and_filter(candidates, engine, uploader.id, jobs, report, finish)

        writer = _Writer(engine, blobs, uploader, salt, finish)
        by_index: list[_Ready | None] = []
        for candidate in todo:
            row = rows.get(candidate.rel)
            client: dict[str, Any] = {"relative_path": candidate.rel}
            notes = row.notes if row and row.notes else None
            if notes:
                client["notes"] = notes
            by_index.append(
                _Ready(
                    candidate=candidate,
                    extraction=Extraction(source=candidate.rel),
                    attestation=_attestation_for(row, default_attestation),
                    uses=row.uses if row and row.uses is not None else frozenset(uses),
                    client=client,
                )
            )
        report.ocr_cards = len(todo)
        ocr_clock = time.perf_counter()
        pending: list[_Ready] = []
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


def _attestation_for(row: ManifestRow | None, default: AttestationInput) -> AttestationInput:
    if row is None or (row.basis is None and row.basis_text is None):
        return default
    basis = row.basis or default.basis
    # a basis of its own comes with its own text; the command line's text belongs to its basis
    basis_text = row.basis_text if row.basis is not None else (row.basis_text or default.basis_text)
    return AttestationInput(
        basis=basis,
        text_version=default.text_version,
        basis_text=basis_text,
        details={**default.details, "manifest_line": row.line},
    )


def _hash_and_filter(
    candidates: list[Candidate],
    engine: Engine,
    uploader_id: int,
    jobs: int | None,
    report: ImportReport,
    finish: Callable[[CardResult], None],
) -> list[Candidate]:
    """Hash every file (threads: hashlib releases the GIL) and drop what needs no OCR:
    unreadable files, second copies of the same bytes, and images the uploader already has."""
    clock = time.perf_counter()

    def digest(candidate: Candidate) -> tuple[Candidate, str | OSError]:
        try:
            return candidate, sha256_file(candidate.path)
        except OSError as exc:
            return candidate, exc

    first_of: dict[str, str] = {}
    unique: list[Candidate] = []
    with ThreadPoolExecutor(max_workers=max(2, min(8, 2 * (jobs or os.cpu_count() or 1)))) as pool:
        for candidate, result in pool.map(digest, candidates):
            if isinstance(result, OSError):
                error = UnreadableFileError(f"Cannot read {candidate.rel}: {result.strerror or result}.")
                finish(CardResult(candidate.rel, Outcome.failed, code=error.code, message=error.full_message))
                continue
            candidate.sha256 = result
            if result in first_of:
                finish(
                    CardResult(
                        candidate.rel,
                        Outcome.skipped,
                        code="duplicate_in_folder",
                        sha256=result,
                        same_as=first_of[result],
                    )
                )
                continue
            first_of[result] = candidate.rel
            unique.append(candidate)
    report.timings_s["hash"] = time.perf_counter() - clock
    have = imported_hashes(engine, uploader_id, [c.sha256 for c in unique if c.sha256])
    todo: list[Candidate] = []
    for candidate in unique:
        if candidate.sha256 in have:
            finish(CardResult(candidate.rel, Outcome.skipped, "already_imported", sha256=candidate.sha256))
        else:
            todo.append(candidate)
    return todo


def default_report_path(now: datetime | None = None) -> Path:
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    return Path("var") / "reports" / f"import-{stamp}-{os.getpid()}.json"
