"""The orphan blob sweep (issue 10, defect 2): images left by a crash between their blob and their commit.

The crash is real: a process stores a card through the upload path and is killed with
SIGKILL right after its blob is written (``tests/crash_after_blob.py``). The sweep then
removes the image, and an erasure of the person on it finds nothing anywhere.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from importing import FAST_CARDS, REPO_ROOT, RUN, sha256
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from api.main import create_app
from core.settings import load_settings
from ingest.schema import Extraction
from models.blobs import FolderBlobStore
from models.enums import Channel
from models.tables import AuditEvent, Principal, Source, UploadJob
from services.orphans import sweep_orphan_blobs
from services.records import AttestationInput, store_extraction
from services.rights import erase

DRIVER = REPO_ROOT / "tests" / "crash_after_blob.py"
ONE_SWEPT = {"checked": 1, "young": 0, "orphans": 1, "deleted": 1, "partial_writes": 0, "applied": True}


def _crash_after_blob(image: Path, uploader_id: int, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "OMP_THREAD_LIMIT": "1", "PYTHONPATH": str(REPO_ROOT), **env}
    return subprocess.run(
        [sys.executable, str(DRIVER), str(image), str(uploader_id)],
        cwd=REPO_ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _blob_files(blobs: FolderBlobStore) -> list[Path]:
    return [p for p in blobs.root.rglob("*") if p.is_file()] if blobs.root.exists() else []


def test_a_kill_between_blob_and_commit_leaves_an_orphan_the_sweep_removes_and_erasure_finds_nothing(
    engine: Engine,
    blobs: FolderBlobStore,
    uploader: Principal,
    samples_dir: Path,
    sample_labels: dict[str, dict[str, object]],
    cli_env: dict[str, str],
    run_cards: RUN,
    salt: bytes,
) -> None:
    card = samples_dir / FAST_CARDS[0]
    assert uploader.id is not None

    crashed = _crash_after_blob(card, uploader.id, cli_env)

    assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    assert crashed.stdout.strip() == sha256(card)
    assert blobs.exists(sha256(card)), "the image was written before the kill"
    with Session(engine) as session:
        assert session.exec(select(Source)).all() == [], "and no row was committed: an orphan"

    young = run_cards("db", "sweep-blobs", env=cli_env)  # the default grace: maybe an upload in flight
    assert young.returncode == 0, young.stderr
    assert json.loads(young.stdout)["young"] == 1 and blobs.exists(sha256(card))

    swept = run_cards("db", "sweep-blobs", "--grace-seconds", "0", env=cli_env)

    assert swept.returncode == 0, swept.stderr
    assert json.loads(swept.stdout) == ONE_SWEPT
    assert not blobs.exists(sha256(card))
    email = sample_labels[FAST_CARDS[0]]["emails"][0]  # type: ignore[index]
    with Session(engine) as session:
        erased = erase(session, email=str(email), actor=None, salt=salt, blobs=blobs)
        session.commit()
        assert erased.to_dict()["found"] is False
        swept_events = select(AuditEvent).where(AuditEvent.action == "orphan_blobs_swept")
        events = [e.details for e in session.exec(swept_events)]
    assert _blob_files(blobs) == [], "nothing of the person is left in the blob folder"
    assert events == [ONE_SWEPT]


def test_the_sweep_keeps_blobs_a_source_or_a_pending_job_refers_to(
    session: Session,
    engine: Engine,
    blobs: FolderBlobStore,
    uploader: Principal,
    build_extraction: Callable[..., Extraction],
    attested: AttestationInput,
) -> None:
    stored_key = blobs.put(b"stored card")
    record = store_extraction(
        session,
        uploader=uploader,
        channel=Channel.api,
        extraction=build_extraction(name="Ada Lovelace", sha=stored_key),
        byte_size=11,
        blob_key=stored_key,
        client={},
        attestation=attested,
        uses=set(),
        salt=b"s",
    )
    session.add(record)
    queued, finished = blobs.put(b"queued job"), blobs.put(b"finished job")
    assert uploader.id is not None
    session.add(UploadJob(principal_id=uploader.id, blob_key=queued, status="queued"))
    session.add(UploadJob(principal_id=uploader.id, blob_key=finished, status="done"))
    session.commit()
    orphan = blobs.put(b"orphan")

    dry = sweep_orphan_blobs(engine, blobs, grace=timedelta(0), apply=False)
    swept = sweep_orphan_blobs(engine, blobs, grace=timedelta(0))

    assert sorted(dry.orphans) == sorted([orphan, finished]) and dry.deleted == 0
    assert swept.deleted == 2 and swept.checked == 4
    assert blobs.exists(stored_key) and blobs.exists(queued)
    assert not blobs.exists(orphan) and not blobs.exists(finished)


def test_storing_the_same_bytes_again_protects_an_old_orphan_for_a_new_grace_period(
    engine: Engine, blobs: FolderBlobStore
) -> None:
    key = blobs.put(b"card bytes")
    old = blobs.path(key).stat().st_mtime - 7200
    os.utime(blobs.path(key), (old, old))
    assert sweep_orphan_blobs(engine, blobs, grace=timedelta(hours=1), apply=False).orphans == [key]

    blobs.put(b"card bytes")  # an upload of the same image is in flight: its commit is coming

    assert sweep_orphan_blobs(engine, blobs, grace=timedelta(hours=1)).young == 1
    assert blobs.exists(key)


def _gone(blobs: FolderBlobStore, key: str, seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while blobs.exists(key) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not blobs.exists(key)


def test_the_api_sweeps_at_start_up_and_then_on_its_schedule(
    engine: Engine, tmp_path: Path, salt: bytes
) -> None:
    blobs = FolderBlobStore(tmp_path / "api-blobs")
    at_start = blobs.put(b"left by a crash")
    settings = load_settings(orphan_grace_seconds=0, orphan_sweep_seconds=0.2)
    app = create_app(engine, settings=settings, blob_dir=blobs.root, salt=salt, ocr_workers=1)

    with TestClient(app):
        assert _gone(blobs, at_start), "swept at start-up"
        later = blobs.put(b"left by a later crash")
        assert _gone(blobs, later), "swept on the schedule"


def test_the_sweep_drops_temporaries_of_writes_cut_off_by_a_crash(
    engine: Engine, blobs: FolderBlobStore
) -> None:
    key = blobs.put(b"whole")
    partial = blobs.path(key).parent / ".incoming-abc123"
    partial.write_bytes(b"half a card")
    os.utime(partial, (time.time() - 120, time.time() - 120))

    swept = sweep_orphan_blobs(engine, blobs, grace=timedelta(seconds=60))

    assert swept.partial_writes == 1 and not partial.exists()
