"""The pipeline: load -> preprocess -> OCR -> fields, for one card or many in parallel.

``extract_file`` never raises for a bad card: the failure is recorded in the
:class:`Extraction` so that a batch always finishes. ``extract_many`` runs cards in
worker processes (:mod:`ingest.pool`; tesseract is single-threaded per process here) and
yields results in input order. How a card is read — which engines, languages, passes and
turns — is :mod:`ingest.reading`. Every knob is a field of :class:`Options`, set by the
caller from the settings: nothing here reads the environment.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from core.errors import CardError, error_from_exception
from ingest import preprocess
from ingest.errors import NoTextFoundError
from ingest.fields import extract_fields, split_lines
from ingest.load import DEFAULT_MAX_BYTES, DEFAULT_MAX_PIXELS, load_image, read_source
from ingest.ocr import engine_versions, limit_threads
from ingest.reading import add_rapid, read_card
from ingest.schema import Extraction

PIPELINE_VERSION = "0.2.0"
PROFILES = ("accurate", "fast", "best")
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp", ".bmp", ".jpe", ".heic", ".heif", ".pdf"}


@dataclass(frozen=True)
class Options:
    """Knobs a caller may turn; everything else is the pipeline's own business."""

    region: str = "US"  # the card's country when the card itself gives none
    psm: int = 3
    second_psm: int | None = 11  # a sparse-text pass fills lines the first one missed
    lang: str = "eng"
    timeout_s: float = 60.0
    max_pixels: int = DEFAULT_MAX_PIXELS
    max_bytes: int = DEFAULT_MAX_BYTES
    upscale: bool = True  # 2x small scans: +6 to +9 F1 points on e-mails/websites, ~1.8x OCR time
    profile: str = "accurate"
    second_pass_below: float = 0.8  # photos: sparse pass when confident letters are below this share
    second_pass_below_scan: float = 0.0  # scans: only where psm 3 read little (see reading.with_sparse_pass)
    rapid: str = "auto"  # RapidOCR too: never / auto (where it pays) / always
    rapid_max_side: int = 960  # RapidOCR's detector reads a copy at most this large
    rapid_if_missing: tuple[str, ...] = ("names",)  # auto: RapidOCR too when tesseract's fields lack these

    @classmethod
    def for_profile(cls, profile: str, **overrides: Any) -> Options:
        """Options of a profile, with other fields set as given."""
        return cls(**overrides).with_profile(profile)

    def with_profile(self, profile: str) -> Options:
        """``accurate`` (default); ``fast``: one tesseract pass at the image's own size;
        ``best``: both engines on every card."""
        if profile == "fast":
            return replace(self, upscale=False, second_psm=None, rapid="never", profile="fast")
        if profile == "best":
            return replace(self, rapid="always", second_pass_below_scan=0.8, profile="best")
        if profile != "accurate":
            raise ValueError(f"unknown profile {profile!r}")
        return replace(self, profile="accurate")

    def params(self) -> dict[str, object]:
        return {
            "profile": self.profile,
            "upscale": self.upscale,
            "psm": self.psm,
            "second_psm": self.second_psm,
            "lang": self.lang,
            "default_region": self.region,
            "oem": 1,
            "rapid": self.rapid,
        }


def extract_bytes(data: bytes, source: str, options: Options | None = None) -> Extraction:
    """Run the whole pipeline on an image's bytes. Raises :class:`CardError` on failure."""
    options = options or Options()
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(stage: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[stage] = (now - clock) * 1000
        clock = now

    loaded = load_image(data, max_pixels=options.max_pixels, max_bytes=options.max_bytes)
    lap("load")
    prepared = preprocess.start(loaded.pixels)
    prepared = preprocess.crop_to_card(prepared)
    prepared = preprocess.scale_for_ocr(prepared) if options.upscale else preprocess.limit_size(prepared)
    lap("preprocess")
    reading = read_card(prepared, options)
    prepared, page = reading.prepared, reading.page
    lap("ocr")
    if not any(w.conf >= 0.5 and sum(ch.isalnum() for ch in w.text) >= 2 for w in page.words):
        raise NoTextFoundError("No readable text was found on the card.")
    segments = split_lines(page.lines)
    fields, region = extract_fields(
        segments, default_region=options.region, to_original=prepared.box_to_original
    )
    lap("fields")
    missing = [f for f in options.rapid_if_missing if not fields.get(f)]
    if options.rapid == "auto" and "rapidocr" not in reading.engines and missing:
        # tesseract's reading lacked a key field: RapidOCR reads the card too, and the fields again
        reading = add_rapid(reading, options, "missing_" + "_".join(missing))
        page = reading.page
        lap("ocr_extra")
        fields, region = extract_fields(
            split_lines(page.lines), default_region=options.region, to_original=prepared.box_to_original
        )
        timings["ocr"] += timings.pop("ocr_extra")
        fields_ms = timings["fields"]
        lap("fields")
        timings["fields"] += fields_ms
    return Extraction(
        source=source,
        sha256=loaded.sha256,
        fields=fields,
        text=page.text,
        engine={
            "name": "+".join(reading.engines),
            "version": engine_versions()["tesseract"],
            "versions": {k: v for k, v in engine_versions().items() if k in reading.engines},
            "params": options.params(),
            "pipeline": PIPELINE_VERSION,
            "steps": prepared.steps,
            "langs": reading.langs,
            "rapid_reason": reading.rapid_reason,
        },
        timings_ms=timings,
        ocr_timings_ms=reading.timings_ms,
        region=region,
        image={
            "format": loaded.format,
            "width": loaded.width,
            "height": loaded.height,
            "bytes": loaded.byte_size,
            "exif_rotated": loaded.exif_rotated,
        },
    )


def extract_file(path: str | Path, options: Options | None = None) -> Extraction:
    """Extract one file; a failure becomes ``Extraction.error`` instead of an exception."""
    source = str(path)
    sha256 = None
    try:
        data = read_source(Path(path))
        sha256 = hashlib.sha256(data).hexdigest()
        return extract_bytes(data, source, options)
    except Exception as exc:  # one bad card must never stop a batch
        error: CardError = error_from_exception(exc)
        return Extraction(source=source, sha256=sha256, error=error.to_dict())


def iter_images(paths: Iterable[str | Path]) -> Iterator[Path]:
    """Expand folders recursively (sorted, so runs are reproducible); files are taken as given."""
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                if child.is_file() and child.suffix.lower() in IMAGE_SUFFIXES:
                    yield child
        else:
            yield path


def extract_many(
    paths: list[Path], options: Options | None = None, jobs: int | None = None
) -> Iterator[Extraction]:
    """Extract many files in ``jobs`` processes (default: one per core); results come in input order."""
    from ingest.pool import default_workers, ocr_pool  # the pool imports this module in its workers

    jobs = max(1, jobs or default_workers())
    limit_threads()
    if jobs == 1 or len(paths) <= 1:
        for path in paths:
            yield extract_file(path, options)
        return
    with ocr_pool(jobs) as pool:
        yield from pool.map(extract_file, paths, [options] * len(paths), chunksize=1)
