"""The folder import, as a specification: every image stored exactly once, however often it is run.

Every test runs on SQLite and on PostgreSQL. The writer's own rules (manifest, suppression,
races on the unique constraint, batches, a dying worker, Ctrl-C) are tested in-process with
a stand-in for OCR; one test reads real cards end to end.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from importing import (
    FAST_CARDS,
    bad_files,
    by_path,
    copy,
    count,
    extract_or_die,
    run_import,
    sha256,
    sources_of,
)
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

import services.importer as importer
import services.importer.files as importer_files
import services.importer.ocr as importer_ocr
import services.importer.writer as importer_writer
from core.errors import BadArgumentsError
from models.blobs import BlobStore
from models.enums import Basis, Channel, Role, SuppressionReason, Use
from models.tables import (
    Attestation,
    ContactRecord,
    FieldValue,
    PermittedUse,
    Principal,
    Source,
)
from services.errors import ForbiddenError, InvalidAttestationError, NotFoundError
from services.importer import Outcome
from services.principals import resolve_principal

pytestmark = pytest.mark.usefixtures("settings_salt_forbidden")  # in-process imports get the salt passed


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

    sources = {s.sha256: s for s in sources_of(engine, uploader.id)}  # type: ignore[arg-type]
    assert sorted(sources) == sorted(sha256(path) for path in good)
    labels = report.labels()
    for path in good:
        source = sources[sha256(path)]
        rel = path.relative_to(folder).as_posix()
        assert source.client == {"import_batch": source.client["import_batch"], "file": labels[rel]}
        assert rel not in str(source.client), "a stored card never names the file it came from"
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
    by_sha = {
        sha256(folder / name): name for name in ("met.png", "sub/public.png", "plain.png", "private.png")
    }

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
            seen[by_sha[source.sha256]] = (
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
    monkeypatch.setattr(importer_files, "imported_hashes", lambda *args: set())  # the look-up missed it
    real_find = importer_writer.find_source
    calls: list[str] = []

    def late_find(session: Session, uploader_id: int, sha: str) -> Source | None:
        calls.append(sha)
        if sha == raced and calls.count(sha) == 1:
            return None  # ... and so did the check just before the insert
        return real_find(session, uploader_id, sha)

    monkeypatch.setattr(importer_writer, "find_source", late_find)

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
    monkeypatch.setattr(importer_ocr, "extract_file", extract_or_die)

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
