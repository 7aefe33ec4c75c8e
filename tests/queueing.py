"""The real parts of the queue tests: a private Redis, a PostgreSQL schema, ``cards worker`` processes.

Each test module gets its own ``redis-server`` on a free port (no persistence, so a restart
loses every message, the worst case), never the machine's 6379; workers are real ``cards
worker`` processes (Celery prefork), stopped with SIGTERM as an operator would.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from db_fixtures import POSTGRES_URL, TEST_SALT, postgres_engine
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, select

from models.db import make_engine
from models.enums import Role
from models.tables import ContactRecord, FieldValue, Principal, Source, UploadJob

REPO_ROOT = Path(__file__).resolve().parents[1]
CARDS = str(Path(sys.executable).with_name("cards"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisServer:
    """A private redis-server without persistence: a restart empties it."""

    def __init__(self, folder: Path) -> None:
        self.port = free_port()
        self.folder = folder
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                *("redis-server", "--port", str(self.port), "--bind", "127.0.0.1"),
                *("--save", "", "--appendonly", "no", "--dir", str(self.folder)),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(10)
            self.process = None

    def llen(self, key: str) -> int:
        with socket.create_connection(("127.0.0.1", self.port), timeout=2) as sock:
            sock.sendall(f"LLEN {key}\r\n".encode())
            return int(sock.recv(64).decode().strip().lstrip(":"))


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def pg_schema() -> Iterator[tuple[str, Engine]]:
    """A fresh PostgreSQL schema with every table; the URL worker processes connect with."""
    schema = f"q_{uuid.uuid4().hex[:12]}"
    engine = postgres_engine(schema)
    SQLModel.metadata.create_all(engine)
    yield f"{POSTGRES_URL}?options=-csearch_path%3D{schema}", engine
    engine.dispose()
    admin = make_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


def queue_env(db_url: str, broker_url: str, tmp: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARDS_") and k != "DATABASE_URL"}
    env.update(
        DATABASE_URL=db_url,
        CARDS_BROKER_URL=broker_url,
        CARDS_SUPPRESSION_SALT=TEST_SALT.decode(),
        CARDS_BLOB_STORE="database",
        CARDS_BLOB_DIR=str(tmp / "blobs"),
        CARDS_REPORT_DIR=str(tmp / "reports"),
        CARDS_PROFILE="fast",
        CARDS_QUEUE_REPUBLISH_SECONDS="2",
        OMP_THREAD_LIMIT="1",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


class Worker:
    """One ``cards worker`` process and its log."""

    def __init__(self, env: dict[str, str], log: Path, concurrency: int = 1) -> None:
        self.log = log
        self.handle = log.open("wb")
        self.process = subprocess.Popen(
            [CARDS, "worker", "--concurrency", str(concurrency)],
            env=env,
            cwd=log.parent,
            stdout=self.handle,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if "ready." in self.log.read_text(errors="replace"):
                return
            if self.process.poll() is not None:
                raise RuntimeError(f"the worker stopped: {self.log.read_text(errors='replace')[-2000:]}")
            time.sleep(0.1)
        raise RuntimeError("the worker did not get ready")

    def children(self) -> list[int]:
        found: list[int] = []
        for task in Path(f"/proc/{self.process.pid}/task").iterdir():
            found += [int(p) for p in (task / "children").read_text().split()]
        return found

    def stop(self, timeout: float = 60) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self.handle.close()
        return int(self.process.returncode)

    def card_lines(self) -> list[str]:
        lines = self.log.read_text(errors="replace").splitlines()
        return [line for line in lines if "cards.worker card " in line]


def make_uploader(engine: Engine, name: str) -> int:
    with Session(engine) as session:
        principal = Principal(name=name, role=Role.uploader)
        session.add(principal)
        session.commit()
        assert principal.id is not None
        return principal.id


def generate_cards(folder: Path, count: int, seed: int = 11) -> list[Path]:
    """``count`` distinct synthetic cards drawn by samples/generate.py (flat scans, half size: cheap OCR)."""
    sys.path.insert(0, str(REPO_ROOT / "samples"))
    try:
        import generate as g
    finally:
        sys.path.pop(0)
    folder.mkdir(parents=True, exist_ok=True)
    rng, used = random.Random(seed), set()
    flat = [s for s in g.SPECS if s.render == "flat" and s.layout != "two_people"]
    paths = []
    for i in range(count):
        spec = flat[i % len(flat)]
        card = g.make_card(spec, rng, g.BRANDS[i % len(g.BRANDS)], used)
        name_family, body_family = spec.fonts.split("/")
        style = g.Style(name_family, body_family, body_family, g.SCHEMES[spec.scheme], False)
        image = g.render_flat(card, style)
        image = image.resize((image.width // 2, image.height // 2))
        path = folder / f"gen_{i:03d}.png"
        image.save(path)
        paths.append(path)
    return paths


def records_by_sha(engine: Engine, uploader_id: int) -> dict[str, list[tuple[str, int, str, str | None]]]:
    """What was stored for each image: its values, in order."""
    with Session(engine) as session:
        rows = session.exec(
            select(Source.sha256, FieldValue.field, FieldValue.position, FieldValue.value, FieldValue.type)
            .join(ContactRecord, ContactRecord.source_id == Source.id)
            .join(FieldValue, FieldValue.record_id == ContactRecord.id)
            .where(Source.uploader_id == uploader_id)
        ).all()
        shas = session.exec(select(Source.sha256).where(Source.uploader_id == uploader_id)).all()
    found: dict[str, list[tuple[str, int, str, str | None]]] = {sha: [] for sha in shas}
    for sha, field, position, value, kind in rows:
        found[sha].append((field, position, value, kind))
    return {sha: sorted(values) for sha, values in found.items()}


def jobs_of(engine: Engine, batch: str | None = None) -> list[UploadJob]:
    with Session(engine) as session:
        query = select(UploadJob)
        if batch is not None:
            query = query.where(UploadJob.batch == batch)
        return list(session.exec(query).all())
