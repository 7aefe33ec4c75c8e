"""Storage faults are the documented 503 ``storage_error``, and ``/healthz`` sees them (issue 10, defect 6).

Real faults, each of which stops root too (the tests run as root, which ignores file modes): a
SQLite database opened read-only (``mode=ro``), a blob folder whose path is a regular file, and
a PostgreSQL server that is not there. On the old main the first two answered 500 ``error`` and
``/healthz`` said ok.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from card_requests import ATTESTED_META, assert_problem
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, create_engine

from api.main import create_app
from models.enums import Role
from services.principals import create_principal

pytestmark = pytest.mark.usefixtures("settings_salt_forbidden")


@pytest.fixture
def read_only_sqlite(tmp_path: Path) -> tuple[Engine, str]:
    """A migrated SQLite database with an uploader, then opened read-only; returns (engine, key)."""
    path = tmp_path / "ro.db"
    writable = create_engine(f"sqlite:///{path}")
    SQLModel.metadata.create_all(writable)
    with Session(writable) as session:
        _, key = create_principal(session, "ro-uploader", Role.uploader)
        session.commit()
    writable.dispose()
    return create_engine(f"sqlite:///file:{path}?mode=ro&uri=true"), key


def test_a_read_only_database_is_503_storage_error_and_unhealthy(
    read_only_sqlite: tuple[Engine, str], tmp_path: Path, salt: bytes
) -> None:
    engine, key = read_only_sqlite
    app = create_app(engine, blob_dir=tmp_path / "blobs", salt=salt, ocr_workers=1)
    with TestClient(app) as client:
        assert_problem(client.post("/v1/opt-out", json={"email": "a@example.com"}), 503, "storage_error")
        assert (
            client.get("/v1/cards", headers={"Authorization": f"Bearer {key}"}).status_code == 200
        )  # reads work
        health = client.get("/healthz")
        body = assert_problem(health, 503, "unhealthy")
    assert body["checks"]["database"]["status"] == "failing"
    assert "readonly" in body["checks"]["database"]["detail"].lower()
    assert body["checks"]["blobs"]["status"] == "ok"


def test_a_blob_folder_that_cannot_be_written_is_503_storage_error_and_unhealthy(
    engine: Engine, tmp_path: Path, salt: bytes, uploader_caller: Any, card_png: bytes
) -> None:
    not_a_folder = tmp_path / "blobs"
    not_a_folder.write_bytes(b"a file where the blob folder should be")
    app = create_app(engine, blob_dir=not_a_folder, salt=salt, ocr_workers=1)
    with TestClient(app) as client:
        upload = client.post(
            "/v1/cards",
            params={"mode": "async"},
            headers=uploader_caller.headers,
            files={"image": ("card.png", card_png, "image/png")},
            data={"metadata": json.dumps(ATTESTED_META)},
        )
        body = assert_problem(upload, 503, "storage_error")
        assert "CARDS_BLOB_DIR" in body["detail"]
        health = assert_problem(client.get("/healthz"), 503, "unhealthy")
    assert health["checks"]["blobs"]["status"] == "failing"
    assert health["checks"]["database"]["status"] == "ok"


@pytest.fixture
def mounted(tmp_path: Path) -> Iterator[Any]:
    """``mounted(options)``: a fresh tmpfs for the blob folder (ro, or a tiny size); skipped without mount."""
    points: list[Path] = []

    def mount(options: str) -> Path:
        point = tmp_path / f"mnt{len(points)}"
        point.mkdir()
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(point)], capture_output=True
        )
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
        points.append(point)
        return point

    yield mount
    for point in points:
        subprocess.run(["umount", str(point)], check=False)


def async_upload(client: TestClient, caller: Any, image: bytes) -> Any:
    return client.post(
        "/v1/cards",
        params={"mode": "async"},
        headers=caller.headers,
        files={"image": ("card.png", image, "image/png")},
        data={"metadata": json.dumps(ATTESTED_META)},
    )


def test_a_read_only_blob_mount_is_503_storage_error_and_unhealthy(
    engine: Engine, salt: bytes, uploader_caller: Any, mounted: Any
) -> None:
    app = create_app(engine, blob_dir=mounted("ro,size=1m"), salt=salt, ocr_workers=1)
    with TestClient(app) as client:
        body = assert_problem(async_upload(client, uploader_caller, os.urandom(20_000)), 503, "storage_error")
        assert "Read-only" in body["detail"]
        health = assert_problem(client.get("/healthz"), 503, "unhealthy")
    assert health["checks"]["blobs"]["status"] == "failing"


def test_a_full_blob_disk_is_503_storage_error(
    engine: Engine, salt: bytes, uploader_caller: Any, mounted: Any
) -> None:
    app = create_app(engine, blob_dir=mounted("size=64k"), salt=salt, ocr_workers=1)
    with TestClient(app) as client:
        body = assert_problem(
            async_upload(client, uploader_caller, os.urandom(300_000)), 503, "storage_error"
        )
    assert "No space left" in body["detail"]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_database_that_is_down_is_503_storage_error(tmp_path: Path, salt: bytes) -> None:
    down = create_engine(f"postgresql+psycopg://postgres@127.0.0.1:{closed_port()}/test")
    app = create_app(down, blob_dir=tmp_path / "blobs", salt=salt, ocr_workers=1)
    with TestClient(app) as client:
        assert_problem(
            client.get("/v1/cards", headers={"Authorization": "Bearer cv_x"}), 503, "storage_error"
        )
        assert_problem(client.post("/v1/opt-out", json={"email": "a@example.com"}), 503, "storage_error")
        health = assert_problem(client.get("/healthz"), 503, "unhealthy")
    assert health["checks"]["database"]["status"] == "failing"
