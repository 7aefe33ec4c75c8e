"""Load benchmark: synchronous uploads against a real ``cards serve`` (uvicorn), SQLite and PostgreSQL.

Why: twenty concurrent synchronous uploads used to queue without bound (p50 30 s, p95 53 s on
two cores). With the OCR queue bounded (``CARDS_MAX_QUEUE_SECONDS``), a client either gets its
card in bounded time or a 503 ``overloaded`` at once; this measures both sides of that.

How, per backend (SQLite in a tmp file; PostgreSQL in a throwaway schema of the local server):
  * migrate an empty database, create an uploader, start ``cards serve`` on a free loopback
    port with the environment's settings (``CARDS_OCR_WORKERS``, ``CARDS_PROFILE``, ...);
  * closed loop: N clients each send ``POST /v1/cards`` (sync, OCR included) one after the
    other for ``--seconds``; every body is a sample card made unique by a PNG/JPEG comment,
    so none is answered from the "same bytes" shortcut; N = 1, 4, 16 (``--concurrency``);
  * hold: from ``--hold-from`` clients doubling, ``--hold`` seconds each (60 by default), until a
    level sees an error (any answer but 201, or a dropped connection); the largest level
    without one is reported.

Latencies are client-side wall times of the successful uploads (nearest-rank percentiles);
uploads/s counts successes over the wall time. Only 127.0.0.1 is contacted.

    .venv/bin/python bench/load.py [--backends sqlite,postgresql] [--concurrency 1,4,16]
        [--seconds 20] [--hold 60] [--hold-from 16] [--hold-max 128] [--out var/bench/load.json]

``--hold 10 --seconds 5`` for a quick run. Writes a table to stdout and ``var/bench/load.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from sqlmodel import Session

sys.path.insert(0, str(Path(__file__).resolve().parent))
import records as storage_bench

from models import migrate
from models.db import make_engine
from models.enums import Role
from services.principals import create_principal

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "var" / "bench" / "load.json"
IMAGES = ("card_05.png", "card_08.png", "card_14.png", "card_01.png", "card_11.png", "card_16.png")
METADATA = json.dumps({"attestation": {"basis": "received_in_person"}, "uses": ["catalog"]})


def percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def unique_image(data: bytes, tag: str) -> bytes:
    """The same picture with other bytes: a PNG tEXt chunk right after IHDR."""
    body = b"Comment\x00" + tag.encode()
    chunk = struct.pack(">I", len(body)) + b"tEXt" + body + struct.pack(">I", zlib.crc32(b"tEXt" + body))
    return data[:33] + chunk + data[33:]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def server(url: str, workdir: Path) -> Iterator[str]:
    """``cards serve`` on a free loopback port; yields its base URL; SIGTERM at the end."""
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "CARDS_BLOB_DIR": str(workdir / "blobs"),
        "CARDS_SUPPRESSION_SALT": storage_bench.SALT.decode(),
        "OMP_THREAD_LIMIT": "1",
    }
    script = Path(sys.executable).with_name("cards")
    command = [
        str(script) if script.exists() else "cards",
        "serve",
        "--port",
        str(port),
        "--log-level",
        "warning",
    ]
    with (workdir / "server.log").open("w") as log:
        process = subprocess.Popen(command, cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the server exited: {(workdir / 'server.log').read_text()[-2000:]}")
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the server did not come up in 60 s")
            time.sleep(0.2)
        yield base
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def closed_loop(
    base: str, key: str, images: list[bytes], clients: int, seconds: float, tag: str
) -> dict[str, Any]:
    """``clients`` clients uploading one card after another for ``seconds``."""
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    retry_after: list[int] = []
    lock = threading.Lock()
    counter = iter(range(10**9))
    stop_at = time.monotonic() + seconds

    def client() -> None:
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=300) as http:
            while time.monotonic() < stop_at:
                with lock:
                    n = next(counter)
                data = unique_image(images[n % len(images)], f"{tag}-{n}")
                start = time.perf_counter()
                try:
                    response = http.post(
                        "/v1/cards", files={"image": ("card.png", data)}, data={"metadata": METADATA}
                    )
                    status = str(response.status_code)
                except httpx.TransportError as exc:
                    response, status = None, type(exc).__name__
                took = 1000 * (time.perf_counter() - start)
                with lock:
                    statuses[status] = statuses.get(status, 0) + 1
                    if status == "201":
                        latencies.append(took)
                    elif response is not None and "retry-after" in response.headers:
                        retry_after.append(int(response.headers["retry-after"]))
                if status == "503" and retry_after:  # a polite client waits as told
                    time.sleep(min(retry_after[-1], max(0.0, stop_at - time.monotonic())))

    start = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - start
    ok = statuses.get("201", 0)
    return {
        "clients": clients,
        "seconds": round(wall, 1),
        "uploads": ok,
        "errors": sum(n for s, n in statuses.items() if s != "201"),
        "statuses": statuses,
        "uploads_per_s": round(ok / wall, 2),
        "p50_ms": round(percentile(latencies, 0.50), 1),
        "p95_ms": round(percentile(latencies, 0.95), 1),
        "p99_ms": round(percentile(latencies, 0.99), 1),
        "max_ms": round(max(latencies), 1) if latencies else None,
        "retry_after_s": sorted(set(retry_after)),
    }


def run_backend(name: str, args: argparse.Namespace, images: list[bytes]) -> dict[str, Any]:
    database = storage_bench.sqlite_database if name == "sqlite" else storage_bench.postgres_database
    with database(False) as url, tempfile.TemporaryDirectory(prefix="cards-bench-load-") as tmp:
        migrate.upgrade(url)
        engine = make_engine(url)
        with Session(engine) as session:
            _, key = create_principal(session, "bench-load-uploader", Role.uploader)
            session.commit()
        engine.dispose()
        result: dict[str, Any] = {"backend": name, "levels": [], "hold": []}
        with server(url, Path(tmp)) as base:
            closed_loop(base, key, images, 1, 0.1, f"{name}-warm")  # starts the OCR pool
            for clients in args.concurrency:
                print(f"== {name}: {clients} clients for {args.seconds} s", file=sys.stderr)
                result["levels"].append(
                    closed_loop(base, key, images, clients, args.seconds, f"{name}-{clients}")
                )
            clients, held = args.hold_from, None
            while clients <= args.hold_max:
                print(f"== {name}: hold {clients} clients for {args.hold} s", file=sys.stderr)
                level = closed_loop(base, key, images, clients, args.hold, f"{name}-hold-{clients}")
                result["hold"].append(level)
                if level["errors"]:
                    break
                held = clients
                clients *= 2
            result["held_with_0_errors"] = held
    return result


def print_table(results: list[dict[str, Any]], hold: float) -> None:
    print("| database | clients | uploads/s | p50 ms | p95 ms | p99 ms | errors (503 overloaded) |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for result in results:
        for level in result["levels"]:
            cells = [result["backend"], level["clients"], level["uploads_per_s"], level["p50_ms"]]
            refused = level["statuses"].get("503", 0)
            cells += [level["p95_ms"], level["p99_ms"], f"{level['errors']} ({refused})"]
            print("| " + " | ".join(str(c) for c in cells) + " |")
    for result in results:
        tried = ", ".join(
            f"{h['clients']}: {h['errors']} errors, p99 {h['p99_ms']} ms" for h in result["hold"]
        )
        print(
            f"{result['backend']}: largest concurrency held {hold:.0f} s with 0 errors: "
            f"{result['held_with_0_errors']} ({tried})"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--concurrency", default="1,4,16", help="clients per level, comma-separated")
    parser.add_argument("--seconds", type=float, default=20.0, help="seconds per level of the table")
    parser.add_argument(
        "--hold", type=float, default=60.0, help="seconds a concurrency must hold with 0 errors"
    )
    parser.add_argument("--hold-from", type=int, default=16)
    parser.add_argument("--hold-max", type=int, default=128)
    parser.add_argument("--images", type=Path, default=ROOT / "samples")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    args.concurrency = [int(c) for c in args.concurrency.split(",")]
    images = [(args.images / name).read_bytes() for name in IMAGES]
    results = [run_backend(name, args, images) for name in args.backends.split(",")]
    environment = {
        "cores": os.cpu_count(),
        "load_average": os.getloadavg(),
        "python": platform.python_version(),
        "settings": {k: v for k, v in os.environ.items() if k.startswith("CARDS_")},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"environment": environment, "results": results}, indent=2))
    print_table(results, args.hold)
    print(f"written to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
