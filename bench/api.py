"""HTTP API benchmark: upload latency and catalog page latency against a real uvicorn on loopback.

Why: the API adds parsing, authentication, the purpose policy and JSON on top of the
storage functions that ``bench/records.py`` times; what a client feels is the end-to-end
latency, and its tail (p99) once clients queue for the OCR pool. The catalog page assembles
companies from every qualifying record behind them, so it must stay fast on a large store.

How, per backend (SQLite in a tmp file; PostgreSQL in a throwaway schema of the local server):
  * migrate an empty database (the real migrations) and fill it with ``--records`` synthetic
    cards using ``bench/records.py``'s generator and bulk ``fill``; then derive the catalog
    (``CatalogCompany`` / ``CatalogLink`` for every record with a company, by the same
    name-then-domain rule as :func:`models.catalog.link_record`, in bulk) and ANALYZE;
  * start ``cards serve`` on 127.0.0.1 (a free port) on that database, with an uploader and a
    catalog builder whose keys come from :func:`models.principals.create_principal`;
  * catalog: ``--pages`` requests of ``GET /v1/catalog/companies`` (50 per page), walking the
    cursor from the start again and again, plus ``--pages`` first pages filtered by ``q``;
  * uploads: ``--uploads`` synchronous ``POST /v1/cards`` (OCR included) with 1, then 4,
    concurrent clients; every request sends a sample card made unique by a metadata chunk
    (so none is answered from the "same bytes" shortcut); one warm-up upload first.

Latencies are client-side wall times in ms: p50 and p99 (nearest rank). Requests are bounded
in number and only go to 127.0.0.1; the server is stopped at the end.

    .venv/bin/python bench/api.py [--records 100000] [--backends sqlite,postgresql] [--uploads 24]
        [--pages 200] [--concurrency 1,4] [--images samples] [--out var/bench/api.json]

Writes a table to stdout and everything to ``var/bench/api.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import shutil
import signal
import socket
import statistics
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
from rich.console import Console
from rich.table import Table as RichTable
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session

sys.path.insert(0, str(Path(__file__).resolve().parent))
import records as storage_bench

from models import migrate
from models.db import make_engine
from models.enums import Role
from models.tables import CatalogCompany, CatalogLink
from services.catalog import normalise_company, web_domain
from services.principals import create_principal

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "var" / "bench" / "api.json"
PAGE = 50
CHUNK = 20_000  # records read per catalog-derivation query


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile (p99 of 24 samples is the maximum)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def summary(samples: list[float]) -> dict[str, Any]:
    return {
        "n": len(samples),
        "p50_ms": round(percentile(samples, 0.50), 1),
        "p99_ms": round(percentile(samples, 0.99), 1),
        "mean_ms": round(statistics.fmean(samples), 1),
        "max_ms": round(max(samples), 1),
    }


# --- the catalog, derived in bulk ---------------------------------------------------------


def fill_catalog(engine: Engine) -> dict[str, Any]:
    """CatalogCompany/CatalogLink for every record with a company: link_record's rule, in bulk.

    A record's company is its first ``companies`` value; it joins the company with the same
    normalised name, else the first company with its web domain, else makes a new one (with
    the record's domain and region). Every record is linked, whatever its uses: the policy
    decides at read time, as for records stored through ``store_extraction``.
    """
    start = time.perf_counter()
    now = dt.datetime.now(dt.UTC)
    by_key: dict[str, dict[str, Any]] = {}
    by_domain: dict[str, dict[str, Any]] = {}
    companies: list[dict[str, Any]] = []
    links: list[dict[str, Any]] = []
    last = 0
    with engine.connect() as conn:
        top = conn.execute(text("SELECT coalesce(max(id), 0) FROM contactrecord")).scalar_one()
        while last < top:
            rows = conn.execute(
                text(
                    "SELECT r.id, r.region, v.field, v.value FROM contactrecord r "
                    "JOIN fieldvalue v ON v.record_id = r.id AND v.field IN ('companies', 'websites') "
                    "WHERE r.id > :low AND r.id <= :high ORDER BY r.id, v.field, v.position"
                ),
                {"low": last, "high": last + CHUNK},
            ).all()
            last += CHUNK
            cards: dict[int, dict[str, Any]] = {}
            for record_id, region, field, value in rows:
                card = cards.setdefault(record_id, {"region": region, "company": None, "domain": None})
                if field == "companies" and card["company"] is None:
                    card["company"] = value
                elif field == "websites" and card["domain"] is None:
                    card["domain"] = web_domain(value)
            for record_id, card in cards.items():
                key = normalise_company(card["company"] or "")
                if not key:
                    continue
                domain = card["domain"]
                company = by_key.get(key) or (by_domain.get(domain) if domain else None)
                if company is None:
                    company = {
                        "id": len(companies) + 1,
                        "name": card["company"],
                        "name_key": key,
                        "domain": domain,
                        "country": card["region"],
                        "created_at": now,
                        "updated_at": now,
                    }
                    companies.append(company)
                    by_key[key] = company
                else:
                    company["domain"] = company["domain"] or domain
                    company["country"] = company["country"] or card["region"]
                if company["domain"]:
                    by_domain.setdefault(company["domain"], company)
                links.append({"id": len(links) + 1, "company_id": company["id"], "record_id": record_id})
    with engine.begin() as conn:
        if companies:
            conn.execute(CatalogCompany.__table__.insert(), companies)  # type: ignore[attr-defined]
        for at in range(0, len(links), CHUNK):
            conn.execute(CatalogLink.__table__.insert(), links[at : at + CHUNK])  # type: ignore[attr-defined]
        if engine.dialect.name == "postgresql":  # explicit ids: move the sequences past them
            for table in ("catalogcompany", "cataloglink"):
                conn.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"(SELECT coalesce(max(id), 1) FROM {table}))"
                    )
                )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("ANALYZE"))
    return {
        "companies": len(companies),
        "links": len(links),
        "seconds": round(time.perf_counter() - start, 2),
    }


# --- unique upload bodies -----------------------------------------------------------------


def unique_image(data: bytes, tag: str) -> bytes:
    """The same picture with different bytes: a PNG tEXt chunk, or a JPEG comment segment."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        body = b"Comment\x00" + tag.encode()
        chunk = struct.pack(">I", len(body)) + b"tEXt" + body + struct.pack(">I", zlib.crc32(b"tEXt" + body))
        return data[:33] + chunk + data[33:]  # right after IHDR
    if data.startswith(b"\xff\xd8"):
        body = tag.encode()
        return data[:2] + b"\xff\xfe" + struct.pack(">H", len(body) + 2) + body + data[2:]
    raise ValueError("only PNG and JPEG sample cards are supported")


# --- the server -----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cards_command() -> list[str]:
    script = Path(sys.executable).with_name("cards")
    return [str(script)] if script.exists() else [sys.executable, "-m", "cli"]


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
    log = (workdir / "server.log").open("w")
    command = [
        *cards_command(),
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
    ]
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
        log.close()


# --- the measurements -------------------------------------------------------------------------


def measure_catalog(base: str, key: str, pages: int) -> dict[str, Any]:
    """Cursor walks from the start, again and again; and first pages filtered by a name part."""
    headers = {"Authorization": f"Bearer {key}"}
    walk: list[float] = []
    first: list[float] = []
    filtered: list[float] = []
    walks = 0
    with httpx.Client(base_url=base, headers=headers, timeout=120) as client:
        client.get("/v1/catalog/companies", params={"limit": PAGE}).raise_for_status()  # warm-up
        cursor: str | None = None
        while len(walk) < pages:
            params: dict[str, Any] = {"limit": PAGE, **({"cursor": cursor} if cursor else {})}
            start = time.perf_counter()
            response = client.get("/v1/catalog/companies", params=params)
            walk.append(1000 * (time.perf_counter() - start))
            response.raise_for_status()
            if cursor is None:
                first.append(walk[-1])
            cursor = response.json()["next_cursor"]
            if cursor is None:
                walks += 1
        for n in range(pages):
            word = storage_bench.WORDS[n % len(storage_bench.WORDS)]
            start = time.perf_counter()
            response = client.get("/v1/catalog/companies", params={"limit": PAGE, "q": word})
            filtered.append(1000 * (time.perf_counter() - start))
            response.raise_for_status()
        size = len(client.get("/v1/catalog/companies", params={"limit": PAGE}).content)
    return {
        "catalog page (cursor walk)": summary(walk),
        "catalog page 1": summary(first),
        "catalog page, q=<word>": summary(filtered),
        "walks_completed": walks,
        "page_bytes": size,
    }


def measure_uploads(
    base: str, key: str, images: list[Path], uploads: int, clients: int, tag: str
) -> dict[str, Any]:
    """``uploads`` synchronous uploads (OCR included) spread over ``clients`` concurrent clients."""
    metadata = json.dumps({"attestation": {"basis": "received_in_person"}, "uses": ["catalog"]})
    headers = {"Authorization": f"Bearer {key}"}
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    counter = iter(range(uploads))

    def worker() -> None:
        with httpx.Client(base_url=base, headers=headers, timeout=300) as client:
            while True:
                with lock:
                    n = next(counter, None)
                if n is None:
                    return
                path = images[n % len(images)]
                data = unique_image(path.read_bytes(), f"{tag}-{n}")
                start = time.perf_counter()
                response = client.post(
                    "/v1/cards", files={"image": (path.name, data)}, data={"metadata": metadata}
                )
                took = 1000 * (time.perf_counter() - start)
                with lock:
                    latencies.append(took)
                    statuses[response.status_code] = statuses.get(response.status_code, 0) + 1

    start = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - start
    return {**summary(latencies), "statuses": statuses, "cards_per_s": round(uploads / wall, 2)}


def run_backend(name: str, args: argparse.Namespace, images: list[Path]) -> dict[str, Any]:
    database = storage_bench.sqlite_database if name == "sqlite" else storage_bench.postgres_database
    with database(False) as url, tempfile.TemporaryDirectory(prefix="cards-bench-api-") as tmp:
        migrate.upgrade(url)
        engine = make_engine(url)
        try:
            gen = storage_bench.Generator(args.records)
            start = time.perf_counter()
            filled = storage_bench.fill(engine, gen)
            filled["seconds"] = round(time.perf_counter() - start, 2)
            catalog = fill_catalog(engine)
            with Session(engine) as session:
                _, upload_key = create_principal(session, "bench-api-uploader", Role.uploader)
                _, catalog_key = create_principal(session, "bench-api-catalog", Role.catalog_builder)
                session.commit()
        finally:
            engine.dispose()
        result: dict[str, Any] = {"backend": name, "fill": {**filled, "catalog": catalog}, "operations": {}}
        with server(url, Path(tmp)) as base:
            print(f"== {name}: catalog pages …", file=sys.stderr)
            pages = measure_catalog(base, catalog_key, args.pages)
            result["catalog"] = {k: v for k, v in pages.items() if not isinstance(v, dict)}
            result["operations"] |= {k: v for k, v in pages.items() if isinstance(v, dict)}
            print(f"== {name}: uploads …", file=sys.stderr)
            measure_uploads(base, upload_key, images, 1, 1, "warm-up")
            for clients in args.concurrency:
                label = f"upload (sync, OCR), {clients} client{'s' if clients > 1 else ''}"
                result["operations"][label] = measure_uploads(
                    base, upload_key, images, args.uploads, clients, f"{name}-{clients}"
                )
    return result


def print_table(results: list[dict[str, Any]], records: int) -> None:
    console = Console(width=max(120, shutil.get_terminal_size().columns))
    table = RichTable(title=f"cardvault HTTP API on 127.0.0.1, {records:,} records (ms; p50 / p99, n)")
    table.add_column("operation")
    for result in results:
        table.add_column(result["backend"], justify="right")
    names = list(dict.fromkeys(n for r in results for n in r["operations"]))
    for name in names:
        cells = []
        for result in results:
            op = result["operations"].get(name)
            cells.append(f"{op['p50_ms']:.0f} / {op['p99_ms']:.0f}  (n={op['n']})" if op else "—")
        table.add_row(name, *cells)
    table.add_row("uploads/s (1 / 4 clients)", *[
        " / ".join(str(v["cards_per_s"]) for k, v in r["operations"].items() if k.startswith("upload"))
        for r in results
    ])  # fmt: skip
    table.add_row("catalog: companies / links", *[
        f"{r['fill']['catalog']['companies']:,} / {r['fill']['catalog']['links']:,}" for r in results
    ])  # fmt: skip
    table.add_row("catalog page size (bytes)", *[f"{r['catalog']['page_bytes']:,}" for r in results])
    console.print(table)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--uploads", type=int, default=24, help="uploads per concurrency level")
    parser.add_argument("--concurrency", default="1,4", help="concurrent upload clients, comma-separated")
    parser.add_argument("--pages", type=int, default=200, help="catalog requests per kind")
    parser.add_argument("--images", type=Path, default=ROOT / "samples")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    args.concurrency = [int(c) for c in args.concurrency.split(",") if c.strip()]
    if args.records < 1000:
        parser.error("--records must be at least 1000 (bench/records.py's generator needs it)")
    if args.uploads < 1 or args.pages < 1 or not args.concurrency or min(args.concurrency) < 1:
        parser.error("--uploads, --pages and every --concurrency must be at least 1")
    images = sorted(p for p in args.images.iterdir() if p.suffix.lower() in {".png", ".jpg", ".jpeg"})
    if not images:
        parser.error(f"no PNG or JPEG images in {args.images}")
    results = []
    for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
        print(f"== {backend}: filling {args.records:,} records …", file=sys.stderr)
        results.append(run_backend(backend, args, images))
    report = {
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
        },
        "records": args.records,
        "uploads_per_level": args.uploads,
        "images": str(args.images),
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, ensure_ascii=False))
    print_table(results, args.records)
    print(f"full results: {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
