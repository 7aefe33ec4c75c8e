"""Names, job titles, departments, companies and addresses: fields without a syntax.

These come from layout and vocabulary: a segment's words, its size relative to the rest
of the card, its position, its neighbours, and agreement with the card's e-mail and web
domain. Each segment left over after contact details is scored for every kind, and the
scores decide; the method string records which evidence won.
"""

from __future__ import annotations

import re

from ingest.fields.addresses import group_addresses
from ingest.fields.candidates import TRAILING_LABEL, WORD, Candidate, fold, is_latin, letters_key, lower_words
from ingest.fields.companies import (
    can_be_company,
    clean_company,
    company_score,
    domain_label,
    settle_companies,
)
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

__all__ = [
    "TRAILING_LABEL", "Candidate", "address_score", "can_be_company", "classify", "clean_company",
    "company_score", "domain_label", "email_name_evidence", "fold", "group_addresses", "is_latin",
    "letters_key", "lower_words", "name_shape", "strip_postnominals", "title_score",
]  # fmt: skip

# --- scoring each kind ---------------------------------------------------------------


def address_score(text: str) -> float:
    words = lower_words(text)
    low = fold(text)
    score = 0.0
    if US_STATE_ZIP.search(text):
        score += 2.5
    if POSTCODE.search(text) and re.search(r"[A-Za-z]{3,}", text):
        score += 1.0
    streets = any(w in STREET_WORDS or (len(w) > 4 and w[:-1] in STREET_WORDS) for w in words)  # "Boulevards"
    if streets or re.search(r"\w-(?:ku|shi|cho|chome|machi|gun|ken)\b", low):
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
    """Title words, also inside a hyphenated coinage ('yogurt-in-chief', 'Co-Founder')."""
    hits = sum(w in TITLE_WORDS or any(p in TITLE_WORDS for p in w.split("-")[1:]) for w in words)
    if not hits:
        return 0.0
    return 1.0 + 0.5 * hits - 0.15 * max(0, len(words) - 5)


def department_score(words: list[str]) -> float:
    if any(w in STRONG_DEPARTMENT_WORDS for w in words):
        return 2.0
    return 0.6 * sum(w in DEPARTMENT_WORDS for w in words)


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


_POSTCODE = r"(?:\d{3}-\d{4}|\d{5}(?:-\d{4})?|\d{2}-\d{3}|\d{4,6})"
_PLACE = r"[^\W\d_][^\W\d]{2,30}"
PLACE_AND_POSTCODE = re.compile(rf"{_PLACE}[\s,]+{_POSTCODE}|{_POSTCODE}[\s,]+{_PLACE}")


SPLIT_WORD = re.compile(r"\b([A-Z]) ([a-z]{2,})\b")  # an initial is followed by a capital, not 'urata'


def is_noise(c: Candidate) -> bool:
    """Logo fragments and speckles read as text: low confidence, few real words."""
    line = c.text.strip(" ,.")
    if US_STATE_ZIP.fullmatch(line) or PLACE_AND_POSTCODE.fullmatch(line):
        return False  # 'LA 12329', 'Shimane 690-0826' under a street: an address line, few letters or not
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
        fixed = capital_i_read_as_l(c.text)
        if fixed != c.text and name_shape(fixed) > name_shape(c.text):
            c.text, c.method = fixed, "capital_i"
        rejoined = SPLIT_WORD.sub(r"\1\2", c.text)  # 'Kiichi M urata': a space OCR put inside a word
        if rejoined != c.text and name_shape(rejoined) > name_shape(c.text):
            c.text, c.method = rejoined, "rejoined"
        words = lower_words(c.text)
        c.scores["address"] = address_score(c.text)
        c.scores["job_title"] = title_score(words)
        c.scores["department"] = department_score(words)
        company, c.method = company_score(c.text, words, domains)
        c.scores["company"] = max(company - 0.5 * c.scores["address"], 0.0) if company else 0.0
        shape = name_shape(c.text)
        if not shape and c.text.islower() and email_name_evidence(c.text, locals_) >= 1.5:
            # an all-lower-case design ('carol soh'): a name only where the e-mail agrees
            shape = 0.7 * name_shape(c.text.title())
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
        if best == "address" and not re.search(r"\d", c.text):
            # 'Intelligent Sensing Systems Unit Leader', 'Public Sector Sales': a street-ish word
            # ('unit', 'sector') without a number loses to a title, department or company as strong
            other = max(("job_title", "department", "company"), key=lambda k: c.scores[k])
            if c.scores[other] >= max(1.0, c.scores["address"] - 0.5):
                best = other
        if c.scores[best] >= 1.0:
            c.kind = best
            if best == "job_title" and c.scores["department"] >= 2.0 and c.scores["job_title"] < 2.0:
                c.kind = "department"
        if c.kind == "job_title" and c.scores["company"] >= 2.5:
            c.kind = "company"
    _titles_below_names(live)
    _roles_below_titles(live)
    settle_companies(live, domains)


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


def capital_i_read_as_l(text: str) -> str:
    """'lan Goldsmith', 'lgor Petrov': a capital I at a word's start read as a lower-case l."""
    return re.sub(r"\bl(?=[a-z]{2,}\b)(?!a\b|e\b|es\b)", "I", text) if re.search(r"\b[A-Z]", text) else text


def _roles_below_titles(candidates: list[Candidate]) -> None:
    """A second role line printed right under a title in the same type ('Lodging Development - Africa')."""
    for title in [c for c in candidates if c.kind == "job_title"]:
        tx, ty, _, th = title.segment.box
        height = title.segment.height
        below = sorted(
            (
                c
                for c in candidates
                if 0 <= c.segment.box[1] - (ty + th) < 1.2 * height
                and abs(c.segment.box[0] - tx) < 1.5 * height
                and abs(c.segment.height - height) <= 0.2 * height
            ),
            key=lambda c: (c.segment.box[1], c.start),
        )
        pieces = [c for c in below if below and c.segment is below[0].segment]
        if not pieces or any(p.kind is not None for p in pieces):
            continue
        text = pieces[0].segment.text[pieces[0].start : pieces[-1].end]  # rejoin a split at its dash
        if (
            not re.search(r"\d|@", text)
            and 2 <= len(text.split()) <= 6
            and all(p.scores.get("company", 0) == 0 and p.scores.get("address", 0) < 1.0 for p in pieces)
            and (department_score(lower_words(text)) > 0 or re.search(r"\s[-–&]\s|\band\b", text, re.I))
        ):
            first = pieces[0]
            first.text, first.end = text, pieces[-1].end
            first.kind, first.method = "department", "below_title"
            for other in pieces[1:]:
                other.kind = "merged"


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
