"""API fixtures: the app on each database, principals with real API keys, an HTTP client."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from card_requests import card_png, store, upload  # noqa: F401  (fixtures)
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session

from api.main import create_app
from models.enums import Role
from models.tables import Principal
from services.partners import PartnerDetails, register_partner
from services.principals import create_principal


@dataclass(frozen=True)
class Caller:
    """A principal as an HTTP client sees it: its id and the bearer header carrying its key."""

    id: int
    name: str
    role: Role
    key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


@pytest.fixture
def app(engine: Engine, tmp_path: Path, salt: bytes):  # type: ignore[no-untyped-def]
    return create_app(engine, blob_dir=tmp_path / "api-blobs", salt=salt, ocr_workers=2)


@pytest.fixture
def client(app) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with TestClient(app) as test_client:  # runs the lifespan: OCR pool and job worker
        yield test_client


@pytest.fixture
def make_caller(engine: Engine) -> Callable[[Role, str], Caller]:
    def make(role: Role, name: str) -> Caller:
        with Session(engine, expire_on_commit=False) as session:
            principal, key = create_principal(session, name, role)
            session.commit()
            assert principal.id is not None
            return Caller(principal.id, name, role, key)

    return make


@pytest.fixture
def uploader_caller(make_caller: Callable[[Role, str], Caller]) -> Caller:
    return make_caller(Role.uploader, "app-user-1")


@pytest.fixture
def other_uploader_caller(make_caller: Callable[[Role, str], Caller]) -> Caller:
    return make_caller(Role.uploader, "app-user-2")


@pytest.fixture
def catalog_caller(make_caller: Callable[[Role, str], Caller]) -> Caller:
    return make_caller(Role.catalog_builder, "catalog-team")


@pytest.fixture
def partner_caller(make_caller: Callable[[Role, str], Caller], engine: Engine) -> Caller:
    """A partner in the partner registry (an unregistered partner receives nothing)."""
    caller = make_caller(Role.partner, "partner-co")
    with Session(engine) as session:
        principal = session.get(Principal, caller.id)
        assert principal is not None
        register_partner(session, None, principal, PartnerDetails("Partner Co", "2 Main St", "US", "DSA-7"))
        session.commit()
    return caller


@pytest.fixture
def admin_caller(make_caller: Callable[[Role, str], Caller]) -> Caller:
    return make_caller(Role.privacy_admin, "dpo-office")
