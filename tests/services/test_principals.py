"""API keys: shown once, stored only as SHA-256, refused once revoked (SQLite and PostgreSQL)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session, SQLModel

from core.errors import BadArgumentsError
from models.enums import Role
from models.keys import hash_api_key
from models.tables import AuditEvent
from services.errors import NotFoundError
from services.principals import (
    API_KEY_PREFIX,
    authenticate,
    create_principal,
    list_principals,
    principal_dict,
    revoke_principal,
)


def _everything_stored(engine: Engine) -> str:
    """Every row of every table as text: where a leaked key would show up."""
    chunks: list[str] = []
    with engine.connect() as conn:
        for table in SQLModel.metadata.sorted_tables:
            chunks += [repr(tuple(row)) for row in conn.execute(select(table))]
    return "\n".join(chunks)


def _sqlite_file_bytes(url: str) -> bytes:
    database = make_url(url).database
    assert database
    return b"".join(p.read_bytes() for p in Path(database).parent.glob(Path(database).name + "*"))


def test_the_key_is_returned_once_and_only_its_hash_is_stored(
    session: Session, db_url_and_engine: tuple[str, Engine]
) -> None:
    url, engine = db_url_and_engine
    principal, key = create_principal(session, "acme", Role.partner)
    session.commit()

    assert key.startswith(API_KEY_PREFIX) and len(key) >= 40
    assert principal.api_key_hash == hashlib.sha256(key.encode()).hexdigest() == hash_api_key(key)
    stored = _everything_stored(engine)
    assert principal.api_key_hash in stored
    assert key not in stored and key[len(API_KEY_PREFIX) :] not in stored
    if url.startswith("sqlite"):
        engine.dispose()  # the file and its WAL: not even a deleted page may hold the key
        raw = _sqlite_file_bytes(url)
        assert key[len(API_KEY_PREFIX) :].encode() not in raw
    assert "api_key" not in principal_dict(principal) and "api_key_hash" not in principal_dict(principal)


def test_keys_differ_and_authenticate_finds_the_holder(session: Session) -> None:
    alice, alice_key = create_principal(session, "alice", Role.uploader)
    bob, bob_key = create_principal(session, "bob", Role.catalog_builder)
    session.commit()

    assert alice_key != bob_key
    assert authenticate(session, alice_key) == alice
    assert authenticate(session, bob_key) == bob
    unprefixed = alice_key[len(API_KEY_PREFIX) :]
    for wrong in ("", None, alice_key[:-1], alice_key + "x", unprefixed, "cv_" + "a" * 500):
        assert authenticate(session, wrong) is None


def test_a_revoked_key_is_refused(session: Session) -> None:
    alice, alice_key = create_principal(session, "alice", Role.uploader)
    _, bob_key = create_principal(session, "bob", Role.uploader)
    session.commit()

    revoked = revoke_principal(session, alice.id)  # type: ignore[arg-type]
    session.commit()
    first_time = revoked.revoked_at
    assert first_time is not None
    assert authenticate(session, alice_key) is None
    assert authenticate(session, bob_key) is not None  # only that key

    again = revoke_principal(session, alice.id)  # type: ignore[arg-type]
    assert again.revoked_at == first_time
    actions = session.execute(select(AuditEvent.action)).scalars().all()
    assert sorted(actions) == ["principal_created", "principal_created", "principal_revoked"]


def test_names_are_unique_and_unknown_ids_are_not_found(session: Session) -> None:
    create_principal(session, "acme", Role.partner)
    session.commit()
    with pytest.raises(BadArgumentsError):
        create_principal(session, "acme", Role.uploader)
    with pytest.raises(BadArgumentsError):
        create_principal(session, "  ", Role.uploader)
    with pytest.raises(BadArgumentsError):
        create_principal(session, "x", "superuser")
    with pytest.raises(NotFoundError):
        revoke_principal(session, 999_999)
    assert [p.name for p in list_principals(session)] == ["acme"]
