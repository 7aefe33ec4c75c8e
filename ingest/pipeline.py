"""The pipeline: load -> preprocess -> OCR -> fields, for one card or many in parallel.

``extract_file`` never raises for a bad card: the failure is recorded in the
:class:`Extraction` so that a batch always finishes. ``extract_many`` runs cards in
worker processes (:mod:`ingest.pool`; tesseract is single-threaded per process here) and
yields results in input order. Every knob is a field of :class:`Options`, set by the caller
from the settings: nothing here reads the environment.
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
from ingest.ocr import OcrPage, limit_threads, merge_pages, recognise, tesseract_version
from ingest.schema import Extraction

PIPELINE_VERSION = "0.1.0"
PROFILES = ("accurate", "fast")
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp", ".bmp", ".jpe", ".heic", ".heif", ".pdf"}


@dataclass(frozen=True)
class Options:
    """Knobs a caller may turn; everything else is the pipeline's own business."""

    region: str = "US"  # the card's country when the card itself gives none
    psm: int = 3
    second_psm: int | None = 11  # a sparse-text pass fills lines the first one missed
    second_pass_below: float = 0.8  # ... when the first pass reads below this quality per letter
    lang: str = "eng"
    timeout_s: float = 60.0
    max_pixels: int = DEFAULT_MAX_PIXELS
    max_bytes: int = DEFAULT_MAX_BYTES
    upscale: bool = True  # 2x small scans: +6 to +9 F1 points on e-mails/websites, ~1.8x OCR time
    profile: str = "accurate"

    @classmethod
    def for_profile(cls, profile: str, **overrides: Any) -> Options:
        """Options of a profile, with other fields set as given."""
        return cls(**overrides).with_profile(profile)

    def with_profile(self, profile: str) -> Options:
        """``accurate`` (default) or ``fast``: one OCR pass at the image's own size, for throughput."""
        if profile == "fast":
            return replace(self, upscale=False, second_psm=None, profile="fast")
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
        }


def page_quality(page: OcrPage) -> float:
    """How readable an OCR pass was: confident words that look like words. Used to pick a rotation."""
    score = 0.0
    for word in page.words:
        letters = sum(ch.isalnum() for ch in word.text)
        if letters >= 3 and word.conf >= 0.6:
            score += letters * word.conf
    return score


def needs_second_pass(page: OcrPage, below_quality: float = 0.8) -> bool:
    """A sparse-text pass pays off only where the full-page pass read little, or read it badly."""
    letters = sum(sum(ch.isalnum() for ch in w.text) for w in page.words)
    return letters < 120 or page_quality(page) < below_quality * letters


def vertical_share(page: OcrPage) -> float:
    """Share of longer words whose boxes stand upright: tesseract read a card turned 90 degrees."""
    long_words = [w for w in page.words if len(w.text) >= 4]
    if not long_words:
        return 0.0
    return sum(w.box[3] > 1.2 * w.box[2] for w in long_words) / len(long_words)


def ocr_upright(prepared: preprocess.Prepared, options: Options) -> tuple[preprocess.Prepared, OcrPage]:
    """OCR the card, trying other quarter turns when the first reading is sideways or noise.

    Tesseract's own orientation detection fails on cards' short text, so candidates are
    scored by what they read; the retries happen only on cards that need them.
    """

    def read(candidate: preprocess.Prepared) -> OcrPage:
        return recognise(candidate.image, psm=options.psm, lang=options.lang, timeout_s=options.timeout_s)

    page = read(prepared)
    quality = page_quality(page)
    if vertical_share(page) > 0.5:
        turns_to_try: tuple[int, ...] = (1, 3)
    else:
        letters = sum(sum(ch.isalnum() for ch in w.text) for w in page.words)
        # Upright cards, even noisy scans, score >= 0.5 per letter here; upside-down ones ~0.1.
        if quality >= max(0.3 * letters, 25):
            return prepared, page
        turns_to_try = (2, 1, 3)
    best = (quality, prepared, page)
    for turns in turns_to_try:
        rotated = preprocess.rotate_quarter_turns(prepared, turns)
        candidate = read(rotated)
        score = page_quality(candidate)
        if score > best[0] * 1.2 or (best[1] is prepared and turns_to_try[0] == 1 and score > best[0] * 0.8):
            best = (score, rotated, candidate)
    return best[1], best[2]


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
    prepared, page = ocr_upright(prepared, options)
    if (
        options.second_psm is not None
        and options.second_psm != options.psm
        and needs_second_pass(page, options.second_pass_below)
    ):
        sparse = recognise(
            prepared.image, psm=options.second_psm, lang=options.lang, timeout_s=options.timeout_s
        )
        page = merge_pages(page, sparse)
    lap("ocr")
    if not any(w.conf >= 0.5 and sum(ch.isalnum() for ch in w.text) >= 2 for w in page.words):
        raise NoTextFoundError("No readable text was found on the card.")
    segments = split_lines(page.lines)
    fields, region = extract_fields(
        segments, default_region=options.region, to_original=prepared.box_to_original
    )
    lap("fields")
    return Extraction(
        source=source,
        sha256=loaded.sha256,
        fields=fields,
        text=page.text,
        engine={
            "name": "tesseract",
            "version": tesseract_version(),
            "params": options.params(),
            "pipeline": PIPELINE_VERSION,
            "steps": prepared.steps,
        },
        timings_ms=timings,
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
