"""Stage 3, OCR: the only module that talks to the OCR engines.

Two engines, each created lazily once per process and cached (so any process pool works
without an initializer, and a forked child never reuses its parent's engine):

* **tesseract**, in process through tesserocr: one API object per language set, the
  model loaded once, the system's tessdata. It reads Latin text and word spacing well.
* **RapidOCR** (PP-OCR ONNX models shipped inside its wheel): a text-line detector and
  a recogniser that read low-contrast, rotated and CJK text that tesseract misses, but
  that often drop the spaces between words.

This module owns their threads, deadlines and failures (typed errors from
:mod:`ingest.errors`) and returns both engines' readings as :class:`OcrPage`: words
grouped into lines. Combining the two readings is :mod:`ingest.layout`'s business.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ingest.errors import MissingDependencyError, OcrEngineError, OcrTimeoutError

TESSDATA_CANDIDATES = (
    "/usr/share/tesseract-ocr/5/tessdata",
    "/usr/share/tesseract-ocr/4.00/tessdata",
    "/usr/share/tessdata",
    "/usr/local/share/tessdata",
    "/opt/homebrew/share/tessdata",
)
# Tesseract re-reads every doubtful line inverted (white on dark): on cards that is mostly
# logo noise, and it costs a second recognition of those lines. Cards with light text on
# dark bands are read by the sparse pass and by RapidOCR, which reads both polarities.
TESSERACT_VARIABLES: dict[str, str] = {}
TESSERACT_HINT = "Install it (Debian: apt-get install tesseract-ocr tesseract-ocr-eng) or run `make run`."


def limit_threads() -> None:
    """Tesseract's OpenMP threads fight each other across processes: one per process is ~4x faster."""
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")


@dataclass(frozen=True)
class Word:
    text: str
    conf: float  # 0-1
    box: tuple[int, int, int, int]  # x, y, w, h in the OCR'd image
    block: int
    line_key: tuple[int, int, int]
    engine: str = "tesseract"


@dataclass
class Line:
    """One text line as an engine grouped it, with the words that make it up."""

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
    engine: str = "tesseract"

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


def normalise_text(text: str) -> str:
    """NFKC: full-width letters, digits and punctuation (common in CJK output) become plain ones."""
    return unicodedata.normalize("NFKC", text)


# --- tesseract, in process ------------------------------------------------------------


@lru_cache(maxsize=1)
def tessdata_dir() -> str:
    """The system's tessdata folder (the same models the tesseract CLI uses)."""
    for candidate in TESSDATA_CANDIDATES:
        if Path(candidate, "eng.traineddata").is_file():
            return candidate
    binary = shutil.which("tesseract")
    if binary:  # another layout: ask the CLI where its data lives
        done = subprocess.run([binary, "--list-langs"], capture_output=True, text=True, check=False)
        first = (done.stdout or done.stderr).splitlines()[:1]
        if first and '"' in first[0]:
            return first[0].split('"')[1].rstrip("/")
    raise MissingDependencyError("Tesseract's language data (tessdata) was not found.", hint=TESSERACT_HINT)


def available_languages() -> set[str]:
    """Language and script models installed in tessdata ('eng', 'pol', 'script/Latin'...)."""
    root = Path(tessdata_dir())
    found = {p.stem for p in root.glob("*.traineddata")}
    found |= {f"script/{p.stem}" for p in root.glob("script/*.traineddata")}
    return found


def _tesserocr() -> Any:
    try:
        import tesserocr
    except ImportError as exc:  # pragma: no cover - installed with the project
        raise MissingDependencyError("The tesserocr package is not installed.", hint=TESSERACT_HINT) from exc
    return tesserocr


@lru_cache(maxsize=1)
def tesseract_version() -> str:
    """The in-process tesseract library's version, or a clear error telling how to install it."""
    return str(_tesserocr().tesseract_version().split()[1])


_ENGINES: dict[tuple[Any, ...], Any] = {}


def _cached(key: tuple[Any, ...], make: Any) -> Any:
    """One engine per process and key; after a fork the child builds its own."""
    full_key = (os.getpid(), *key)
    engine = _ENGINES.get(full_key)
    if engine is None:
        for stale in [k for k in _ENGINES if k[0] != os.getpid()]:
            del _ENGINES[stale]  # inherited from the parent: never used here
        engine = _ENGINES[full_key] = make()
    return engine


def _tesseract_api(lang: str) -> Any:
    tesserocr = _tesserocr()
    limit_threads()
    missing = [part for part in lang.split("+") if part not in available_languages()]
    if missing:
        raise MissingDependencyError(
            f"Tesseract has no language data for {'+'.join(missing)}.",
            hint="Install it (Debian: tesseract-ocr-<lang>, tesseract-ocr-script-latn) or run `make run`.",
        )

    def make() -> Any:
        try:
            api = tesserocr.PyTessBaseAPI(path=tessdata_dir(), lang=lang, oem=tesserocr.OEM.LSTM_ONLY)
        except RuntimeError as exc:
            raise OcrEngineError(f"Tesseract could not load {lang}: {exc}.") from exc
        for name, value in TESSERACT_VARIABLES.items():
            api.SetVariable(name, value)
        return api

    return _cached(("tesseract", lang), make)


def recognise(image: np.ndarray, *, psm: int = 3, lang: str = "eng", timeout_s: float = 60.0) -> OcrPage:
    """Run tesseract on a grey or BGR array and return its words grouped into lines."""
    api = _tesseract_api(lang)
    image = np.ascontiguousarray(cv2.cvtColor(image, cv2.COLOR_BGR2RGB) if image.ndim == 3 else image)
    height, width = image.shape[:2]
    channels = 1 if image.ndim == 2 else 3
    try:
        api.SetPageSegMode(psm)
        api.SetImageBytes(image.tobytes(), width, height, channels, width * channels)
        api.SetSourceResolution(300)  # cards have no DPI; tesseract warns and guesses without one
        if not api.Recognize(timeout=max(1, int(timeout_s * 1000))):
            raise OcrTimeoutError(f"Tesseract did not finish within {timeout_s:g} s.")
        tsv = api.GetTSVText(0)
    except RuntimeError as exc:
        raise OcrEngineError(f"Tesseract failed: {exc}.") from exc
    finally:
        api.Clear()
    return OcrPage(lines=_parse_tsv(tsv), psm=psm, width=width, height=height)


def _parse_tsv(tsv: str) -> list[Line]:
    lines: dict[tuple[int, int, int], Line] = {}
    for row in tsv.splitlines():
        cols = row.split("\t")
        if len(cols) < 12 or cols[0] != "5":
            continue
        text = normalise_text(cols[11]).strip()
        conf = float(cols[10])
        if not text or conf < 0:
            continue
        key = (int(cols[2]), int(cols[3]), int(cols[4]))
        box = (int(cols[6]), int(cols[7]), int(cols[8]), int(cols[9]))
        word = Word(text, max(0.0, min(1.0, conf / 100.0)), box, key[0], key)
        lines.setdefault(key, Line()).words.append(word)
    return list(lines.values())


# --- RapidOCR ------------------------------------------------------------------------


@dataclass(frozen=True)
class RapidLine:
    """One line as RapidOCR read it: text, score, the detector's quadrilateral and char positions."""

    text: str
    score: float
    quad: np.ndarray  # 4x2 corners in the input image (tl, tr, br, bl)
    char_x: list[float]  # centre of each character along the line, 0-1 of its length
    char_conf: list[float]
    turned: bool  # the classifier turned the crop half a turn


def _rapid_engine() -> Any:
    def make() -> Any:
        try:
            from rapidocr_onnxruntime import RapidOCR
        except ImportError as exc:
            raise MissingDependencyError(
                "The RapidOCR engine is not installed.",
                hint="Run `make run` (it installs rapidocr-onnxruntime and its models from PyPI).",
            ) from exc
        return RapidOCR(intra_op_num_threads=1, inter_op_num_threads=1, det_limit_type="max")

    return _cached(("rapidocr",), make)


@lru_cache(maxsize=1)
def rapid_version() -> str:
    from importlib.metadata import version

    return version("rapidocr-onnxruntime")


def detect_lines(image: np.ndarray, *, max_side: int = 960) -> list[np.ndarray]:
    """RapidOCR's text-line detector: quadrilaterals (in ``image``'s pixels), top to bottom."""
    engine = _rapid_engine()
    colour = image if image.ndim == 3 else cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    scale = min(1.0, max_side / max(colour.shape[:2]))  # detection cost grows with area; lines stay tall
    small = (
        cv2.resize(colour, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else colour
    )
    try:
        boxes, _ = engine.text_det(small)
    except Exception as exc:  # onnxruntime raises its own types
        raise OcrEngineError(f"RapidOCR's detector failed: {exc}.") from exc
    if boxes is None or len(boxes) == 0:
        return []
    return [np.asarray(b, dtype=np.float32) / scale for b in engine.sorted_boxes(boxes)]


# Strips are cut at 64 px and the recogniser shrinks them to its 48: measured on scans, it
# then prints 66% of the spaces tesseract sees, against 50% from strips cut at 48 px.
RAPID_CROP_HEIGHT = 64


def crop_line(image: np.ndarray, quad: np.ndarray, height: int | None = None) -> np.ndarray:
    """Warp one line to a strip ``height`` px tall with cubic interpolation.

    The recogniser reads 48 px strips; cutting them straight at that size from the card,
    instead of resizing a small crop linearly, keeps the gaps between words visible.
    """
    height = height or RAPID_CROP_HEIGHT
    tl, tr, br, bl = quad
    length = float(max(np.linalg.norm(tr - tl), np.linalg.norm(br - bl)))
    thickness = max(float(np.linalg.norm(bl - tl)), float(np.linalg.norm(br - tr)), 1.0)
    if thickness > 1.5 * length:  # a vertical line of text: read it turned a quarter
        tl, tr, br, bl = bl, tl, tr, br
        length, thickness = thickness, length
    scale = height / thickness
    width = max(round(length * scale), 8)
    target = np.array([[0, 0], [width, 0], [width, height], [0, height]], dtype=np.float32)
    warp = cv2.getPerspectiveTransform(np.array([tl, tr, br, bl], dtype=np.float32), target)
    colour = image if image.ndim == 3 else cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    return cv2.warpPerspective(colour, warp, (width, height), flags=cv2.INTER_CUBIC,
                               borderMode=cv2.BORDER_REPLICATE)  # fmt: skip


def read_lines(
    image: np.ndarray, quads: list[np.ndarray], *, deadline: float | None = None, classify: bool = True
) -> list[RapidLine]:
    """Recognise each quadrilateral; the classifier turns upside-down strips first."""
    engine = _rapid_engine()
    crops = [crop_line(image, q) for q in quads]
    if not crops:
        return []
    turned = [False] * len(crops)
    try:
        if classify:
            crops, cls_res, _ = engine.text_cls(crops)
            turned = [("180" in label and score > engine.text_cls.cls_thresh) for label, score in cls_res]
        results = []
        recogniser = engine.text_rec
        order = np.argsort([c.shape[1] / c.shape[0] for c in crops])
        decoded: dict[int, tuple[str, float, list[float], list[float]]] = {}
        batch = recogniser.rec_batch_num
        for start in range(0, len(order), batch):
            if deadline is not None and time.monotonic() > deadline:
                raise OcrTimeoutError("RapidOCR did not finish within the OCR time limit.")
            chunk = [int(i) for i in order[start : start + batch]]
            ratio = max(crops[i].shape[1] / crops[i].shape[0] for i in chunk)
            ratio = max(ratio, recogniser.rec_image_shape[2] / recogniser.rec_image_shape[1])
            tensor = np.concatenate([recogniser.resize_norm_img(crops[i], ratio)[np.newaxis] for i in chunk])
            preds = recogniser.session(tensor.astype(np.float32))[0]
            for i, pred in zip(chunk, preds, strict=True):
                used = crops[i].shape[1] / crops[i].shape[0] / ratio  # share of the columns with ink
                decoded[i] = _ctc_decode(pred, recogniser.postprocess_op.character, used)
    except OcrTimeoutError:
        raise
    except Exception as exc:
        raise OcrEngineError(f"RapidOCR's recogniser failed: {exc}.") from exc
    for i, quad in enumerate(quads):
        text, score, char_x, char_conf = decoded[i]
        text, char_x, char_conf = _nfkc_chars(text, char_x, char_conf)
        results.append(RapidLine(text, score, quad, char_x, char_conf, turned[i]))
    return results


def _nfkc_chars(text: str, xs: list[float], confs: list[float]) -> tuple[str, list[float], list[float]]:
    """NFKC per character, keeping positions aligned ('（' becomes '(')."""
    out, out_x, out_conf = [], [], []
    for c, x, p in zip(text, xs, confs, strict=True):
        for n in normalise_text(c):
            out.append(n)
            out_x.append(x)
            out_conf.append(p)
    return "".join(out), out_x, out_conf


def _ctc_decode(
    pred: np.ndarray, charset: list[str], used: float
) -> tuple[str, float, list[float], list[float]]:
    """Greedy CTC decoding that keeps where each character was read (0-1 along the strip)."""
    index = pred.argmax(axis=1)
    prob = pred.max(axis=1)
    columns = max(len(index) * min(used, 1.0), 1.0)
    chars, confs, xs = [], [], []
    previous = -1
    for col, (k, p) in enumerate(zip(index, prob, strict=True)):
        if k != previous and k != 0:
            chars.append(charset[k])
            confs.append(float(p))
            xs.append(min((col + 0.5) / columns, 1.0))
        previous = k
    score = float(np.mean(confs)) if confs else 0.0
    return "".join(chars), score, xs, confs


def recognise_rapid(
    image: np.ndarray, *, timeout_s: float = 60.0, max_side: int = 960, min_score: float = 0.5
) -> list[RapidLine]:
    """Detect and read every text line with RapidOCR (no tesseract involved)."""
    deadline = time.monotonic() + timeout_s
    quads = detect_lines(image, max_side=max_side)
    lines = read_lines(image, quads, deadline=deadline)
    return [ln for ln in lines if ln.text.strip() and ln.score >= min_score]


def engine_versions() -> dict[str, str]:
    """What produced a reading, for the ``engine`` dict of each extraction."""
    versions = {"tesseract": tesseract_version()}
    with contextlib.suppress(Exception):  # not installed: the tesseract-only profiles still work
        versions["rapidocr"] = rapid_version()
    return versions
