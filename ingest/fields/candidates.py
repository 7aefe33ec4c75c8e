"""What the entity rules work on: a segment's leftover text, and the text keys they compare."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from ingest.fields.segments import Segment

WORD = re.compile(r"[^\W\d_][^\W\d_'’.\-]*(?:[’'.\-][^\W\d_]+)*\.?", re.UNICODE)
TRAILING_LABEL = re.compile(
    r"\b(?:tel|fax|phone|mobile|cell|e-?mail|web(?:site)?|address|t|f|m|e|w)\s*[:.]?\s*$", re.I
)


@dataclass
class Candidate:
    """A segment's leftover text (contact details cut out) and what it might be."""

    segment: Segment
    text: str
    start: int
    end: int
    scores: dict[str, float] = field(default_factory=dict)
    kind: str | None = None
    method: str = ""

    @property
    def words(self) -> list[str]:
        return self.text.split()


def fold(text: str) -> str:
    text = unicodedata.normalize("NFKD", text)
    return "".join(c for c in text if not unicodedata.combining(c)).casefold()


def letters_key(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", fold(text))


def lower_words(text: str) -> list[str]:
    return [w.strip(".,:;()&/") for w in fold(text).split()]


def is_latin(text: str) -> bool:
    letters = [c for c in text if c.isalpha()]
    return bool(letters) and sum("LATIN" in unicodedata.name(c, "") for c in letters) * 2 >= len(letters)
