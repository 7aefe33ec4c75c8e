"""Migrations: from an empty database to head on SQLite and PostgreSQL, in step with models/tables.py.

When ``test_migrated_schema_matches_the_models`` fails, someone changed ``models/tables.py``
without a migration: while no real database is stamped, run
``python -m models.migrate regenerate-initial``; afterwards
``python -m models.migrate revision --autogenerate -m "what changed"``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlmodel import Session, SQLModel

import models.tables  # noqa: F401
from models import migrate
from models.db import make_engine
from models.enums import Role
from models.tables import Principal


def _schema(url: str) -> dict[str, Any]:
    """Tables, columns and index names: enough to see that a second upgrade changed nothing."""
    engine = make_engine(url)
    try:
        inspector = inspect(engine)
        return {
            table: (
                [c["name"] for c in inspector.get_columns(table)],
                sorted(str(i["name"]) for i in inspector.get_indexes(table)),
            )
            for table in sorted(inspector.get_table_names())
        }
    finally:
        engine.dispose()


def test_one_head_and_the_environment_ships_in_the_package() -> None:
    script = ScriptDirectory.from_config(migrate.alembic_config("sqlite://"))
    assert len(script.get_heads()) == 1, "two revisions share a parent: merge them (alembic merge)"
    assert migrate.MIGRATIONS_DIR.parent == Path(migrate.__file__).parent
    assert (migrate.MIGRATIONS_DIR / "script.py.mako").is_file()
    assert (migrate.VERSIONS_DIR / "__init__.py").is_file()  # a package, so setuptools ships it


def test_upgrade_from_empty_reaches_head(empty_db_url: str) -> None:
    assert migrate.current(empty_db_url) is None
    result = migrate.upgrade(empty_db_url)
    assert result == {"from": None, "to": migrate.head(), "head": migrate.head()}
    assert migrate.current(empty_db_url) == migrate.head()
    tables = set(_schema(empty_db_url))
    assert tables == set(SQLModel.metadata.tables) | {"alembic_version"}


def test_migrated_schema_matches_the_models(empty_db_url: str) -> None:
    """No benign-noise filtering: compare_metadata must find nothing at all, on both databases."""
    migrate.upgrade(empty_db_url)
    changes = migrate.pending_changes(empty_db_url)
    assert changes == [], (
        "models/tables.py and the migrations differ; regenerate the initial revision "
        "(`python -m models.migrate regenerate-initial`) or add one "
        "(`python -m models.migrate revision --autogenerate -m ...`):\n" + "\n".join(map(str, changes))
    )


def test_upgrading_twice_is_a_no_op_and_keeps_rows(empty_db_url: str) -> None:
    migrate.upgrade(empty_db_url)
    before = _schema(empty_db_url)
    engine = make_engine(empty_db_url)
    with Session(engine) as session:
        session.add(Principal(name="kept", role=Role.uploader))
        session.commit()
    engine.dispose()

    again = migrate.upgrade(empty_db_url)

    assert again["from"] == again["to"] == migrate.head()
    assert _schema(empty_db_url) == before
    engine = make_engine(empty_db_url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT name FROM principal")).scalars().all() == ["kept"]
        assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1
    engine.dispose()


def test_downgrade_to_base_then_upgrade_again(empty_db_url: str) -> None:
    """On PostgreSQL the downgrade must drop the ENUM types too, or the upgrade after it fails."""
    migrate.upgrade(empty_db_url)
    assert migrate.downgrade(empty_db_url, "base")["to"] is None
    assert set(_schema(empty_db_url)) <= {"alembic_version"}
    assert migrate.upgrade(empty_db_url)["to"] == migrate.head()
    assert migrate.pending_changes(empty_db_url) == []


def test_sqlite_foreign_keys_are_on_again_after_migrating(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/fk.db"
    migrate.upgrade(url)
    engine = make_engine(url)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall() == []
    engine.dispose()


def _env(tmp_path: Path, url: str) -> dict[str, str]:
    return {
        "DATABASE_URL": url,
        "CARDS_SUPPRESSION_SALT": "test-salt-not-secret",
        "CARDS_BLOB_DIR": str(tmp_path / "blobs"),
    }


def test_cards_db_upgrade_and_current(run_cards: Callable[..., Any], tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/sub/cards.db"  # the folder does not exist yet
    env = _env(tmp_path, url)

    before = run_cards("db", "current", env=env)
    assert before.returncode == 0, before.stderr
    assert json.loads(before.stdout) == {"current": None, "head": migrate.head(), "up_to_date": False}

    done = run_cards("db", "upgrade", env=env)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"from": None, "to": migrate.head(), "head": migrate.head()}
    assert (tmp_path / "sub" / "cards.db").is_file()

    again = run_cards("db", "upgrade", "--revision", "head", env=env)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["from"] == migrate.head()

    after = run_cards("db", "current", env=env)
    assert json.loads(after.stdout)["up_to_date"] is True
    assert migrate.pending_changes(url) == []


def test_cards_db_upgrade_reports_an_unreachable_database(
    run_cards: Callable[..., Any], tmp_path: Path
) -> None:
    done = run_cards("db", "upgrade", env=_env(tmp_path, "postgresql+psycopg://nobody@127.0.0.1:1/none"))
    assert done.returncode == 7
    assert json.loads(done.stderr)["error"]["code"] == "storage_error"
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(("revision", "code"), [("no-such-revision", 2)])
def test_cards_db_upgrade_refuses_an_unknown_revision(
    run_cards: Callable[..., Any], tmp_path: Path, revision: str, code: int
) -> None:
    done = run_cards(
        "db", "upgrade", "--revision", revision, env=_env(tmp_path, f"sqlite:///{tmp_path}/x.db")
    )
    assert done.returncode == code
    assert json.loads(done.stderr)["error"]["code"] == "bad_arguments"


def test_migrated_sqlite_tables_never_reuse_ids(tmp_path: Path) -> None:
    """After 0010 every table with an integer id is AUTOINCREMENT; its rows and links survive the rebuild."""
    url = f"sqlite:///{tmp_path}/ids.db"
    migrate.upgrade(url, "0009")
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO principal (name, role, created_at) VALUES ('p1', 'uploader', '2026-01-01')")
        )
        conn.execute(
            text("INSERT INTO principal (name, role, created_at) VALUES ('p2', 'uploader', '2026-01-01')")
        )
        conn.execute(
            text("DELETE FROM principal WHERE name = 'p2'")
        )  # id 2 is free: the old schema reuses it
    engine.dispose()

    migrate.upgrade(url)

    engine = make_engine(url)
    with engine.begin() as conn:
        tables = dict(conn.execute(text("SELECT name, sql FROM sqlite_master WHERE type = 'table'")).all())
        assert conn.execute(text("SELECT name FROM principal")).scalars().all() == ["p1"]
        conn.execute(
            text("INSERT INTO principal (name, role, created_at) VALUES ('p3', 'uploader', '2026-01-02')")
        )
        conn.execute(text("DELETE FROM principal WHERE name = 'p3'"))
        conn.execute(
            text("INSERT INTO principal (name, role, created_at) VALUES ('p4', 'uploader', '2026-01-02')")
        )
        new_id = conn.execute(text("SELECT id FROM principal WHERE name = 'p4'")).scalar()
    engine.dispose()
    with_ids = {name for name, table in SQLModel.metadata.tables.items() if "id" in table.c}
    assert {name for name in with_ids if "AUTOINCREMENT" not in tables[name]} == set()
    assert new_id == 3  # p3 had 2; p4 does not get it again
    assert all(SQLModel.metadata.tables[name].dialect_kwargs.get("sqlite_autoincrement") for name in with_ids)
