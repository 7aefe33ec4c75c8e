"""Combine the two engines' readings into one page, and rebuild the reading order from boxes.

RapidOCR reads characters better (low contrast, small print, rotated cards) but drops
spaces; tesseract keeps word spacing and reads diacritics it was given data for. For each
line RapidOCR found, the tesseract words under it are aligned to RapidOCR's characters:
where both read the same letters tesseract's words are kept; where they differ the
characters come from whichever engine read that stretch more surely, and the spaces from
tesseract, RapidOCR's own spaces or, failing both, wide gaps between RapidOCR's characters.
Tesseract lines that RapidOCR never detected are kept when they are confident.

Reading order comes from line boxes: lines stacked close together with overlapping
horizontal extents form a block, and side-by-side blocks are read one after the other,
so two columns never interleave.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from difflib import SequenceMatcher

import numpy as np

from ingest.ocr import Line, OcrPage, RapidLine, Word, union_box

SPACE_GAP_UNITS = 0.72  # a gap between two read characters wider than this many line heights is a space
SPACE_GAP_RELATIVE = 1.45  # ... and this much wider than the line's usual pitch
KEEP_UNMATCHED_TESS_CONF = 0.6  # tesseract words outside every RapidOCR line need this much confidence
MIN_LINE_AGREEMENT = 0.5  # below this similarity, tesseract's words under a line are not a reading of it
RAPID_BLOCK_BASE = 2000  # block numbers of combined lines start here (tesseract's are small)
CONTACT_RUN = re.compile(r"@|^(?:www\d?\.|https?:)|\s(?:www\d?\.|https?:)", re.I)


@dataclass
class _Char:
    char: str
    conf: float
    x: float  # 0-1 along the line
    space_before: bool  # printed as a space by the engine (tesseract's word boundary, RapidOCR's ' ')
    engine: str
    gap_space: bool = False  # RapidOCR only: a wide gap before this character
    word: Word | None = None  # the tesseract word this character was aligned to
    rapid_space: bool = False  # RapidOCR itself printed a space before this character


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKD", text)
    return "".join(c for c in text if not unicodedata.combining(c)).casefold()


def line_box(line: RapidLine) -> tuple[int, int, int, int]:
    """The axis-aligned box of an (upright) RapidOCR line."""
    xs, ys = line.quad[:, 0], line.quad[:, 1]
    x0, y0 = int(np.floor(xs.min())), int(np.floor(ys.min()))
    return (x0, y0, int(np.ceil(xs.max())) - x0, int(np.ceil(ys.max())) - y0)


def _inside(word: Word, box: tuple[int, int, int, int]) -> float:
    """How well a tesseract word sits in a line box: share of its area inside, 0 when its centre is out."""
    x, y, w, h = word.box
    cx, cy = x + w / 2, y + h / 2
    bx, by, bw, bh = box
    if not (bx <= cx <= bx + bw and by <= cy <= by + bh):
        return 0.0
    ix = max(0, min(x + w, bx + bw) - max(x, bx))
    iy = max(0, min(y + h, by + bh) - max(y, by))
    return ix * iy / max(w * h, 1)


def _rapid_chars(line: RapidLine, height_units: float) -> list[_Char]:
    """RapidOCR's characters with a space flag: its own spaces, or a wide gap between two characters."""
    chars: list[_Char] = []
    pending_space = False
    positions = [x for c, x in zip(line.text, line.char_x, strict=False) if c != " "]
    gaps = np.diff(positions) * height_units if len(positions) > 1 else np.array([])
    usual = float(np.median(gaps)) if len(gaps) else 0.0
    previous_x = None
    confs = line.char_conf or [line.score] * len(line.text)
    for c, x, conf in zip(line.text, line.char_x, confs, strict=False):
        if c == " ":
            pending_space = bool(chars)
            continue
        gap = (x - previous_x) * height_units if previous_x is not None else 0.0
        wide = previous_x is not None and gap >= SPACE_GAP_UNITS and gap >= SPACE_GAP_RELATIVE * usual
        chars.append(_Char(c, conf, x, pending_space, "rapidocr", gap_space=wide))
        pending_space = False
        previous_x = x
    return chars


def _tess_chars(words: list[Word]) -> list[_Char]:
    chars: list[_Char] = []
    for w in words:
        for i, c in enumerate(w.text):
            chars.append(_Char(c, w.conf, 0.0, i == 0 and bool(chars), "tesseract", word=w))
    return chars


def merge_line(line: RapidLine, words: list[Word], box: tuple[int, int, int, int]) -> list[Word]:
    """One combined line: characters from the surer engine per stretch, spaces from tesseract first."""
    units = box[2] / max(box[3], 1)
    rapid = _rapid_chars(line, units)
    tess = _tess_chars(sorted(words, key=lambda w: w.box[0]))
    if not rapid:
        return words
    same = tess and _fold("".join(c.char for c in tess)) == _fold("".join(c.char for c in rapid))
    if same and not CONTACT_RUN.search(line.text):
        return words  # the same reading: tesseract's words, boxes and spacing as they are
    merged: list[_Char] = []
    matcher = SequenceMatcher(
        None, [_fold(c.char) for c in tess], [_fold(c.char) for c in rapid], autojunk=False
    )
    if tess and matcher.ratio() < MIN_LINE_AGREEMENT:  # tesseract read something else here: noise
        return merge_line(line, [], box)
    for op, t0, t1, r0, r1 in matcher.get_opcodes():
        t_part, r_part = tess[t0:t1], rapid[r0:r1]
        if op == "equal":
            for tc, rc in zip(t_part, r_part, strict=True):
                # the letter both read; a diacritic only tesseract saw (RapidOCR's model lacks most) is kept
                keep = tc.char if tc.char.lower() != rc.char.lower() else rc.char
                space = tc.space_before or rc.space_before  # tesseract's spacing, not RapidOCR's gaps
                merged.append(_Char(keep, max(tc.conf, rc.conf), rc.x, space, "both", word=tc.word,
                                    rapid_space=rc.space_before))  # fmt: skip
            continue
        if _prefer_tesseract(t_part, r_part):
            x0 = r_part[0].x if r_part else (merged[-1].x if merged else 0.0)
            for i, tc in enumerate(t_part):
                space = tc.space_before or (i == 0 and bool(r_part) and r_part[0].space_before)
                merged.append(_Char(tc.char, tc.conf, x0, space, "tesseract", word=tc.word))
        else:
            for i, rc in enumerate(r_part):
                # a tesseract word boundary just before this stretch still separates it; where
                # tesseract read nothing at all, RapidOCR's wide gaps are the only spacing there is
                space = rc.space_before or (i == 0 and bool(t_part) and t_part[0].space_before)
                space = space or (rc.gap_space and (not tess or op == "insert"))
                merged.append(_Char(rc.char, rc.conf, rc.x, space, "rapidocr", rapid_space=rc.space_before))
    _join_contact_runs(merged)
    return _words_from_chars(merged, box, line)


def _join_contact_runs(chars: list[_Char]) -> None:
    """Inside what RapidOCR read as one e-mail or web address, tesseract's spaces are misreads.

    Those after the '@' or beside a dot, hyphen or underscore go; one before a local part stays,
    as it may end a label ('E mjanbar2@...').
    """
    start = 0
    for end in [*[i for i, c in enumerate(chars) if c.rapid_space], len(chars)]:
        run = "".join(c.char for c in chars[start:end])
        if CONTACT_RUN.search(run):
            at = run.find("@")
            for k in range(start + 1, end):
                beside = chars[k - 1].char in ".@-_/" or chars[k].char in ".@-_/"
                if (at >= 0 and k - start > at) or beside or at < 0:
                    chars[k].space_before = chars[k].gap_space = False
        start = end


def _prefer_tesseract(t_part: list[_Char], r_part: list[_Char]) -> bool:
    """Which engine read a stretch where the two differ."""
    if not t_part:
        return False
    if not r_part:  # tesseract read something RapidOCR did not: keep it only when sure
        return min(c.conf for c in t_part) >= 0.9 and len(t_part) <= 2
    t_text, r_text = "".join(c.char for c in t_part), "".join(c.char for c in r_part)
    if _fold(t_text) == _fold(r_text):  # accents: RapidOCR's Chinese-trained model lacks many
        return True
    has_latin_extra = any(ord(c) > 127 and c.isalpha() and "LATIN" in unicodedata.name(c, "") for c in t_text)
    if has_latin_extra and len(t_text) == len(r_text):  # 'ł' read as 'l'/'t', 'ğ' as 'g'...
        return min(c.conf for c in t_part) >= 0.6
    r_conf = min(c.conf for c in r_part)
    t_conf = min(c.conf for c in t_part)
    return r_conf < 0.6 and t_conf >= 0.9


def _words_from_chars(chars: list[_Char], box: tuple[int, int, int, int], line: RapidLine) -> list[Word]:
    x, y, w, h = box
    words: list[Word] = []
    current: list[_Char] = []

    half = 0.5 / max(len(chars), 1)  # half a character's width, as a share of the line

    def char_box(c: _Char) -> tuple[int, int, int, int]:
        if c.word is not None:  # tesseract's own box for the word it was aligned to
            return c.word.box
        left, right = x + w * max(0.0, c.x - half), x + w * min(1.0, c.x + half)
        return (int(left), y, max(int(right - left), 1), h)

    def flush() -> None:
        if not current:
            return
        text = "".join(c.char for c in current)
        word_box = union_box([char_box(c) for c in current])
        conf = float(np.mean([c.conf for c in current]))
        engine = "both" if all(c.engine == "both" for c in current) else "combined"
        words.append(Word(text, conf, word_box, 0, (0, 0, 0), engine))
        current.clear()

    for i, c in enumerate(chars):
        glued = c.word is None and i > 0 and chars[i - 1].word is None and glued_boundary(chars, i)
        if c.space_before or c.gap_space or glued:
            flush()
        current.append(c)
    flush()
    return words


GLUED_PREFIXES = {"mac", "van", "von", "del", "der", "dal", "des", "les", "dos"}  # 'MacArthur', 'VanDyke'


def glued_boundary(chars: list[_Char], i: int) -> bool:
    """A space RapidOCR dropped, where tesseract gives no spacing: 'TomHami', '131Main', 'Tokyo160'.

    Lower-case to capital after at least three letters (not 'McDonnel', 'LaSalle', 'MacArthur'),
    and between a run of 2+ digits and 3+ letters either way (not postcodes like 'EC2A').
    """

    start = i
    while start > 0 and not (chars[start].space_before or chars[start].gap_space):
        start -= 1
    end = i
    while end < len(chars) and not (end > i and (chars[end].space_before or chars[end].gap_space)):
        end += 1
    before = "".join(c.char for c in chars[start:i])
    after = "".join(c.char for c in chars[i:end])
    if re.search(r"[@/]|\w\.\w", before + after):  # e-mails and web addresses keep their letters together
        return False
    if re.search(r"[a-z]$", before) and re.match(r"[A-Z]", after):
        head = re.search(r"[A-Za-z]+$", before).group()  # type: ignore[union-attr]
        return len(head) >= 3 and head.lower() not in GLUED_PREFIXES and bool(re.match(r"[A-Z][a-z]", after))
    if re.search(r"\d\d$", before):
        return bool(re.match(r"[A-Za-z]{3}", after))
    if re.search(r"[A-Za-z]{3}$", before):
        return bool(re.match(r"\d{3}", after))
    return False


def combine(
    tesseract: OcrPage, rapid: list[RapidLine], keep_unmatched_conf: float = KEEP_UNMATCHED_TESS_CONF
) -> OcrPage:
    """One page from both engines' readings of the same (upright) image.

    ``keep_unmatched_conf``: tesseract words under no RapidOCR line are kept from this confidence
    on (0 when RapidOCR re-read only some of tesseract's lines: the others stand as they are).
    """
    boxes = [line_box(r) for r in rapid]
    owner: dict[int, int] = {}  # tesseract word index -> RapidOCR line
    tess_words = tesseract.words
    for i, word in enumerate(tess_words):
        scores = [_inside(word, b) for b in boxes]
        if scores and max(scores) >= 0.5:
            owner[i] = int(np.argmax(scores))
    lines: list[Line] = []
    for j, (r, box) in enumerate(zip(rapid, boxes, strict=True)):
        under = [tess_words[i] for i, o in owner.items() if o == j]
        merged = merge_line(r, under, box)
        if merged:
            lines.append(Line(merged))
    owned = {id(tess_words[i]) for i in owner}
    for line in tesseract.lines:
        kept = [w for w in line.words if id(w) not in owned]
        kept = [w for w in kept if w.conf >= keep_unmatched_conf and any(c.isalnum() for c in w.text)]
        if kept:
            lines.append(Line(kept))
    return OcrPage(lines=order_lines(lines), psm=tesseract.psm, width=tesseract.width,
                   height=tesseract.height, engine="tesseract+rapidocr")  # fmt: skip


# --- reading order -------------------------------------------------------------------


def order_lines(lines: list[Line]) -> list[Line]:
    """Group lines into blocks (stacked, overlapping horizontally) and read block by block.

    Blocks are ordered top to bottom, except that a block beside another (its vertical span
    overlapping, entirely to one side) is read after the whole of the left one, as columns are.
    Each word's ``block`` and ``line_key`` are rewritten to the new order.
    """
    lines = [ln for ln in lines if ln.words]
    if not lines:
        return []
    order = sorted(range(len(lines)), key=lambda i: (lines[i].box[1], lines[i].box[0]))
    blocks: list[list[int]] = []
    for i in order:
        x, y, w, _ = lines[i].box
        height = max(lines[i].height, 1.0)
        home = None
        for block in blocks:
            bx, by, bw, bh = lines[block[-1]].box
            gap = y - (by + bh)
            overlap = min(x + w, bx + bw) - max(x, bx)
            if -0.5 * height < gap < 1.2 * max(height, lines[block[-1]].height) and overlap > 0:
                home = block
                break
        if home is None:
            blocks.append([i])
        else:
            home.append(i)
    spans = [union_box([lines[i].box for i in block]) for block in blocks]

    def column_key(k: int) -> tuple[int, int]:
        bx, by, _, _ = spans[k]
        # a block that starts beside a taller block to its left is read after it
        for other, (ox, oy, ow, oh) in enumerate(spans):
            if other != k and ox + ow <= bx and oy <= by < oy + oh:
                return column_key(other)[0], by
        return by, bx

    ordered_blocks = sorted(range(len(blocks)), key=lambda k: (column_key(k), spans[k][0]))
    result: list[Line] = []
    for block_number, k in enumerate(ordered_blocks, start=1):
        for line_number, i in enumerate(sorted(blocks[k], key=lambda i: lines[i].box[1]), start=1):
            words = sorted(lines[i].words, key=lambda w: w.box[0])
            key = (RAPID_BLOCK_BASE + block_number, 1, line_number)
            result.append(Line([Word(w.text, w.conf, w.box, key[0], key, w.engine) for w in words]))
    return result
