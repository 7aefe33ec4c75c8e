"""Addresses: vertically adjacent address-like lines joined into one value, as printed.

Cards of firms with several offices print one address under another: an address ends at a
line that ends with its country, and a line that starts with an office label ('Head
Office', 'CTP Branch', 'TOKYO :') starts a new one; the label itself is no part of it.
"""

from __future__ import annotations

import re

from ingest.fields.candidates import Candidate, fold
from ingest.fields.vocab import COUNTRIES, COUNTRY_REGION

# 'Address:', 'a:', 'TOKYO :', 'Head Office', 'CTP Branch', 'Vietnam Office' before the address
ADDRESS_LABEL = re.compile(
    r"^\s*(?:[^\W\d_][\w.]{0,14}\s?:\s*"
    r"|(?:[^\W\d_][\w.&-]*\s+){0,2}(?:office|branch|headquarters|hq|factory|plant|showroom)\s*[:\-–]?\s+)"
    r"(?=.*\d)",
    re.I,
)
_COUNTRY_NAMES = COUNTRIES | set(COUNTRY_REGION) | {"republic of china", "japan", "nippon"}


def strip_address_label(text: str) -> str:
    """The address without the label printed before it ('Address: Queen's Road 125' -> "Queen's Road 125")."""
    return ADDRESS_LABEL.sub("", text, count=1)


def starts_with_label(c: Candidate) -> bool:
    return strip_address_label(c.text) != c.text


def ends_with_country(c: Candidate) -> bool:
    tail = fold(c.text).rstrip(" .,;")
    return any(tail.endswith(name) and (len(tail) == len(name) or not tail[-len(name) - 1].isalpha())
               for name in _COUNTRY_NAMES)  # fmt: skip


def group_addresses(candidates: list[Candidate]) -> list[list[Candidate]]:
    """Join vertically adjacent address segments into one address, as printed lines are."""
    pool = [c for c in candidates if c.kind in (None, "address", "noise")]
    seeds = [c for c in pool if c.kind == "address"]
    groups: list[list[Candidate]] = []
    used: set[int] = set()
    for seed in sorted(seeds, key=lambda c: c.segment.box[1]):
        if id(seed) in used:
            continue
        group = [seed]
        used.add(id(seed))
        for direction in (1, -1):
            edge = seed
            while True:
                nxt = _adjacent(edge, pool, direction, used)
                if nxt is None:
                    break
                if nxt.kind == "noise" or (nxt.kind != "address" and not _address_continuation(nxt)):
                    break
                below, above = (nxt, edge) if direction > 0 else (edge, nxt)
                if below.kind == "address" and (ends_with_country(above) or starts_with_label(below)):
                    break  # the next office's address
                group.append(nxt)
                used.add(id(nxt))
                edge = nxt
        group.sort(key=lambda c: c.segment.box[1])
        groups.append(group)
    return groups


def _address_continuation(c: Candidate) -> bool:
    """A city or country line, or a building name, that only makes sense beside an address."""
    return c.scores.get("address", 0) >= 0.8 or (
        len(c.words) <= 4
        and c.scores.get("name", 0) == 0
        and max(c.scores.get(k, 0) for k in ("job_title", "company", "department")) < 1.0
        and bool(re.search(r"\d|,", c.text))
    )


def _adjacent(c: Candidate, pool: list[Candidate], direction: int, used: set[int]) -> Candidate | None:
    x, y, w, h = c.segment.box
    height = c.segment.height
    best, best_gap = None, None
    for other in pool:
        if id(other) in used:
            continue
        ox, oy, ow, oh = other.segment.box
        gap = (oy - (y + h)) if direction > 0 else (y - (oy + oh))
        if gap < -0.3 * height or gap > 1.6 * max(height, other.segment.height):
            continue
        overlap = min(x + w, ox + ow) - max(x, ox)
        if overlap <= 0 and abs(ox - x) > 2 * height:
            continue
        if abs(other.segment.height - height) > 0.45 * max(height, other.segment.height):
            continue
        if best_gap is None or gap < best_gap:
            best, best_gap = other, gap
    return best
