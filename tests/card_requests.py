"""Uploading cards over HTTP and storing synthetic ones, for the ``/v1/cards`` tests."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import httpx
import pytest
from db_fixtures import mark_notice_sent
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from ingest.schema import Extraction
from models.enums import Channel, Use
from models.tables import (
    Principal,
)
from services.records import AttestationInput, store_extraction

ATTESTED_META: dict[str, Any] = {"attestation": {"basis": "received_in_person"}, "uses": []}


PROBLEM = "application/problem+json"


Upload = Callable[..., httpx.Response]


Store = Callable[..., int]


def limit_images(app: FastAPI, **limits: int) -> None:
    """Lower the app's image limits (the settings' CARDS_MAX_IMAGE_BYTES / _PIXELS) for one test."""
    services = app.state.services
    services.settings = services.settings.model_copy(update=limits)


@pytest.fixture
def card_png(samples_dir: Path) -> bytes:
    return (samples_dir / "card_01.png").read_bytes()


@pytest.fixture
def upload(client: TestClient, uploader_caller: Any) -> Upload:
    """``upload(image, metadata=ATTESTED_META, *, caller=uploader, params=None, headers=None)``."""

    def _upload(
        image: bytes,
        metadata: dict[str, Any] | None = ATTESTED_META,
        *,
        caller: Any = None,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        data = {"metadata": json.dumps(metadata)} if metadata is not None else {}
        return client.post(
            "/v1/cards",
            headers={**(caller or uploader_caller).headers, **(headers or {})},
            params=params,
            files={"image": ("card.png", image, "image/png")},
            data=data,
        )

    return _upload


@pytest.fixture
def store(app: FastAPI, engine: Engine, salt: bytes, build_extraction: Callable[..., Extraction]) -> Store:
    """``store(caller, *, image=None, uses=(), attested=True, **card) -> record id`` (no OCR).

    With ``image`` the bytes go to the app's blob store and the source points at them.
    """

    def _store(
        caller: Any,
        *,
        image: bytes | None = None,
        uses: Iterable[Use] = (),
        attested: bool = True,
        **card: Any,
    ) -> int:
        with Session(engine, expire_on_commit=False) as session:
            principal = session.get(Principal, caller.id)
            assert principal is not None
            sha = hashlib.sha256(image).hexdigest() if image else None
            record = store_extraction(
                session,
                uploader=principal,
                channel=Channel.api,
                extraction=build_extraction(sha=sha, **card),
                byte_size=len(image or b""),
                blob_key=app.state.services.blobs.put(image) if image else None,
                client={},
                attestation=AttestationInput(basis="received_in_person", text_version="t1")
                if attested
                else None,  # type: ignore[arg-type]
                uses=set(uses),
                salt=salt,
            )
            mark_notice_sent(session, record.subject_id)  # a record that qualifies, as most tests want
            session.commit()
            assert record.id is not None
            return record.id

    return _store


def count(engine: Engine, model: type, *conditions: Any) -> int:
    with Session(engine) as session:
        return len(session.exec(select(model).where(*conditions)).all())


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body = response.json()
    assert (body["status"], body["code"], body["type"]) == (status, code, f"/problems/{code}")
    return body
