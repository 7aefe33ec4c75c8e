"""The OCR queue: cards/s in process vs 1 and 2 workers, overhead per card, upload latency under load.

Why: the queue exists to spread OCR over machines, so what matters is that it scales with
workers (2 workers vs 1 on 2 cores: target >= 1.8x), what it costs per card over the in-process
import (publish, a job row, the blob table, a claim), and that a phone's upload is not stuck
behind a bulk import (target: within 2x of its latency on an idle system).

How (PostgreSQL in a throwaway schema of the local server; a private redis-server on a free
port; images in the database's blob table; the fast profile; OCR_THREAD_LIMIT=1):
  * ``--cards`` synthetic cards drawn by samples/generate.py (flat, half size);
  * ``cards import`` in process with ``--jobs 1`` and ``--jobs 2``, then ``cards import --queue``
    with 1 and with 2 ``cards worker --concurrency 1`` processes, each for its own uploader (so
    every run OCRs every card); cards/s = cards / wall time of the command;
  * queue overhead per card = (queue with 1 worker - in process with 1 job) / cards;
  * interactive latency: ``--uploads`` async uploads through the HTTP app (its lifespan
    publishes to ``interactive``), each timed from POST until its job row is done, first with
    the workers idle, then while a bulk import of the same size runs.

    .venv/bin/python bench/queue_throughput.py [--cards 60] [--uploads 6] [--out var/bench/queue.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from db_fixtures import POSTGRES_URL, TEST_SALT, postgres_engine  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402
from queueing import CARDS, RedisServer, Worker, generate_cards, make_uploader, queue_env  # noqa: E402
from sqlalchemy import text  # noqa: E402
from sqlmodel import Session, SQLModel  # noqa: E402

from api.main import create_app  # noqa: E402
from core.settings import load_settings  # noqa: E402
from models.db import make_engine  # noqa: E402
from models.enums import Role  # noqa: E402
from models.tables import UploadJob  # noqa: E402
from services.principals import create_principal  # noqa: E402

IMPORT = ["import", "--basis", "received_in_person", "--uses", "catalog", "--json"]


def timed_import(env: dict[str, str], folder: Path, uploader: str, *extra: str) -> float:
    started = time.perf_counter()
    done = subprocess.run(
        [CARDS, *IMPORT, str(folder), "--uploader", uploader, *extra], env=env, capture_output=True, text=True
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"import failed: {done.stderr[-2000:]}")
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["imported"] == len(list(folder.iterdir())), summary
    return elapsed


def with_workers(env: dict[str, str], tmp: Path, count: int, tag: str) -> list[Worker]:
    workers = [Worker(env, tmp / f"{tag}-worker{n}.log") for n in range(count)]
    for worker in workers:
        worker.wait_ready()
    return workers


def upload_latencies(
    client: TestClient, headers: dict[str, str], engine: Any, images: list[Path]
) -> list[float]:
    found = []
    for path in images:
        started = time.perf_counter()
        response = client.post(
            "/v1/cards",
            params={"mode": "async"},
            headers=headers,
            files={"image": ("card.png", path.read_bytes(), "image/png")},
            data={"metadata": json.dumps({"uses": ["catalog"]})},
        )
        assert response.status_code == 202, response.text
        job_id = response.json()["id"]
        while True:
            with Session(engine) as session:
                job = session.get(UploadJob, job_id)
                assert job is not None
                if job.status in ("done", "failed"):
                    break
            time.sleep(0.01)
        found.append((time.perf_counter() - started) * 1000)
    return found


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cards", type=int, default=60)
    parser.add_argument("--uploads", type=int, default=6)
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "bench" / "queue.json")
    args = parser.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="bench-queue-"))
    folder = tmp / "cards"
    generate_cards(folder, args.cards, seed=23)
    uploads = generate_cards(tmp / "uploads", 2 * args.uploads, seed=29)
    bulk = tmp / "bulk"
    generate_cards(bulk, args.cards, seed=31)
    redis = RedisServer(tmp)
    redis.start()
    schema = f"bench_q_{uuid.uuid4().hex[:8]}"
    engine = postgres_engine(schema)
    SQLModel.metadata.create_all(engine)
    url = f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    env = queue_env(url, redis.url, tmp)
    results: dict[str, Any] = {"cards": args.cards, "profile": "fast"}
    try:
        for name in ("in1", "in2", "q1", "q2", "bulk", "phone"):
            make_uploader(engine, name)
        in_process = {**env, "CARDS_BROKER_URL": ""}
        results["in_process_jobs1_s"] = timed_import(in_process, folder, "in1", "--jobs", "1")
        results["in_process_jobs2_s"] = timed_import(in_process, folder, "in2", "--jobs", "2")
        for count in (1, 2):
            workers = with_workers(env, tmp, count, f"q{count}")
            try:
                results[f"queue_{count}_workers_s"] = timed_import(env, folder, f"q{count}", "--queue")
            finally:
                for worker in workers:
                    worker.stop()
        n = args.cards
        results["cards_per_s"] = {
            "in_process_jobs1": n / results["in_process_jobs1_s"],
            "in_process_jobs2": n / results["in_process_jobs2_s"],
            "queue_1_worker": n / results["queue_1_workers_s"],
            "queue_2_workers": n / results["queue_2_workers_s"],
        }
        results["ratio_2_vs_1_workers"] = results["queue_1_workers_s"] / results["queue_2_workers_s"]
        results["queue_overhead_ms_per_card"] = (
            (results["queue_1_workers_s"] - results["in_process_jobs1_s"]) / n * 1000
        )

        with Session(engine) as session:
            _, key = create_principal(session, "phone-api", Role.uploader)
            session.commit()
        headers = {"Authorization": f"Bearer {key}"}
        settings = load_settings(
            _env_file=None,
            DATABASE_URL=url,
            CARDS_BROKER_URL=redis.url,
            CARDS_BLOB_STORE="database",
            CARDS_SUPPRESSION_SALT=TEST_SALT.decode(),
            CARDS_PROFILE="fast",
        )
        workers = with_workers(env, tmp, 2, "latency")
        try:
            with TestClient(create_app(engine, settings=settings, salt=TEST_SALT, ocr_workers=1)) as client:
                idle = upload_latencies(client, headers, engine, uploads[: args.uploads])
                importing = threading.Thread(target=timed_import, args=(env, bulk, "bulk", "--queue"))
                importing.start()
                time.sleep(2.0)  # the bulk queue is full by now
                busy = upload_latencies(client, headers, engine, uploads[args.uploads :])
                importing.join()
        finally:
            for worker in workers:
                worker.stop()
        results["upload_latency_idle_ms"] = {"p50": statistics.median(idle), "max": max(idle)}
        results["upload_latency_during_bulk_ms"] = {"p50": statistics.median(busy), "max": max(busy)}
        results["upload_latency_ratio_p50"] = statistics.median(busy) / statistics.median(idle)
    finally:
        redis.stop()
        engine.dispose()
        admin = make_engine(POSTGRES_URL)
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
