"""``cards principals``: create (the key printed once), list (never a key), revoke."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url
from sqlmodel import Session

from models import migrate
from models.db import make_engine
from services.principals import (
    API_KEY_PREFIX,
    authenticate,
)


def _sqlite_file_bytes(url: str) -> bytes:
    database = make_url(url).database
    assert database
    return b"".join(p.read_bytes() for p in Path(database).parent.glob(Path(database).name + "*"))


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
