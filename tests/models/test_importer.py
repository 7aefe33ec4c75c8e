"""``cards import``: a folder in, every image stored exactly once, however often it is run or killed.

Every test runs on SQLite and on PostgreSQL. The tests that need real OCR use the quickest
synthetic cards and ``--jobs 2``; "more cards" are the same cards re-encoded with a PNG text
chunk (same pixels, so the same person, but a different SHA-256 — which also makes two
processes race for the same subject keys). The writer's own rules (manifest, suppression,
races on the unique constraint) are tested with a stand-in for OCR, in-process and fast.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

import models.importer as importer
from ingest.errors import BadArgumentsError, ForbiddenError, InvalidAttestationError, NotFoundError
from ingest.schema import Extraction
from ingest.schema import FieldValue as IngestValue
from models.blobs import BlobStore
from models.importer import ImportReport, Outcome, import_folder, resolve_principal
from models.tables import (
    Attestation,
    AuditEvent,
    Basis,
    Channel,
    ContactRecord,
    ExtractionRun,
    FieldValue,
    PermittedUse,
    Principal,
    Role,
    Source,
    SuppressionReason,
    Use,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
TEST_SALT = b"test-salt-not-secret"  # the conftest's salt, for the CLI's environment
FAST_CARDS = ("card_05.png", "card_08.png", "card_14.png", "card_01.png", "card_11.png", "card_16.png")
RUN = Callable[..., subprocess.CompletedProcess[str]]

pytestmark = pytest.mark.usefixtures("settings_salt_forbidden")  # in-process imports get the salt passed


# --- building folders ------------------------------------------------------------------------------


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


# --- reading the database ----------------------------------------------------------------------------


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


# --- fixtures ----------------------------------------------------------------------------------------


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

    monkeypatch.setattr(importer, "extract_file", extract_file)
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


# --- with real OCR -----------------------------------------------------------------------------------


def test_import_stores_good_cards_reports_bad_ones_and_a_rerun_imports_nothing(
    tmp_path: Path,
    samples_dir: Path,
    engine: Engine,
    blobs: BlobStore,
    salt: bytes,
    uploader: Principal,
) -> None:
    folder = tmp_path / "inbox"
    good = [
        copy(samples_dir / FAST_CARDS[0], folder / "a.png"),
        copy(samples_dir / FAST_CARDS[1], folder / "sub/b.png"),
    ]
    copy(samples_dir / FAST_CARDS[0], folder / "sub/a-again.png")  # same bytes as a.png
    bad = bad_files(folder / "bad", samples_dir)
    outside = copy(samples_dir / FAST_CARDS[2], tmp_path / "elsewhere" / "outside.png")
    (folder / "link-out.png").symlink_to(outside)
    (folder / "link-in.png").symlink_to(folder / "a.png")  # inside: read, and found to be a.png again
    (folder / "._a.png").write_bytes(b"\0\5\26\7 AppleDouble")  # a Mac resource fork: never an image
    (folder / "readme.txt").write_text("not an image\n")
    events: list[importer.Progress] = []

    report = run_import(folder, uploader, engine, blobs, salt, jobs=2, progress=events.append)

    results = by_path(report)
    assert report.found == len(results) == 9
    assert {p for p, r in results.items() if r.outcome is Outcome.imported} == {"a.png", "sub/b.png"}
    assert {p: r.code for p, r in results.items() if r.outcome is Outcome.failed} == {
        f"bad/{name}": code for name, code in bad.items()
    }
    assert all(r.message for r in report.failures), "every failure says why"
    skipped = {p: r.code for p, r in results.items() if r.outcome is Outcome.skipped}
    assert skipped == {
        "link-out.png": "symlink_outside_folder",
        "._a.png": "hidden_file",
        "link-in.png": "duplicate_in_folder",
        "sub/a-again.png": "duplicate_in_folder",
    }
    assert events[0].result is None and events[0].total == 9
    assert [e.done for e in events[1:]] == list(range(1, 10))

    sources = {s.client["relative_path"]: s for s in sources_of(engine, uploader.id)}  # type: ignore[arg-type]
    assert sorted(sources) == ["a.png", "sub/b.png"]
    for path in good:
        source = sources[path.relative_to(folder).as_posix()]
        assert source.sha256 == sha256(path) and source.byte_size == path.stat().st_size
        assert source.channel == Channel.batch and source.status == "extracted"
        assert blobs.get(source.blob_key) == path.read_bytes()  # type: ignore[arg-type]
    with Session(engine) as session:
        for attestation in session.exec(select(Attestation)).all():
            assert attestation.basis == Basis.received_in_person
            assert attestation.text_version == "test-import-1"
            assert attestation.channel == Channel.batch
        assert {u.use for u in session.exec(select(PermittedUse)).all()} == {Use.invites}
        emails = session.exec(select(FieldValue.value).where(FieldValue.field == "emails")).all()
        assert emails, "the cards were read, not just stored"

    again = run_import(folder, uploader, engine, blobs, salt, jobs=2)

    assert (again.imported, again.failed, again.skipped) == (0, 3, 6)
    assert again.ocr_cards == 3, "only the files that failed are read again; imported ones are not OCR'd"
    assert {r.path: r.code for r in again.results if r.code == "already_imported"}.keys() == {
        "a.png",
        "sub/b.png",
    }
    assert len(sources_of(engine, uploader.id)) == 2  # type: ignore[arg-type]


def test_cli_import_exit_status_json_summary_and_report(
    tmp_path: Path,
    samples_dir: Path,
    engine: Engine,
    uploader: Principal,
    cli_env: dict[str, str],
    run_cards: RUN,
) -> None:
    folder = tmp_path / "inbox"
    card = copy(samples_dir / FAST_CARDS[2], folder / "card.png")
    bad_files(folder, samples_dir)
    report_path = tmp_path / "reports" / "first.json"

    first = run_cards(*import_args(folder, report_path, "--jobs", "2", "--json"), env=cli_env)

    assert first.returncode == 1, first.stderr  # some cards failed, after all were tried
    summary = json.loads(first.stdout)
    assert summary["imported"] == 1 and summary["failed"] == 3 and summary["skipped"] == 0
    assert summary["report"] == str(report_path)
    report = json.loads(report_path.read_text())
    assert sorted(f["code"] for f in report["failures"]) == [
        "corrupt_image",
        "empty_file",
        "unsupported_format",
    ]
    assert all(f["path"] and f["message"] for f in report["failures"])
    assert report["imported"][0]["sha256"] == sha256(card)
    assert report_path.stat().st_mode & 0o777 == 0o600, "file names can name people: owner-only report"
    assert "failed empty.png: empty_file" in first.stderr, "plain log lines when stderr is not a terminal"

    second = run_cards(*import_args(folder, tmp_path / "second.json"), env=cli_env)

    assert second.returncode == 1
    assert "imported 0, skipped 1, failed 3" in second.stdout
    assert len(sources_of(engine, uploader.id)) == 1  # type: ignore[arg-type]

    copy(samples_dir / FAST_CARDS[2], tmp_path / "clean" / "card.png")
    clean = run_cards(*import_args(tmp_path / "clean", tmp_path / "clean.json"), env=cli_env)
    assert clean.returncode == 0, clean.stderr  # nothing failed (the card was skipped as already imported)


def test_cli_import_refuses_bad_arguments_before_importing(
    tmp_path: Path,
    samples_dir: Path,
    engine: Engine,
    uploader: Principal,
    cli_env: dict[str, str],
    run_cards: RUN,
) -> None:
    folder = tmp_path / "inbox"
    copy(samples_dir / FAST_CARDS[0], folder / "card.png")
    manifest = tmp_path / "manifest.csv"
    manifest.write_text("path,basis,uses\ncard.png,handshake,invites\n")
    report = tmp_path / "r.json"

    nobody = run_cards(*import_args(folder, report, uploader="ghost"), env=cli_env)
    bad_manifest = run_cards(*import_args(folder, report, "--manifest", str(manifest)), env=cli_env)
    bad_use = run_cards(*import_args(folder, report, uses="invites,spam"), env=cli_env)

    assert nobody.returncode == 8 and json.loads(nobody.stderr)["error"]["code"] == "not_found"
    assert "cards principals create" in nobody.stderr
    assert bad_manifest.returncode == 2
    assert json.loads(bad_manifest.stderr)["error"]["code"] == "invalid_attestation"
    assert "line 2" in bad_manifest.stderr
    assert bad_use.returncode == 2
    assert not sources_of(engine, uploader.id) and not report.exists()  # type: ignore[arg-type]


def _live_processes(group: int) -> list[int]:
    """Processes of a process group that are still running (zombies waiting for a reaper do not count)."""
    alive = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == group and fields[0] != "Z":
            alive.append(int(stat.parent.name))
    return alive


def _kill_group(group: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(group, signal.SIGKILL)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc to find orphaned workers")
def test_killed_imports_resume_to_every_card_exactly_once(
    tmp_path: Path,
    samples_dir: Path,
    engine: Engine,
    blobs: BlobStore,
    uploader: Principal,
    cli_env: dict[str, str],
    run_cards: RUN,
) -> None:
    """kill -9 the importer at seeded random moments, run it again until it finishes, compare.

    Each kill comes a random time after the importer has started work (its "found" line), so
    it lands while files are hashed, OCR'd, stored or committed, in batches of two.
    """
    folder = tmp_path / "inbox"
    files = [copy(samples_dir / name, folder / name) for name in FAST_CARDS]
    files += [variant(samples_dir / name, folder / "more" / f"v-{name}", "1") for name in FAST_CARDS]
    rng = random.Random(20261126)
    env = {**os.environ, "OMP_THREAD_LIMIT": "1", **cli_env}
    command = cards_command() + import_args(
        folder, tmp_path / "killed.json", "--jobs", "2", "--batch-size", "2"
    )
    stored_after_kill: list[int] = []
    killed_mid_work = 0
    for round_number in range(4):
        log_path = tmp_path / f"round-{round_number}.log"
        with log_path.open("w") as log:
            process = subprocess.Popen(
                command, cwd=REPO_ROOT, env=env, stdout=log, stderr=log, start_new_session=True
            )
        try:
            deadline = time.monotonic() + 60
            while "found" not in log_path.read_text() and process.poll() is None:
                assert time.monotonic() < deadline, "the importer never started"
                time.sleep(0.05)
            time.sleep(rng.uniform(0.1, 1.5))
            running = process.poll() is None
            process.send_signal(signal.SIGKILL)  # the importer only, as `kill -9 PID` does
            process.wait(timeout=30)
            deadline = time.monotonic() + 15
            while _live_processes(process.pid) and time.monotonic() < deadline:
                time.sleep(0.1)
            assert not _live_processes(process.pid), "OCR workers must die with the importer"
        finally:
            _kill_group(process.pid)
        stored_after_kill.append(len(sources_of(engine, uploader.id)))  # type: ignore[arg-type]
        killed_mid_work += running and stored_after_kill[-1] < len(files)

    final = run_cards(*import_args(folder, tmp_path / "final.json", "--jobs", "2", "--json"), env=cli_env)

    assert final.returncode == 0, final.stderr
    summary = json.loads(final.stdout)
    assert summary["imported"] + summary["skipped"] == len(files) and summary["failed"] == 0
    assert summary["imported"] == len(files) - stored_after_kill[-1]
    assert stored_after_kill == sorted(stored_after_kill), "a kill never takes back what was committed"
    assert killed_mid_work >= 2, f"the kills should land mid-import (stored after each: {stored_after_kill})"
    assert_each_once(engine, uploader.id, files, blobs)  # type: ignore[arg-type]


def test_concurrent_imports_of_overlapping_folders_store_each_card_once(
    tmp_path: Path,
    samples_dir: Path,
    engine: Engine,
    blobs: BlobStore,
    uploader: Principal,
    cli_env: dict[str, str],
) -> None:
    """Two imports at once for one uploader; the folders share files (same bytes at other paths) and
    people (the same card re-encoded), so the processes race on sources and on subject keys."""
    one, two = tmp_path / "one", tmp_path / "two"
    c = [samples_dir / name for name in FAST_CARDS]
    files = [copy(c[0], one / "a.png"), copy(c[1], one / "b.png"), copy(c[2], one / "c.png")]
    files += [variant(c[3], one / "d1.png", "d1")]
    copy(c[2], two / "shared/c.png")  # the same bytes as one/c.png
    copy(one / "d1.png", two / "shared/d1.png")
    files += [variant(c[3], two / "d2.png", "d2"), copy(c[4], two / "e.png")]  # d2: d1's person, other bytes
    env = {**os.environ, "OMP_THREAD_LIMIT": "1", **cli_env}
    processes = [
        subprocess.Popen(
            cards_command() + import_args(folder, tmp_path / f"{folder.name}.json", "--jobs", "1", "--json"),
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for folder in (one, two)
    ]
    outputs = [p.communicate(timeout=240) for p in processes]

    for process, (_, stderr) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, stderr
    summaries = [json.loads(stdout) for stdout, _ in outputs]
    assert [s["imported"] + s["skipped"] for s in summaries] == [4, 4]
    assert sum(s["imported"] for s in summaries) == len(files) == 6
    assert_each_once(engine, uploader.id, files, blobs)  # type: ignore[arg-type]
    with Session(engine) as session:
        subjects = session.exec(
            select(ContactRecord.subject_id)
            .join(Source)
            .where(col(Source.sha256).in_([sha256(files[3]), sha256(files[4])]))
        ).all()
    assert len(set(subjects)) == 1 and None not in subjects, "one person, one subject, whichever process won"


# --- the writer's rules, with a stand-in for OCR ------------------------------------------------------


def test_manifest_sets_basis_uses_and_notes_per_file(
    tmp_path: Path,
    engine: Engine,
    blobs: BlobStore,
    salt: bytes,
    uploader: Principal,
    fake_ocr: dict[str, Any],
) -> None:
    folder = tmp_path / "inbox"
    for name in ("met.png", "sub/public.png", "plain.png", "private.png"):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(f"image {name}".encode())
    manifest = tmp_path / "manifest.csv"
    with manifest.open("w", newline="", encoding="utf-8-sig") as fh:  # as Excel saves it, with a BOM
        writer = csv.writer(fh)
        writer.writerow(["path", "basis", "basis_text", "uses", "notes"])
        writer.writerow(
            ["met.png", "other", "Met at the Lisbon fair, asked for a call", "catalog,invites", "Fair"]
        )
        writer.writerow(["./sub/public.png", "public_business_information", "", "catalog", ""])
        writer.writerow(["private.png", "", "", "none", "Own use only"])
        writer.writerow(["missing.png", "", "", "", "typo?"])

    report = run_import(folder, uploader, engine, blobs, salt, manifest=manifest, uses={Use.invites})

    assert report.imported == 4 and report.failed == 0
    assert report.manifest_unmatched == [{"line": 5, "path": "missing.png"}]
    with Session(engine) as session:
        rows = session.exec(select(Source, ContactRecord).join(ContactRecord)).all()
        seen = {}
        for source, record in rows:
            attestation = session.exec(select(Attestation).where(Attestation.record_id == record.id)).one()
            uses = {
                u.use for u in session.exec(select(PermittedUse).where(PermittedUse.record_id == record.id))
            }
            seen[source.client["relative_path"]] = (
                attestation.basis,
                attestation.basis_text,
                uses,
                record.notes,
            )
    assert seen == {
        "met.png": (
            Basis.other,
            "Met at the Lisbon fair, asked for a call",
            {Use.catalog, Use.invites},
            "Fair",
        ),
        "sub/public.png": (Basis.public_business_information, None, {Use.catalog}, None),
        "plain.png": (Basis.received_in_person, None, {Use.invites}, None),
        "private.png": (Basis.received_in_person, None, set(), "Own use only"),
    }


@pytest.mark.parametrize(
    ("content", "error"),
    [
        ("path,basis\ncard.png,handshake\n", InvalidAttestationError),
        ("path,uses\ncard.png,spam\n", InvalidAttestationError),
        ("path,basis\ncard.png,other\n", InvalidAttestationError),  # other needs basis_text
        ("file,basis\ncard.png,other\n", BadArgumentsError),  # no path column, unknown column
        ("path\n../outside.png\n", BadArgumentsError),
        ("path\ncard.png\ncard.png\n", BadArgumentsError),
    ],
)
def test_a_bad_manifest_stops_the_import_before_anything_is_stored(
    tmp_path: Path,
    engine: Engine,
    blobs: BlobStore,
    salt: bytes,
    uploader: Principal,
    fake_ocr: dict[str, Any],
    content: str,
    error: type[Exception],
) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "card.png").write_bytes(b"image")
    manifest = tmp_path / "manifest.csv"
    manifest.write_text(content)

    with pytest.raises(error):
        run_import(tmp_path / "in", uploader, engine, blobs, salt, manifest=manifest)

    assert not sources_of(engine, uploader.id)  # type: ignore[arg-type]


def test_a_childs_card_fails_and_leaves_no_trace(
    tmp_path: Path,
    engine: Engine,
    blobs: BlobStore,
    salt: bytes,
    uploader: Principal,
    fake_ocr: dict[str, Any],
    suppress: Callable[..., Any],
) -> None:
    suppress(SuppressionReason.child, email="kid@example.com")
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("a.png", "kid.png", "z.png"):
        (folder / name).write_bytes(f"image {name}".encode())
    fake_ocr["kid.png"] = {"name": "Kid", "email": "kid@example.com"}

    report = run_import(folder, uploader, engine, blobs, salt)

    results = by_path(report)
    assert results["kid.png"].outcome is Outcome.failed and results["kid.png"].code == "subject_suppressed"
    assert results["a.png"].outcome is results["z.png"].outcome is Outcome.imported  # same batch, unharmed
    assert not blobs.exists(sha256(folder / "kid.png")), "the child's image is never written"
    assert len(sources_of(engine, uploader.id)) == 2  # type: ignore[arg-type]


def test_a_card_another_import_committed_first_is_skipped_not_doubled(
    tmp_path: Path,
    engine: Engine,
    blobs: BlobStore,
    salt: bytes,
    uploader: Principal,
    fake_ocr: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The other process committed between our look-up and our insert: the unique constraint fires
    inside the card's savepoint, only that card rolls back, and it counts as skipped."""
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("a.png", "raced.png", "z.png"):
        (folder / name).write_bytes(f"image {name}".encode())
    raced = sha256(folder / "raced.png")
    with Session(engine) as session:
        session.add(Source(uploader_id=uploader.id, channel=Channel.api, sha256=raced, byte_size=1))  # type: ignore[arg-type]
        session.commit()
    monkeypatch.setattr(importer, "imported_hashes", lambda *args: set())  # the look-up missed it
    real_find = importer.find_source
    calls: list[str] = []

    def late_find(session: Session, uploader_id: int, sha: str) -> Source | None:
        calls.append(sha)
        if sha == raced and calls.count(sha) == 1:
            return None  # ... and so did the check just before the insert
        return real_find(session, uploader_id, sha)

    monkeypatch.setattr(importer, "find_source", late_find)

    report = run_import(folder, uploader, engine, blobs, salt)

    results = by_path(report)
    assert (results["raced.png"].outcome, results["raced.png"].code) == (Outcome.skipped, "already_imported")
    assert results["a.png"].outcome is results["z.png"].outcome is Outcome.imported
    assert count(engine, Source, Source.sha256 == raced) == 1
    assert count(engine, ContactRecord) == 2


def test_batches_commit_as_they_go(
    tmp_path: Path,
    engine: Engine,
    blobs: BlobStore,
    salt: bytes,
    uploader: Principal,
    fake_ocr: dict[str, Any],
) -> None:
    """What is committed is visible while the import still runs: a kill loses at most one batch."""
    folder = tmp_path / "in"
    folder.mkdir()
    for n in range(7):
        (folder / f"{n}.png").write_bytes(f"image {n}".encode())
    stored_at_event: list[int] = []

    def progress(event: importer.Progress) -> None:
        if event.result is not None:
            stored_at_event.append(len(sources_of(engine, uploader.id)))  # type: ignore[arg-type]

    run_import(folder, uploader, engine, blobs, salt, batch_size=3, progress=progress)

    assert stored_at_event == [3, 3, 3, 6, 6, 6, 7], "results are reported once their batch is committed"


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


def test_a_worker_that_dies_fails_only_its_cards_and_the_import_goes_on(
    tmp_path: Path,
    engine: Engine,
    blobs: BlobStore,
    salt: bytes,
    uploader: Principal,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    names = ["a.png", "b.png", "crash.png", "d.png", "e.png", "f.png", "g.png", "h.png", "i.png"]
    for name in names:
        (folder / name).write_bytes(f"image {name}".encode())
    monkeypatch.setattr(importer, "extract_file", extract_or_die)

    report = run_import(folder, uploader, engine, blobs, salt, jobs=2)

    results = by_path(report)
    assert len(results) == len(names)
    assert (results["crash.png"].outcome, results["crash.png"].code) == (Outcome.failed, "ocr_failed")
    failed = {p for p, r in results.items() if r.outcome is Outcome.failed}
    assert len(failed) <= 4, "only the cards in flight with the crash (2 per worker) fail"
    assert all(results[p].code == "ocr_failed" for p in failed)
    assert all(results[p].outcome is Outcome.imported for p in set(names) - failed)
    (folder / "crash.png").unlink()

    again = run_import(folder, uploader, engine, blobs, salt, jobs=2)

    assert again.imported == len(failed) - 1 and again.failed == 0  # the innocent ones, tried again
    assert len(sources_of(engine, uploader.id)) == len(names) - 1  # type: ignore[arg-type]


def test_ctrl_c_ends_the_run_with_a_report_of_what_was_committed(
    tmp_path: Path,
    engine: Engine,
    blobs: BlobStore,
    salt: bytes,
    uploader: Principal,
    fake_ocr: dict[str, Any],
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    for n in range(6):
        (folder / f"{n}.png").write_bytes(f"image {n}".encode())

    def progress(event: importer.Progress) -> None:
        if event.done == 2:
            raise KeyboardInterrupt

    report = run_import(folder, uploader, engine, blobs, salt, batch_size=2, progress=progress)

    assert report.interrupted and report.summary()["interrupted"]
    assert len(sources_of(engine, uploader.id)) == 2  # type: ignore[arg-type]
    rest = run_import(folder, uploader, engine, blobs, salt)
    assert (rest.imported, rest.skipped) == (4, 2)


def test_only_an_existing_uploader_may_import(
    tmp_path: Path, session: Session, engine: Engine, blobs: BlobStore, salt: bytes, uploader: Principal
) -> None:
    partner = Principal(name="acme", role=Role.partner)
    session.add(partner)
    session.commit()

    assert resolve_principal(session, "alice-uploader").id == uploader.id
    assert resolve_principal(session, str(uploader.id)).name == "alice-uploader"
    with pytest.raises(NotFoundError):
        resolve_principal(session, "ghost")
    with pytest.raises(ForbiddenError):
        run_import(tmp_path, partner, engine, blobs, salt)
    with pytest.raises(BadArgumentsError):
        run_import(tmp_path / "missing", uploader, engine, blobs, salt)
