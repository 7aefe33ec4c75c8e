"""API keys: shown once, stored only as SHA-256, refused once revoked (SQLite and PostgreSQL)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session, SQLModel

from ingest.errors import BadArgumentsError, NotFoundError
from models import migrate
from models.db import make_engine
from models.principals import (
    API_KEY_PREFIX,
    authenticate,
    create_principal,
    hash_api_key,
    list_principals,
    principal_dict,
    revoke_principal,
)
from models.tables import AuditEvent, Role


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


def test_cards_principals_create_list_revoke(run_cards: Callable[..., Any], tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/cards.db"
    env = {"DATABASE_URL": url, "CARDS_SUPPRESSION_SALT": "x", "CARDS_BLOB_DIR": str(tmp_path / "blobs")}

    not_migrated = run_cards("principals", "list", env=env)
    assert not_migrated.returncode == 7
    assert json.loads(not_migrated.stderr)["error"]["code"] == "storage_error"

    assert run_cards("db", "upgrade", env=env).returncode == 0
    created = run_cards("principals", "create", "--role", "privacy_admin", "--name", "dpo", env=env)
    assert created.returncode == 0, created.stderr
    shown = json.loads(created.stdout)
    key = shown["api_key"]
    assert shown["role"] == "privacy_admin" and shown["name"] == "dpo" and key.startswith(API_KEY_PREFIX)

    listed = run_cards("principals", "list", env=env)
    assert listed.returncode == 0, listed.stderr
    assert key not in listed.stdout and "api_key" not in listed.stdout
    rows = [(p["id"], p["name"], p["revoked_at"]) for p in json.loads(listed.stdout)]
    assert rows == [(shown["id"], "dpo", None)]

    engine = make_engine(url)
    with Session(engine) as session:
        assert authenticate(session, key) is not None
    engine.dispose()
    assert key[len(API_KEY_PREFIX) :].encode() not in _sqlite_file_bytes(url)

    revoked = run_cards("principals", "revoke", str(shown["id"]), env=env)
    assert revoked.returncode == 0, revoked.stderr
    assert json.loads(revoked.stdout)["revoked_at"]
    engine = make_engine(url)
    with Session(engine) as session:
        assert authenticate(session, key) is None
    engine.dispose()

    duplicate = run_cards("principals", "create", "--role", "partner", "--name", "dpo", env=env)
    assert duplicate.returncode == 2
    missing = run_cards("principals", "revoke", "4242", env=env)
    assert missing.returncode == 8
    assert migrate.current(url) == migrate.head()
