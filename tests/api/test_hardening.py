"""The HTTP hardening of issue 10: body caps, unknown keys, privacy headers, local docs, trusted proxies.

Each test is one defect reproduced on the old main; they run on SQLite and PostgreSQL where a
database is involved. The body-cap test drives the real app over ASGI with a body that is
produced lazily, so it can count how much of it the server asked for.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import pytest
from card_requests import ATTESTED_META, PROBLEM, Store, Upload, assert_problem, count
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from api.hardening import client_address
from api.main import create_app
from core.settings import Settings
from models.tables import ContactRecord

pytestmark = pytest.mark.usefixtures("settings_salt_forbidden")

CHUNK = 64 * 1024


def _asgi_post(app: FastAPI, path: str, total: int, content_length: bool) -> tuple[int, dict[str, Any], int]:
    """POST ``total`` bytes of junk to ``path``; returns the status, the body and the bytes the app pulled."""
    pulled = 0
    messages: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal pulled
        size = min(CHUNK, total - pulled)
        pulled += size
        return {"type": "http.request", "body": b"[" * size, "more_body": pulled < total}

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)

    headers = [(b"content-type", b"application/json"), (b"host", b"testserver")]
    if content_length:
        headers.append((b"content-length", str(total).encode()))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("192.0.2.7", 40000),
        "server": ("testserver", 80),
    }
    anyio.run(app, scope, receive, send)
    start = next(m for m in messages if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
    return start["status"], json.loads(body), pulled


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
def test_a_huge_body_to_the_public_opt_out_is_413_before_it_is_read(app: FastAPI, declared: bool) -> None:
    total = 150 * 1024 * 1024
    status, body, pulled = _asgi_post(app, "/v1/opt-out", total, content_length=declared)
    assert (status, body["code"], body["type"]) == (413, "body_too_large", "/problems/body_too_large")
    assert pulled <= (0 if declared else 2 * CHUNK), f"the server read {pulled:,} of {total:,} bytes"


def test_a_json_body_over_the_json_cap_is_413(client: TestClient, admin_caller: Any) -> None:
    big = {"type": "access", "email": "a@example.com", "company": "x" * 20_000}
    assert_problem(
        client.post("/v1/subject-requests", json=big, headers=admin_caller.headers), 413, "body_too_large"
    )


def test_the_cap_comes_before_the_rate_limit(app: FastAPI, client: TestClient) -> None:
    app.state.services.settings = app.state.services.settings.model_copy(update={"opt_out_per_minute": 1})
    assert client.post("/v1/opt-out", json={"email": "ok@example.com"}).status_code == 202
    too_big = client.post(
        "/v1/opt-out", content=b"{" + b" " * 10_000 + b"}", headers={"content-type": "application/json"}
    )
    assert_problem(too_big, 413, "body_too_large")


def test_misplaced_attestation_keys_are_refused_naming_them(
    upload: Upload, card_png: bytes, engine: Engine
) -> None:
    metadata = {"basis": "received_in_person", "uses": ["catalog"]}  # basis belongs inside "attestation"
    body = assert_problem(upload(card_png, metadata), 422, "invalid_request")
    assert "basis" in body["detail"]
    assert ["body", "metadata", "basis"] in [e["loc"] for e in body["errors"]]
    assert count(engine, ContactRecord) == 0


@pytest.mark.parametrize(
    "client_details",
    [{"junk": "x" * 15_000}, {"app_version": "x" * 100}, {"device_id": {"nested": 1}}],
    ids=["unknown-key", "overlong", "not-a-string"],
)
def test_client_details_are_bounded_to_known_keys_and_sizes(
    upload: Upload, card_png: bytes, client_details: dict[str, Any]
) -> None:
    assert_problem(upload(card_png, {**ATTESTED_META, "client": client_details}), 422, "invalid_request")


@pytest.mark.parametrize("key", ["id", "uploader_id", "sha256", "created_at"])
def test_a_patch_of_a_read_only_key_is_refused(
    client: TestClient, store: Store, uploader_caller: Any, key: str
) -> None:
    card_id = store(uploader_caller, name="Ada Lovelace", email="ada@example.com")
    response = client.patch(f"/v1/cards/{card_id}", json={key: 1}, headers=uploader_caller.headers)
    body = assert_problem(response, 422, "invalid_request")
    assert [key] == [e["loc"][-1] for e in body["errors"]] and key in body["detail"]


def test_every_answer_says_nosniff_and_personal_data_is_never_cached(
    client: TestClient, store: Store, uploader_caller: Any
) -> None:
    card_id = store(uploader_caller, name="Ada Lovelace", email="ada@example.com")
    for path in (f"/v1/cards/{card_id}", "/v1/cards", "/v1/cards/999999", "/opt-out"):
        response = client.get(path, headers=uploader_caller.headers)
        assert response.headers["cache-control"] == "no-store", path
        assert response.headers["x-content-type-options"] == "nosniff", path
    assert client.get("/healthz").headers["x-content-type-options"] == "nosniff"
    assert client.get("/v1/cards").headers["cache-control"] == "no-store"  # a 401 too


def test_the_docs_load_nothing_from_a_cdn(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    assert "cdn." not in page.text and "https://" not in page.text
    for asset in ("/docs/assets/swagger-ui-bundle.js", "/docs/assets/swagger-ui.css"):
        assert asset in page.text
        served = client.get(asset)
        assert served.status_code == 200 and len(served.content) > 10_000
    assert client.get("/redoc").status_code == 404  # ReDoc loads from a CDN: not offered


def test_the_docs_can_be_switched_off(engine: Engine, tmp_path: Path, salt: bytes) -> None:
    app = create_app(
        engine, settings=Settings(CARDS_API_DOCS=False), blob_dir=tmp_path, salt=salt, ocr_workers=1
    )
    with TestClient(app) as client:
        assert client.get("/docs").status_code == 404
        assert client.get("/openapi.json").status_code == 200


@pytest.mark.parametrize(
    ("peer", "forwarded", "trusted", "client"),
    [
        ("198.51.100.9", "10.0.0.1", "", "198.51.100.9"),  # nobody trusted: the header is ignored
        ("198.51.100.9", "10.0.0.1", "127.0.0.1", "198.51.100.9"),  # not from the proxy: ignored
        ("127.0.0.1", "203.0.113.5", "127.0.0.1", "203.0.113.5"),
        ("10.1.2.3", "1.2.3.4, 203.0.113.5, 10.9.9.9", "10.0.0.0/8", "203.0.113.5"),  # right-most untrusted
        ("127.0.0.1", "not-an-ip", "127.0.0.1", "127.0.0.1"),
    ],
)
def test_forwarded_for_is_believed_only_from_trusted_proxies(
    peer: str, forwarded: str, trusted: str, client: str
) -> None:
    networks = Settings(CARDS_TRUSTED_PROXIES=trusted).trusted_networks()
    assert client_address(peer, forwarded, networks) == client


def test_a_forged_forwarded_for_does_not_reset_the_opt_out_limit(app: FastAPI, client: TestClient) -> None:
    app.state.services.settings = app.state.services.settings.model_copy(update={"opt_out_per_minute": 2})
    statuses = [
        client.post(
            "/v1/opt-out", json={"email": f"p{n}@example.com"}, headers={"X-Forwarded-For": f"203.0.113.{n}"}
        ).status_code
        for n in range(4)
    ]
    assert statuses == [202, 202, 429, 429]


def test_two_app_instances_share_the_opt_out_limit(engine: Engine, tmp_path: Path, salt: bytes) -> None:
    """Two servers (``--workers 2``, or two replicas) on one database: one limit, not one each."""
    settings = Settings(CARDS_OPT_OUT_PER_MINUTE=3)
    apps = [
        create_app(engine, settings=settings, blob_dir=tmp_path / f"b{n}", salt=salt, ocr_workers=1)
        for n in range(2)
    ]
    with TestClient(apps[0]) as first, TestClient(apps[1]) as second:
        statuses = [
            (first if n % 2 == 0 else second)
            .post("/v1/opt-out", json={"email": f"q{n}@example.com"})
            .status_code
            for n in range(5)
        ]
    assert statuses == [202, 202, 202, 429, 429]


def test_a_problem_is_json_with_its_headers(client: TestClient) -> None:
    response = client.post("/v1/opt-out", content=b"{}" * 5000, headers={"content-type": "application/json"})
    assert response.headers["content-type"].startswith(PROBLEM)
    assert response.headers["x-content-type-options"] == "nosniff"
