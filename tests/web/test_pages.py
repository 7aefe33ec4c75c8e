"""The pages in process (no browser): cookie flags, the key kept out of pages, CSRF on sign-in."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session

from api.main import create_app
from models.enums import Role
from services.principals import create_principal, revoke_principal


@pytest.fixture
def web_client(engine: Engine, tmp_path: Path, salt: bytes) -> Iterator[TestClient]:
    app = create_app(engine, blob_dir=tmp_path / "blobs", salt=salt, ocr_workers=1)
    app.state.web_secret = b"test-session-secret"
    with TestClient(app, base_url="https://testserver") as client:
        yield client


def _key(engine: Engine, role: Role = Role.uploader) -> tuple[int, str]:
    with Session(engine) as session:
        principal, key = create_principal(session, f"web-{role.value}", role)
        session.commit()
        assert principal.id is not None
        return principal.id, key


def _csrf(page: str) -> str:
    return page.split('name="csrf" value="', 1)[1].split('"', 1)[0]


def _sign_in(client: TestClient, key: str) -> object:
    page = client.get("/app/login")
    return client.post("/app/login", data={"csrf": _csrf(page.text), "api_key": key}, follow_redirects=False)


def test_over_tls_the_session_cookie_is_secure_httponly_strict_and_expiring(
    web_client: TestClient, engine: Engine
) -> None:
    _, key = _key(engine)
    response = _sign_in(web_client, key)
    cookie = response.headers["set-cookie"]  # type: ignore[attr-defined]
    assert cookie.startswith("cv_session=")
    for flag in ("HttpOnly", "Secure", "SameSite=strict", "Max-Age=43200", "Path=/app"):
        assert flag.lower() in cookie.lower(), cookie
    assert key not in cookie and key not in response.headers["location"]  # type: ignore[attr-defined]


def test_the_api_key_never_appears_in_a_page(web_client: TestClient, engine: Engine) -> None:
    _, key = _key(engine)
    _sign_in(web_client, key)
    for path in ("/app/queue", "/app/upload"):
        page = web_client.get(path)
        assert page.status_code == 200 and key not in page.text


def test_signing_in_without_the_forms_token_is_refused(web_client: TestClient, engine: Engine) -> None:
    _, key = _key(engine)
    web_client.get("/app/login")
    refused = web_client.post("/app/login", data={"api_key": key}, follow_redirects=False)
    assert refused.status_code == 403 and "csrf_failed" in refused.text
    assert "cv_session" not in refused.headers.get("set-cookie", "")


def test_a_revoked_principals_session_is_sent_to_sign_in(web_client: TestClient, engine: Engine) -> None:
    principal_id, key = _key(engine)
    _sign_in(web_client, key)
    assert web_client.get("/app/queue", follow_redirects=False).status_code == 200
    with Session(engine) as session:
        revoke_principal(session, principal_id)
        session.commit()
    response = web_client.get("/app/queue", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/app/login"


def test_a_page_for_another_role_is_a_403_page(web_client: TestClient, engine: Engine) -> None:
    _, key = _key(engine, Role.catalog_builder)
    _sign_in(web_client, key)
    response = web_client.get("/app/privacy")
    assert response.status_code == 403 and response.headers["content-type"].startswith("text/html")
    assert "privacy_admin" in response.text
