"""How a card is read: which engines run, in which passes, at which turn, with which languages.

The pipeline asks for one :class:`OcrPage` per card; this module decides how to get it:

* tesseract first (in process, cheap), with retries at other quarter turns only when the
  first reading looks sideways or like noise, and a sparse-text pass where it read little;
* language data from the card's own signals: a country the first reading names (country
  TLDs, +codes, country names) whose letters English data cannot read (ł, ğ, ř, å, ư...)
  gets a second reading with that language's data;
* RapidOCR where it pays (``rapid="auto"``: key fields missing, a weak reading, a photo,
  CJK on the card) or always (``rapid="always"``); its lines and tesseract's words are
  then combined by :mod:`ingest.layout`.
"""

from __future__ import annotations

import re
import time
import unicodedata
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from ingest import layout, ocr, preprocess
from ingest.ocr import Line, OcrPage, RapidLine, Word

# Countries whose names and addresses use letters English data has no model for, and the
# tesseract data that reads them. Chosen from the card's own country signals.
COUNTRY_LANGS = {
    "PL": "pol", "TR": "tur", "CZ": "ces", "SK": "ces", "SE": "swe", "NO": "swe", "DK": "swe",
    "FI": "swe", "IS": "swe", "VN": "vie", "HU": "Latin", "RO": "Latin", "HR": "Latin", "SI": "Latin",
    "LT": "Latin", "LV": "Latin", "EE": "Latin", "AZ": "Latin",
}  # fmt: skip  # French, German, Spanish... letters (é, ü, ñ) are in English data already
CJK_REGIONS = {"JP", "CN", "TW", "HK"}


class ReadOptions(Protocol):
    """The part of :class:`ingest.pipeline.Options` this module reads."""

    @property
    def psm(self) -> int: ...
    @property
    def second_psm(self) -> int | None: ...
    @property
    def lang(self) -> str: ...
    @property
    def timeout_s(self) -> float: ...
    @property
    def rapid(self) -> str: ...
    @property
    def rapid_max_side(self) -> int: ...
    @property
    def second_pass_below(self) -> float: ...
    @property
    def second_pass_below_scan(self) -> float: ...
    @property
    def region(self) -> str: ...


@dataclass
class Reading:
    """The page the fields are read from, and how it was obtained."""

    prepared: preprocess.Prepared
    page: OcrPage
    engines: list[str] = field(default_factory=lambda: ["tesseract"])
    langs: list[str] = field(default_factory=list)
    rapid_reason: str = ""
    timings_ms: dict[str, float] = field(default_factory=dict)


def page_quality(page: OcrPage) -> float:
    """How readable an OCR pass was: confident words that look like words. Used to pick a rotation."""
    score = 0.0
    for word in page.words:
        letters = sum(ch.isalnum() for ch in word.text)
        if letters >= 3 and word.conf >= 0.6:
            score += letters * word.conf
    return score


def letter_count(page: OcrPage) -> int:
    return sum(sum(ch.isalnum() for ch in w.text) for w in page.words)


def needs_second_pass(page: OcrPage, below: float) -> bool:
    """A sparse-text pass pays off only where the full-page pass read little, or read it badly."""
    letters = letter_count(page)
    return letters < 120 or page_quality(page) < below * letters


def vertical_share(page: OcrPage) -> float:
    """Share of longer words whose boxes stand upright: tesseract read a card turned 90 degrees."""
    long_words = [w for w in page.words if len(w.text) >= 4]
    if not long_words:
        return 0.0
    return sum(w.box[3] > 1.2 * w.box[2] for w in long_words) / len(long_words)


def tesseract_upright(
    prepared: preprocess.Prepared, options: ReadOptions, lang: str
) -> tuple[preprocess.Prepared, OcrPage]:
    """OCR the card, trying other quarter turns when the first reading is sideways or noise.

    Tesseract's own orientation detection fails on cards' short text, so candidates are
    scored by what they read; the retries happen only on cards that need them.
    """

    def read(candidate: preprocess.Prepared) -> OcrPage:
        return ocr.recognise(candidate.image, psm=options.psm, lang=lang, timeout_s=options.timeout_s)

    page = read(prepared)
    quality = page_quality(page)
    if vertical_share(page) > 0.5:
        turns_to_try: tuple[int, ...] = (1, 3)
    else:
        # Upright cards, even noisy scans, score >= 0.3 per letter here; upside-down ones ~0.1.
        if quality >= max(0.3 * letter_count(page), 25):
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


def with_sparse_pass(
    page: OcrPage, image: np.ndarray, options: ReadOptions, lang: str, *, photo: bool
) -> OcrPage:
    """psm 11 where psm 3 read little; on scans also where it read badly unless that is set to 0.

    Measured on the shared scans, the pass on badly read scans is worth +0.01 macro F1 for 40% of
    tesseract's time, RapidOCR on cards without a name +0.02 for less: scans keep only the first.
    """
    if options.second_psm is None or options.second_psm == options.psm:
        return page
    below = options.second_pass_below if photo else options.second_pass_below_scan
    if not needs_second_pass(page, below):
        return page
    sparse = ocr.recognise(image, psm=options.second_psm, lang=lang, timeout_s=options.timeout_s)
    return merge_pages(page, sparse)


# --- languages from the card's signals ------------------------------------------------

TLD = re.compile(r"[a-z0-9-]\.([a-z]{2})\b(?![.@-])", re.I)
PLUS_CODE = re.compile(r"(?<![\d+])\+\s?(\d{1,3})(?=[\s(.\-])")


def country_signals(text: str) -> set[str]:
    """Regions a first reading names: country TLDs, +country codes, and country names."""
    import phonenumbers

    from ingest.fields.contacts import COUNTRY_TLDS
    from ingest.fields.vocab import COUNTRY_REGION

    found: set[str] = set()
    for tld in TLD.findall(text):
        region = COUNTRY_TLDS.get(tld.lower())
        if region:
            found.add(region)
    for code in PLUS_CODE.findall(text):
        region = phonenumbers.region_code_for_country_code(int(code))
        if region and region != "ZZ":
            found.add(region)
    low = text.casefold()
    for name, region in COUNTRY_REGION.items():
        if len(name) > 3 and re.search(r"(?<![a-z])" + re.escape(name) + r"(?![a-z])", low):
            found.add(region)
    return found


def extra_languages(text: str, available: set[str]) -> list[str]:
    """Tesseract data to add to English for this card, from its country signals (at most two)."""
    wanted: list[str] = []
    for region in sorted(country_signals(text)):
        lang = COUNTRY_LANGS.get(region)
        if lang == "Latin":
            lang = (
                "script/Latin" if "script/Latin" in available else ("Latin" if "Latin" in available else None)
            )
        if lang and lang in available and lang not in wanted:
            wanted.append(lang)
    return wanted[:2]


def _fold(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def _foldable(text: str) -> bool:
    return text.isascii() and any(c.isalpha() for c in text)


def restore_diacritics(page: OcrPage, native: OcrPage) -> OcrPage:
    """Words that the card's own language model read with accents, where 'xxx+eng' read them bare.

    With two models tesseract picks per word, and English sometimes wins on a name
    ('Nguyen' for 'Nguyễn'): where the native-only reading of the same box is the same word
    with diacritics, it is taken (English data cannot have printed them).
    """
    native_words = native.words
    lines = []
    for line in page.lines:
        words = []
        for word in line.words:
            best = next((n for n in native_words if _same_box(word.box, n.box)), None)
            if (
                best is not None
                and _foldable(word.text)
                and not best.text.isascii()
                and _fold(best.text).casefold() == word.text.casefold()
            ):
                word = Word(best.text, max(word.conf, best.conf), word.box, word.block, word.line_key)
            words.append(word)
        lines.append(Line(words))
    return OcrPage(lines, page.psm, page.width, page.height)


def _same_box(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    x0, y0 = max(a[0], b[0]), max(a[1], b[1])
    x1, y1 = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
    inter = max(0, x1 - x0) * max(0, y1 - y0)
    return inter > 0.6 * max(a[2] * a[3], b[2] * b[3], 1)


def has_cjk(text: str) -> bool:
    return bool(re.search(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]", text))


# --- RapidOCR where it pays -----------------------------------------------------------

KEY_FIELD_PATTERNS = {
    "email": re.compile(r"\S@\S+\.\w"),
    "phone": re.compile(r"(?:\d[\s().-]{0,2}){7,}"),
}


def rapid_reason(page: OcrPage, prepared: preprocess.Prepared, options: ReadOptions) -> str:
    """Why RapidOCR should read this card too ('' when tesseract's reading is enough)."""
    if options.rapid == "always":
        return "always"
    if options.rapid != "auto":
        return ""
    text = page.text
    if letter_count(page) < 60:
        return "little_text"
    if any(s.startswith("crop_to_card") for s in prepared.steps):
        return "photo"
    if any(s.startswith("rotate_") for s in prepared.steps):
        return "rotated"
    if has_cjk(text):
        return "cjk"
    return ""


CJK_LANGS = {"JP": "jpn", "CN": "chi_sim", "TW": "chi_sim", "HK": "chi_sim"}
WEAK_LINE_CONF = 0.7


def reread_native_lines(page: OcrPage, image: np.ndarray, options: ReadOptions) -> tuple[OcrPage, str]:
    """On a card from Japan or China, re-read the lines English data read as noise with CJK data.

    Only those lines, cut out, at psm 7 (one line): a few tens of ms each, where RapidOCR on the
    whole card would cost a second. A line is replaced when the new reading is CJK text and
    more confident.
    """
    regions = country_signals(page.text) & CJK_REGIONS
    available = ocr.available_languages()
    langs = sorted({CJK_LANGS[r] for r in regions} & available)
    if not langs:
        return page, ""
    lang = "+".join([*langs, "eng"])
    lines, changed = [], 0
    height, width = image.shape[:2]
    for line in page.lines:
        if line.conf >= WEAK_LINE_CONF or not line.words:
            lines.append(line)
            continue
        x, y, w, h = line.box
        pad = max(4, h // 3)
        x0, y0 = max(0, x - pad), max(0, y - pad)
        x1, y1 = min(width, x + w + pad), min(height, y + h + pad)
        crop = np.ascontiguousarray(image[y0:y1, x0:x1])
        reread = ocr.recognise(crop, psm=7, lang=lang, timeout_s=options.timeout_s)
        words = [Word(wd.text, wd.conf, (wd.box[0] + x0, wd.box[1] + y0, wd.box[2], wd.box[3]), line.block,
                      line.words[0].line_key) for wd in reread.words]  # fmt: skip
        new = Line(words)
        if words and has_cjk(new.text) and new.conf > line.conf:
            lines.append(new)
            changed += 1
        else:
            lines.append(line)
    if not changed:
        return page, ""
    return OcrPage(lines, page.psm, page.width, page.height), lang


def rapid_orientation(lines: list[RapidLine]) -> int:
    """Quarter turns (counter-clockwise) that make the card upright, from RapidOCR's lines.

    A long horizontal line read upside down votes for a half turn; a vertical one votes for
    a quarter turn one way or the other depending on the way the classifier read it.
    """
    votes = np.zeros(4)
    for line in lines:
        q = line.quad
        length = float(max(np.linalg.norm(q[1] - q[0]), np.linalg.norm(q[2] - q[3])))
        thickness = max(float(np.linalg.norm(q[3] - q[0])), float(np.linalg.norm(q[2] - q[1])), 1.0)
        weight = len(line.text) * line.score
        if len(line.text) < 3:
            continue
        if thickness > 1.5 * length:  # read bottom to top (text turned a quarter left), unless turned
            votes[1 if line.turned else 3] += weight
        else:
            votes[2 if line.turned else 0] += weight
    return int(np.argmax(votes)) if votes.sum() else 0


def turn_lines(lines: list[RapidLine], prepared: preprocess.Prepared, turns: int) -> list[RapidLine]:
    """Map RapidOCR's quads into the image turned ``turns`` quarter turns counter-clockwise."""
    if turns % 4 == 0:
        return lines
    rotated = preprocess.rotate_quarter_turns(prepared, turns)
    back = np.linalg.inv(prepared.to_original) @ rotated.to_original  # rotated -> prepared
    forward = np.linalg.inv(back)
    out = []
    for line in lines:
        pts = np.c_[line.quad, np.ones(4)] @ forward.T
        quad = preprocess.order_corners(pts[:, :2] / pts[:, 2:3]).astype(np.float32)
        out.append(RapidLine(line.text, line.score, quad, line.char_x, line.char_conf, False))
    return out


def read_card(prepared: preprocess.Prepared, options: ReadOptions) -> Reading:
    """The whole OCR stage for one card."""
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(stage: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[stage] = timings.get(stage, 0.0) + (now - clock) * 1000
        clock = now

    lang = options.lang
    rapid_lines: list[RapidLine] | None = None
    is_photo = any(s.startswith("crop_to_card") for s in prepared.steps)
    first = "always" if options.rapid == "always" else ""
    first = first or ("photo" if options.rapid == "auto" and is_photo else "")
    if first:  # RapidOCR first: its lines say which way is up, for free
        deadline = time.monotonic() + options.timeout_s
        quads = ocr.detect_lines(prepared.image, max_side=options.rapid_max_side)
        lines = ocr.read_lines(prepared.image, quads, deadline=deadline)
        turns = rapid_orientation(lines)
        if turns:
            lines = turn_lines(lines, prepared, turns)
            prepared = preprocess.rotate_quarter_turns(prepared, turns)
        rapid_lines = [ln for ln in lines if ln.text.strip() and ln.score >= 0.5]
        lap("ocr_rapidocr")
        page = ocr.recognise(prepared.image, psm=options.psm, lang=lang, timeout_s=options.timeout_s)
    else:
        prepared, page = tesseract_upright(prepared, options, lang)
    lap("ocr_tesseract")
    langs = [lang]
    if lang == "eng":
        extra = extra_languages(page.text, ocr.available_languages())
        if extra:
            # the card's language first: with "eng+pol" tesseract still reads 'ł' as 't'
            lang = "+".join([*extra, "eng"])
            langs = lang.split("+")
            page = ocr.recognise(prepared.image, psm=options.psm, lang=lang, timeout_s=options.timeout_s)
            if any(_foldable(w.text) for w in page.words):  # letters English data may have won
                native = ocr.recognise(
                    prepared.image, psm=options.psm, lang=extra[0], timeout_s=options.timeout_s
                )
                page = restore_diacritics(page, native)
    page = with_sparse_pass(page, prepared.image, options, lang, photo=is_photo)
    reason = first or rapid_reason(page, prepared, options)
    if not reason:  # tesseract's own CJK data on the few lines English data could not read
        page, native_lang = reread_native_lines(page, prepared.image, options)
        langs += [x for x in native_lang.split("+") if x and x not in langs]
    lap("ocr_tesseract")
    engines = ["tesseract"]
    if reason:
        if rapid_lines is None:
            rapid_lines = ocr.recognise_rapid(
                prepared.image, timeout_s=options.timeout_s, max_side=options.rapid_max_side
            )
            lap("ocr_rapidocr")
        page = layout.combine(page, rapid_lines)
        engines.append("rapidocr")
        lap("ocr_combine")
    return Reading(prepared, page, engines, langs, reason, timings)


def add_rapid(reading: Reading, options: ReadOptions, reason: str) -> Reading:
    """RapidOCR on a card tesseract alone read too little of (decided from the fields it gave)."""
    clock = time.perf_counter()
    lines = ocr.recognise_rapid(
        reading.prepared.image, timeout_s=options.timeout_s, max_side=options.rapid_max_side
    )
    page = layout.combine(reading.page, lines)
    timings = dict(reading.timings_ms)
    timings["ocr_rapidocr"] = timings.get("ocr_rapidocr", 0.0) + (time.perf_counter() - clock) * 1000
    return Reading(reading.prepared, page, [*reading.engines, "rapidocr"], reading.langs, reason, timings)


# --- two tesseract passes -------------------------------------------------------------


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
