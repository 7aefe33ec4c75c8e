"""Finding the files of a folder, hashing them, and dropping what needs no OCR."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from ingest.errors import UnreadableFileError
from ingest.pipeline import IMAGE_SUFFIXES
from models.tables import Source
from services.importer.report import CardResult, ImportReport, Outcome

HASH_CHUNK = 1 << 20
LOOKUP_CHUNK = 500  # sha256 values per "already imported?" query


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


def hash_and_filter(
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
