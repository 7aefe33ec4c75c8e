"""With ``CARDS_BROKER_URL``: async uploads go to the ``interactive`` queue and a ``cards worker``
process reads them; ``/v1/jobs/{id}`` answers from the job table; ``/healthz`` reports the broker.

Real parts: a private Redis, a PostgreSQL schema, the images in its blob table, a worker process.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from db_fixtures import TEST_SALT
from fastapi.testclient import TestClient
from queueing import RedisServer, Worker, free_port, queue_env
from sqlmodel import Session

from api.main import create_app
from core.settings import load_settings
from models.blobs import DatabaseBlobStore
from models.enums import Role
from services.principals import create_principal

META = {"attestation": {"basis": "received_in_person"}, "uses": ["catalog"]}


def app_for(db_url: str, engine: Any, broker_url: str, tmp_path: Path) -> Any:
    settings = load_settings(
        _env_file=None,
        DATABASE_URL=db_url,
        CARDS_BROKER_URL=broker_url,
        CARDS_BLOB_STORE="database",
        CARDS_SUPPRESSION_SALT=TEST_SALT.decode(),
        CARDS_PROFILE="fast",
    )
    return create_app(engine, settings=settings, salt=TEST_SALT, ocr_workers=1)


def uploader_headers(engine: Any) -> dict[str, str]:
    with Session(engine) as session:
        _, key = create_principal(session, "phone-user", Role.uploader)
        session.commit()
    return {"Authorization": f"Bearer {key}"}


def test_an_async_upload_is_read_by_a_queue_worker_and_its_job_ends_with_the_card(
    redis_server: RedisServer, pg_schema: Any, samples_dir: Path, tmp_path: Path
) -> None:
    url, engine = pg_schema
    headers = uploader_headers(engine)
    worker = Worker(queue_env(url, redis_server.url, tmp_path), tmp_path / "worker.log")
    try:
        worker.wait_ready()
        with TestClient(app_for(url, engine, redis_server.url, tmp_path)) as client:
            response = client.post(
                "/v1/cards",
                params={"mode": "async"},
                headers=headers,
                files={"image": ("card.png", (samples_dir / "card_05.png").read_bytes(), "image/png")},
                data={"metadata": json.dumps(META)},
            )
            assert response.status_code == 202, response.text
            job_url = response.json()["url"]
            deadline = time.monotonic() + 60
            job = client.get(job_url, headers=headers).json()
            while job["status"] not in ("done", "failed") and time.monotonic() < deadline:
                time.sleep(0.1)
                job = client.get(job_url, headers=headers).json()
            assert job["status"] == "done", job
            card = client.get(f"/v1/cards/{job['card_id']}", headers=headers)
            assert card.status_code == 200
            assert client.get(f"/v1/cards/{job['card_id']}/image", headers=headers).status_code == 200
    finally:
        assert worker.stop() == 0
    assert any(f"job={job['id']} " in line and "outcome=done" in line for line in worker.card_lines())


def test_healthz_reports_the_broker_and_its_queue_depths(
    redis_server: RedisServer, pg_schema: Any, tmp_path: Path
) -> None:
    url, engine = pg_schema
    with TestClient(app_for(url, engine, redis_server.url, tmp_path)) as client:
        body = client.get("/healthz").json()
    assert body["broker"]["status"] == "ok"
    assert set(body["queues"]) == {"interactive", "bulk"}
    assert all(isinstance(n, int) for n in body["queues"].values())


def test_healthz_is_503_naming_the_broker_when_redis_is_away(pg_schema: Any, tmp_path: Path) -> None:
    url, engine = pg_schema
    nobody = f"redis://127.0.0.1:{free_port()}/0"
    with TestClient(app_for(url, engine, nobody, tmp_path)) as client:
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["checks"]["broker"]["status"] == "failing"
    assert "broker" in response.json()["detail"]


def test_with_a_broker_the_api_still_sweeps_orphan_images_at_start_up(
    redis_server: RedisServer, pg_schema: Any, tmp_path: Path
) -> None:
    url, engine = pg_schema
    blobs = DatabaseBlobStore(engine)
    orphan = blobs.put(b"an image whose card a crash never committed")
    settings = load_settings(
        _env_file=None,
        DATABASE_URL=url,
        CARDS_BROKER_URL=redis_server.url,
        CARDS_BLOB_STORE="database",
        CARDS_SUPPRESSION_SALT=TEST_SALT.decode(),
        CARDS_ORPHAN_GRACE_SECONDS=0,
    )
    with TestClient(create_app(engine, settings=settings, salt=TEST_SALT, ocr_workers=1)):
        deadline = time.monotonic() + 15
        while blobs.exists(orphan) and time.monotonic() < deadline:
            time.sleep(0.1)
    assert not blobs.exists(orphan)
