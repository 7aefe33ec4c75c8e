"""``Idempotency-Key`` on ``POST /v1/cards``: one request's work, however often or concurrently it is sent.

Every test runs on SQLite and on PostgreSQL. The race and the replay run real OCR (the
behaviour is about a real upload); the rest use ``?mode=async`` or images the pipeline
refuses at once, which exercise the same key handling without the OCR cost.
"""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from ingest.errors import OcrEngineError
from models.tables import ContactRecord, IdempotencyKey, Source, UploadJob, utcnow

pytestmark = pytest.mark.usefixtures("settings_salt_forbidden")

META: dict[str, Any] = {"attestation": {"basis": "received_in_person"}, "uses": ["catalog"]}
NOT_AN_IMAGE = b"just some text, not an image"


def post(
    client: TestClient,
    caller: Any,
    image: bytes,
    key: str | None,
    metadata: dict[str, Any] = META,
    mode: str = "sync",
) -> httpx.Response:
    return client.post(
        "/v1/cards",
        params={"mode": mode},
        headers={**caller.headers, **({"Idempotency-Key": key} if key is not None else {})},
        files={"image": ("card.png", image, "image/png")},
        data={"metadata": json.dumps(metadata)},
    )


def rows(engine: Engine, model: type) -> list[Any]:
    with Session(engine) as session:
        return list(session.exec(select(model)).all())


@pytest.fixture
def card_png(samples_dir: Path) -> bytes:
    return (samples_dir / "card_03.png").read_bytes()


def test_a_retry_with_the_same_key_replays_the_first_answer(
    client: TestClient, uploader_caller: Any, engine: Engine, card_png: bytes
) -> None:
    first = post(client, uploader_caller, card_png, "key-1")
    retry = post(client, uploader_caller, card_png, "key-1")
    assert (first.status_code, retry.status_code) == (201, 201)
    assert retry.json() == first.json() and retry.headers["location"] == first.headers["location"]
    assert retry.headers["idempotent-replayed"] == "true" and "idempotent-replayed" not in first.headers
    assert len(rows(engine, ContactRecord)) == 1


def test_twenty_concurrent_uploads_with_one_key_make_one_record(
    client: TestClient, uploader_caller: Any, engine: Engine, card_png: bytes
) -> None:
    start = threading.Barrier(20)

    def send(_: int) -> httpx.Response:
        start.wait()
        return post(client, uploader_caller, card_png, "race-key")

    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(pool.map(send, range(20)))
    assert {(a.status_code, a.text) for a in answers} == {(201, answers[0].text)}, [a.text for a in answers]
    assert sum(a.headers.get("idempotent-replayed") != "true" for a in answers) == 1  # one did the work
    assert len(rows(engine, ContactRecord)) == 1 and len(rows(engine, Source)) == 1
    assert [(k.key, k.status_code) for k in rows(engine, IdempotencyKey)] == [("race-key", 201)]


def test_the_same_key_with_another_image_is_a_422_problem(
    client: TestClient, uploader_caller: Any, engine: Engine
) -> None:
    assert post(client, uploader_caller, NOT_AN_IMAGE, "key-2", mode="async").status_code == 202
    reused = post(client, uploader_caller, NOT_AN_IMAGE + b"!", "key-2", mode="async")
    assert reused.status_code == 422 and reused.json()["code"] == "idempotency_key_reused"
    assert reused.headers["content-type"].startswith("application/problem+json")
    assert len(rows(engine, UploadJob)) == 1


def test_the_same_key_with_other_metadata_is_a_422_problem(client: TestClient, uploader_caller: Any) -> None:
    post(client, uploader_caller, NOT_AN_IMAGE, "key-3", mode="async")
    reused = post(client, uploader_caller, NOT_AN_IMAGE, "key-3", metadata={**META, "uses": []}, mode="async")
    assert reused.status_code == 422 and reused.json()["code"] == "idempotency_key_reused"


def test_an_async_upload_with_a_key_is_queued_once(
    client: TestClient, uploader_caller: Any, engine: Engine
) -> None:
    first = post(client, uploader_caller, NOT_AN_IMAGE, "key-4", mode="async")
    retry = post(client, uploader_caller, NOT_AN_IMAGE, "key-4", mode="async")
    assert (first.status_code, retry.status_code) == (202, 202)
    assert retry.json()["id"] == first.json()["id"] and retry.headers["idempotent-replayed"] == "true"
    assert len(rows(engine, UploadJob)) == 1


def test_a_4xx_answer_is_stored_and_replayed(client: TestClient, uploader_caller: Any) -> None:
    first = post(client, uploader_caller, NOT_AN_IMAGE, "key-5")
    retry = post(client, uploader_caller, NOT_AN_IMAGE, "key-5")
    assert (first.status_code, first.json()["code"]) == (422, "unsupported_format")
    assert (retry.status_code, retry.json()) == (422, first.json())
    assert retry.headers["idempotent-replayed"] == "true"
    assert retry.headers["content-type"].startswith("application/problem+json")


def test_a_5xx_answer_releases_the_key_so_a_retry_runs_again(
    client: TestClient, uploader_caller: Any, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*_: Any, **__: Any) -> Any:
        raise OcrEngineError("tesseract crashed")

    with monkeypatch.context() as patched:
        patched.setattr(client.app.state.ocr, "extract", broken)
        failed = post(client, uploader_caller, NOT_AN_IMAGE, "key-6")
    assert (failed.status_code, failed.json()["code"]) == (500, "ocr_failed")
    assert rows(engine, IdempotencyKey) == []
    retry = post(client, uploader_caller, NOT_AN_IMAGE, "key-6")
    assert retry.status_code == 422 and "idempotent-replayed" not in retry.headers  # it ran again


def test_keys_are_per_api_key(client: TestClient, uploader_caller: Any, other_uploader_caller: Any) -> None:
    mine = post(client, uploader_caller, NOT_AN_IMAGE, "shared-key", mode="async")
    theirs = post(client, other_uploader_caller, NOT_AN_IMAGE, "shared-key", mode="async")
    assert (mine.status_code, theirs.status_code) == (202, 202)
    assert mine.json()["id"] != theirs.json()["id"] and "idempotent-replayed" not in theirs.headers


def test_a_claim_abandoned_by_a_crashed_request_is_taken_over(
    client: TestClient, uploader_caller: Any, engine: Engine
) -> None:
    with Session(engine) as session:
        session.add(
            IdempotencyKey(
                principal_id=uploader_caller.id,
                key="key-7",
                request_hash="from-a-dead-process",
                created_at=utcnow() - timedelta(hours=1),
            )
        )
        session.commit()
    response = post(client, uploader_caller, NOT_AN_IMAGE, "key-7", mode="async")
    assert response.status_code == 202 and "idempotent-replayed" not in response.headers


@pytest.mark.parametrize("key", ["", "x" * 256, "naïve-key"], ids=["empty", "too-long", "non-ascii"])
def test_an_unusable_key_is_a_400_problem(client: TestClient, uploader_caller: Any, key: str) -> None:
    headers = {**uploader_caller.headers, "Idempotency-Key": key}
    response = client.post(
        "/v1/cards",
        headers={k: v.encode() if k == "Idempotency-Key" else v for k, v in headers.items()},  # type: ignore[misc]
        files={"image": ("card.png", NOT_AN_IMAGE, "image/png")},
        data={"metadata": json.dumps(META)},
    )
    assert response.status_code == 400 and response.json()["code"] == "invalid_idempotency_key"
