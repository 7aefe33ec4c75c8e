"""``cards worker`` and ``cards import --queue`` without a broker: refused at once, with what to set."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from db_fixtures import TEST_SALT
from queueing import CARDS


def run(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARDS_") and k != "DATABASE_URL"}
    env.update(
        DATABASE_URL=f"sqlite:///{tmp_path}/cards.db",
        CARDS_SUPPRESSION_SALT=TEST_SALT.decode(),
        CARDS_REPORT_DIR=str(tmp_path / "reports"),
    )
    subprocess.run([CARDS, "db", "upgrade"], env=env, capture_output=True, check=True, timeout=120)
    return subprocess.run([CARDS, *args], env=env, capture_output=True, text=True, timeout=120)


def test_a_worker_without_a_broker_is_invalid_config(tmp_path: Path) -> None:
    done = run(["worker"], tmp_path)
    assert done.returncode == 6
    assert "CARDS_BROKER_URL" in done.stderr


def test_a_queued_import_without_a_broker_is_bad_arguments(tmp_path: Path) -> None:
    folder = tmp_path / "cards"
    folder.mkdir()
    args = ["import", str(folder), "--uploader", "nobody", "--basis", "received_in_person", "--uses", "none"]
    done = run([*args, "--queue"], tmp_path)
    assert done.returncode == 2, done.stderr
    assert "--queue needs CARDS_BROKER_URL" in done.stderr
    assert not json.dumps(done.stdout).count("imported")
