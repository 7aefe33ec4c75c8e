"""Names, job titles, departments, companies and addresses: fields without a syntax.

These come from layout and vocabulary: a segment's words, its size relative to the rest
of the card, its position, its neighbours, and agreement with the card's e-mail and web
domain. Each segment left over after contact details is scored for every kind, and the
scores decide; the method string records which evidence won.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from difflib import SequenceMatcher

from ingest.fields.segments import Segment
from ingest.fields.vocab import (
    COMPANY_WORDS,
    COUNTRIES,
    DEPARTMENT_WORDS,
    HONORIFICS,
    LEGAL_SUFFIX,
    NAME_PARTICLES,
    NON_NAME_WORDS,
    POSTCODE,
    POSTNOMINALS,
    STREET_WORDS,
    STRONG_DEPARTMENT_WORDS,
    TITLE_WORDS,
    US_STATE_NAMES,
    US_STATE_ZIP,
)

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


# --- scoring each kind ---------------------------------------------------------------


def address_score(text: str) -> float:
    words = lower_words(text)
    low = fold(text)
    score = 0.0
    if US_STATE_ZIP.search(text):
        score += 2.5
    if POSTCODE.search(text) and re.search(r"[A-Za-z]{3,}", text):
        score += 1.0
    if any(w in STREET_WORDS for w in words) or re.search(r"\w-(?:ku|shi|cho|chome|machi|gun|ken)\b", low):
        score += 1.5
    if re.match(r"^\s*\d+[\w/-]*[,\s]+[A-Za-z]", text) or re.search(r"\b\d+[a-z]?,?\s*$", text):
        score += 1.0
    if any(
        re.search(r"(?:^|[\s,])" + re.escape(c) + r"(?:$|[\s,.])", low) for c in COUNTRIES | US_STATE_NAMES
    ):
        score += 1.0 if len(words) > 1 else 0.8
    if re.search(r"\b(?:p\.?\s?o\.?\s?box|postfach|cedex|bp)\b", low):
        score += 2.0
    return score


def title_score(words: list[str]) -> float:
    hits = sum(w in TITLE_WORDS for w in words)
    if not hits:
        return 0.0
    return 1.0 + 0.5 * hits - 0.15 * max(0, len(words) - 5)


def department_score(words: list[str]) -> float:
    if any(w in STRONG_DEPARTMENT_WORDS for w in words):
        return 2.0
    return 0.6 * sum(w in DEPARTMENT_WORDS for w in words)


def company_score(text: str, words: list[str], domains: list[str]) -> tuple[float, str]:
    score, method = 0.0, ""
    if LEGAL_SUFFIX.search(text):
        score, method = 2.5, "legal_suffix"
    key = letters_key(text)
    for domain in domains:
        label = letters_key(domain_label(domain))
        if len(label) >= 3 and len(key) >= 3 and (label in key or key in label or _acronym(words) == label):
            score, method = score + 2.0, (method + "+domain").lstrip("+")
            break
    hits = sum(w in COMPANY_WORDS for w in words)
    if hits and not score:
        score, method = 1.0 + 0.3 * hits, "company_word"
    elif hits:
        score += 0.3 * hits
    return score, method


def _acronym(words: list[str]) -> str:
    return "".join(w[0] for w in words if w and w not in {"of", "the", "and", "&"}) if len(words) > 1 else ""


SECOND_LEVEL = {
    "co",
    "com",
    "ac",
    "ad",
    "ne",
    "or",
    "org",
    "net",
    "gov",
    "edu",
    "go",
    "gr",
    "ed",
    "lg",
    "nic",
}


def domain_label(domain: str) -> str:
    """The registrable name of a host: 'mail.cambridgelogic.co.uk' -> 'cambridgelogic'."""
    parts = domain.lower().split(".")[:-1] or [domain.lower()]
    if len(parts) > 1 and parts[-1] in SECOND_LEVEL:
        parts = parts[:-1]
    return parts[-1]


def name_shape(text: str) -> float:
    """How much a segment looks like a person's name: 0 (not at all) to 1."""
    stripped = strip_postnominals(text)
    if re.search(r"\d|@|/|:|,|;|\||&|www|http", stripped):
        return 0.0
    tokens = [t.strip(",") for t in stripped.split()]
    tokens = [t for t in tokens if t.lower().strip(".") not in HONORIFICS]
    if not 2 <= len(tokens) <= 4:
        return 0.0
    score = 1.0
    for token in tokens:
        low = fold(token).strip(".")
        if low in NON_NAME_WORDS or low in TITLE_WORDS or low in COMPANY_WORDS or low in STREET_WORDS:
            return 0.0
        if low in NAME_PARTICLES:
            continue
        if not WORD.fullmatch(token):
            return 0.0
        if not token[0].isupper():
            return 0.0
        if len(low) == 1 or (len(low) == 2 and token.endswith(".")):
            score -= 0.15  # an initial
        elif len(low) < 2:
            return 0.0
    if LEGAL_SUFFIX.search(text):
        return 0.0
    return max(score, 0.0)


def strip_postnominals(text: str) -> str:
    text = text.strip(" ,")
    while True:
        stripped = POSTNOMINALS.sub("", text).strip(" ,")
        if stripped == text:
            return text
        text = stripped


def email_name_evidence(text: str, locals_: list[str]) -> float:
    """Does the name agree with an e-mail's local part ('jane.doe', 'jdoe', 'doej')?"""
    tokens = [letters_key(t) for t in strip_postnominals(text).split()]
    tokens = [t for t in tokens if t and t not in HONORIFICS]
    if len(tokens) < 2:
        return 0.0
    best = 0.0
    for local in locals_:
        key = letters_key(local)
        if not key:
            continue
        full = sum(len(t) >= 3 and t in key for t in tokens)
        initials = any(key.startswith(t[0]) for t in tokens)
        if full >= 2:
            best = max(best, 3.0)
        elif full == 1 and initials:
            best = max(best, 2.5)
        elif full == 1:
            best = max(best, 1.5)
    return best


# --- the decision ---------------------------------------------------------------------


def is_noise(c: Candidate) -> bool:
    """Logo fragments and speckles read as text: low confidence, few real words."""
    words = re.findall(r"[^\W\d_]{2,}", c.text)
    letters = sum(ch.isalpha() for ch in c.text)
    if not words or letters < 0.5 * len(c.text.replace(" ", "")):
        return True
    if c.segment.span_conf(c.start, c.end) < 0.45:
        return True
    return max(len(w) for w in words) < 3 and len(words) < 2


def classify(candidates: list[Candidate], emails: list[str], domains: list[str]) -> None:
    """Set ``kind`` on each candidate: name / job_title / department / company / address / None."""
    for c in candidates:
        if is_noise(c):
            c.kind = "noise"
    live = [c for c in candidates if c.kind is None]
    if not live:
        return
    median_height = float(sorted(c.segment.height for c in live)[len(live) // 2])
    card_top = min(c.segment.box[1] for c in live)
    card_bottom = max(c.segment.box[1] + c.segment.box[3] for c in live)
    span = max(card_bottom - card_top, 1)
    locals_ = [e.split("@")[0] for e in emails]
    for c in live:
        words = lower_words(c.text)
        c.scores["address"] = address_score(c.text)
        c.scores["job_title"] = title_score(words)
        c.scores["department"] = department_score(words)
        company, c.method = company_score(c.text, words, domains)
        c.scores["company"] = max(company - 0.5 * c.scores["address"], 0.0) if company else 0.0
        shape = name_shape(c.text)
        if shape:
            size = min(max(c.segment.height / max(median_height, 1) - 1, -0.5), 1.0)
            position = 1 - (c.segment.box[1] - card_top) / span
            evidence = email_name_evidence(c.text, locals_)
            c.scores["name"] = shape + evidence + 0.8 * size + 0.3 * position + 0.2 * c.segment.conf
        else:
            c.scores["name"] = 0.0
    _choose_names(live)
    for c in live:
        if c.kind:
            continue
        best = max(("address", "job_title", "department", "company"), key=lambda k: c.scores[k])
        if c.scores[best] >= 1.0:
            c.kind = best
            if best == "job_title" and c.scores["department"] >= 2.0 and c.scores["job_title"] < 2.0:
                c.kind = "department"
        if c.kind == "job_title" and c.scores["company"] >= 2.5:
            c.kind = "company"
    _titles_below_names(live)
    _settle_companies(live, domains)


def _choose_names(candidates: list[Candidate]) -> None:
    scored = sorted((c for c in candidates if c.scores["name"] > 0), key=lambda c: -c.scores["name"])
    if not scored:
        return
    top = scored[0]
    strongest_other = max(top.scores[k] for k in ("address", "job_title", "company", "department"))
    if top.scores["name"] >= 1.0 and strongest_other < max(2.0, top.scores["name"] - 1):
        top.kind, top.method = "name", "layout+email" if top.scores["name"] >= 3.5 else "layout"
    for other in scored[1:]:  # a second person on the card needs the e-mail's agreement too
        if other.scores["name"] >= 3.8:
            other.kind, other.method = "name", "layout+email"


def _titles_below_names(candidates: list[Candidate]) -> None:
    """The segment right under a name, in a smaller font, is its job title when nothing else claims it."""
    for name in [c for c in candidates if c.kind == "name"]:
        nx, ny, _, nh = name.segment.box
        below = [
            c
            for c in candidates
            if c.segment.box[1] > ny + nh * 0.5
            and c.segment.box[1] - (ny + nh) < 2.5 * name.segment.height
            and abs(c.segment.box[0] - nx) < 3 * name.segment.height
        ]
        below.sort(key=lambda c: c.segment.box[1])
        if (
            below
            and below[0].kind is None
            and not re.search(r"\d", below[0].text)
            and below[0].scores.get("company", 0) == 0
            and 1 <= len(below[0].words) <= 7
            and below[0].segment.height <= name.segment.height * 1.05
        ):
            below[0].kind, below[0].method = "job_title", "below_name"


COMPANY_TAIL_WORDS = {
    "international",
    "university",
    "group",
    "inc",
    "inc.",
    "ltd",
    "ltd.",
    "llc",
    "gmbh",
    "corporation",
    "company",
    "holdings",
    "partners",
    "associates",
    "limited",
    "co.",
    "ag",
}


def _settle_companies(candidates: list[Candidate], domains: list[str]) -> None:
    """Keep the most convincing company (plus any with a legal suffix) and join split names."""
    for c in candidates:
        if c.kind in (None, "job_title", "department") and domains:
            span = _domain_span(c, domains)
            if span:
                c.start, c.end, c.text = span
                c.kind, c.method = "company", "domain_fuzzy"
    companies = [c for c in candidates if c.kind == "company"]
    if not companies:
        _company_fallback(candidates)
        return
    for c in companies:
        below = _next_below(c, candidates)
        if (
            below is not None
            and below.kind in (None, "company")
            and all(
                w == "&" or any(SequenceMatcher(None, w, tail).ratio() >= 0.85 for tail in COMPANY_TAIL_WORDS)
                for w in lower_words(below.text)
            )
        ):
            c.text, c.method = f"{c.text} {below.text}", c.method + "+next_line"
            below.kind = "merged"
    companies = [c for c in candidates if c.kind == "company"]
    best = max(companies, key=lambda c: (c.scores["company"], c.segment.height))
    for c in companies:
        if c is best:
            continue
        contained = letters_key(c.text) in letters_key(best.text) or letters_key(best.text) in letters_key(
            c.text
        )
        if contained or not LEGAL_SUFFIX.search(c.text):
            c.kind = None


def _company_fallback(candidates: list[Candidate]) -> None:
    """No evidence named the company: take a company-word line, else the largest unclaimed short line."""
    options = [c for c in candidates if c.kind is None and c.scores["company"] > 0]
    if options:
        best = max(options, key=lambda c: c.scores["company"])
        best.kind = "company"
        return
    names = [c for c in candidates if c.kind == "name"]
    floor = max((n.segment.height for n in names), default=0) * 0.9
    options = [
        c
        for c in candidates
        if c.kind is None
        and len(c.words) <= 5
        and not re.search(r"\d", c.text)
        and c.segment.height >= floor
        and c.scores["address"] < 1.0
        and c.segment.conf >= 0.6
    ]
    if options:
        best = max(options, key=lambda c: c.segment.height)
        best.kind, best.method = "company", "layout_largest"


def _domain_span(c: Candidate, domains: list[str]) -> tuple[int, int, str] | None:
    """The run of words in ``c`` that spells the e-mail or web domain's name ('CIRCAD' ~ circade.com)."""
    tokens = [(m.start(), m.end(), m.group()) for m in re.finditer(r"\S+", c.text)]
    labels = {letters_key(domain_label(d)) for d in domains}
    for label in labels:
        if len(label) < 3:
            continue
        for i in range(len(tokens)):
            for j in range(i, min(i + 4, len(tokens))):
                key = letters_key(" ".join(t[2] for t in tokens[i : j + 1]))
                if len(key) >= 3 and SequenceMatcher(None, key, label).ratio() >= 0.85:
                    start, end = tokens[i][0], tokens[j][1]
                    return c.start + start, c.start + end, c.text[start:end]
    return None


def _next_below(c: Candidate, candidates: list[Candidate]) -> Candidate | None:
    x, y, w, h = c.segment.box
    options = [
        o
        for o in candidates
        if o is not c
        and 0 <= o.segment.box[1] - (y + h) < 1.5 * c.segment.height
        and min(x + w, o.segment.box[0] + o.segment.box[2]) - max(x, o.segment.box[0]) > 0
    ]
    return min(options, key=lambda o: o.segment.box[1], default=None)


# --- addresses are several segments --------------------------------------------------


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
