"""Companies: which leftover line names the organisation, and how much of it.

Evidence, strongest first: a legal suffix, agreement with the e-mail or web domain (the
name, its letters, or its initials), company words; then layout (a large line alone, a
logo wordmark). A company is never a label, a piece of a contact value or a department;
a short logo gives way to the full name printed elsewhere on the card ('SAP' → 'SAP
Maghreb', 'JLL' → 'Jones Lang LaSalle'), and a name cut at '&' or before 'for'/'of'
goes on on the next line.
"""

from __future__ import annotations

import re
from difflib import SequenceMatcher

from ingest.fields.candidates import Candidate, letters_key, lower_words
from ingest.fields.vocab import COMPANIES_NEVER_ALONE, COMPANY_WORDS, LEGAL_SUFFIX


def company_score(text: str, words: list[str], domains: list[str]) -> tuple[float, str]:
    score, method = 0.0, ""
    if LEGAL_SUFFIX.search(text) and _has_name_word(text):
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


def _has_name_word(text: str) -> bool:
    """A legal form needs a name beside it: 'LP LP EP' (logo specks) is not a company."""
    stripped = LEGAL_SUFFIX.sub(" ", text + " ")
    return bool(re.search(r"[^\W\d_]{3,}", stripped))


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


CUT_AT_AND = re.compile(r"(?:&|\band)\s*$")
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


def settle_companies(candidates: list[Candidate], domains: list[str]) -> None:
    """Keep the most convincing company (plus any with a legal suffix) and join split names."""
    for c in candidates:
        if c.kind in (None, "job_title", "department") and domains:
            span = _domain_span(c, domains)
            if span:
                # 'SAP Maghreb' (sap.com) is the company as printed; 'Welcome to CIRCADE' is not
                whole = span[0] == c.start and len(c.words) <= len(span[2].split()) + 3
                whole = whole and all(PLAIN_WORD.fullmatch(w) for w in c.words)
                if not (whole and can_be_company(c)):
                    c.start, c.end, c.text = span
                c.kind, c.method = "company", "domain_fuzzy"
    for c in candidates:
        if c.kind == "company" and not can_be_company(c):
            c.kind = None
    companies = [c for c in candidates if c.kind == "company"]
    if not companies:
        _company_fallback([c for c in candidates if c.kind is not None or can_be_company(c)])
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
        elif (
            below is not None
            and below.kind in (None, "company", "address", "department")
            and (CUT_AT_AND.search(c.text) or CONTINUES.match(below.text))
        ):
            # 'Ipsos Morocco &' / 'Algeria', 'Royal United Services Institute' / 'for Defence and ...':
            # a name cut at '&' or before a lower-case 'for', 'of', 'and' goes on on the next line
            c.text, c.method = f"{c.text} {below.text}", c.method + "+next_line"
            below.kind = "merged"
    companies = [c for c in candidates if c.kind == "company"]
    best = max(companies, key=lambda c: (c.scores["company"], c.segment.height))
    full = _full_name(best, candidates)
    if full is not None:
        best.kind = None
        full.kind, full.method = "company", (best.method or "layout") + "+full_name"
        best = full
        companies = [c for c in candidates if c.kind == "company"]
    for c in companies:
        if c is best:
            continue
        contained = letters_key(c.text) in letters_key(best.text) or letters_key(best.text) in letters_key(
            c.text
        )
        if contained or not LEGAL_SUFFIX.search(c.text):
            c.kind = None


PLAIN_WORD = re.compile(r"[^\W\d_][\w&.'’-]*,?|&")  # a word of a printed name, not OCR specks ('%,', '>.')
CONTINUES = re.compile(r"(?:for|of|and|de|du|des|für|und|&)\s", re.UNICODE)  # lower case: not a new name
MINOR_WORDS = {"of", "for", "and", "the", "de", "du", "des", "la", "le", "&", "und", "für"}


def _initials(text: str) -> str:
    return "".join(w[0] for w in lower_words(text) if w and w not in MINOR_WORDS)


def _full_name(best: Candidate, candidates: list[Candidate]) -> Candidate | None:
    """The full name a logo or short form stands for, printed elsewhere on the card.

    'SAP' -> 'SAP Maghreb' (the short form and more words), 'JLL' -> 'Jones Lang LaSalle' (its
    initials). Only lines that are nothing else: no digits, no address, not a name.
    """
    short = lower_words(best.text)
    if not short or len(short) > 2:
        return None
    key = letters_key(best.text)
    options = []
    for c in candidates:
        if c is best or c.kind not in (None, "company", "department") or re.search(r"\d|@", c.text):
            continue
        if c.scores.get("address", 0) >= 1.0 or not can_be_company(c):
            continue
        words = lower_words(c.text)
        extends = len(short) < len(words) <= len(short) + 4 and words[: len(short)] == short
        extends = extends and c.scores.get("name", 0) < 1.0
        spells = len(key) >= 2 and len(words) >= 2 and _initials(c.text) == key  # even name-like
        if extends or spells:
            options.append(c)
    return max(options, key=lambda c: (bool(LEGAL_SUFFIX.search(c.text)), len(c.text)), default=None)


LABEL_WORDS = {"tel", "tel.", "fax", "email", "e-mail", "mail", "url", "web", "website", "phone", "mobile",
               "address", "www", "http", "https", "cell", "office", "direct", "main", "skype"}  # fmt: skip
JUNK_EDGE = re.compile(r"^(?:[^\w&(\"'“]|_|[a-z]\s)+|(?:\s[a-z]|[^\w.)\"'”]|_)+$")


def clean_company(text: str) -> str:
    """Trim what OCR glued to a company's edges ('@ Hitachi, Ltd.', '_ CIRCADE', 'GROUPE SOS i')."""
    previous = None
    while previous != text:
        previous, text = text, JUNK_EDGE.sub("", text).strip(" ,;:|")
    return text


def can_be_company(c: Candidate) -> bool:
    """A company is never a label, a piece of a contact value, a bare country, or a department."""
    words = lower_words(c.text)
    if not words or all(w.strip(":.") in LABEL_WORDS for w in words):
        return False
    if re.search(r"@|https?:|www\.|\w:\S", c.text):
        return False
    if " ".join(words).strip(" ,.") in COMPANIES_NEVER_ALONE:
        return False  # a country or state printed on its own line ends an address, it names no company
    return c.scores.get("department", 0) < 2.0


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
