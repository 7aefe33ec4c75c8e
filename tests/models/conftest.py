"""Database fixtures: every test that touches the database runs on SQLite and on PostgreSQL.

PostgreSQL is the machine's server (127.0.0.1:5432, trust auth, database ``test``); each
test gets its own schema, dropped afterwards, so tests never see each other's rows.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel

import models.tables  # noqa: F401  (registers the tables)
from models.blobs import BlobStore
from models.db import make_engine
from models.tables import Principal, Role

POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
TEST_SALT = b"test-salt-not-secret"


def postgres_engine(schema: str) -> Engine:
    admin = make_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    admin.dispose()
    from sqlmodel import create_engine

    return create_engine(POSTGRES_URL, connect_args={"options": f"-csearch_path={schema}"})


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url_and_engine(request: pytest.FixtureRequest, tmp_path) -> Iterator[tuple[str, Engine]]:  # type: ignore[no-untyped-def]
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/cards.db"
        engine = make_engine(url)
        SQLModel.metadata.create_all(engine)
        yield url, engine
        engine.dispose()
        return
    schema = f"t_{uuid.uuid4().hex[:12]}"
    engine = postgres_engine(schema)
    SQLModel.metadata.create_all(engine)
    yield f"{POSTGRES_URL}?options=-csearch_path%3D{schema}", engine
    engine.dispose()
    admin = make_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture
def engine(db_url_and_engine: tuple[str, Engine]) -> Engine:
    return db_url_and_engine[1]


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with Session(engine, expire_on_commit=False) as s:
        yield s


@pytest.fixture
def salt() -> bytes:
    return TEST_SALT


@pytest.fixture
def blobs(tmp_path) -> BlobStore:  # type: ignore[no-untyped-def]
    return BlobStore(tmp_path / "blobs")


def make_principal(session: Session, name: str, role: Role) -> Principal:
    principal = Principal(name=name, role=role)
    session.add(principal)
    session.commit()
    return principal


@pytest.fixture
def uploader(session: Session) -> Principal:
    return make_principal(session, "alice-uploader", Role.uploader)


@pytest.fixture
def other_uploader(session: Session) -> Principal:
    return make_principal(session, "bob-uploader", Role.uploader)


@pytest.fixture
def partner(session: Session) -> Principal:
    return make_principal(session, "acme-partner", Role.partner)


@pytest.fixture
def privacy_admin(session: Session) -> Principal:
    return make_principal(session, "dpo", Role.privacy_admin)
