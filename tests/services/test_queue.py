"""The OCR queue with its real parts: a private Redis, PostgreSQL, ``cards worker`` processes.

No eager mode and no mocks: cards go through Celery on Redis to prefork worker processes, and
the checks read what PostgreSQL holds. The images live in the database's blob table
(``CARDS_BLOB_STORE=database``), as they would for workers on several machines. PostgreSQL
only: the queue is the mode for several machines, which SQLite cannot serve.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from queueing import (
    CARDS,
    RedisServer,
    Worker,
    free_port,
    generate_cards,
    jobs_of,
    make_uploader,
    queue_env,
    records_by_sha,
)
from sqlmodel import Session, select

from core.settings import load_settings
from models.blobs import DatabaseBlobStore
from models.tables import Source, UploadJob
from services import queue

IMPORT = ["import", "--basis", "received_in_person", "--uses", "catalog", "--json"]


@pytest.fixture(scope="module")
def many_cards(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("cards") / "cards"
    generate_cards(folder, 120)
    return folder


def run_import(env: dict[str, str], folder: Path, uploader: str, *extra: str, timeout: float = 240) -> dict:
    done = subprocess.run(
        [CARDS, *IMPORT, str(folder), "--uploader", uploader, *extra],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def blob_keys(engine) -> set[str]:  # type: ignore[no-untyped-def]
    return set(DatabaseBlobStore(engine).keys())


def source_keys(engine) -> list[str]:  # type: ignore[no-untyped-def]
    with Session(engine) as session:
        return [s.blob_key for s in session.exec(select(Source)).all() if s.blob_key]


def test_a_queued_import_on_two_workers_stores_each_card_once_with_the_in_process_records(
    redis_server: RedisServer, pg_schema, many_cards: Path, tmp_path: Path
) -> None:
    url, engine = pg_schema
    in_process, queued = make_uploader(engine, "in-process"), make_uploader(engine, "queued")
    env = queue_env(url, redis_server.url, tmp_path)
    summary = run_import({**env, "CARDS_BROKER_URL": ""}, many_cards, "in-process", "--jobs", "2")
    assert summary["imported"] == 120
    workers = [Worker(env, tmp_path / f"worker{n}.log") for n in (1, 2)]
    try:
        for worker in workers:
            worker.wait_ready()
        summary = run_import(env, many_cards, "queued", "--queue")
    finally:
        codes = [worker.stop() for worker in workers]
    assert summary["imported"] == 120 and summary["failed"] == 0
    assert codes == [0, 0]
    expected = records_by_sha(engine, in_process)
    assert len(expected) == 120
    assert records_by_sha(engine, queued) == expected, "the same records as the in-process import"
    keys = source_keys(engine)
    assert len(keys) == 240 and len(set(keys)) == 120, "each image stored once per uploader"
    assert blob_keys(engine) == set(keys)
    assert all(job.status == "done" for job in jobs_of(engine)) and len(jobs_of(engine)) == 120
    lines = [worker.card_lines() for worker in workers]
    assert all(lines), "both workers read cards"
    assert sum(len(found) for found in lines) >= 120
    assert all(" ms=" in line and " outcome=done:" in line for found in lines for line in found)


def test_a_worker_killed_mid_card_has_the_card_redelivered_and_stored_once(
    redis_server: RedisServer, pg_schema, many_cards: Path, tmp_path: Path
) -> None:
    url, engine = pg_schema
    make_uploader(engine, "killed")
    folder = tmp_path / "few"
    folder.mkdir()
    for path in sorted(many_cards.iterdir())[:8]:
        (folder / path.name).write_bytes(path.read_bytes())
    env = queue_env(url, redis_server.url, tmp_path)
    worker = Worker(env, tmp_path / "worker.log")
    try:
        worker.wait_ready()
        importing = subprocess.Popen(
            [CARDS, *IMPORT, str(folder), "--uploader", "killed", "--queue"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        victim = None
        deadline = time.monotonic() + 60
        while victim is None and time.monotonic() < deadline:
            running = [j for j in jobs_of(engine) if j.status == "running" and j.record_id is None]
            if running:
                victim = running[0].id
                for child in worker.children():
                    os.kill(child, signal.SIGKILL)
            time.sleep(0.01)
        assert victim is not None, "a card was being read"
        out, err = importing.communicate(timeout=120)
        assert importing.returncode == 0, err[-3000:]
    finally:
        worker.stop()
    assert json.loads(out.strip().splitlines()[-1])["imported"] == 8
    with Session(engine) as session:
        job = session.get(UploadJob, victim)
        assert job is not None and job.status == "done" and job.record_id is not None
        assert int(job.metadata_.get("attempts", 0)) >= 2, "the card was delivered again"
    keys = source_keys(engine)
    assert len(keys) == 8 and len(set(keys)) == 8, "stored once"
    assert blob_keys(engine) == set(keys), "no orphan image"


def test_an_import_finishes_after_redis_restarts_in_the_middle(
    redis_server: RedisServer, pg_schema, many_cards: Path, tmp_path: Path
) -> None:
    url, engine = pg_schema
    make_uploader(engine, "restarted")
    folder = tmp_path / "some"
    folder.mkdir()
    for path in sorted(many_cards.iterdir())[:40]:
        (folder / path.name).write_bytes(path.read_bytes())
    env = queue_env(url, redis_server.url, tmp_path)
    workers = [Worker(env, tmp_path / f"worker{n}.log") for n in (1, 2)]
    try:
        for worker in workers:
            worker.wait_ready()
        importing = subprocess.Popen(
            [CARDS, *IMPORT, str(folder), "--uploader", "restarted", "--queue"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 60
        while sum(j.status == "done" for j in jobs_of(engine)) < 5 and time.monotonic() < deadline:
            time.sleep(0.05)
        done_before = sum(j.status == "done" for j in jobs_of(engine))
        redis_server.stop()  # every queued message is lost with it (no persistence)
        time.sleep(2)
        redis_server.start()
        out, err = importing.communicate(timeout=180)
        assert importing.returncode == 0, err[-3000:]
    finally:
        codes = [worker.stop() for worker in workers]
    summary = json.loads(out.strip().splitlines()[-1])
    assert 5 <= done_before < 40, "Redis went away in the middle of the import"
    assert summary["imported"] == 40 and summary["failed"] == 0
    assert codes == [0, 0]
    keys = source_keys(engine)
    assert len(keys) == 40 and len(set(keys)) == 40
    assert all(job.status == "done" for job in jobs_of(engine))
    assert blob_keys(engine) == set(keys)


def test_a_worker_takes_uploads_before_a_waiting_import(
    redis_server: RedisServer, pg_schema, many_cards: Path, tmp_path: Path
) -> None:
    url, engine = pg_schema
    uploader = make_uploader(engine, "mixed")
    env = queue_env(url, redis_server.url, tmp_path)
    settings = load_settings(_env_file=None, DATABASE_URL=url, CARDS_BROKER_URL=redis_server.url)
    blobs = DatabaseBlobStore(engine)
    paths = sorted(many_cards.iterdir())[40:47]
    ids = []
    with Session(engine) as session:
        for n, path in enumerate(paths):
            key = blobs.put(path.read_bytes())
            bulk = n < len(paths) - 1
            payload = (
                queue.job_payload(
                    sha256=key,
                    byte_size=path.stat().st_size,
                    filename=f"#{n}",
                    client={"import_batch": "b"},
                    uses=["catalog"],
                    attestation={"basis": "received_in_person", "text_version": "t", "details": {}},
                )
                if bulk
                else {"metadata": {"uses": ["catalog"]}, "filename": "upload", "sha256": key, "byte_size": 1}
            )
            batch = "b" if bulk else None
            job = UploadJob(principal_id=uploader, blob_key=key, batch=batch, metadata_=payload)
            session.add(job)
            session.flush()
            ids.append(job.id)
        session.commit()
    publisher = queue.Publisher(settings)
    try:
        assert publisher.publish(ids[:-1], queue.BULK) == len(ids) - 1
        assert publisher.publish(ids[-1:], queue.INTERACTIVE) == 1
        assert publisher.depths() == {"interactive": 1, "bulk": len(ids) - 1}
    finally:
        publisher.close()
    worker = Worker(env, tmp_path / "worker.log")
    try:
        worker.wait_ready()
        deadline = time.monotonic() + 60
        while any(j.status != "done" for j in jobs_of(engine)) and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        assert worker.stop() == 0
    order = [line.split("job=")[1].split()[0] for line in worker.card_lines()]
    assert order[0] == str(ids[-1]), f"the upload first, then the import: {order}"
    assert sorted(order) == sorted(str(i) for i in ids)


def test_sigterm_stops_a_worker_after_it_finishes_the_card_it_is_reading(
    redis_server: RedisServer, pg_schema, many_cards: Path, tmp_path: Path
) -> None:
    url, engine = pg_schema
    uploader = make_uploader(engine, "stopping")
    settings = load_settings(_env_file=None, DATABASE_URL=url, CARDS_BROKER_URL=redis_server.url)
    data = sorted(many_cards.iterdir())[50].read_bytes()
    key = DatabaseBlobStore(engine).put(data)
    with Session(engine) as session:
        job = UploadJob(
            principal_id=uploader,
            blob_key=key,
            metadata_={"metadata": {}, "filename": "up", "sha256": key, "byte_size": len(data)},
        )
        session.add(job)
        session.commit()
        job_id = job.id
    worker = Worker(queue_env(url, redis_server.url, tmp_path), tmp_path / "worker.log")
    worker.wait_ready()
    publisher = queue.Publisher(settings)
    try:
        publisher.publish([job_id], queue.INTERACTIVE)
    finally:
        publisher.close()
    deadline = time.monotonic() + 30
    while [j.status for j in jobs_of(engine)] != ["running"] and time.monotonic() < deadline:
        time.sleep(0.01)
    assert worker.stop() == 0, "a clean exit"
    (finished,) = jobs_of(engine)
    assert finished.status == "done" and finished.record_id is not None, "the card it was reading is finished"
    assert any(f"job={job_id} " in line for line in worker.card_lines())


def test_a_job_the_broker_could_not_take_stays_queued_and_is_published_again_once_its_queue_is_empty(
    redis_server: RedisServer, pg_schema, tmp_path: Path
) -> None:
    url, engine = pg_schema
    uploader = make_uploader(engine, "unlucky")
    with Session(engine) as session:
        job = UploadJob(principal_id=uploader, blob_key=None, batch="b", metadata_={"kind": "import"})
        session.add(job)
        session.commit()
        job_id = job.id
    away = queue.Publisher(load_settings(_env_file=None, CARDS_BROKER_URL=f"redis://127.0.0.1:{free_port()}/0"))
    try:
        assert away.publish([job_id], queue.BULK, patient=False) == 0, "not sent, and not raised"
    finally:
        away.close()
    broker = {"CARDS_BROKER_URL": redis_server.url, "CARDS_QUEUE_REPUBLISH_SECONDS": "0.2"}
    settings = load_settings(_env_file=None, DATABASE_URL=url, **broker)
    publisher = queue.Publisher(settings)
    try:
        bulk_before = publisher.depths()["bulk"]
        assert bulk_before == 0
        time.sleep(0.3)
        assert queue.republish_stalled(engine, publisher, settings) == 1
        assert publisher.depths()["bulk"] == 1
        time.sleep(0.3)
        assert queue.republish_stalled(engine, publisher, settings) == 0, "a queue with messages lost nothing"
    finally:
        with publisher.app.connection_for_write() as conn:
            conn.default_channel.client.delete("bulk")
        publisher.close()
