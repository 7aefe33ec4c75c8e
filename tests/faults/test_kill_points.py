"""Fault injection (issue 10): ``kill -9`` at seeded random points, then restart and check everything.

Two scenarios, on SQLite and on PostgreSQL:

* **the server** (``cards serve``, one OCR worker, the fast profile) during concurrent uploads,
  synchronous and ``?mode=async`` mixed, each with an ``Idempotency-Key``; after each kill the
  server is started again and the uploads whose answers were lost are sent again with the same
  key, as a client would (a claim the killed server held must not block the retry);
* **the importer** (``cards import --jobs 2``) during a folder import, run again after each kill.

After every kill: no process of the killed command's group is left (fork server, resource
tracker, OCR workers). At the end: every card accepted is stored exactly once with its image,
every job has finished (none left queued or running), and after the orphan sweep no image is
left that no row refers to. ``KILL_POINTS`` (default 10 per database, so 20 per scenario) sets
how many kills; ``make bench`` runs more. A summary line per run is printed (``pytest -s``) and
appended to ``var/bench/kill-points.jsonl`` when ``KILL_POINTS_REPORT`` names a file.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from importing import FAST_CARDS, import_args, variant
from serving import (
    REPO_ROOT,
    Server,
    cards_command,
    cards_env,
    demo_keys,
    kill_group,
    start_server,
    wait_gone,
)
from sqlalchemy import func
from sqlmodel import Session, col, select

from models import migrate
from models.blobs import FolderBlobStore
from models.db import make_engine
from models.tables import Principal, Source, UploadJob

KILL_POINTS = int(os.environ.get("KILL_POINTS", "10"))
SEED = int(os.environ.get("KILL_POINTS_SEED", "20261204"))
METADATA = json.dumps({"attestation": {"basis": "received_in_person"}, "uses": ["invites"]})


@dataclass
class Tally:
    """What one scenario saw, for the assertions and the closing figures."""

    scenario: str
    database: str
    kills: int = 0
    landed_mid_work: int = 0
    survivors: list[int] = field(default_factory=list)
    orphans_after_kills: int = 0  # images no row referred to, counted right after each kill
    orphans_before_sweep: int = 0
    swept: int = 0
    cards: int = 0
    lost: int = 0
    duplicated: int = 0
    jobs_stuck: int = 0
    seconds: float = 0.0

    def report(self) -> None:
        line = json.dumps(self.__dict__)
        print(line)
        target = os.environ.get("KILL_POINTS_REPORT")
        if target:
            Path(target).parent.mkdir(parents=True, exist_ok=True)
            with Path(target).open("a") as out:
                out.write(line + "\n")


@pytest.fixture
def migrated(empty_db_url: str, tmp_path: Path) -> Iterator[tuple[str, dict[str, str], FolderBlobStore]]:
    migrate.upgrade(empty_db_url)
    blobs = FolderBlobStore(tmp_path / "blobs")
    env = cards_env(
        empty_db_url,
        blobs.root,
        CARDS_OCR_WORKERS="1",
        CARDS_JOB_CONCURRENCY="1",
        CARDS_PROFILE="fast",
        CARDS_MAX_QUEUE_SECONDS="0",  # no refusals here: every upload goes in (the bound has its own test)
        CARDS_ORPHAN_GRACE_SECONDS="1",
        CARDS_ORPHAN_SWEEP_SECONDS="0",  # at start-up only
    )
    yield empty_db_url, env, blobs


def _database(url: str) -> str:
    return "sqlite" if url.startswith("sqlite") else "postgresql"


def _cards(samples_dir: Path, folder: Path, count: int, tag: str) -> list[Path]:
    """``count`` distinct small cards (the fast ones re-encoded with a text chunk: other bytes)."""
    return [
        variant(samples_dir / FAST_CARDS[i % len(FAST_CARDS)], folder / f"{tag}-{i}.png", f"{tag}-{i}")
        for i in range(count)
    ]


def _orphans(url: str, blobs: FolderBlobStore) -> set[str]:
    engine = make_engine(url)
    with Session(engine) as session:
        sources = {s.blob_key for s in session.exec(select(Source)).all() if s.blob_key}
        pending = {j.blob_key for j in session.exec(select(UploadJob)).all() if j.blob_key}
    engine.dispose()
    return {b.key for b in blobs.listing()} - sources - pending


def _check_blobs(url: str, blobs: FolderBlobStore, env: dict[str, str], tally: Tally) -> set[str]:
    """Sweep with no grace (nothing is in flight now); then every blob is a source's and vice versa."""
    tally.orphans_before_sweep += len(_orphans(url, blobs))
    swept = subprocess.run(
        [*cards_command(), "db", "sweep-blobs", "--grace-seconds", "0"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert swept.returncode == 0, swept.stderr
    tally.swept += json.loads(swept.stdout)["deleted"]
    engine = make_engine(url)
    with Session(engine) as session:
        sources = {s.blob_key for s in session.exec(select(Source)).all() if s.blob_key}
    engine.dispose()
    left = {b.key for b in blobs.listing()}
    assert left == sources, f"orphans {sorted(left - sources)}, missing {sorted(sources - left)}"
    return sources


def _killed(process_group: int, tally: Tally) -> None:
    """After a kill -9: every process of the command's group must be gone within seconds."""
    left = wait_gone(process_group, seconds=10)
    tally.survivors += left
    kill_group(process_group)
    assert not left, f"processes left after kill -9: {left}"


# --- the server during uploads ---------------------------------------------------------------


class Uploads:
    """Clients sending cards (sync or async) and sending again whatever lost its answer."""

    def __init__(self, auth: dict[str, str]) -> None:
        self.auth = auth
        self.accepted: dict[str, dict[str, Any]] = {}  # image name -> the answer's body (card or job)
        self.unanswered: dict[str, tuple[bytes, str]] = {}

    def send(self, server: Server, name: str, image: bytes, mode: str) -> None:
        try:
            response = httpx.post(
                f"{server.base_url}/v1/cards",
                params={"mode": mode},
                headers={**self.auth, "Idempotency-Key": f"upload-{name}"},  # the same key on every retry
                files={"image": (name, image, "image/png")},
                data={"metadata": METADATA},
                timeout=60,
            )
        except httpx.TransportError:  # the kill cut it off: send it again after the restart
            self.unanswered[name] = (image, mode)
            return
        assert response.status_code in (200, 201, 202), response.text
        self.accepted[name] = {"mode": mode, **response.json()}
        self.unanswered.pop(name, None)

    def send_all(self, server: Server, batch: dict[str, tuple[bytes, str]]) -> None:
        with ThreadPoolExecutor(max(1, len(batch))) as pool:
            for name, (image, mode) in batch.items():
                pool.submit(self.send, server, name, image, mode)


def test_server_killed_at_random_points_during_sync_and_async_uploads(
    migrated: tuple[str, dict[str, str], FolderBlobStore], samples_dir: Path, tmp_path: Path
) -> None:
    url, env, blobs = migrated
    tally = Tally("server", _database(url))
    started = time.monotonic()
    rng = random.Random(SEED)
    auth = {"Authorization": f"Bearer {demo_keys(env)['uploader']}"}
    clients = Uploads(auth)
    images: dict[str, bytes] = {}
    for point in range(KILL_POINTS):
        server = start_server(env, tmp_path / "server.log")
        try:
            batch = dict(clients.unanswered)
            for path in _cards(samples_dir, tmp_path / "cards", 3, f"r{point}"):
                images[path.name] = path.read_bytes()
                batch[path.name] = (images[path.name], rng.choice(("sync", "async")))
            with ThreadPoolExecutor(1) as runner:
                sending = runner.submit(clients.send_all, server, batch)
                time.sleep(rng.uniform(0.05, 1.2))  # within a round of uploads, even on a quiet machine
                tally.landed_mid_work += not sending.done()
                server.kill()
                tally.kills += 1
                sending.result()
            _killed(server.pid, tally)
            tally.orphans_after_kills += len(_orphans(url, blobs))
        finally:
            server.stop()

    server = start_server(env, tmp_path / "server.log")  # the restart after the last kill
    try:
        clients.send_all(server, dict(clients.unanswered))
        assert not clients.unanswered
        jobs = _finished_jobs(server, auth, clients, tally)
    finally:
        server.stop()
    assert not wait_gone(server.pid)
    _check_server_cards(url, images, clients, jobs, tally)
    _check_blobs(url, blobs, env, tally)
    tally.seconds = round(time.monotonic() - started, 1)
    tally.report()
    assert tally.landed_mid_work >= KILL_POINTS // 2, "most kills should land while uploads are in flight"


def _finished_jobs(server: Server, auth: dict[str, str], clients: Uploads, tally: Tally) -> dict[str, int]:
    """Wait for every accepted job (a job a killed server left running is run again at start-up)."""
    done: dict[str, int] = {}
    deadline = time.monotonic() + 120
    for name, answer in clients.accepted.items():
        if "url" not in answer:
            continue
        while True:
            job = httpx.get(f"{server.base_url}{answer['url']}", headers=auth, timeout=30).json()
            if job["status"] not in ("queued", "running"):
                break
            if time.monotonic() > deadline:
                tally.jobs_stuck += 1
                break
            time.sleep(0.2)
        assert job["status"] == "done", job
        done[name] = job["card_id"]
    assert tally.jobs_stuck == 0
    return done


def _check_server_cards(
    url: str, images: dict[str, bytes], clients: Uploads, jobs: dict[str, int], tally: Tally
) -> None:
    engine = make_engine(url)
    with Session(engine) as session:
        uploader = session.exec(select(Principal).where(Principal.name == "demo-uploader")).one()
        shas = list(session.exec(select(Source.sha256).where(Source.uploader_id == uploader.id)).all())
        pending = col(UploadJob.status).in_(["queued", "running"])
        stuck = session.exec(select(func.count()).select_from(UploadJob).where(pending)).one()
    engine.dispose()
    expected = {hashlib.sha256(data).hexdigest() for data in images.values()}
    tally.cards = len(shas)
    tally.lost = len(expected - set(shas))
    tally.duplicated = len(shas) - len(set(shas))
    tally.jobs_stuck += stuck
    assert set(clients.accepted) == set(images), "every card was accepted in the end"
    assert sorted(shas) == sorted(expected), "every accepted card stored exactly once, nothing else"
    for name, answer in clients.accepted.items():
        card_id = jobs.get(name) if answer["mode"] == "async" else answer.get("id")
        assert card_id, (name, answer)
    assert stuck == 0, "no job left queued or running"


# --- the importer during a folder import ---------------------------------------------------------


def test_importer_killed_at_random_points_during_a_folder_import(
    migrated: tuple[str, dict[str, str], FolderBlobStore], samples_dir: Path, tmp_path: Path
) -> None:
    url, env, blobs = migrated
    demo_keys(env)  # creates demo-uploader
    tally = Tally("importer", _database(url))
    started = time.monotonic()
    rng = random.Random(SEED + 1)
    folder = tmp_path / "inbox"
    files: list[Path] = []
    command = cards_command() + import_args(
        folder, tmp_path / "report.json", "--jobs", "2", "--batch-size", "2", uploader="demo-uploader"
    )
    for point in range(KILL_POINTS):
        files += _cards(samples_dir, folder / f"r{point}", 2, f"i{point}")  # the folder grows each round
        log_path = tmp_path / f"import-{point}.log"
        with log_path.open("w") as log:
            process = subprocess.Popen(
                command, cwd=REPO_ROOT, env=env, stdout=log, stderr=log, start_new_session=True
            )
        try:
            deadline = time.monotonic() + 60
            while "found" not in log_path.read_text() and process.poll() is None:
                assert time.monotonic() < deadline, "the importer never started"
                time.sleep(0.02)
            time.sleep(rng.uniform(0.0, 1.5))
            tally.landed_mid_work += process.poll() is None
            process.kill()
            process.wait(timeout=30)
            tally.kills += 1
            _killed(process.pid, tally)
            tally.orphans_after_kills += len(_orphans(url, blobs))
        finally:
            kill_group(process.pid)

    final = subprocess.run(
        [*command, "--json"], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert final.returncode == 0, final.stderr
    _check_import(url, files, tally)
    _check_blobs(url, blobs, env, tally)
    tally.seconds = round(time.monotonic() - started, 1)
    tally.report()
    assert tally.landed_mid_work >= KILL_POINTS // 2, "most kills should land while the import runs"


def _check_import(url: str, files: list[Path], tally: Tally) -> None:
    engine = make_engine(url)
    with Session(engine) as session:
        shas = list(session.exec(select(Source.sha256)).all())
    engine.dispose()
    expected = {hashlib.sha256(f.read_bytes()).hexdigest() for f in files}
    tally.cards = len(shas)
    tally.lost = len(expected - set(shas))
    tally.duplicated = len(shas) - len(set(shas))
    assert sorted(shas) == sorted(expected), "every file imported exactly once"
