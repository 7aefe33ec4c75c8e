"""``cards import``: exit statuses, the JSON report, and imports killed or run twice at once.

Every test runs on SQLite and on PostgreSQL with real OCR on the quickest synthetic cards
and ``--jobs 2``; a kill must never lose or double a card, nor leave an OCR process behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from importing import (
    FAST_CARDS,
    REPO_ROOT,
    RUN,
    assert_each_once,
    bad_files,
    cards_command,
    copy,
    import_args,
    sha256,
    sources_of,
    variant,
)
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from models.blobs import BlobStore
from models.tables import (
    ContactRecord,
    Principal,
    Source,
)


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
    assert all(f["file"].startswith("#") and f["message"] for f in report["failures"])
    assert report["imported"][0]["sha256"] == sha256(card)
    assert report_path.stat().st_mode & 0o777 == 0o600, "owner-only report"
    names = [p.name for p in folder.rglob("*") if p.is_file()]
    assert not [n for n in names if n in report_path.read_text() or n in first.stderr], (
        "file names can name people"
    )
    assert ": empty_file" in first.stderr, "plain log lines when stderr is not a terminal"

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
