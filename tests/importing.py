"""Folders of cards to import and checks of what an import stored: shared by the services and CLI tests.

"More cards" are the same synthetic cards re-encoded with a PNG text chunk (same pixels, so the
same person, but a different SHA-256 — which also makes two processes race for the same
subject keys).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

import services.importer.ocr as importer_ocr
from ingest.schema import Extraction
from ingest.schema import FieldValue as IngestValue
from models.blobs import BlobStore
from models.enums import Basis, Use
from models.tables import (
    Attestation,
    AuditEvent,
    ContactRecord,
    ExtractionRun,
    FieldValue,
    PermittedUse,
    Principal,
    Source,
)
from services.importer import ImportReport, import_folder

REPO_ROOT = Path(__file__).resolve().parents[1]


TEST_SALT = b"test-salt-not-secret"  # the conftest's salt, for the CLI's environment


FAST_CARDS = ("card_05.png", "card_08.png", "card_14.png", "card_01.png", "card_11.png", "card_16.png")


RUN = Callable[..., subprocess.CompletedProcess[str]]


def variant(source: Path, target: Path, tag: str) -> Path:
    """The same card with other bytes: a PNG text chunk changes the SHA-256, not what OCR reads."""
    info = PngInfo()
    info.add_text("variant", tag)
    target.parent.mkdir(parents=True, exist_ok=True)
    with Image.open(source) as image:
        image.save(target, "PNG", pnginfo=info)
    return target


def copy(source: Path, target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    return target


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def bad_files(folder: Path, samples_dir: Path) -> dict[str, str]:
    """Files that must fail, each with its code: empty, text named .jpg, a truncated JPEG."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "empty.png").write_bytes(b"")
    (folder / "notes.jpg").write_text("Call Jane back: jane@example.com\n")
    with Image.open(samples_dir / FAST_CARDS[0]) as image:
        image.convert("RGB").save(folder / "whole.jpg.tmp", "JPEG", quality=90)
    whole = (folder / "whole.jpg.tmp").read_bytes()
    (folder / "whole.jpg.tmp").unlink()
    (folder / "truncated.jpg").write_bytes(whole[: len(whole) // 2])
    return {"empty.png": "empty_file", "notes.jpg": "unsupported_format", "truncated.jpg": "corrupt_image"}


def sources_of(engine: Engine, uploader_id: int) -> list[Source]:
    with Session(engine) as session:
        return list(session.exec(select(Source).where(Source.uploader_id == uploader_id)).all())


def count(engine: Engine, table: Any, *where: Any) -> int:
    with Session(engine) as session:
        return session.exec(select(func.count()).select_from(table).where(*where)).one()


def assert_each_once(engine: Engine, uploader_id: int, files: list[Path], blobs: BlobStore) -> None:
    """The crash-safety contract: every file's bytes stored once, each card whole, every blob present."""
    expected = {sha256(f) for f in files}
    sources = sources_of(engine, uploader_id)
    shas = [s.sha256 for s in sources]
    assert sorted(shas) == sorted(expected), "every file exactly once, nothing else"
    records = count(engine, ContactRecord, ContactRecord.uploader_id == uploader_id)
    assert records == len(expected)
    source_ids = [s.id for s in sources]
    assert count(engine, ExtractionRun, col(ExtractionRun.source_id).in_(source_ids)) == len(expected)
    created = count(engine, AuditEvent, AuditEvent.action == "created", AuditEvent.actor_id == uploader_id)
    assert created == len(expected)
    with Session(engine) as session:
        record_ids = session.exec(
            select(ContactRecord.id).where(ContactRecord.uploader_id == uploader_id)
        ).all()
        for record_id in record_ids:  # no half-stored card: values, attestation and uses are all there
            assert count(engine, FieldValue, FieldValue.record_id == record_id) > 0
            assert count(engine, Attestation, Attestation.record_id == record_id) == 1
            assert count(engine, PermittedUse, PermittedUse.record_id == record_id) == 1
    for source in sources:
        assert source.blob_key == source.sha256
        assert blobs.exists(source.sha256), "a committed source always has its image"
        assert hashlib.sha256(blobs.get(source.sha256)).hexdigest() == source.sha256
    leftovers = [p for p in blobs.root.rglob(".incoming-*")]
    assert not leftovers, "no half-written blob survives"


@pytest.fixture
def cli_env(db_url_and_engine: tuple[str, Engine], blobs: BlobStore) -> dict[str, str]:
    return {
        "DATABASE_URL": db_url_and_engine[0],
        "CARDS_BLOB_DIR": str(blobs.root),
        "CARDS_SUPPRESSION_SALT": TEST_SALT.decode(),
        "CARDS_ATTESTATION_VERSION": "test-import-1",
    }


def cards_command() -> list[str]:
    script = Path(sys.executable).with_name("cards")
    return [str(script)] if script.exists() else [sys.executable, "-m", "cli"]


def import_args(
    folder: Path, report: Path, *extra: str, uploader: str = "alice-uploader", uses: str = "invites"
) -> list[str]:
    return [
        "import",
        str(folder),
        "--uploader",
        uploader,
        "--basis",
        "received_in_person",
        "--uses",
        uses,
        "--report",
        str(report),
        *extra,
    ]


@pytest.fixture
def fake_ocr(monkeypatch: pytest.MonkeyPatch, build_extraction: Callable[..., Extraction]) -> dict[str, Any]:
    """Stand in for OCR (in-process, ``jobs=1``): ``fake_ocr[file name] = make_extraction kwargs``.

    The extraction's sha256 is the file's, as the real pipeline's is; unknown files read as a
    card of "Pat Example" with a per-file e-mail.
    """
    cards: dict[str, Any] = {}

    def extract_file(path: str | Path, options: object = None) -> Extraction:
        path = Path(path)
        values = cards.get(path.name, {"name": "Pat Example", "email": f"{path.stem}@example.com"})
        extraction = build_extraction(sha=sha256(path), **values)
        extraction.source = str(path)
        return extraction

    monkeypatch.setattr(importer_ocr, "extract_file", extract_file)
    return cards


def run_import(
    folder: Path, uploader: Principal, engine: Engine, blobs: BlobStore, salt: bytes, **kwargs: Any
) -> ImportReport:
    options: dict[str, Any] = {
        "basis": Basis.received_in_person,
        "uses": {Use.invites},
        "jobs": 1,
        "attestation_version": "test-import-1",
    }
    options.update(kwargs)
    return import_folder(folder, uploader=uploader, engine=engine, blobs=blobs, salt=salt, **options)


def by_path(report: ImportReport) -> dict[str, Any]:
    return {r.path: r for r in report.results}


def extract_or_die(path: str | Path, options: object = None) -> Extraction:
    """A stand-in for OCR in worker processes (module level, so it can be sent to them): a file named
    crash.png kills its worker, as a segfaulting decoder would; the others read as one card each."""
    path = Path(path)
    if path.name == "crash.png":
        os._exit(139)
    card = [
        IngestValue(value=f"{path.stem}@example.com", raw="", confidence=0.9, bbox=[0, 0, 1, 1], method="t")
    ]
    return Extraction(
        source=str(path),
        sha256=sha256(path),
        fields={"emails": card},
        engine={"name": "test", "version": "0", "params": {}},
        region="US",
    )
