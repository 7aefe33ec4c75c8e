"""Accuracy floors: the real pipeline over labelled cards, judged by the shared scorer.

These are the issue's floors, not targets (the target is every field >= 0.95). They run
the real CLI and the real tesseract, so a regression in any stage shows up here.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

# The default (accurate) profile: floors a little below what it measured (README, "Extraction").
# The targets (every field >= 0.85 on scans, addresses >= 0.80, photos >= 0.90) are met
# except scan companies (0.78); these floors keep what was reached from slipping.
SCAN_FLOORS = {
    "emails": 0.95,
    "websites": 0.87,
    "phones": 0.92,
    "names": 0.89,
    "companies": 0.75,
    "roles": 0.90,
    "addresses": 0.79,
}
PHOTO_MACRO_FLOOR = 0.92
SAMPLE_MACRO_FLOOR = 0.95

pytestmark = pytest.mark.slow


def score_folder(repo_root: Path, folder: Path, labels: Path, tmp_path: Path, floors: list[str]) -> dict:
    """Run ``cards extract --format jsonl`` over a folder and score it with the shared scorer."""
    predictions = tmp_path / "predictions.jsonl"
    result_file = tmp_path / "score.json"
    cards = Path(sys.executable).with_name("cards")
    with predictions.open("w") as out:
        subprocess.run(
            [str(cards), "extract", "--format", "jsonl", "--jobs", "2", str(folder)],
            stdout=out,
            check=False,
            timeout=900,
        )
    scorer = repo_root / ".." / "shared" / "eval" / "score.py"
    run = subprocess.run(
        [
            sys.executable,
            str(scorer),
            str(labels),
            str(predictions),
            "--json",
            str(result_file),
            *[arg for floor in floors for arg in ("--min", floor)],
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    print(run.stdout)
    result = json.loads(result_file.read_text())
    result["exit_status"] = run.returncode
    result["report"] = run.stdout
    return result


def test_shared_scans_meet_every_field_floor(repo_root: Path, shared_eval_dir: Path, tmp_path: Path) -> None:
    scans = shared_eval_dir / "scans"
    result = score_folder(
        repo_root,
        scans,
        scans / "labels.json",
        tmp_path,
        [f"{field}={floor}" for field, floor in SCAN_FLOORS.items()],
    )
    below = {
        f: result["fields"][f]["f1"] for f, floor in SCAN_FLOORS.items() if result["fields"][f]["f1"] < floor
    }
    assert not below, f"fields below their floor: {below}\n{result['report']}"
    assert result["exit_status"] == 0
    assert not result["errors"], f"cards that failed to extract: {result['errors']}"


def test_shared_photos_meet_the_macro_floor(repo_root: Path, shared_eval_dir: Path, tmp_path: Path) -> None:
    photos = shared_eval_dir / "photos"
    result = score_folder(repo_root, photos, photos / "labels.json", tmp_path, [f"macro={PHOTO_MACRO_FLOOR}"])
    assert result["macro_f1"] >= PHOTO_MACRO_FLOOR, result["report"]


def test_synthetic_samples_meet_the_macro_floor(
    repo_root: Path, samples_dir: Path, shared_eval_dir: Path, tmp_path: Path
) -> None:
    result = score_folder(
        repo_root, samples_dir, samples_dir / "labels.json", tmp_path, [f"macro={SAMPLE_MACRO_FLOOR}"]
    )
    assert result["macro_f1"] >= SAMPLE_MACRO_FLOOR, result["report"]
    assert not result["errors"], f"sample cards that failed: {result['errors']}"
