"""The catalog at a million records on PostgreSQL: page latency and the export's rate and memory.

Why: catalog builders read the catalog while imports write it, and every page goes through the
purpose policy (EXISTS tests per company) with nothing cached, so a revoked use or an opt-out
applies to the next request. This measures what that costs at 1M records (target: page
p99 < 50 ms) and whether ``/v1/catalog/export``'s generator keeps memory flat.

How: a throwaway schema of the local PostgreSQL, every table made by the models, then bulk
``INSERT … SELECT generate_series`` (seconds, not hours): ``--records`` records of one uploader,
each with its source, person (an e-mail key), attestation (2% revoked), catalog use (90%),
notice (1% overdue), four values (company, website, job title, work phone) and a link to one
of ``records / 20`` companies; 1% of the people erased (a suppression of their key). Then
ANALYZE, and with the services' own functions (in process, no HTTP):
  * ``--pages`` pages of :func:`services.catalog.list_companies` (50 companies each), walking
    the cursor from the start, and ``--pages`` more from random places of the id range;
  * :func:`services.catalog.iter_companies` over the whole catalog: companies/s, and the
    process's resident memory sampled every 1,000 companies (first and highest);
  * a check that the policy still decides: the catalog use of every record of one company is
    revoked, and the next page no longer lists it.

    .venv/bin/python bench/catalog_scale.py [--records 1000000] [--pages 200]
        [--out var/bench/catalog_scale.json]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

from sqlalchemy import text  # noqa: E402
from sqlmodel import Session, SQLModel, create_engine  # noqa: E402

import models.tables  # noqa: E402,F401  (registers the tables)
from models.db import make_engine  # noqa: E402
from services.catalog import iter_companies, list_companies  # noqa: E402
from services.paging import encode_cursor  # noqa: E402

POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"

LOAD = [
    "INSERT INTO principal (id, name, role, created_at) VALUES (1, 'bench-uploader', 'uploader', now())",
    """INSERT INTO source (id, uploader_id, channel, received_at, client, sha256, byte_size, status)
       SELECT i, 1, 'batch', now(), '{}', md5(i::text) || md5((-i)::text), 1000, 'extracted'
       FROM generate_series(1, :n) i""",
    "INSERT INTO subject (id, created_at, is_user) SELECT i, now(), false FROM generate_series(1, :n) i",
    """INSERT INTO subjectkey (id, subject_id, kind, key_hash)
       SELECT i, i, 'email', md5('e' || i) || md5('f' || i) FROM generate_series(1, :n) i""",
    """INSERT INTO contactrecord (id, source_id, uploader_id, subject_id, region, created_at, updated_at)
       SELECT i, i, 1, i, (ARRAY['US','DE','FR','GB','ES'])[1 + i % 5], now(),
              now() - make_interval(secs => i)
       FROM generate_series(1, :n) i""",
    """INSERT INTO attestation (id, record_id, basis, text_version, attested_by, attested_at, channel,
                                details, revoked_at)
       SELECT i, i, 'received_in_person', '2026-11', 1, now(), 'batch', '{}',
              CASE WHEN i % 50 = 0 THEN now() END
       FROM generate_series(1, :n) i""",
    """INSERT INTO permitteduse (id, record_id, use, set_by, set_at)
       SELECT i, i, 'catalog', 1, now() FROM generate_series(1, :n) i WHERE i % 10 <> 0""",
    """INSERT INTO notice (id, subject_id, trigger, due_at, created_at)
       SELECT i, i, 'first_use', CASE WHEN i % 100 = 7 THEN now() - interval '1 day'
                                      ELSE now() + interval '30 days' END, now()
       FROM generate_series(1, :n) i""",
    """INSERT INTO suppression (id, key_hash, kind, reason, created_at)
       SELECT i, md5('e' || i) || md5('f' || i), 'email', 'erased', now()
       FROM generate_series(1, :n) i WHERE i % 100 = 3""",
    """INSERT INTO catalogcompany (id, name, name_key, domain, country, created_at, updated_at)
       SELECT c, 'Company ' || c, 'company ' || c, 'company' || c || '.example',
              (ARRAY['US','DE','FR','GB','ES'])[1 + c % 5], now(), now()
       FROM generate_series(1, :c) c""",
    """INSERT INTO cataloglink (id, company_id, record_id)
       SELECT i, 1 + (i::bigint * 7919) % :c, i FROM generate_series(1, :n) i""",
    """INSERT INTO fieldvalue (id, record_id, field, position, value, ocr_value, raw, confidence, method,
                               type)
       SELECT 4 * i + k, i,
              (ARRAY['companies','websites','job_titles','phones'])[k + 1], 0,
              CASE k WHEN 0 THEN 'Company ' || (1 + (i::bigint * 7919) % :c)
                     WHEN 1 THEN 'company' || (1 + (i::bigint * 7919) % :c) || '.example'
                     WHEN 2 THEN (ARRAY['CEO','CTO','Sales Manager','Engineer'])[1 + i % 4]
                     ELSE '+1415555' || lpad((i % 10000)::text, 4, '0') END,
              NULL, '', 0.9, 'bench', CASE k WHEN 3 THEN 'work' END
       FROM generate_series(1, :n) i, generate_series(0, 3) k""",
]


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "bench" / "catalog_scale.json")
    parser.add_argument("--schema", help="Use (and keep) this schema; loaded only when it has no records.")
    args = parser.parse_args(argv)
    n, companies = args.records, max(1, args.records // 20)
    schema = args.schema or f"bench_cat_{uuid.uuid4().hex[:8]}"
    admin = make_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
    engine = create_engine(POSTGRES_URL, connect_args={"options": f"-csearch_path={schema}"})
    results: dict[str, Any] = {"records": n, "companies": companies}
    try:
        SQLModel.metadata.create_all(engine)
        with engine.connect() as conn:
            loaded = conn.execute(text("SELECT count(*) FROM contactrecord")).scalar_one()
        if loaded:
            n, companies = loaded, max(1, loaded // 20)
            results.update(records=n, companies=companies, load_s=None)
        else:
            started = time.perf_counter()
            with engine.begin() as conn:
                for statement in LOAD:
                    conn.execute(text(statement), {"n": n, "c": companies})
            with engine.connect() as conn:
                conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("ANALYZE"))
            results["load_s"] = time.perf_counter() - started
            print(f"loaded {n} records, {companies} companies in {results['load_s']:.1f} s", flush=True)

        walk, jump = [], []
        rng = random.Random(5)
        with Session(engine) as session:
            list_companies(session, limit=50)  # warm the caches once
            cursor: str | None = None
            for _ in range(args.pages):
                clock = time.perf_counter()
                page, cursor = list_companies(session, cursor=cursor, limit=50)
                walk.append((time.perf_counter() - clock) * 1000)
                assert page
                if cursor is None:
                    cursor = None
            for _ in range(args.pages):
                clock = time.perf_counter()
                list_companies(session, cursor=encode_cursor(rng.randrange(1, companies)), limit=50)
                jump.append((time.perf_counter() - clock) * 1000)
        every = walk + jump
        results["page_ms"] = {
            "p50": statistics.median(every),
            "p99": pct(every, 99),
            "walk_p50": statistics.median(walk),
            "walk_p99": pct(walk, 99),
            "random_p50": statistics.median(jump),
            "random_p99": pct(jump, 99),
        }
        print(f"pages: {json.dumps(results['page_ms'])}", flush=True)

        first_rss, peak_rss, count = rss_kib(), 0, 0
        clock = time.perf_counter()
        for _company in iter_companies(engine, page_size=200):
            count += 1
            if count % 1000 == 0:
                peak_rss = max(peak_rss, rss_kib())
        elapsed = time.perf_counter() - clock
        results["export"] = {
            "companies": count,
            "seconds": elapsed,
            "companies_per_s": count / elapsed if elapsed else 0.0,
            "rss_start_mib": first_rss / 1024,
            "rss_peak_mib": peak_rss / 1024,
        }
        print(f"export: {json.dumps(results['export'])}", flush=True)

        with Session(engine) as session:
            first = list_companies(session, limit=1)[0][0].id
            session.execute(
                text(
                    "DELETE FROM permitteduse WHERE record_id IN "
                    "(SELECT record_id FROM cataloglink WHERE company_id = :c)"
                ),
                {"c": first},
            )
            session.commit()
            shown = [c.id for c in list_companies(session, limit=5)[0]]
            results["revoked_company_hidden_next_request"] = first not in shown
            assert first not in shown, "a revoked use must apply to the next request"
    finally:
        engine.dispose()
        if not args.schema:
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
