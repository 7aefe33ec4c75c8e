"""``POST /v1/cards?mode=async`` and ``GET /v1/jobs/{id}``: queued uploads and the worker that runs them.

Every test runs on SQLite and on PostgreSQL. Only the end-to-end test runs real OCR; the
others use images the pipeline refuses at once, so the worker finishes them in milliseconds.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from models.tables import ContactRecord, UploadJob

pytestmark = pytest.mark.usefixtures("settings_salt_forbidden")

META: dict[str, Any] = {"attestation": {"basis": "received_in_person"}, "notes": "met at the fair"}
NOT_AN_IMAGE = b"just some text, not an image"


def upload_async(
    client: TestClient, caller: Any, image: bytes, metadata: dict[str, Any] = META
) -> httpx.Response:
    return client.post(
        "/v1/cards",
        params={"mode": "async"},
        headers=caller.headers,
        files={"image": ("card.png", image, "image/png")},
        data={"metadata": json.dumps(metadata)},
    )


def wait_for_job(client: TestClient, caller: Any, url: str, timeout_s: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job = client.get(url, headers=caller.headers).json()
        if job["status"] in ("done", "failed"):
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {url} did not finish in {timeout_s} s")


def test_an_async_upload_answers_202_and_its_job_ends_with_the_card(
    client: TestClient, uploader_caller: Any, samples_dir: Path, sample_labels: dict[str, Any]
) -> None:
    response = upload_async(client, uploader_caller, (samples_dir / "card_02.png").read_bytes())
    assert response.status_code == 202, response.text
    job = response.json()
    assert job["status"] in ("queued", "running") and job["card_id"] is None
    assert response.headers["location"] == job["url"] == f"/v1/jobs/{job['id']}"
    done = wait_for_job(client, uploader_caller, job["url"])
    assert done["status"] == "done" and done["error"] is None
    card = client.get(f"/v1/cards/{done['card_id']}", headers=uploader_caller.headers).json()
    assert [v["value"] for v in card["fields"]["emails"]] == sample_labels["card_02.png"]["emails"]


def test_an_async_upload_of_a_bad_image_fails_its_job_with_the_code(
    client: TestClient, uploader_caller: Any, engine: Engine
) -> None:
    job = upload_async(client, uploader_caller, NOT_AN_IMAGE).json()
    failed = wait_for_job(client, uploader_caller, job["url"])
    assert failed["status"] == "failed" and failed["card_id"] is None
    assert failed["error"]["code"] == "unsupported_format" and failed["error"]["message"]
    with Session(engine) as session:
        assert session.exec(select(ContactRecord)).all() == []


def test_a_finished_job_keeps_no_notes_file_name_or_image(
    app: FastAPI, client: TestClient, uploader_caller: Any, engine: Engine
) -> None:
    job = upload_async(client, uploader_caller, NOT_AN_IMAGE).json()
    key = hashlib.sha256(NOT_AN_IMAGE).hexdigest()
    wait_for_job(client, uploader_caller, job["url"])
    with Session(engine) as session:
        row = session.get(UploadJob, job["id"])
        assert row is not None
        assert row.blob_key is None and row.metadata_ == {"sha256": key, "byte_size": len(NOT_AN_IMAGE)}
    deadline = time.monotonic() + 10  # the image is deleted just after the job's final commit
    while app.state.services.blobs.exists(key) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not app.state.services.blobs.exists(key)  # a failed job's image is not kept


def test_another_uploaders_job_answers_404(
    client: TestClient, uploader_caller: Any, other_uploader_caller: Any
) -> None:
    job = upload_async(client, uploader_caller, NOT_AN_IMAGE).json()
    response = client.get(job["url"], headers=other_uploader_caller.headers)
    assert response.status_code == 404 and response.json()["code"] == "not_found"
    assert client.get("/v1/jobs/999999", headers=uploader_caller.headers).status_code == 404


def test_jobs_are_for_uploaders_only(client: TestClient, partner_caller: Any) -> None:
    response = client.get("/v1/jobs/1", headers=partner_caller.headers)
    assert response.status_code == 403 and response.json()["code"] == "forbidden"


def test_a_job_left_running_by_a_crash_is_run_again_at_startup(
    app: FastAPI, engine: Engine, uploader_caller: Any
) -> None:
    key = app.state.services.blobs.put(NOT_AN_IMAGE)
    with Session(engine, expire_on_commit=False) as session:
        crashed = UploadJob(
            principal_id=uploader_caller.id,
            status="running",
            blob_key=key,
            metadata_={"metadata": META, "filename": "c.png", "sha256": key, "byte_size": len(NOT_AN_IMAGE)},
        )
        session.add(crashed)
        session.commit()
    with TestClient(app) as client:  # the lifespan starts the worker, which requeues it first
        job = wait_for_job(client, uploader_caller, f"/v1/jobs/{crashed.id}")
    assert job["status"] == "failed" and job["error"]["code"] == "unsupported_format"


def test_a_job_for_an_image_already_stored_ends_with_that_card_without_ocr(
    app: FastAPI, client: TestClient, uploader_caller: Any, engine: Engine, store_card: Any
) -> None:
    from models.tables import Principal

    with Session(engine) as session:
        principal = session.get(Principal, uploader_caller.id)
    record = store_card(principal, sha=hashlib.sha256(NOT_AN_IMAGE).hexdigest(), name="Ada Lovelace")
    job = wait_for_job(
        client, uploader_caller, upload_async(client, uploader_caller, NOT_AN_IMAGE).json()["url"]
    )
    assert (job["status"], job["card_id"]) == ("done", record.id)
