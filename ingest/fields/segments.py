"""Text segments: OCR lines split at wide gaps, with character spans mapped back to boxes.

Tesseract sometimes joins two columns into one line ("Jane Doe      Inspire the Next").
Field rules work on segments, the runs of words printed close together.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from itertools import pairwise

import numpy as np

from ingest.ocr import Line, Word, union_box

GAP_SPLIT = 2.2  # a gap wider than this many letter heights starts a new segment


@dataclass
class Segment:
    words: list[Word]
    index: int = 0  # reading order
    left_text: str = ""  # the segment printed before this one on the same line ("Fax   +1 ...")

    def __post_init__(self) -> None:
        self.text = " ".join(w.text for w in self.words)
        self._starts: list[int] = []
        pos = 0
        for w in self.words:
            self._starts.append(pos)
            pos += len(w.text) + 1

    @property
    def box(self) -> tuple[int, int, int, int]:
        return union_box([w.box for w in self.words])

    @property
    def height(self) -> float:
        return float(np.median([w.box[3] for w in self.words]))

    @property
    def conf(self) -> float:
        return float(np.mean([w.conf for w in self.words]))

    def _words_in(self, start: int, end: int) -> list[Word]:
        chosen = [
            w for w, s in zip(self.words, self._starts, strict=True) if s < end and s + len(w.text) > start
        ]
        return chosen or self.words

    def span_box(self, start: int = 0, end: int | None = None) -> tuple[int, int, int, int]:
        return union_box([w.box for w in self._words_in(start, len(self.text) if end is None else end)])

    def span_conf(self, start: int = 0, end: int | None = None) -> float:
        words = self._words_in(start, len(self.text) if end is None else end)
        return float(np.mean([w.conf for w in words]))


def split_lines(lines: Iterable[Line]) -> list[Segment]:
    """Split each OCR line at wide horizontal gaps, then order segments top-to-bottom, left-to-right."""
    segments: list[Segment] = []
    for line in lines:
        words = sorted(line.words, key=lambda w: w.box[0])
        if not words:
            continue
        height = max(float(np.median([w.box[3] for w in words])), 1.0)
        current = [words[0]]
        left_text = ""
        for prev, word in pairwise(words):
            gap = word.box[0] - (prev.box[0] + prev.box[2])
            if gap > GAP_SPLIT * height:
                segments.append(Segment(current, left_text=left_text))
                left_text = segments[-1].text
                current = []
            current.append(word)
        segments.append(Segment(current, left_text=left_text))
    segments = [s for s in segments if s.text.strip()]
    segments.sort(key=lambda s: (s.box[1] + s.box[3] / 2, s.box[0]))
    for i, segment in enumerate(segments):
        segment.index = i
    return segments
