"""Speed benchmark: the card pipeline against bare tesseract on the same images.

Why: the pipeline preprocesses, OCRs and extracts fields; the cost worth knowing is what
it adds on top of the OCR engine itself, and whether it scales across processes. Absolute
cards/s depend on the machine and on whatever else runs on it, so the two sides are
measured in the same run, interleaved, and compared as ratios.

How: for each repeat and each ``--jobs`` value N, time (wall clock)
  * the real CLI, ``cards extract --format jsonl --jobs N IMAGES...``, as one subprocess;
  * bare ``tesseract IMG -`` once per image, N subprocesses at a time;
both with ``OMP_THREAD_LIMIT=1``; the order of the pair alternates between repeats so
drift in machine load hits both sides alike. The best (or median) time per configuration
gives cards/s, the ratio pipeline/bare and the speed-up of N processes over one. Per-stage
times come from ``timings_ms`` in the JSONL of the ``--jobs 1`` runs.

Targets (reported, never an exit failure): pipeline >= 0.8 x bare tesseract's throughput,
and N processes >= 0.9 x N times one (1.8x for 2).

    .venv/bin/python bench/speed.py --images ../shared/eval/scans [--repeat 2] [--limit K] [--jobs 1,2]

Writes a table to stdout and the full result to ``var/bench/speed.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "var" / "bench" / "speed.json"
STAGE_ORDER = ("load", "preprocess", "ocr", "fields")
OCR_PARTS = ("ocr_tesseract", "ocr_rapidocr", "ocr_combine")  # ocr_timings_ms: the ocr stage by part
TARGET_RATIO = 0.8  # pipeline throughput / bare tesseract throughput
TARGET_EFFICIENCY = 0.9  # speed-up of N processes over 1 must reach 0.9 * N (1.8x at N=2)

try:  # the CLI's own notion of an image file, so both sides see the same list
    from ingest.pipeline import IMAGE_SUFFIXES
except Exception:  # the bench must still run while ingest/ is being edited
    IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp", ".bmp"}


@dataclass
class Run:
    """One timed pass over all images by one side at one parallelism."""

    side: str  # "pipeline" or "tesseract"
    jobs: int
    repeat: int
    seconds: float
    errors: int
    records: list[dict[str, Any]] = field(default_factory=list, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "side": self.side,
            "jobs": self.jobs,
            "repeat": self.repeat,
            "seconds": round(self.seconds, 3),
            "errors": self.errors,
        }


# --- inputs and commands --------------------------------------------------------------


def find_images(dirs: Sequence[str], limit: int | None) -> list[Path]:
    """Expand folders (recursively, sorted, as the CLI does) and files; keep the first ``limit``."""
    images: list[Path] = []
    for raw in dirs:
        path = Path(raw)
        if path.is_dir():
            found = sorted(path.rglob("*"))
            images += [p for p in found if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
        elif path.is_file():
            images.append(path)
        else:
            raise SystemExit(f"error: no such file or folder: {raw}")
    if limit:
        images = images[:limit]
    if not images:
        raise SystemExit("error: no images found")
    return images


def cards_command() -> list[str]:
    """The installed ``cards`` entry point next to this interpreter, else ``python -m ingest.cli``."""
    script = Path(sys.executable).parent / "cards"
    return [str(script)] if script.exists() else [sys.executable, "-m", "ingest.cli"]


def bench_env() -> dict[str, str]:
    env = dict(os.environ)
    env["OMP_THREAD_LIMIT"] = "1"  # same for both sides: one OCR thread per process
    return env


def tesseract_version(binary: str) -> str:
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, check=False)
    lines = (out.stdout or out.stderr).splitlines()
    return lines[0].strip() if lines else "unknown"


# --- the two sides --------------------------------------------------------------------


def run_pipeline(images: list[Path], jobs: int, env: dict[str, str]) -> tuple[float, list[dict[str, Any]]]:
    """Time the CLI over all images; returns wall seconds and the parsed JSONL records."""
    command = [*cards_command(), "extract", "--format", "jsonl", "--jobs", str(jobs), *map(str, images)]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT, check=False)
    seconds = time.perf_counter() - start
    if done.returncode not in (0, 1):  # 1 means "some card failed", which is counted, not fatal
        raise RuntimeError(f"cards extract exited {done.returncode}:\n{done.stderr[-2000:]}")
    records = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    if len(records) != len(images):
        raise RuntimeError(f"cards extract printed {len(records)} results for {len(images)} images")
    return seconds, records


def run_bare(images: list[Path], jobs: int, env: dict[str, str], binary: str) -> tuple[float, int]:
    """Time ``tesseract IMG -`` per image, ``jobs`` at a time; returns wall seconds and failures."""

    def one(image: Path) -> bool:
        done = subprocess.run([binary, str(image), "-"], capture_output=True, env=env, check=False)
        return done.returncode == 0

    start = time.perf_counter()
    if jobs == 1:
        ok = [one(image) for image in images]
    else:
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            ok = list(pool.map(one, images))
    return time.perf_counter() - start, ok.count(False)


def cli_startup_seconds(env: dict[str, str]) -> float:
    """Wall time of ``cards --help``: interpreter start and imports, paid once per CLI run."""
    start = time.perf_counter()
    subprocess.run([*cards_command(), "--help"], capture_output=True, env=env, cwd=ROOT, check=False)
    return time.perf_counter() - start


# --- statistics -----------------------------------------------------------------------


def pick(values: list[float], stat: str) -> float:
    return min(values) if stat == "best" else statistics.median(values)


def stage_stats(records: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Mean / median / max ms per stage over successful cards, and each stage's share of the total."""
    timings = [r.get("timings_ms") or {} for r in records if not r.get("error")]
    timings = [t for t in timings if t]
    if not timings:
        return {}
    names = [s for s in STAGE_ORDER if any(s in t for t in timings)]
    names += sorted({k for t in timings for k in t} - set(names))
    totals = [sum(t.values()) for t in timings]
    mean_total = statistics.fmean(totals)
    stats: dict[str, dict[str, float]] = {}
    parts = [r.get("ocr_timings_ms") or {} for r in records if not r.get("error") and r.get("timings_ms")]
    part_names = [p for p in OCR_PARTS if any(p in t for t in parts)]
    for name in [*names, *part_names, "total"]:
        if name in part_names:  # inside "ocr": shown beside it, not added to the total
            values = [float(t.get(name, 0.0)) for t in parts]
        else:
            values = totals if name == "total" else [float(t.get(name, 0.0)) for t in timings]
        mean = statistics.fmean(values)
        stats[name] = {
            "mean_ms": round(mean, 1),
            "median_ms": round(statistics.median(values), 1),
            "max_ms": round(max(values), 1),
            "share": round(mean / mean_total, 3) if mean_total else 0.0,
        }
    return stats


def outside_stages_ms(runs: list[Run], cards: int) -> float | None:
    """Per-card wall time of ``--jobs 1`` runs not covered by ``timings_ms`` (median over repeats)."""
    gaps = []
    for run in runs:
        totals = [sum((r.get("timings_ms") or {}).values()) for r in run.records if not r.get("error")]
        if run.side == "pipeline" and run.jobs == 1 and totals:
            gaps.append(1000 * run.seconds / cards - statistics.fmean(totals))
    return round(statistics.median(gaps), 1) if gaps else None


def pipeline_steps(records: list[dict[str, Any]]) -> dict[str, int]:
    """How many cards each preprocessing step touched (upscaling and rotation make OCR dearer)."""
    counts: dict[str, int] = {}
    for record in records:
        for step in (record.get("engine") or {}).get("steps") or []:
            kind = step.split("_")[0]
            counts[kind] = counts.get(kind, 0) + 1
    return dict(sorted(counts.items()))


def summarise(runs: list[Run], cards: int, jobs_list: list[int], stat: str) -> dict[str, Any]:
    per_config: dict[str, Any] = {}
    seconds: dict[tuple[str, int], float] = {}
    for side in ("pipeline", "tesseract"):
        for jobs in jobs_list:
            mine = [r for r in runs if r.side == side and r.jobs == jobs]
            chosen = pick([r.seconds for r in mine], stat)
            seconds[side, jobs] = chosen
            per_config[f"{side}_jobs{jobs}"] = {
                "side": side,
                "jobs": jobs,
                "seconds": round(chosen, 3),
                "cards_per_s": round(cards / chosen, 3),
                "ms_per_card": round(1000 * chosen / cards, 1),
                "all_seconds": [round(r.seconds, 3) for r in mine],
                "errors": max(r.errors for r in mine),
            }
    ratio = {str(j): round(seconds["tesseract", j] / seconds["pipeline", j], 3) for j in jobs_list}
    # The same ratio within each repeat, whose two runs were back to back: a check on the noise.
    by_key = {(r.side, r.jobs, r.repeat): r.seconds for r in runs}
    paired = {
        str(j): [
            round(by_key["tesseract", j, k] / by_key["pipeline", j, k], 3)
            for k in sorted({r.repeat for r in runs})
        ]
        for j in jobs_list
    }
    speedup: dict[str, dict[str, float]] = {}
    if 1 in jobs_list:
        for side in ("pipeline", "tesseract"):
            speedup[side] = {
                str(j): round(seconds[side, 1] / seconds[side, j], 3) for j in jobs_list if j != 1
            }
    targets: dict[str, dict[str, Any]] = {}
    for j in jobs_list:
        value = ratio[str(j)]
        targets[f"ratio_jobs{j}"] = {"value": value, "target": TARGET_RATIO, "met": value >= TARGET_RATIO}
    for j, value in speedup.get("pipeline", {}).items():
        goal = round(TARGET_EFFICIENCY * int(j), 2)
        targets[f"speedup_jobs{j}"] = {"value": value, "target": goal, "met": value >= goal}
    return {
        "configs": per_config,
        "ratio_pipeline_over_bare": ratio,
        "ratio_per_repeat": paired,
        "speedup_vs_1": speedup,
        "targets": targets,
    }


# --- report ---------------------------------------------------------------------------


def print_report(result: dict[str, Any], console: Console) -> None:
    summary = result["summary"]
    console.print(
        f"[bold]{result['cards']} cards[/bold] from {', '.join(result['images'])} | "
        f"{result['tesseract']} | {result['cpu_count']} CPUs | "
        f"{result['repeat']} repeat(s), {result['stat']} time | "
        f"load avg {result['loadavg_start']} -> {result['loadavg_end']}",
        highlight=False,
    )
    engine = result["pipeline_engine"]
    if engine:
        console.print(
            f"pipeline {engine.get('pipeline')}, engine params {engine.get('params')}", highlight=False
        )

    table = Table(title="Throughput (wall clock)")
    for column in ("configuration", "jobs", "seconds", "cards/s", "ms/card", "all runs (s)", "errors"):
        table.add_column(column, justify="left" if column == "configuration" else "right")
    for config in summary["configs"].values():
        label = "pipeline (cards extract)" if config["side"] == "pipeline" else "bare tesseract IMG -"
        table.add_row(
            label,
            str(config["jobs"]),
            f"{config['seconds']:.2f}",
            f"{config['cards_per_s']:.2f}",
            f"{config['ms_per_card']:.0f}",
            " ".join(f"{s:.2f}" for s in config["all_seconds"]),
            str(config["errors"]),
        )
    console.print(table)

    ratios = Table(title="Ratios (same run)")
    for column in ("measure", "value", "target", "met", "per repeat"):
        ratios.add_column(column, justify="left" if column == "measure" else "right")
    for name, target in summary["targets"].items():
        if name.startswith("ratio_jobs"):
            label = f"pipeline / bare throughput, jobs {name.removeprefix('ratio_jobs')}"
            shown = f">= {target['target']}"
        else:
            label = f"pipeline speed-up, jobs {name.removeprefix('speedup_jobs')} vs 1"
            shown = f">= {target['target']}x"
        met = "[green]yes[/green]" if target["met"] else "[red]no[/red]"
        per_repeat = summary["ratio_per_repeat"].get(name.removeprefix("ratio_jobs"), [])
        each = " ".join(f"{v:.2f}" for v in per_repeat) if name.startswith("ratio_jobs") else ""
        ratios.add_row(label, f"{target['value']:.2f}", shown, met, each)
    for j, value in summary["speedup_vs_1"].get("tesseract", {}).items():
        ratios.add_row(f"bare tesseract speed-up, jobs {j} vs 1", f"{value:.2f}", "", "")
    console.print(ratios)

    stages = result["stages"]
    if stages:
        title = f"Per-stage time, --jobs {result['stages_from_jobs']} ({result['stage_samples']} cards)"
        table = Table(title=title)
        for column in ("stage", "mean ms", "median ms", "max ms", "share"):
            table.add_column(column, justify="left" if column == "stage" else "right")
        for name, s in stages.items():
            table.add_row(
                name,
                f"{s['mean_ms']:.0f}",
                f"{s['median_ms']:.0f}",
                f"{s['max_ms']:.0f}",
                f"{100 * s['share']:.0f}%",
            )
        extra = result["reference_ms_per_card"]
        for label, key in (
            ("outside stages (start-up, I/O, JSON), per card", "pipeline_outside_stages"),
            ("bare tesseract, per card", "bare_tesseract"),
            ("CLI start-up (cards --help), once per run", "cli_startup"),
        ):
            if extra[key] is not None:
                table.add_row(f"[dim]{label}[/dim]", f"[dim]{extra[key]:.0f}[/dim]", "", "", "")
        console.print(table)
    console.print(
        f"cards with errors: pipeline {result['errors']['pipeline']}, "
        f"bare tesseract {result['errors']['tesseract']}; "
        f"preprocessing steps applied: {result['pipeline_steps'] or 'none'}",
        highlight=False,
    )
    for name, target in summary["targets"].items():
        verdict = "met" if target["met"] else "NOT met"
        console.print(
            f"target {name}: {target['value']:.2f} vs {target['target']} -> {verdict}", highlight=False
        )


# --- main -----------------------------------------------------------------------------


def parse_jobs(text: str) -> list[int]:
    try:
        jobs = sorted({int(part) for part in text.split(",") if part.strip()})
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"--jobs wants numbers like 1,2, not {text!r}") from exc
    if not jobs or min(jobs) < 1:
        raise argparse.ArgumentTypeError("--jobs values must be >= 1")
    return jobs


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--images",
        action="append",
        required=True,
        metavar="DIR",
        help="folder (searched recursively) or file; repeatable",
    )
    parser.add_argument("--repeat", type=int, default=2, help="timed passes per configuration (default 2)")
    parser.add_argument("--limit", type=int, default=None, metavar="K", help="only the first K images")
    parser.add_argument(
        "--jobs", type=parse_jobs, default=[1, 2], help="comma-separated parallelism to measure (default 1,2)"
    )
    parser.add_argument(
        "--stat",
        choices=("best", "median"),
        default="best",
        help="which of the repeats to report (default best: least disturbed by other load)",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"JSON result (default {DEFAULT_OUT})")
    parser.add_argument(
        "--profile",
        choices=("accurate", "fast", "best"),
        default="accurate",
        help="the pipeline's profile (CARDS_PROFILE)",
    )
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be >= 1")

    binary = shutil.which("tesseract")
    if binary is None:
        print("error: tesseract is not on PATH", file=sys.stderr)
        return 2
    images = find_images(args.images, args.limit)
    env = bench_env()
    env["CARDS_PROFILE"] = args.profile
    console = Console(width=None if sys.stdout.isatty() else 120)  # `make bench | tee` stays readable
    loadavg_start = [round(x, 2) for x in os.getloadavg()]

    # Warm-up, untimed: page cache for the images and traineddata, .pyc files for the CLI.
    console.print("warming up...", highlight=False)
    run_bare(images, 1, env, binary)
    run_pipeline(images[:1], 1, env)
    startup = min(cli_startup_seconds(env) for _ in range(3))

    runs: list[Run] = []
    for repeat in range(args.repeat):
        for jobs in args.jobs:
            order = ("pipeline", "tesseract") if (repeat + jobs) % 2 == 0 else ("tesseract", "pipeline")
            for side in order:
                if side == "pipeline":
                    seconds, records = run_pipeline(images, jobs, env)
                    errors = sum(1 for r in records if r.get("error"))
                    runs.append(Run(side, jobs, repeat, seconds, errors, records))
                else:
                    seconds, errors = run_bare(images, jobs, env, binary)
                    runs.append(Run(side, jobs, repeat, seconds, errors))
                console.print(
                    f"  repeat {repeat + 1}/{args.repeat}  {side:<9} jobs {jobs}: {seconds:6.2f} s "
                    f"({len(images) / seconds:.2f} cards/s, {errors} errors)",
                    highlight=False,
                )

    summary = summarise(runs, len(images), args.jobs, args.stat)
    single = [rec for r in runs if r.side == "pipeline" and r.jobs == min(args.jobs) for rec in r.records]
    stages = stage_stats(single)
    low = min(args.jobs)
    pipeline_ms = summary["configs"][f"pipeline_jobs{low}"]["ms_per_card"]
    result: dict[str, Any] = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "images": [str(Path(d)) for d in args.images],
        "cards": len(images),
        "repeat": args.repeat,
        "stat": args.stat,
        "jobs": args.jobs,
        "tesseract": tesseract_version(binary),
        "cpu_count": os.cpu_count(),
        "cpu_affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "machine": f"{platform.system()} {platform.machine()} {platform.processor() or ''}".strip(),
        "python": platform.python_version(),
        "loadavg_start": loadavg_start,
        "loadavg_end": [round(x, 2) for x in os.getloadavg()],
        "summary": summary,
        "stages": stages,
        "stage_samples": sum(1 for r in single if not r.get("error")),
        "stages_from_jobs": low,
        "reference_ms_per_card": {
            "bare_tesseract": summary["configs"][f"tesseract_jobs{low}"]["ms_per_card"],
            "pipeline_wall": pipeline_ms,
            # wall time per card minus the staged time: meaningful only when cards run one at a time
            "pipeline_outside_stages": outside_stages_ms(runs, len(images)) if low == 1 else None,
            "cli_startup": round(1000 * startup, 1),
        },
        "pipeline_steps": pipeline_steps(single[: len(images)]),
        # what was measured: OCR passes and scaling change with these (e.g. a second psm pass)
        "pipeline_engine": next(
            (
                {k: v for k, v in (r.get("engine") or {}).items() if k != "steps"}
                for r in single
                if r.get("engine")
            ),
            {},
        ),
        "errors": {
            "pipeline": max((r.errors for r in runs if r.side == "pipeline"), default=0),
            "tesseract": max((r.errors for r in runs if r.side == "tesseract"), default=0),
        },
        "runs": [r.to_dict() for r in runs],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print_report(result, console)
    console.print(f"wrote {args.out}", highlight=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
