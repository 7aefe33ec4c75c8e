"""Web sign-in: a session per API key sign-in, ended by sign-out, expiry or revocation; CSRF tokens."""

from __future__ import annotations

import stat
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import Session, select

from core.errors import InvalidConfigError
from core.settings import Settings
from models.enums import Role
from models.tables import AuditEvent, WebSession, utcnow
from services.principals import create_principal, revoke_principal
from services.web_sessions import (
    csrf_token,
    csrf_valid,
    principal_for,
    resolve_session_secret,
    sign_in,
    sign_out,
)


def _signed_in(session: Session, hours: int = 1) -> tuple[str, int]:
    principal, key = create_principal(session, "web-user", Role.uploader)
    made = sign_in(session, key, hours=hours)
    assert made is not None and principal.id is not None
    session.commit()
    return made[0], principal.id


def test_a_key_signs_in_and_only_the_tokens_hash_is_stored(session: Session) -> None:
    token, principal_id = _signed_in(session)
    found = principal_for(session, token)
    assert found is not None and found.id == principal_id
    stored = session.exec(select(WebSession)).one()
    assert token not in stored.token_hash and len(stored.token_hash) == 64
    assert session.exec(select(AuditEvent).where(AuditEvent.action == "signed_in")).one()


def test_a_wrong_key_signs_nobody_in(session: Session) -> None:
    create_principal(session, "web-user", Role.uploader)
    assert sign_in(session, "cv_" + "x" * 43, hours=1) is None
    assert session.exec(select(WebSession)).all() == []


def test_signing_out_ends_the_session(session: Session) -> None:
    token, _ = _signed_in(session)
    sign_out(session, token)
    session.commit()
    assert principal_for(session, token) is None


def test_an_expired_session_signs_nobody_in(session: Session) -> None:
    token, _ = _signed_in(session)
    row = session.exec(select(WebSession)).one()
    row.expires_at = utcnow() - timedelta(seconds=1)
    session.add(row)
    session.commit()
    assert principal_for(session, token) is None


def test_revoking_the_principal_ends_its_sessions(session: Session) -> None:
    token, principal_id = _signed_in(session)
    revoke_principal(session, principal_id)
    session.commit()
    assert principal_for(session, token) is None


def test_a_csrf_token_belongs_to_one_session_and_one_secret() -> None:
    token = csrf_token(b"secret", "session-a")
    assert csrf_valid(b"secret", "session-a", token)
    assert not csrf_valid(b"secret", "session-b", token)
    assert not csrf_valid(b"other", "session-a", token)
    assert not csrf_valid(b"secret", "session-a", None)


def test_the_embedded_database_keeps_a_generated_secret_beside_its_file(tmp_path: Path) -> None:
    settings = Settings(DATABASE_URL=f"sqlite:///{tmp_path / 'cards.db'}", CARDS_SESSION_SECRET="")
    first = resolve_session_secret(settings)
    assert resolve_session_secret(settings) == first
    assert stat.S_IMODE((tmp_path / "session.secret").stat().st_mode) == 0o600


def test_another_database_needs_the_secret_set() -> None:
    settings = Settings(DATABASE_URL="postgresql+psycopg://u@db/cards", CARDS_SESSION_SECRET="")
    with pytest.raises(InvalidConfigError, match="CARDS_SESSION_SECRET"):
        resolve_session_secret(settings)
    assert resolve_session_secret(settings.model_copy(update={"session_secret": "s3"})) == b"s3"
