"""Every extraction profile side by side: F1 per field, throughput against bare tesseract, memory.

Why: a profile trades accuracy for speed; the trade is only visible with both in one table.
How: for each profile, ``cards extract --profile P --jobs 2`` over the shared scans and photos
and over samples/, scored by the referee's ``score.py``; the throughput ratio comes from
``bench/speed.py``'s result for that profile (same run, interleaved with bare tesseract), and
peak RSS from a fresh worker process that loads the profile's engines and reads three cards.

    .venv/bin/python bench/profiles.py [--eval ../shared/eval] [--profiles fast,accurate,best]

Writes a table to stdout and ``var/bench/profiles.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
FIELDS = ("names", "companies", "roles", "emails", "websites", "phones", "addresses")
SPEED_FILES = {"accurate": "speed.json", "fast": "speed-fast.json", "best": "speed-best.json"}
RSS_PROBE = """
import resource, sys
from ingest.pipeline import Options, extract_file, iter_images
options = Options.for_profile(sys.argv[1])
for path in list(iter_images([sys.argv[2]]))[:3]:
    extract_file(path, options)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def cards() -> list[str]:
    script = Path(sys.executable).parent / "cards"
    return [str(script)] if script.exists() else [sys.executable, "-m", "cli"]


def score(profile: str, folder: Path, out: Path) -> dict[str, Any]:
    """Extract a folder with one profile and score it; returns the scorer's JSON plus wall seconds."""
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
    predictions = out / f"{profile}.{folder.name}.jsonl"
    start = time.perf_counter()
    with predictions.open("w") as sink:
        command = [*cards(), "extract", "--format", "jsonl", "--jobs", "2", "--profile", profile, str(folder)]
        subprocess.run(command, stdout=sink, env=env, cwd=ROOT, check=False)
    seconds = time.perf_counter() - start
    result_file = out / f"{profile}.{folder.name}.score.json"
    scorer = ROOT / ".." / "shared" / "eval" / "score.py"
    command = [sys.executable, str(scorer), str(folder / "labels.json"), str(predictions)]
    subprocess.run([*command, "--json", str(result_file)], capture_output=True, check=False)
    result = json.loads(result_file.read_text())
    result["seconds"] = round(seconds, 2)
    return result


def peak_rss_mb(profile: str, folder: Path) -> float:
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
    done = subprocess.run(
        [sys.executable, "-c", RSS_PROBE, profile, str(folder)],
        capture_output=True, text=True, env=env, cwd=ROOT, check=True,
    )  # fmt: skip
    return round(int(done.stdout.split()[-1]) / 1024, 1)  # ru_maxrss is in KiB on Linux


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--eval", type=Path, default=ROOT / ".." / "shared" / "eval")
    parser.add_argument("--profiles", default="fast,accurate,best")
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "bench")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    sets = [args.eval / "scans", args.eval / "photos", ROOT / "samples"]
    sets = [s for s in sets if (s / "labels.json").is_file()]
    report: dict[str, Any] = {}
    for profile in args.profiles.split(","):
        speed_file = args.out / SPEED_FILES.get(profile, f"speed-{profile}.json")
        speed = json.loads(speed_file.read_text()) if speed_file.is_file() else {}
        report[profile] = {
            "sets": {s.name: score(profile, s, args.out) for s in sets},
            "ratio_jobs2": (speed.get("summary", {}).get("ratio_pipeline_over_bare") or {}).get("2"),
            "stages": speed.get("stages", {}),
            "peak_rss_mb": peak_rss_mb(profile, sets[0]),
        }
    (args.out / "profiles.json").write_text(json.dumps(report, indent=2) + "\n")
    console = Console(width=None if sys.stdout.isatty() else 160)
    table = Table(title="Profiles: F1 per field (scans / photos / samples), throughput, memory")
    for column in ("profile", "set", *FIELDS, "macro", "x bare tess.", "RSS MB"):
        table.add_column(column, justify="left" if column in ("profile", "set") else "right")
    for profile, data in report.items():
        for i, (name, result) in enumerate(data["sets"].items()):
            fields = result["fields"]
            ratio = data["ratio_jobs2"]
            table.add_row(
                profile if i == 0 else "",
                name,
                *[f"{fields[f]['f1']:.3f}" for f in FIELDS],
                f"{result['macro_f1']:.3f}",
                (f"{ratio:.2f}" if ratio is not None else "-") if i == 0 else "",
                f"{data['peak_rss_mb']:.0f}" if i == 0 else "",
            )
    console.print(table)
    for profile, data in report.items():
        parts = {k: v["mean_ms"] for k, v in data["stages"].items()}
        console.print(f"{profile}: mean ms per stage (jobs 1) {parts}", highlight=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
