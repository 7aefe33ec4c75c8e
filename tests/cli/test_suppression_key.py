"""The suppression key: one per database, never a silent new one, wherever a command is run from.

Every suppression is a hash made with this key, so a process with another key would not
recognise an opted-out or erased person. Run as a user would: ``cards`` in subprocesses,
from different working directories.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path

from db_fixtures import make_extraction
from importing import cards_command
from sqlmodel import Session, select

from core.errors import ExitCode
from models.db import make_engine
from models.enums import Channel
from models.keys import KEY_FILE
from models.tables import Principal
from services.records import store_extraction

EMAIL = "ada@orrery.example"


def cards(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("CARDS_", "DATABASE_URL"))}
    return subprocess.run(
        [*cards_command(), *args],
        cwd=cwd,
        env={**base, "OMP_THREAD_LIMIT": "1", **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def error_of(done: subprocess.CompletedProcess[str]) -> dict[str, str]:
    return dict(json.loads(done.stderr)["error"])


def embedded(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """An embedded SQLite database at an absolute path, migrated, with one uploader; no key configured."""
    folder = tmp_path / "data"
    env = {"DATABASE_URL": f"sqlite:///{folder}/cards.db", "CARDS_BLOB_DIR": str(tmp_path / "blobs")}
    (tmp_path / "here").mkdir()
    assert cards("db", "upgrade", cwd=tmp_path / "here", env=env).returncode == 0
    made = cards(
        "principals", "create", "--role", "uploader", "--name", "alice", cwd=tmp_path / "here", env=env
    )
    assert made.returncode == 0, made.stderr
    return env, folder


def test_the_generated_key_lives_beside_the_database_owner_only(tmp_path: Path) -> None:
    _, folder = embedded(tmp_path)
    key_file = folder / KEY_FILE
    assert key_file.is_file() and stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert not (tmp_path / "here" / "var").exists(), "nothing is written relative to the working directory"


def test_a_command_run_from_another_directory_finds_the_person(tmp_path: Path) -> None:
    env, folder = embedded(tmp_path)
    salt = (folder / KEY_FILE).read_text().strip().encode()
    engine = make_engine(env["DATABASE_URL"])
    with Session(engine) as session:
        uploader = session.exec(select(Principal).where(Principal.name == "alice")).one()
        store_extraction(
            session,
            uploader=uploader,
            channel=Channel.batch,
            extraction=make_extraction(name="Ada Quillfeather", email=EMAIL),
            byte_size=1,
            blob_key=None,
            client={},
            attestation=None,
            uses=set(),
            salt=salt,
        )
        session.commit()
    engine.dispose()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    done = cards("subjects", "opt-out", "--email", EMAIL, cwd=elsewhere, env=env)

    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["found"] is True
    assert not (elsewhere / "var").exists(), "no second key appeared in the other directory"


def test_another_key_than_the_databases_is_refused_at_start_up(tmp_path: Path) -> None:
    env, _ = embedded(tmp_path)
    done = cards("principals", "list", cwd=tmp_path, env={**env, "CARDS_SUPPRESSION_SALT": "a-different-key"})
    assert done.returncode == ExitCode.invalid_config
    assert error_of(done)["code"] == "invalid_config" and "suppression key" in error_of(done)["message"]


def test_a_lost_key_file_is_refused_rather_replaced(tmp_path: Path) -> None:
    env, folder = embedded(tmp_path)
    (folder / KEY_FILE).unlink()
    done = cards("subjects", "opt-out", "--email", EMAIL, cwd=tmp_path, env=env)
    assert done.returncode == ExitCode.invalid_config
    assert "missing" in error_of(done)["message"]
    assert not (folder / KEY_FILE).exists(), "never a silent new key"


def test_a_database_that_is_not_the_embedded_file_needs_the_secret(tmp_path: Path, empty_db_url: str) -> None:
    if empty_db_url.startswith("sqlite"):
        empty_db_url = "sqlite:///:memory:"
    done = cards("subjects", "opt-out", "--email", EMAIL, cwd=tmp_path, env={"DATABASE_URL": empty_db_url})
    assert done.returncode == ExitCode.invalid_config
    assert "CARDS_SUPPRESSION_SALT" in error_of(done)["message"]
