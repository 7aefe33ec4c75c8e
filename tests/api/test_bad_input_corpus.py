"""Every kind of bad input in ``tests/bad_inputs.py`` gets its exact status and problem type, never a 5xx.

The corpus goes to the real app (its OCR pool, its middleware, its routes) on SQLite and on
PostgreSQL, one app per database for the whole module: the inputs are independent, and an app
start per input would cost more than the corpus itself.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from bad_inputs import CORPUS, BadInput
from db_fixtures import POSTGRES_URL, TEST_SALT, make_extraction, postgres_engine
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel

from api.main import create_app
from api.ratelimit import RateLimiter
from models.db import make_engine
from models.enums import Channel, Role
from services.principals import create_principal
from services.records import store_extraction

PROBLEM = "application/problem+json"


@dataclass
class Target:
    client: TestClient
    keys: dict[str, str]
    card_id: int


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def target(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    folder: Path = tmp_path_factory.mktemp("corpus")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    engine: Engine
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{folder}/cards.db")
    else:
        engine = postgres_engine(schema)
    SQLModel.metadata.create_all(engine)
    keys: dict[str, str] = {}
    with Session(engine, expire_on_commit=False) as session:
        for role in (Role.uploader, Role.privacy_admin):
            principal, keys[role.value] = create_principal(session, f"corpus-{role.value}", role)
            if role is Role.uploader:
                uploader = principal
        record = store_extraction(
            session,
            uploader=uploader,
            channel=Channel.api,
            extraction=make_extraction(name="Ada Lovelace", email="ada@example.com"),
            byte_size=0,
            blob_key=None,
            client={},
            attestation=None,
            uses=set(),
            salt=TEST_SALT,
        )
        session.commit()
        assert record.id is not None
        card_id = record.id
    app = create_app(engine, blob_dir=folder / "blobs", salt=TEST_SALT, ocr_workers=1)
    app.state.opt_out_limiter = RateLimiter(per_minute=1_000_000)
    try:
        with TestClient(app) as client:
            yield Target(client, keys, card_id)
    finally:
        engine.dispose()
        if request.param == "postgresql":
            admin = make_engine(POSTGRES_URL)
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()


@pytest.mark.parametrize("bad", CORPUS, ids=[bad.kind for bad in CORPUS])
def test_a_bad_input_gets_its_exact_problem_and_never_a_5xx(target: Target, bad: BadInput) -> None:
    options = bad.request()
    headers = {**options.pop("headers", {})}
    if bad.role is not None:
        headers.setdefault("Authorization", f"Bearer {target.keys[bad.role]}")
    path = bad.path.replace("{card}", str(target.card_id))

    response = target.client.request(bad.method, path, headers=headers, **options)

    assert response.status_code < 500, response.text
    assert response.status_code == bad.status, response.text
    assert response.headers["content-type"].startswith(PROBLEM), response.headers
    problem = response.json()
    assert (problem["code"], problem["type"], problem["status"]) == (
        bad.code,
        f"/problems/{bad.code}",
        bad.status,
    )


def test_the_corpus_has_thirty_kinds_or_more() -> None:
    assert len({bad.kind for bad in CORPUS}) == len(CORPUS) >= 30
