"""``cards demo`` (what ``make run`` prints): a key per role, and where the web app and the API docs are."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any


def test_cards_demo_prints_the_web_apps_url_beside_the_keys(
    run_cards: Callable[..., Any], tmp_path: Path
) -> None:
    env = {
        "DATABASE_URL": f"sqlite:///{tmp_path}/cards.db",
        "CARDS_SUPPRESSION_SALT": "x",
        "CARDS_BLOB_DIR": str(tmp_path / "blobs"),
    }
    assert run_cards("db", "upgrade", env=env).returncode == 0
    shown = run_cards("demo", env=env)
    assert shown.returncode == 0, shown.stderr
    assert "Web app: http://127.0.0.1:8000/app/" in shown.stdout
    assert shown.stdout.count("cv_") >= 4
