"""Builders for parser tests: OCR lines from plain synthetic text, laid out as a card would be."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from ingest.fields import extract_fields, split_lines
from ingest.fields.segments import Segment
from ingest.ocr import Line, Word
from ingest.schema import FieldValue

LETTER_W, LINE_H = 14, 24


def make_line(text: str, *, x: int = 40, y: int = 40, height: int = LINE_H, conf: float = 0.95) -> Line:
    """One OCR line: words of ``text`` placed left to right with one-letter gaps."""
    words, pos = [], x
    width = round(LETTER_W * height / LINE_H)
    for token in text.split():
        box = (pos, y, width * len(token), height)
        words.append(Word(token, conf, box, 1, (1, 1, y)))
        pos += width * (len(token) + 1)
    return Line(words)


def make_segment(text: str) -> Segment:
    return split_lines([make_line(text)])[0]


CardLines = list[tuple[str, int]]  # (text, letter height) top to bottom


def read_card(lines: CardLines, region: str = "US") -> dict[str, list[FieldValue]]:
    """Run the field rules on a card made of these lines, stacked with a line's gap between them."""
    ocr_lines, y = [], 40
    for text, height in lines:
        ocr_lines.append(make_line(text, y=y, height=height))
        y += int(height * 1.8)
    fields, _ = extract_fields(split_lines(ocr_lines), default_region=region, to_original=list)
    return fields


@pytest.fixture
def segment() -> Callable[[str], Segment]:
    return make_segment


@pytest.fixture
def card_fields() -> Callable[..., dict[str, list[FieldValue]]]:
    return read_card


@pytest.fixture
def card() -> Callable[..., dict[str, list[str]]]:
    def run(lines: CardLines, region: str = "US") -> dict[str, list[str]]:
        return {k: [v.value for v in vs] for k, vs in read_card(lines, region).items()}

    return run
