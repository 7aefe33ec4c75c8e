"""Combining tesseract's words with RapidOCR's lines, and the reading order of columns."""

from __future__ import annotations

import numpy as np
import pytest

from ingest.layout import _Char, combine, glued_boundary, order_lines
from ingest.ocr import Line, OcrPage, RapidLine, Word


def rapid_line(text: str, box: tuple[int, int, int, int], score: float = 0.95) -> RapidLine:
    x, y, w, h = box
    quad = np.array([[x, y], [x + w, y], [x + w, y + h], [x, y + h]], dtype=np.float32)
    xs = [(i + 0.5) / len(text) for i in range(len(text))]
    return RapidLine(text, score, quad, xs, [score] * len(text), False)


def words_line(text: str, x: int, y: int, conf: float = 0.9, letter: int = 14) -> Line:
    words, pos = [], x
    for token in text.split():
        words.append(Word(token, conf, (pos, y, letter * len(token), 24), 1, (1, 1, y)))
        pos += letter * (len(token) + 1)
    return Line(words)


def page(*lines: Line) -> OcrPage:
    return OcrPage(list(lines), 3, 1000, 600)


def split(text: str) -> str:
    chars = [_Char(c, 0.9, i / len(text), False, "rapidocr") for i, c in enumerate(text)]
    return "".join((" " if i and glued_boundary(chars, i) else "") + c.char for i, c in enumerate(chars))


@pytest.mark.parametrize(
    ("glued", "spaced"),
    [("TomHami", "Tom Hami"), ("131MainStreet", "131 Main Street"), ("Tokyo160-0022", "Tokyo 160-0022"),
     ("McDonnel", "McDonnel"), ("LaSalle", "LaSalle"), ("MacArthur", "MacArthur"), ("EC2A", "EC2A"),
     ("www.BigGrowth.com", "www.BigGrowth.com"), ("ann.LeeMoss@x.com", "ann.LeeMoss@x.com")],
)  # fmt: skip
def test_spaces_rapidocr_dropped_are_restored_where_the_letters_say_so(glued: str, spaced: str) -> None:
    assert split(glued) == spaced


def test_tesseract_spacing_is_kept_where_rapidocr_reads_the_same_letters() -> None:
    tess = page(words_line("Senior Account Manager", 40, 40))
    combined = combine(tess, [rapid_line("SeniorAccountManager", (36, 36, 320, 32))])
    assert combined.text == "Senior Account Manager"


def test_rapidocr_characters_win_where_tesseract_misread_with_low_confidence() -> None:
    tess = page(words_line("clowerv41@verizon.net", 40, 40, conf=0.5))
    combined = combine(tess, [rapid_line("clowery41@verizon.net", (36, 36, 300, 32), score=0.97)])
    assert combined.text == "clowery41@verizon.net"


def test_a_diacritic_only_tesseract_read_is_kept() -> None:
    tess = page(words_line("Małgorzata Wróblewska", 40, 40, conf=0.9))
    combined = combine(tess, [rapid_line("MalgorzataWroblewska", (36, 36, 300, 32))])
    assert combined.text == "Małgorzata Wróblewska"


def test_side_by_side_columns_are_read_one_after_the_other() -> None:
    left = [
        words_line(t, 40, 40 + 40 * i) for i, t in enumerate(["Ilse Marchetti", "Project Lead", "Orbane"])
    ]
    right = [words_line(t, 600, 44 + 40 * i) for i, t in enumerate(["Tel 555 0100", "ilse@orbane.example"])]
    order = [ln.text for ln in order_lines([left[0], right[0], left[1], right[1], left[2]])]
    assert order == ["Ilse Marchetti", "Project Lead", "Orbane", "Tel 555 0100", "ilse@orbane.example"]


def test_lines_rapidocr_never_found_are_kept_when_confident() -> None:
    tess = page(words_line("ORBANE", 40, 40, conf=0.95), words_line("q~", 40, 90, conf=0.3))
    combined = combine(tess, [])
    assert combined.text == "ORBANE"


def test_tesseract_spaces_inside_an_email_rapidocr_read_whole_are_dropped() -> None:
    tess = page(words_line("ana@kes trel.co.jp", 40, 40, conf=0.6))
    combined = combine(tess, [rapid_line("ana@kestrel.co.jp", (36, 36, 260, 32))])
    assert combined.text == "ana@kestrel.co.jp"


def test_a_space_before_the_local_part_still_ends_a_label() -> None:
    tess = page(words_line("E mjanbar2@bloomberg.example", 40, 40, conf=0.9))
    combined = combine(tess, [rapid_line("Emjanbar2@bloomberg.example", (36, 36, 330, 32))])
    assert combined.text == "E mjanbar2@bloomberg.example"
