"""``POST /v1/cards``: uploads with real OCR, and every way an upload is refused.

Every test runs on SQLite and on PostgreSQL (the ``engine`` fixture is parametrized). Real
tesseract runs only where the upload itself is the behaviour (each costs about a second).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any

import pytest
from card_requests import ATTESTED_META, Upload, assert_problem, count, limit_images
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from models.tables import (
    ContactRecord,
    Source,
)

pytestmark = pytest.mark.usefixtures("settings_salt_forbidden")


def test_upload_answers_201_with_the_card_and_its_fields(
    app: FastAPI, upload: Upload, card_png: bytes, sample_labels: dict[str, Any]
) -> None:
    response = upload(card_png, {**ATTESTED_META, "uses": ["catalog"], "client": {"app_version": "2.1"}})
    assert response.status_code == 201, response.text
    card = response.json()
    assert response.headers["location"] == f"/v1/cards/{card['id']}"
    assert [v["value"] for v in card["fields"]["emails"]] == sample_labels["card_01.png"]["emails"]
    assert card["uses"] == ["catalog"] and card["channel"] == "mobile"
    assert card["attestation"]["basis"] == "received_in_person"
    # The client named no text version: the settings' current one is recorded.
    assert card["attestation"]["text_version"] == app.state.services.settings.attestation_version
    assert card["sha256"] == hashlib.sha256(card_png).hexdigest()
    assert card["image_url"] == f"/v1/cards/{card['id']}/image"
    value = card["fields"]["emails"][0]
    assert value["ocr_value"] == value["value"] and value["id"] > 0 and value["bbox"]


def test_ocr_runs_in_the_process_pool_not_on_the_event_loop(
    app: FastAPI, client: TestClient, upload: Upload, card_png: bytes
) -> None:
    class Spy(Executor):
        """Forwards to the real pool and notes what was submitted."""

        def __init__(self, pool: Executor) -> None:
            self.pool, self.calls = pool, []

        def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
            self.calls.append(fn.__name__)
            return self.pool.submit(fn, *args, **kwargs)

    spy = Spy(app.state.ocr.pool)
    app.state.ocr.pool = spy
    try:
        assert upload(card_png).status_code == 201
    finally:
        app.state.ocr.pool = spy.pool
    assert spy.calls == ["extract_bytes"]


@pytest.mark.parametrize(
    ("image", "code"),
    [
        (b"", "empty_file"),
        (b"just some text, not an image", "unsupported_format"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "corrupt_image"),
    ],
    ids=["empty", "text", "truncated"],
)
def test_a_bad_image_is_a_422_problem_with_the_pipelines_code(
    upload: Upload, engine: Engine, image: bytes, code: str
) -> None:
    assert_problem(upload(image), 422, code)
    assert count(engine, ContactRecord) == 0


def test_a_truncated_real_card_is_a_422_problem(upload: Upload, card_png: bytes) -> None:
    assert_problem(upload(card_png[: len(card_png) // 2]), 422, "corrupt_image")


def test_an_image_over_the_byte_limit_is_a_413_problem(
    app: FastAPI, upload: Upload, engine: Engine, card_png: bytes
) -> None:
    limit_images(app, max_image_bytes=1000)  # Content-Length alone is over the limit: refused before reading
    assert_problem(upload(card_png), 413, "image_too_large")
    assert count(engine, ContactRecord) == 0 and not any(app.state.services.blobs.root.rglob("*"))


def test_the_image_part_is_read_only_up_to_the_limit(app: FastAPI, upload: Upload, card_png: bytes) -> None:
    # the body passes the Content-Length check; the part does not
    limit_images(app, max_image_bytes=len(card_png) - 1)
    assert_problem(upload(card_png), 413, "image_too_large")


def test_an_image_over_the_pixel_limit_is_a_422_before_ocr(
    app: FastAPI, upload: Upload, card_png: bytes
) -> None:
    limit_images(app, max_image_pixels=10_000)
    body = assert_problem(upload(card_png), 422, "image_too_large")
    assert "pixels" in body["detail"]


def test_an_upload_without_metadata_is_a_422_problem(upload: Upload, card_png: bytes) -> None:
    body = assert_problem(upload(card_png, None), 422, "invalid_request")
    assert {"loc": ["body", "metadata"], "msg": "Field required"} in body["errors"]


def test_an_upload_with_an_unknown_basis_is_a_422_problem(
    upload: Upload, card_png: bytes, engine: Engine
) -> None:
    body = assert_problem(upload(card_png, {"attestation": {"basis": "found_it"}}), 422, "invalid_request")
    assert body["errors"][0]["loc"][:4] == ["body", "metadata", "attestation", "basis"]
    assert count(engine, ContactRecord) == 0


def test_metadata_that_is_not_json_is_a_422_problem(client: TestClient, uploader_caller: Any) -> None:
    response = client.post(
        "/v1/cards",
        headers=uploader_caller.headers,
        files={"image": ("card.png", b"x", "image/png")},
        data={"metadata": "{not json"},
    )
    assert_problem(response, 422, "invalid_request")


def test_a_body_that_is_not_multipart_is_a_415_problem(client: TestClient, uploader_caller: Any) -> None:
    response = client.post("/v1/cards", headers=uploader_caller.headers, json={"image": "x"})
    assert_problem(response, 415, "unsupported_media_type")


def test_the_same_image_twice_is_one_card(upload: Upload, engine: Engine, card_png: bytes) -> None:
    first, second = upload(card_png), upload(card_png)
    assert (first.status_code, second.status_code) == (201, 200)
    assert second.json()["id"] == first.json()["id"]
    assert count(engine, ContactRecord) == 1 and count(engine, Source) == 1


def test_an_upload_with_a_wrong_key_is_a_401_problem(client: TestClient) -> None:
    response = client.post(
        "/v1/cards",
        headers={"Authorization": "Bearer cv_nope"},
        files={"image": ("c.png", b"x", "image/png")},
    )
    assert_problem(response, 401, "unauthorized")
