"""Storage benchmark: subject rights and catalog reads on a database of many records.

Why: opt-out, erasure and subject lookup must stay fast when the store is large (a privacy
request answers in seconds, not minutes), and a catalog page must not scan every record.
Both depend on indexes and query plans, which only show at scale and differ between SQLite
and PostgreSQL; this fills each with ``--records`` synthetic cards and times the real
functions of ``models.rights`` and ``models.policy``.

How, per backend (SQLite in a tmp file; PostgreSQL in a throwaway schema of the local server):
  * migrate an empty database with ``models.migrate.upgrade`` (the real migrations);
  * fill it with bulk inserts (Core ``executemany``, explicit ids): principals, subjects and
    their salted e-mail/phone keys (``models.keys``), sources, extraction runs, records with
    ~8 field values, corrections, attestations (some revoked), permitted uses (catalog,
    invites, partner sharing), disclosures, invites, audit events and suppressions; then
    ANALYZE, as autovacuum or ``PRAGMA optimize`` would;
  * time, each in its own transaction as a request would, over ``--repeat`` different people:
    resolving a subject by e-mail (normalise + hash + the SubjectKey index, and
    ``subjects.find_subject``), ``rights.opt_out`` (invites + partners) and ``rights.erase``
    (with its after-commit work), and a catalog page (``qualifying_records("catalog")``
    by id, LIMIT 50, with the visible field values) at the start, deep by keyset
    (``id > N/2``) and deep by OFFSET;
  * once more with a per-statement timer on opt-out and erase (the slowest statements), and
    EXPLAIN ANALYZE (PostgreSQL) / EXPLAIN QUERY PLAN (SQLite) of the catalog page and the lookups;
  * then the same again (other people) after creating :data:`SUGGESTED_INDEXES`, which are not
    in ``models/tables.py``: the gain is the evidence for adding them there.

Reads are warmed once first; medians and p95 (nearest rank; with 10 samples, the maximum)
are reported in ms.

Import cost: ``cards import`` (OCR + records + provenance + blobs, into a fresh migrated
database per backend) against ``cards extract`` (OCR only) on the same images, ``--jobs 2``,
as subprocesses, order rotating between repeats; target: import <= 1.10 x extract.

    .venv/bin/python bench/records.py [--records 100000] [--repeat 10] [--backends sqlite,postgresql]
        [--import-images samples] [--import-repeat 2] [--jobs 2] [--no-suggested-indexes] [--keep]

Writes a table to stdout and everything (plans included) to ``var/bench/records.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import math
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table as RichTable
from sqlalchemy import event, text
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from core.settings import load_settings
from models import migrate
from models.blobs import FolderBlobStore
from models.db import make_engine
from models.enums import Basis, Channel, Role, SuppressionReason, Use
from models.keys import key_hash, normalise_email
from models.policy import qualifying_records, visible_field_names, visible_fields
from models.tables import (
    Attestation,
    AuditEvent,
    ContactRecord,
    Disclosure,
    ExtractionRun,
    FieldCorrection,
    FieldValue,
    Invite,
    PermittedUse,
    Principal,
    Source,
    Subject,
    SubjectKey,
    Suppression,
)
from services import retention, rights, subjects

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "var" / "bench" / "records.json"
POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
SALT = b"bench-salt-not-secret"
PAGE = 50
CHUNK = 5_000  # records per fill transaction

FIRST = [
    "Anna",
    "Ben",
    "Carla",
    "David",
    "Elena",
    "Farid",
    "Grace",
    "Hiro",
    "Ines",
    "Jonas",
    "Kira",
    "Liam",
    "Maya",
    "Noah",
    "Olga",
    "Pablo",
    "Quinn",
    "Rosa",
    "Sven",
    "Tara",
    "Umar",
    "Vera",
    "Wei",
    "Ximena",
    "Yusuf",
    "Zoe",
    "Amir",
    "Beatriz",
    "Chen",
    "Dmitri",
    "Emma",
    "Felix",
    "Gita",
    "Hannah",
    "Ivan",
    "Julia",
    "Kenji",
    "Lena",
    "Marco",
    "Nadia",
    "Omar",
    "Priya",
    "Rafael",
    "Sofia",
    "Tomas",
    "Ursula",
    "Viktor",
    "Wanda",
    "Yara",
    "Zeynep",
]
LAST = [
    "Smith",
    "Müller",
    "García",
    "Rossi",
    "Dubois",
    "Tanaka",
    "Kowalski",
    "Silva",
    "Novak",
    "Jensen",
    "Haddad",
    "Chen",
    "Kumar",
    "Okafor",
    "Berg",
    "Larsen",
    "Moreau",
    "Schmidt",
    "Fischer",
    "Weber",
    "Costa",
    "Ivanova",
    "Sato",
    "Nguyen",
    "Park",
    "Cohen",
    "Murphy",
    "Kelly",
    "Walsh",
    "Byrne",
    "Evans",
    "Hughes",
    "Lopez",
    "Martin",
    "Bernard",
    "Romano",
    "Ricci",
    "Nakamura",
    "Suzuki",
    "Andersen",
    "Nielsen",
    "Hansen",
    "Petrov",
]
TITLES = [
    "Chief Executive Officer",
    "Head of Sales",
    "Account Manager",
    "Software Engineer",
    "Product Manager",
    "Marketing Director",
    "Procurement Lead",
    "Chief Financial Officer",
    "Partner",
    "Senior Consultant",
    "Operations Manager",
    "Research Scientist",
    "Business Development Manager",
    "Legal Counsel",
    "Designer",
]
DEPTS = [
    "Sales",
    "Engineering",
    "Marketing",
    "Finance",
    "Operations",
    "Research",
    "Legal",
    "Procurement",
    "IT",
    "HR",
]
WORDS = [
    "Acme",
    "Blue",
    "River",
    "Nord",
    "Solar",
    "Quantum",
    "Alpine",
    "Harbor",
    "Cedar",
    "Vertex",
    "Orbit",
    "Delta",
    "Pioneer",
    "Summit",
    "Atlas",
    "Maple",
    "Falcon",
    "Granite",
    "Lumen",
    "Nova",
    "Sterling",
    "Willow",
    "Zenith",
    "Bright",
    "Coral",
    "Ember",
    "Fjord",
    "Helix",
    "Iris",
    "Kite",
]
SUFFIXES = ["GmbH", "Ltd", "Inc.", "S.A.", "B.V.", "K.K.", "LLC", "AG", "SAS", "Pty Ltd"]
TLDS = ["com", "de", "co.uk", "fr", "jp", "com.au", "nl", "es", "it", "com.br", "in", "ca"]
REGIONS = {
    "US": ("1", 10),
    "GB": ("44", 10),
    "DE": ("49", 11),
    "FR": ("33", 9),
    "JP": ("81", 10),
    "AU": ("61", 9),
    "NL": ("31", 9),
    "ES": ("34", 9),
    "IT": ("39", 10),
    "BR": ("55", 11),
    "IN": ("91", 10),
    "CA": ("1", 10),
}
STREETS = [
    "Main Street",
    "Hauptstraße",
    "Rue de la Paix",
    "High Street",
    "Via Roma",
    "Calle Mayor",
    "Keizersgracht",
    "Ginza",
]
CITIES = [
    "Springfield",
    "Berlin",
    "Paris",
    "London",
    "Rome",
    "Madrid",
    "Amsterdam",
    "Tokyo",
    "Sydney",
    "São Paulo",
    "Mumbai",
    "Toronto",
]


# --- synthetic data -------------------------------------------------------------------------


@dataclass
class Person:
    subject_id: int
    first: str
    last: str
    region: str
    company: int
    title: str
    dept: str | None
    email: str | None
    work_phone: str
    mobile: str | None
    keys: list[tuple[str, str]]
    records: int = 0


@dataclass
class Generator:
    """Deterministic (seeded) people and cards; about one card in five is another copy of a known person."""

    records: int
    rng: random.Random = field(default_factory=lambda: random.Random(20261126))
    people: list[Person] = field(default_factory=list)
    companies: list[tuple[str, str]] = field(default_factory=list)
    uploaders: list[int] = field(default_factory=list)
    partners: list[int] = field(default_factory=list)
    now: dt.datetime = field(default_factory=lambda: dt.datetime(2026, 11, 1, tzinfo=dt.UTC))
    ids: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    used: set[int] = field(default_factory=set)  # subjects a measurement already erased or opted out

    def __post_init__(self) -> None:
        for i in range(max(50, self.records // 20)):
            name = f"{self.rng.choice(WORDS)} {self.rng.choice(WORDS)}"
            domain = f"{name.lower().replace(' ', '')}{i}.{self.rng.choice(TLDS)}"
            self.companies.append((f"{name} {self.rng.choice(SUFFIXES)}", domain))

    def next_id(self, table: str) -> int:
        self.ids[table] += 1
        return self.ids[table]

    def principals(self) -> list[dict[str, Any]]:
        rows = []
        for role, count in (
            (Role.uploader, 50),
            (Role.catalog_builder, 2),
            (Role.partner, 3),
            (Role.privacy_admin, 1),
        ):
            for n in range(count):
                pid = self.next_id("principal")
                rows.append(
                    {
                        "id": pid,
                        "name": f"{role.value}-{n}",
                        "role": role,
                        "created_at": self.now,
                        "api_key_hash": hashlib.sha256(f"key-{pid}".encode()).hexdigest(),
                    }
                )
                if role is Role.uploader:
                    self.uploaders.append(pid)
                if role is Role.partner:
                    self.partners.append(pid)
        return rows

    def _phone(self, region: str) -> str:
        cc, digits = REGIONS[region]
        return f"+{cc}{self.rng.randrange(2, 10)}{self.rng.randrange(10 ** (digits - 2), 10 ** (digits - 1))}"

    def new_person(self) -> Person:
        rng = self.rng
        first, last = rng.choice(FIRST), rng.choice(LAST)
        company = rng.randrange(len(self.companies))
        region = rng.choice(list(REGIONS))
        sid = self.next_id("subject")
        ascii_last = last.replace("ü", "ue").replace("í", "i").lower()
        email = (
            f"{first.lower()}.{ascii_last}.{sid}@{self.companies[company][1]}" if rng.random() < 0.9 else None
        )
        work, mobile = self._phone(region), (self._phone(region) if rng.random() < 0.5 else None)
        keys = [("phone", key_hash("phone", work, SALT))]
        if mobile:
            keys.append(("phone", key_hash("phone", mobile, SALT)))
        if email:
            keys.append(("email", key_hash("email", email, SALT)))  # generated e-mails are already normal
        title = rng.choice(TITLES)
        dept = rng.choice(DEPTS) if rng.random() < 0.5 else None
        return Person(sid, first, last, region, company, title, dept, email, work, mobile, keys)

    def chunk(self, size: int) -> tuple[dict[str, list[dict[str, Any]]], list[Person]]:
        """Rows for ``size`` cards, by table; new people come with their subject and keys."""
        rng = self.rng
        rows: dict[str, list[dict[str, Any]]] = defaultdict(list)
        new_people: list[Person] = []
        for _ in range(size):
            anonymous = rng.random() < 0.03  # no e-mail or phone read: no subject
            if not anonymous and self.people and rng.random() < 0.2:
                person = rng.choice(self.people)
            else:
                person = self.new_person()
                if not anonymous:
                    self.people.append(person)
                    new_people.append(person)
            self._card(rows, person, anonymous)
        for person in new_people:
            rows["subject"].append(
                {"id": person.subject_id, "created_at": self.now, "is_user": rng.random() < 0.05}
            )
            for kind, hashed in person.keys:
                rows["subjectkey"].append(
                    {
                        "id": self.next_id("subjectkey"),
                        "subject_id": person.subject_id,
                        "kind": kind,
                        "key_hash": hashed,
                    }
                )
        return rows, new_people

    def _card(self, rows: dict[str, list[dict[str, Any]]], person: Person, anonymous: bool) -> None:
        rng = self.rng
        uploader = rng.choice(self.uploaders)
        when = self.now - dt.timedelta(seconds=rng.randrange(0, 2 * 365 * 86400))
        source_id, run_id, record_id = (
            self.next_id("source"),
            self.next_id("extractionrun"),
            self.next_id("record"),
        )
        sha = hashlib.sha256(f"card-{record_id}".encode()).hexdigest()
        company, domain = self.companies[person.company]
        values: list[tuple[str, str, str | None]] = [
            ("names", f"{person.first} {person.last}", None),
            ("job_titles", person.title, None),
            ("companies", company, None),
        ]
        if person.dept:
            values.append(("departments", person.dept, None))
        if not anonymous:
            if person.email:
                values.append(("emails", person.email, None))
            values.append(("phones", person.work_phone, "work"))
            if person.mobile:
                values.append(("phones", person.mobile, "mobile"))
            if rng.random() < 0.3:
                values.append(("phones", self._phone(person.region), "fax"))
        if rng.random() < 0.7:
            values.append(("websites", f"https://www.{domain}", None))
        if rng.random() < 0.6:
            values.append(
                (
                    "addresses",
                    f"{rng.randrange(1, 400)} {rng.choice(STREETS)}, {rng.choice(CITIES)} "
                    f"{rng.randrange(10000, 99999)}",
                    None,
                )
            )
        if rng.random() < 0.2:
            values.append(("social", f"linkedin.com/in/{person.first.lower()}-{person.last.lower()}", None))
        ocr_text = "\n".join(v for _, v, _ in values)
        rows["source"].append(
            {
                "id": source_id,
                "uploader_id": uploader,
                "channel": Channel.mobile,
                "received_at": when,
                "client": {"app": "bench", "os": "android"},
                "sha256": sha,
                "byte_size": rng.randrange(80_000, 900_000),
                "blob_key": sha,
                "status": "extracted",
                "error_code": None,
            }
        )
        rows["extractionrun"].append(
            {
                "id": run_id,
                "source_id": source_id,
                "engine": "tesseract",
                "engine_version": "5.3.0",
                "pipeline_version": "bench",
                "params": {"psm": 3, "second_psm": 11},
                "timings_ms": {"load": 9.0, "preprocess": 6.0, "ocr": 610.0, "fields": 8.0},
                "text": ocr_text,
                "created_at": when,
            }
        )
        rows["contactrecord"].append(
            {
                "id": record_id,
                "source_id": source_id,
                "extraction_run_id": run_id,
                "uploader_id": uploader,
                "subject_id": None if anonymous else person.subject_id,
                "region": person.region,
                "notes": None,
                "created_at": when,
                "updated_at": when,
            }
        )
        positions: dict[str, int] = defaultdict(int)
        for name, value, kind in values:
            value_id = self.next_id("fieldvalue")
            rows["fieldvalue"].append(
                {
                    "id": value_id,
                    "record_id": record_id,
                    "field": name,
                    "position": positions[name],
                    "value": value,
                    "ocr_value": value,
                    "raw": value,
                    "confidence": round(rng.uniform(0.6, 0.99), 3),
                    "bbox": [rng.randrange(0, 900), rng.randrange(0, 500), rng.randrange(40, 400), 24],
                    "method": "layout",
                    "type": kind,
                    "extension": None,
                    "corrected_by": None,
                    "corrected_at": None,
                }
            )
            positions[name] += 1
            if rng.random() < 0.01:
                rows["fieldcorrection"].append(
                    {
                        "id": self.next_id("fieldcorrection"),
                        "field_value_id": value_id,
                        "previous_value": value,
                        "new_value": value,
                        "corrected_by": uploader,
                        "corrected_at": when,
                    }
                )
        if rng.random() < 0.7:
            rows["attestation"].append(
                {
                    "id": self.next_id("attestation"),
                    "record_id": record_id,
                    "basis": Basis.received_in_person,
                    "basis_text": None,
                    "text_version": "2026-11",
                    "attested_by": uploader,
                    "attested_at": when,
                    "channel": Channel.mobile,
                    "details": {},
                    "revoked_at": when if rng.random() < 0.03 else None,
                }
            )
        for use, share in ((Use.catalog, 0.4), (Use.invites, 0.3), (Use.partner_sharing, 0.15)):
            if rng.random() < share:
                rows["permitteduse"].append(
                    {
                        "id": self.next_id("permitteduse"),
                        "record_id": record_id,
                        "use": use,
                        "set_by": uploader,
                        "set_at": when,
                    }
                )
                if use is Use.partner_sharing and rng.random() < 0.1:
                    rows["disclosure"].append(
                        {
                            "id": self.next_id("disclosure"),
                            "partner_id": rng.choice(self.partners),
                            "record_id": record_id,
                            "subject_id": None if anonymous else person.subject_id,
                            "categories": ["name", "occupation"],
                            "purpose": "partner_sharing",
                            "direct_marketing": True,
                            "disclosed_at": when,
                        }
                    )
                if use is Use.invites and not anonymous and rng.random() < 0.05:
                    rows["invite"].append(
                        {
                            "id": self.next_id("invite"),
                            "subject_id": person.subject_id,
                            "record_id": record_id,
                            "sent_by": uploader,
                            "sent_at": when,
                        }
                    )
        rows["auditevent"].append(
            {
                "id": self.next_id("auditevent"),
                "at": when,
                "actor_id": uploader,
                "action": "created",
                "record_id": record_id,
                "subject_id": None if anonymous else person.subject_id,
                "details": {"channel": "mobile", "attested": True},
            }
        )
        person.records += 1

    def suppressions(self) -> list[dict[str, Any]]:
        """Some people opted out, some hashes belong to people already erased, a few are children."""
        rows = []
        for person in self.rng.sample(self.people, max(1, len(self.people) // 100)):
            for kind, hashed in person.keys:
                rows.append(
                    {
                        "id": self.next_id("suppression"),
                        "key_hash": hashed,
                        "kind": kind,
                        "reason": SuppressionReason.opt_out_invites,
                        "created_at": self.now,
                    }
                )
        for n in range(max(1, self.records // 500)):
            rows.append(
                {
                    "id": self.next_id("suppression"),
                    "key_hash": key_hash("email", f"gone{n}@x.com", SALT),
                    "kind": "email",
                    "reason": SuppressionReason.erased,
                    "created_at": self.now,
                }
            )
        return rows


# Not in models/tables.py (owned elsewhere): measured here with the second pass, proposed in the report.
SUGGESTED_INDEXES: list[tuple[str, str, tuple[str, ...], str]] = [
    (
        "ix_subjectkey_key_hash",
        "subjectkey",
        ("key_hash",),
        "subjects.find_subject/opt_out/erase and records.resolve_subject look up key_hash without kind: "
        "the (kind, key_hash) unique index cannot serve them on PostgreSQL (sequential scan)",
    ),
    (
        "ix_source_blob_key",
        "source",
        ("blob_key",),
        "rights.erase checks twice whether a blob is still used by another source",
    ),
    (
        "ix_contactrecord_extraction_run_id",
        "contactrecord",
        ("extraction_run_id",),
        "deleting extraction runs (erase) fires ON DELETE SET NULL, which scans contactrecord per run",
    ),
    (
        "ix_disclosure_record_id",
        "disclosure",
        ("record_id",),
        "erase deletes disclosures by record_id; deleting a record fires ON DELETE SET NULL here",
    ),
    (
        "ix_invite_record_id",
        "invite",
        ("record_id",),
        "erase deletes invites by record_id; deleting a record fires ON DELETE SET NULL here",
    ),
    (
        "ix_permitteduse_use_record_id",
        "permitteduse",
        ("use", "record_id"),
        "purpose reads walk one use's records in id order (ix_permitteduse_use alone is unselective)",
    ),
]

TABLES: dict[str, Any] = {
    "principal": Principal,
    "subject": Subject,
    "subjectkey": SubjectKey,
    "source": Source,
    "extractionrun": ExtractionRun,
    "contactrecord": ContactRecord,
    "fieldvalue": FieldValue,
    "fieldcorrection": FieldCorrection,
    "attestation": Attestation,
    "permitteduse": PermittedUse,
    "disclosure": Disclosure,
    "invite": Invite,
    "auditevent": AuditEvent,
    "suppression": Suppression,
}


def fill(engine: Engine, gen: Generator) -> dict[str, Any]:
    """Bulk-insert the synthetic store; returns row counts and seconds (generating vs inserting)."""
    counts: dict[str, int] = defaultdict(int)
    generate_s = insert_s = 0.0

    def insert(rows: dict[str, list[dict[str, Any]]]) -> None:
        nonlocal insert_s
        start = time.perf_counter()
        with engine.begin() as conn:
            for name, model in TABLES.items():  # parents before children
                if rows.get(name):
                    conn.execute(model.__table__.insert(), rows[name])
                    counts[name] += len(rows[name])
        insert_s += time.perf_counter() - start

    insert({"principal": gen.principals()})
    done = 0
    while done < gen.records:
        start = time.perf_counter()
        rows, _ = gen.chunk(min(CHUNK, gen.records - done))
        generate_s += time.perf_counter() - start
        insert(rows)
        done += min(CHUNK, gen.records - done)
    insert({"suppression": gen.suppressions()})
    start = time.perf_counter()
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":  # explicit ids: move the sequences past them
            for name in TABLES:
                conn.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                        f"(SELECT coalesce(max(id), 1) FROM {name}))"
                    )
                )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("ANALYZE"))
    analyze_s = time.perf_counter() - start
    return {
        "rows": dict(counts),
        "generate_s": round(generate_s, 2),
        "insert_s": round(insert_s, 2),
        "analyze_s": round(analyze_s, 2),
        "total_rows": sum(counts.values()),
    }


# --- the measured operations ----------------------------------------------------------------


def lookup_by_index(session: Session, email: str) -> int | None:
    """normalise + hash + one SubjectKey lookup on the (kind, key_hash) unique index."""
    normal = normalise_email(email)
    assert normal
    hashed = key_hash("email", normal, SALT)
    return session.exec(
        select(SubjectKey.subject_id).where(SubjectKey.kind == "email", SubjectKey.key_hash == hashed)
    ).first()


def catalog_page(session: Session, *, after_id: int | None = None, offset: int | None = None) -> int:
    """One catalog page: 50 qualifying records by id and their visible values (two queries)."""
    query = qualifying_records("catalog").order_by(col(ContactRecord.id)).limit(PAGE)
    if after_id is not None:
        query = query.where(col(ContactRecord.id) > after_id)
    if offset:
        query = query.offset(offset)
    records = session.exec(query).all()
    ids = [r.id for r in records]
    values = session.exec(
        select(FieldValue)
        .where(col(FieldValue.record_id).in_(ids), col(FieldValue.field).in_(visible_field_names("catalog")))
        .order_by(col(FieldValue.record_id), col(FieldValue.field), col(FieldValue.position))
    ).all()
    by_record: dict[int, list[FieldValue]] = defaultdict(list)
    for value in values:
        by_record[value.record_id].append(value)
    shown = sum(len(visible_fields("catalog", by_record[i])) for i in ids if i is not None)
    assert len(records) == PAGE, f"a catalog page had {len(records)} records"
    return shown


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def timed(samples: list[float], action: Callable[[], Any]) -> Any:
    start = time.perf_counter()
    result = action()
    samples.append(1000 * (time.perf_counter() - start))
    return result


@contextmanager
def statement_timer(engine: Engine) -> Iterator[list[tuple[float, str]]]:
    """Every SQL statement run meanwhile, with its ms: where an operation spends its time."""
    seen: list[tuple[float, str]] = []

    def before(conn: Any, _cursor: Any, _statement: str, _params: Any, _context: Any, _many: bool) -> None:
        conn.info.setdefault("bench_start", []).append(time.perf_counter())

    def after(conn: Any, _cursor: Any, statement: str, _params: Any, _context: Any, _many: bool) -> None:
        start = conn.info["bench_start"].pop()
        seen.append((1000 * (time.perf_counter() - start), " ".join(statement.split())))

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)


def statement_profile(seen: list[tuple[float, str]], n: int = 5) -> dict[str, Any]:
    """How many statements, their total time, and the ``n`` slowest."""
    return {
        "statements": len(seen),
        "sql_ms_total": round(sum(ms for ms, _ in seen), 2),
        "slowest": [{"ms": round(ms, 2), "sql": sql[:300]} for ms, sql in sorted(seen, reverse=True)[:n]],
    }


def explain(engine: Engine, statements: dict[str, Any]) -> dict[str, str]:
    """Plans of the read queries (literal values inlined)."""
    plans: dict[str, str] = {}
    postgres = engine.dialect.name == "postgresql"
    with engine.connect() as conn:
        for name, stmt in statements.items():
            sql = str(stmt.compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True}))
            prefix = "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " if postgres else "EXPLAIN QUERY PLAN "
            rows = conn.exec_driver_sql(prefix + sql).fetchall()
            plans[name] = "\n".join(str(r[0]) if postgres else f"{r[1]}<-{r[0]} {r[-1]}" for r in rows)
    return plans


def measure(engine: Engine, gen: Generator, repeat: int, blob_dir: Path, seed: int = 7) -> dict[str, Any]:
    rng = random.Random(seed)
    with_email = [p for p in gen.people if p.email and p.subject_id not in gen.used]
    targets = rng.sample(with_email, min(len(with_email), 3 * repeat + 2))
    lookups, opt_outs, erasures = (
        targets[:repeat],
        targets[repeat : 2 * repeat],
        targets[2 * repeat : 3 * repeat],
    )
    profile_opt_out, profile_erase = targets[3 * repeat], targets[3 * repeat + 1]
    gen.used |= {p.subject_id for p in targets}  # erased or opted out: a second pass takes others
    max_id = gen.ids["record"]
    samples: dict[str, list[float]] = defaultdict(list)
    blobs = FolderBlobStore(blob_dir)

    def read(name: str, action: Callable[[Session], Any]) -> None:
        with Session(engine) as session:
            action(session)  # warm-up, not counted
        for _ in range(repeat):
            with Session(engine) as session:
                timed(samples[name], lambda s=session: action(s))

    def index_lookup(session: Session) -> None:
        person = lookups[len(samples["subject by e-mail (index)"]) % repeat]
        assert lookup_by_index(session, person.email or "") == person.subject_id

    read("subject by e-mail (index)", index_lookup)

    def find(session: Session) -> None:
        person = lookups[len(samples["subject by e-mail (subjects.find_subject)"]) % repeat]
        subject = subjects.find_subject(session, email=person.email, salt=SALT)
        assert subject is not None and subject.id == person.subject_id

    read("subject by e-mail (subjects.find_subject)", find)
    read("catalog page 1", lambda s: catalog_page(s))
    read("catalog page, keyset id > N/2", lambda s: catalog_page(s, after_id=max_id // 2))
    read("catalog page, OFFSET N/20", lambda s: catalog_page(s, offset=max_id // 20))

    statements: dict[str, dict[str, Any]] = {}
    for person in opt_outs:
        with Session(engine) as session:

            def run_opt_out(s: Session = session, p: Person = person) -> None:
                rights.opt_out(s, email=p.email, scopes={"invites", "partners"}, actor=None, salt=SALT)
                s.commit()

            timed(samples["rights.opt_out (invites+partners)"], run_opt_out)
    for person in erasures:
        with Session(engine) as session:

            def run_erase(s: Session = session, p: Person = person) -> None:
                result = rights.erase(s, email=p.email, actor=None, salt=SALT, blobs=blobs)
                s.commit()
                assert result.records >= 1

            timed(samples["rights.erase"], run_erase)
    with statement_timer(engine) as seen, Session(engine) as session:
        rights.opt_out(
            session, email=profile_opt_out.email, scopes={"invites", "partners"}, actor=None, salt=SALT
        )
        session.commit()
    statements["opt_out"] = statement_profile(seen)
    with statement_timer(engine) as seen, Session(engine) as session:
        rights.erase(session, email=profile_erase.email, actor=None, salt=SALT, blobs=blobs)
        session.commit()
    statements["erase"] = statement_profile(seen)
    # The daily retention sweep: a report (counts only), then applied (what is past its period goes).
    settings = load_settings(report_dir=blob_dir / "reports")
    for _ in range(repeat):
        with Session(engine) as session:
            timed(samples["retention sweep (report)"], lambda s=session: retention.sweep(s, settings, blobs))
    for _ in range(max(1, repeat // 3)):
        with Session(engine) as session:

            def run_sweep(s: Session = session) -> None:
                retention.sweep(s, settings, blobs, apply=True)
                s.commit()

            timed(samples["retention sweep (applied)"], run_sweep)

    person = lookups[0]
    hashed = key_hash("email", normalise_email(person.email or "") or "", SALT)
    plans = explain(
        engine,
        {
            "catalog page 1": qualifying_records("catalog").order_by(col(ContactRecord.id)).limit(PAGE),
            "catalog keyset": qualifying_records("catalog")
            .where(col(ContactRecord.id) > max_id // 2)
            .order_by(col(ContactRecord.id))
            .limit(PAGE),
            "catalog values": select(FieldValue).where(
                col(FieldValue.record_id).in_(list(range(1, PAGE + 1))),
                col(FieldValue.field).in_(visible_field_names("catalog")),
            ),
            "subject by (kind, key_hash)": select(SubjectKey.subject_id).where(
                SubjectKey.kind == "email", SubjectKey.key_hash == hashed
            ),
            "subject by key_hash only (find_subject, opt_out, erase, resolve_subject)": select(Subject).where(
                col(Subject.id).in_(
                    select(SubjectKey.subject_id).where(col(SubjectKey.key_hash).in_([hashed]))
                )
            ),
        },
    )
    summary = {
        name: {
            "median_ms": round(statistics.median(v), 2),
            "p95_ms": round(p95(v), 2),
            "n": len(v),
            "all_ms": [round(x, 2) for x in v],
        }
        for name, v in samples.items()
    }
    return {"operations": summary, "statements": statements, "plans": plans}


# --- backends -------------------------------------------------------------------------------


@contextmanager
def sqlite_database(keep: bool) -> Iterator[str]:
    folder = Path(tempfile.mkdtemp(prefix="cards-bench-"))
    try:
        yield f"sqlite:///{folder}/bench.db"
    finally:
        if keep:
            print(f"kept {folder}", file=sys.stderr)
        else:
            shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def postgres_database(keep: bool) -> Iterator[str]:
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = make_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    finally:
        if keep:
            print(f"kept schema {schema}", file=sys.stderr)
        else:
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def add_suggested_indexes(engine: Engine) -> None:
    with engine.begin() as conn:
        for name, table, columns, _why in SUGGESTED_INDEXES:
            conn.execute(text(f"CREATE INDEX IF NOT EXISTS {name} ON {table} ({', '.join(columns)})"))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("ANALYZE"))


def run_backend(name: str, records: int, repeat: int, keep: bool, try_indexes: bool) -> list[dict[str, Any]]:
    database = sqlite_database if name == "sqlite" else postgres_database
    with database(keep) as url, tempfile.TemporaryDirectory(prefix="cards-bench-blobs-") as blob_dir:
        start = time.perf_counter()
        migrate.upgrade(url)
        migrate_s = time.perf_counter() - start
        engine = make_engine(url)
        try:
            gen = Generator(records)
            start = time.perf_counter()
            filled = fill(engine, gen)
            filled["seconds"] = round(time.perf_counter() - start, 2)
            filled["migrate_s"] = round(migrate_s, 2)
            filled["records_per_s"] = round(records / filled["insert_s"]) if filled["insert_s"] else None
            results = [{"backend": name, "fill": filled, **measure(engine, gen, repeat, Path(blob_dir))}]
            if name == "sqlite":
                database_file = Path(url.removeprefix("sqlite:///"))
                filled["file_mb"] = round(database_file.stat().st_size / 1e6, 1)
            if try_indexes:
                start = time.perf_counter()
                add_suggested_indexes(engine)
                indexed = {**filled, "create_indexes_s": round(time.perf_counter() - start, 2)}
                measured = measure(engine, gen, repeat, Path(blob_dir), seed=8)
                results.append({"backend": f"{name} + indexes", "fill": indexed, **measured})
        finally:
            engine.dispose()
    return results


# --- import throughput: ``cards import`` against ``cards extract`` on the same images ---------------


def _cards() -> str:
    script = Path(sys.executable).with_name("cards")
    return str(script) if script.exists() else "cards"


def _timed_run(command: list[str], env: dict[str, str]) -> tuple[float, subprocess.CompletedProcess[str]]:
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT, check=False)
    seconds = time.perf_counter() - start
    if done.returncode not in (0, 1):  # 1: some card failed, counted rather than fatal
        raise RuntimeError(f"{' '.join(command[:2])} exited {done.returncode}:\n{done.stderr[-2000:]}")
    return seconds, done


def measure_import(images: Path, jobs: int, repeat: int, backends: list[str]) -> dict[str, Any]:
    """Wall time of ``cards import`` (OCR + storage + provenance + blobs) over ``cards extract`` (OCR only).

    Each repeat runs extract, then an import into a fresh, migrated database per backend
    (the order rotates between repeats so machine drift hits every side alike).
    """
    from services.principals import create_principal

    sides = ["extract", *backends]
    seconds: dict[str, list[float]] = defaultdict(list)
    counts: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="cards-bench-import-") as tmp:
        env = {
            **os.environ,
            "OMP_THREAD_LIMIT": "1",
            "CARDS_SUPPRESSION_SALT": SALT.decode(),
            "CARDS_BLOB_DIR": f"{tmp}/blobs",
        }
        for r in range(repeat):
            for side in sides[r % len(sides) :] + sides[: r % len(sides)]:
                if side == "extract":
                    took, done = _timed_run(
                        [_cards(), "extract", "--format", "jsonl", "--jobs", str(jobs), str(images)], env
                    )
                    seconds[side].append(took)
                    counts["extract_cards"] = sum(1 for line in done.stdout.splitlines() if line.strip())
                    continue
                database = sqlite_database if side == "sqlite" else postgres_database
                with database(False) as url:
                    migrate.upgrade(url)
                    engine = make_engine(url)
                    with Session(engine) as session:
                        create_principal(session, "bench-uploader", Role.uploader)
                        session.commit()
                    shutil.rmtree(f"{tmp}/blobs", ignore_errors=True)
                    command = [
                        _cards(),
                        "import",
                        str(images),
                        "--uploader",
                        "bench-uploader",
                        "--basis",
                        "received_in_person",
                        "--uses",
                        "catalog",
                        "--jobs",
                        str(jobs),
                        "--report",
                        f"{tmp}/report.json",
                        "--json",
                    ]
                    took, done = _timed_run(command, {**env, "DATABASE_URL": url})
                    seconds[side].append(took)
                    with engine.connect() as conn:
                        stored = conn.execute(text("SELECT count(*) FROM contactrecord")).scalar()
                    engine.dispose()
                    counts[f"{side}_summary"] = json.loads(done.stdout.strip().splitlines()[-1])
                    counts[f"{side}_records_stored"] = stored
    extract_s = statistics.median(seconds["extract"])
    result: dict[str, Any] = {
        "images": str(images),
        "jobs": jobs,
        "repeat": repeat,
        "seconds": {side: [round(x, 2) for x in v] for side, v in seconds.items()},
        "median_s": {side: round(statistics.median(v), 2) for side, v in seconds.items()},
        **counts,
        "target_ratio": 1.10,
    }
    result["ratio_import_over_extract"] = {
        side: round(statistics.median(seconds[side]) / extract_s, 3) for side in backends
    }
    return result


def print_table(results: list[dict[str, Any]], records: int) -> None:
    console = Console(width=max(130, shutil.get_terminal_size().columns))
    table = RichTable(title=f"cardvault storage, {records:,} records (ms; median / p95)")
    table.add_column("operation")
    for result in results:
        table.add_column(result["backend"], justify="right")
    names = list(dict.fromkeys(n for r in results for n in r["operations"]))
    for name in names:
        cells = []
        for result in results:
            op = result["operations"].get(name)
            cells.append(f"{op['median_ms']:.1f} / {op['p95_ms']:.1f}" if op else "—")
        table.add_row(name, *cells)
    table.add_row(
        "fill: generate + insert + analyze (s)",
        *[
            f"{r['fill']['generate_s']:.1f} + {r['fill']['insert_s']:.1f} + {r['fill']['analyze_s']:.1f}"
            for r in results
        ],
    )
    table.add_row("fill: rows", *[f"{r['fill']['total_rows']:,}" for r in results])
    console.print(table)
    for result in results:
        for op, profile in result["statements"].items():
            print(
                f"{result['backend']} {op}: {profile['statements']} statements, "
                f"{profile['sql_ms_total']:.1f} ms in SQL; slowest:"
            )
            for row in profile["slowest"][:3]:
                print(f"  {row['ms']:8.2f} ms  {row['sql'][:140]}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=10, help="people per operation (and read repetitions)")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--keep", action="store_true", help="keep the filled databases (prints where)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument(
        "--import-images",
        type=Path,
        default=ROOT / "samples" if (ROOT / "samples").is_dir() else None,
        help="images for the import-vs-extract run (default: samples/; e.g. ../shared/eval/scans)",
    )
    parser.add_argument("--import-repeat", type=int, default=2, help="0 skips the import-vs-extract run")
    parser.add_argument("--jobs", type=int, default=2, help="OCR processes for extract and import")
    parser.add_argument(
        "--no-suggested-indexes",
        dest="try_indexes",
        action="store_false",
        help="skip the second pass with SUGGESTED_INDEXES created",
    )
    args = parser.parse_args(argv)
    if args.records < 1000:
        parser.error("--records must be at least 1000 (the catalog pages need enough records)")

    results = []
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    for backend in backends:
        print(f"== {backend}: filling {args.records:,} records …", file=sys.stderr)
        results += run_backend(backend, args.records, args.repeat, args.keep, args.try_indexes)
    imports = None
    if args.import_images and args.import_repeat > 0:
        print(f"== import vs extract: {args.import_images}, --jobs {args.jobs} …", file=sys.stderr)
        imports = measure_import(args.import_images, args.jobs, args.import_repeat, backends)
    report = {
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
        },
        "records": args.records,
        "repeat": args.repeat,
        "rights_module": rights is not None,
        "suggested_indexes": [
            {"name": n, "table": t, "columns": list(c), "why": w} for n, t, c, w in SUGGESTED_INDEXES
        ],
        "results": results,
        "import": imports,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, ensure_ascii=False))
    print_table(results, args.records)
    if imports:
        ratios = ", ".join(f"{k} {v:.2f}x" for k, v in imports["ratio_import_over_extract"].items())
        medians = ", ".join(f"{k} {v:.1f} s" for k, v in imports["median_s"].items())
        print(
            f"import vs extract ({imports.get('extract_cards')} cards, --jobs {imports['jobs']}, median of "
            f"{imports['repeat']}): {medians}; import/extract: {ratios} (target <= {imports['target_ratio']})"
        )
    print(f"full results and query plans: {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
