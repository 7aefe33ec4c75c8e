"""Stage 3, OCR: the only module that talks to tesseract.

It owns the subprocess (through pytesseract), its thread limit, its timeout and its
failures, and turns tesseract's TSV into words grouped into lines and blocks.
Modelled on OCRmyPDF's ``_exec/tesseract.py``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field
from functools import lru_cache

import cv2
import numpy as np
import pytesseract

from ingest.errors import MissingDependencyError, OcrEngineError, OcrTimeoutError

DEFAULT_TIMEOUT_S = 60.0
DEFAULT_LANG = "eng"


def limit_threads() -> None:
    """Tesseract's OpenMP threads fight each other across processes: one per process is ~4x faster.

    The one environment variable the project sets (for the tesseract it starts), never reads.
    """
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")


@dataclass(frozen=True)
class Word:
    text: str
    conf: float  # 0-1
    box: tuple[int, int, int, int]  # x, y, w, h in the OCR'd image
    block: int
    line_key: tuple[int, int, int]


@dataclass
class Line:
    """One text line as tesseract grouped it, with the words that make it up."""

    words: list[Word] = field(default_factory=list)

    @property
    def text(self) -> str:
        return " ".join(w.text for w in self.words)

    @property
    def conf(self) -> float:
        return float(np.mean([w.conf for w in self.words])) if self.words else 0.0

    @property
    def box(self) -> tuple[int, int, int, int]:
        return union_box([w.box for w in self.words])

    @property
    def block(self) -> int:
        return self.words[0].block if self.words else -1

    @property
    def height(self) -> float:
        """Median word height: a proxy for the font size, robust to descenders."""
        return float(np.median([w.box[3] for w in self.words])) if self.words else 0.0


@dataclass
class OcrPage:
    lines: list[Line]
    psm: int
    width: int
    height: int

    @property
    def text(self) -> str:
        return "\n".join(line.text for line in self.lines)

    @property
    def words(self) -> list[Word]:
        return [w for line in self.lines for w in line.words]


def union_box(boxes: list[tuple[int, int, int, int]]) -> tuple[int, int, int, int]:
    if not boxes:
        return (0, 0, 0, 0)
    x0 = min(b[0] for b in boxes)
    y0 = min(b[1] for b in boxes)
    x1 = max(b[0] + b[2] for b in boxes)
    y1 = max(b[1] + b[3] for b in boxes)
    return (x0, y0, x1 - x0, y1 - y0)


@lru_cache(maxsize=1)
def tesseract_version() -> str:
    """The installed tesseract's version, or a clear error telling how to install it."""
    if shutil.which(pytesseract.pytesseract.tesseract_cmd) is None:
        raise MissingDependencyError("The tesseract OCR engine is not installed or not on PATH.")
    try:
        return str(pytesseract.get_tesseract_version())
    except pytesseract.TesseractNotFoundError as exc:
        raise MissingDependencyError("The tesseract OCR engine is not installed or not on PATH.") from exc


def recognise(
    image: np.ndarray,
    *,
    psm: int = 11,
    lang: str = DEFAULT_LANG,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> OcrPage:
    """Run tesseract on a grey or BGR array and return its words grouped into lines."""
    limit_threads()
    tesseract_version()
    # pytesseract would re-encode an array as PNG (slow for large colour images);
    # an uncompressed PNM file is written and read in a few milliseconds.
    with tempfile.TemporaryDirectory(prefix="cards-ocr-") as tmp:
        path = os.path.join(tmp, "page.pgm" if image.ndim == 2 else "page.ppm")
        if not cv2.imwrite(path, image):
            raise OcrEngineError("Could not write the image for tesseract.")
        try:
            data = pytesseract.image_to_data(
                path, lang=lang, config=f"--psm {psm}", output_type=pytesseract.Output.DICT, timeout=timeout_s
            )
        except RuntimeError as exc:
            if "timeout" in str(exc).lower():
                raise OcrTimeoutError(f"Tesseract did not finish within {timeout_s:g} s.") from exc
            raise OcrEngineError(f"Tesseract failed: {exc}.") from exc
        except pytesseract.TesseractError as exc:
            raise OcrEngineError(f"Tesseract failed with status {exc.status}: {exc.message}.") from exc
    return OcrPage(lines=_group_lines(data), psm=psm, width=image.shape[1], height=image.shape[0])


def _group_lines(data: dict[str, list]) -> list[Line]:
    lines: dict[tuple[int, int, int], Line] = {}
    for i, text in enumerate(data["text"]):
        text = (text or "").strip()
        conf = float(data["conf"][i])
        if not text or conf < 0:
            continue
        key = (int(data["block_num"][i]), int(data["par_num"][i]), int(data["line_num"][i]))
        word = Word(
            text=text,
            conf=max(0.0, min(1.0, conf / 100.0)),
            box=(int(data["left"][i]), int(data["top"][i]), int(data["width"][i]), int(data["height"][i])),
            block=key[0],
            line_key=key,
        )
        lines.setdefault(key, Line()).words.append(word)
    return list(lines.values())


def _overlap_share(box: tuple[int, int, int, int], other: tuple[int, int, int, int]) -> float:
    """Share of ``box``'s area covered by ``other``."""
    x0, y0 = max(box[0], other[0]), max(box[1], other[1])
    x1 = min(box[0] + box[2], other[0] + other[2])
    y1 = min(box[1] + box[3], other[1] + other[3])
    if x1 <= x0 or y1 <= y0:
        return 0.0
    return (x1 - x0) * (y1 - y0) / max(box[2] * box[3], 1)


def merge_pages(primary: OcrPage, secondary: OcrPage) -> OcrPage:
    """Add the secondary pass's lines where the primary pass read nothing, or noise.

    Full-page segmentation (psm 3) and sparse text (psm 11) miss different lines on
    cards: psm 3 drops small lines beside big ones or reads them as noise, psm 11 splits
    e-mails. A secondary line replaces the primary words under it only when it is clearly
    more confident, so nothing is read twice.
    """
    dropped: set[int] = set()
    added = []
    primary_words = primary.words
    for line in secondary.lines:
        under = [
            i
            for i, w in enumerate(primary_words)
            if any(
                _overlap_share(w.box, s.box) > 0.3 or _overlap_share(s.box, w.box) > 0.3 for s in line.words
            )
        ]
        under_conf = float(np.mean([primary_words[i].conf for i in under])) if under else 0.0
        if line.conf >= 0.5 and (not under or line.conf > under_conf + 0.2):
            dropped.update(under)
            block = 1000 + line.block
            added.append(
                Line([Word(w.text, w.conf, w.box, block, (block, *w.line_key[1:])) for w in line.words])
            )
    kept_ids = {id(w) for i, w in enumerate(primary_words) if i not in dropped}
    lines = [Line([w for w in line.words if id(w) in kept_ids]) for line in primary.lines]
    return OcrPage(
        lines=[ln for ln in lines if ln.words] + added,
        psm=primary.psm,
        width=primary.width,
        height=primary.height,
    )
