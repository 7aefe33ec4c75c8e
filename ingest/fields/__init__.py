"""Stage 4, fields: OCR segments in, typed field values with their evidence out."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable

import phonenumbers

from ingest.fields.addresses import strip_address_label
from ingest.fields.agreement import reconcile_domains
from ingest.fields.contacts import (
    Match,
    domain_of,
    find_emails,
    find_social_handles,
    find_websites,
    region_from_domain,
    repair_country_tld,
    repair_local_part,
)
from ingest.fields.entities import (
    TRAILING_LABEL,
    Candidate,
    address_score,
    classify,
    clean_company,
    company_score,
    email_name_evidence,
    group_addresses,
    is_latin,
    lower_words,
    name_shape,
    strip_postnominals,
    title_score,
)
from ingest.fields.native import compact_cjk, find_native
from ingest.fields.phones import find_phones, repair_plus_read_as_four
from ingest.fields.segments import Segment, split_lines
from ingest.fields.vocab import COUNTRY_REGION, TITLE_WORDS
from ingest.schema import FIELD_NAMES, FieldValue

__all__ = ["extract_fields", "infer_region", "split_lines"]

BoxMapper = Callable[[tuple[int, int, int, int]], list[int]]
NATIVE_FIELD = {"name": "names", "company": "companies", "address": "addresses"}
NATIVE_FIELD = {"name": "names", "company": "companies", "address": "addresses"}
UNVALIDATED_PHONE_FACTOR = 0.5  # a number phonenumbers cannot place: kept as printed, flagged as doubtful
KIND_TO_FIELD = {
    "name": "names",
    "job_title": "job_titles",
    "department": "departments",
    "company": "companies",
}


def infer_region(segments: list[Segment], emails: list[str], websites: list[str], default: str) -> str:
    """The card's main country for phone parsing: a vote of address countries, +codes and country TLDs.

    Cards often list offices abroad, so the country named most often wins, not the first one.
    """
    text = "\n".join(s.text for s in segments).casefold()
    votes: Counter[str] = Counter()
    for name, region in COUNTRY_REGION.items():
        if len(name) > 3:
            votes[region] += len(re.findall(r"(?<![a-z])" + re.escape(name) + r"(?![a-z])", text))
    for code in re.findall(r"(?<![\d+])\+\s?(\d{1,3})(?=[\s(.\-])", text):
        calling = phonenumbers.region_code_for_country_code(int(code))
        if calling and calling != "ZZ":
            votes[calling] += 1
    for value in [*emails, *websites]:
        tld = region_from_domain(domain_of(value))
        if tld:
            votes[tld] += 1
    if not votes or max(votes.values()) == 0:
        return _region_from_script(text) or default
    return votes.most_common(1)[0][0]


def _region_from_script(text: str) -> str | None:
    """No country printed in Latin letters: the card's own script tells (kana or 株式会社: Japan)."""
    if re.search(r"[\u3040-\u30ff]|株式会社|有限会社|〒", text):
        return "JP"
    if re.search(r"[\uac00-\ud7af]", text):
        return "KR"
    return None


def extract_fields(
    segments: list[Segment], *, default_region: str, to_original: BoxMapper
) -> tuple[dict[str, list[FieldValue]], str]:
    """Find every field on the card; returns the fields and the region used for phones."""
    fields: dict[str, list[FieldValue]] = {name: [] for name in FIELD_NAMES}
    taken: dict[int, list[tuple[int, int]]] = {s.index: [] for s in segments}

    def emit(field_name: str, match: Match, confidence_factor: float = 1.0) -> None:
        seg = match.segment
        fields[field_name].append(
            FieldValue(
                value=match.value,
                raw=match.raw.strip(),
                confidence=round(seg.span_conf(match.start, match.end) * confidence_factor, 3),
                bbox=to_original(seg.span_box(match.start, match.end)),
                method=match.method,
                type=match.kind if field_name in ("phones", "social") else None,
                extension=match.extension,
            )
        )
        taken[seg.index].append((match.start, match.end))

    emails = [m for s in segments for m in find_emails(s)]
    for m in _unique(emails):
        emit("emails", m)
    for s in segments:
        for m in _unique(find_websites(s, taken[s.index])):
            target = "social" if m.kind else "websites"
            if any(v.value.casefold() == m.value.casefold() for v in fields[target]):
                taken[s.index].append((m.start, m.end))  # printed twice: one value
                continue
            emit(target, m)
        for m in find_social_handles(s):
            if not any(m.start < end and start < m.end for start, end in taken[s.index]):
                emit("social", m, 0.9)
    region = infer_region(
        segments, [v.value for v in fields["emails"]], [v.value for v in fields["websites"]], default_region
    )
    if region != default_region:
        for value in fields["emails"] + fields["websites"]:
            repaired = repair_country_tld(value.value, region)
            if repaired:
                value.value, value.method = repaired, value.method + "+tld_repair"
    phones = [m for s in segments for m in find_phones(s, region, taken[s.index])]
    repair_plus_read_as_four(phones, region)
    for m in _unique(phones):
        emit("phones", m, 1.0 if m.valid else (0.8 if m.value.startswith("+") else UNVALIDATED_PHONE_FACTOR))

    locals_ = [v.value.split("@")[0] for v in fields["emails"]]
    candidates = _leftovers(segments, taken, locals_)
    domains = [domain_of(v.value) for v in fields["emails"] + fields["websites"]]
    classify(candidates, [v.value for v in fields["emails"]], domains)
    for c in candidates:
        if c.kind in KIND_TO_FIELD:
            chosen = strip_postnominals(c.text) if c.kind == "name" else c.text.strip(" ,;:|")
            if c.kind == "company":
                chosen = clean_company(chosen)
                if not chosen:
                    continue
            field_name = KIND_TO_FIELD[c.kind]
            if any(v.value.casefold() == chosen.casefold() for v in fields[field_name]):
                continue  # printed twice (both sides, or a vertical repeat): one value
            fields[field_name].append(_entity_value(c, chosen, c.method or "vocabulary", to_original))
    card_text = "\n".join(s.text for s in segments)
    reconcile_domains(fields["emails"], fields["websites"], [v.value for v in fields["companies"]], card_text)
    for email in fields["emails"]:
        names = [n.value for n in fields["names"] if n.confidence > email.confidence]
        repaired = repair_local_part(email.value, names, card_text.replace(email.raw, ""))
        if repaired:
            email.value, email.method = repaired, email.method + "+name_repair"
    for native in find_native(segments):
        seg = native.segment
        fields[NATIVE_FIELD[native.kind]].append(
            FieldValue(
                value=compact_cjk(seg.text),
                raw=seg.text,
                confidence=round(seg.conf * 0.9, 3),
                bbox=to_original(seg.box),
                method="native_script",
                script=native.script,
            )
        )
    for group in group_addresses(candidates):
        raw = ", ".join(strip_address_label(c.text).strip(" ,") for c in group)
        boxes = [c.segment.span_box(c.start, c.end) for c in group]
        x0 = min(b[0] for b in boxes)
        y0 = min(b[1] for b in boxes)
        x1 = max(b[0] + b[2] for b in boxes)
        y1 = max(b[1] + b[3] for b in boxes)
        conf = sum(c.segment.span_conf(c.start, c.end) for c in group) / len(group)
        fields["addresses"].append(
            FieldValue(
                value=raw,
                raw="\n".join(c.text for c in group),
                confidence=round(conf * 0.9, 3),
                bbox=to_original((x0, y0, x1 - x0, y1 - y0)),
                method="layout_lines",
            )
        )
    for name in TEXT_FIELDS:
        for v in fields[name]:
            v.value = re.sub(r"\s{2,}", " ", v.value.translate(TYPOGRAPHIC)).strip()
    return fields, region


# Typographic apostrophes and a stray underscore glued to a word ('1PQ_'): one spelling, so
# that a search, a dedupe or a correction finds "Queen's Road" however the card printed it.
TYPOGRAPHIC = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "_": " "})
TEXT_FIELDS = ("names", "job_titles", "departments", "companies", "addresses")


def _entity_value(c: Candidate, value: str, method: str, to_original: BoxMapper) -> FieldValue:
    certainty = min(1.0, 0.5 + 0.15 * max(c.scores.values(), default=0))
    return FieldValue(
        value=value,
        raw=c.text,
        confidence=round(c.segment.span_conf(c.start, c.end) * certainty, 3),
        bbox=to_original(c.segment.span_box(c.start, c.end)),
        method=method,
    )


def _unique(matches: list[Match]) -> list[Match]:
    seen: set[str] = set()
    out = []
    for m in matches:
        key = m.value.casefold()
        if key not in seen:
            seen.add(key)
            out.append(m)
    return out


def _leftovers(
    segments: list[Segment], taken: dict[int, list[tuple[int, int]]], locals_: list[str]
) -> list[Candidate]:
    """What remains of each segment once contact details (and their labels) are cut out."""
    candidates = []
    for s in segments:
        spans = sorted(taken[s.index])
        pieces, pos = [], 0
        for start, end in [*spans, (len(s.text), len(s.text))]:
            piece = s.text[pos:start]
            pieces.append((pos, start, piece))
            pos = max(pos, end)
        for start, _end, piece in pieces:
            for offset, part in _split_phrases(piece, start, locals_):
                text = CREDENTIAL.sub("", EDGE_JUNK.sub("", _strip_label(part) if spans else part))
                if len(text) < 2 or not is_latin(text) or sum(ch.isalpha() for ch in text) < 2:
                    continue
                begin = s.text.find(text, offset)
                candidates.append(Candidate(s, text, begin, begin + len(text)))
    return candidates


# Tokens of punctuation alone at a line's edges are specks and rules read as text (': title').
_JUNK = r"[:;,.\-–—_=~*#¥$«»|\\/'\"`“”‘’!?^°•·]+"
EDGE_JUNK = re.compile(rf"^(?:{_JUNK}\s+)+|(?:\s+{_JUNK})+$")
# A licence or registration number after a title ('Owner, License #M45678', 'Realtor DRE# 0123'):
# printed for the regulator, it is part of no field.
CREDENTIAL = re.compile(
    r"[,\s]+(?:licen[cs]e|lic\.?|reg\.?|registration|dre|nmls|cal\s?bre)\s*(?:no\.?|number|#)?\s*[:#]?\s*"
    r"[A-Z]{0,3}[-\s]?\d[\w-]*\s*$",
    re.I,
)
SEPARATOR = re.compile(r"\s*(?:[|•·]|\s-\s|\s–\s)\s*")


def _split_phrases(piece: str, offset: int, locals_: list[str]) -> list[tuple[int, str]]:
    """Split at printed separators ('|', '•'), and 'Jane Doe, Owner' after a name."""
    if address_score(piece) >= 1.5 and re.search(r"\d", piece):
        # addresses print their own separators ("Rue X 3 - 1000 Brussels"); 'CEO Real Estate |
        # International action' has a street word but no number: two roles
        return [(offset, piece.strip(" ,;|·•-–"))]
    parts: list[tuple[int, str]] = []
    pos = 0
    for m in [*SEPARATOR.finditer(piece), None]:
        end = m.start() if m else len(piece)
        chunk = piece[pos:end]
        head, comma, tail = chunk.partition(",")
        title_then_company = (
            title_score(lower_words(head)) >= 1.0 and company_score(tail, lower_words(tail), [])[0] >= 1.0
        )  # 'Grade Teacher, Mount Pilot Elementary School'
        if (
            comma
            and tail.strip()
            and (title_then_company or (name_shape(head) and strip_postnominals(chunk) == chunk.strip(" ,")))
        ):
            parts.append((offset + pos, head.strip(" ,;-–")))
            parts.append((offset + pos + len(head) + 1, tail.strip(" ,;-–")))
        else:
            parts.append((offset + pos, chunk.strip(" ,;-–")))
        pos = m.end() if m else len(piece)
    return [split for o, t in parts if t for split in split_name_title(o, t, locals_)]


def split_name_title(offset: int, text: str, locals_: list[str]) -> list[tuple[int, str]]:
    """'Bernard Desarnauts Founder & CEO' printed on one line: the name, then the title.

    Only where the card's e-mail agrees with the name part ('bdesarnauts@'): 'Trade Missions
    Assistant' is one title, though its first words look like a name.
    """
    tokens = list(re.finditer(r"\S+", text))
    for k in (2, 3):
        if len(tokens) <= k:
            break
        head, tail = text[: tokens[k - 1].end()], text[tokens[k].start() :]
        first = tokens[k].group().lower().strip(",.&")
        if (
            first in TITLE_WORDS
            and name_shape(head) >= 0.7
            and title_score(lower_words(tail)) >= 1.0
            and email_name_evidence(head, locals_) >= 1.5
        ):
            return [(offset, head), (offset + tokens[k].start(), tail)]
    return [(offset, text)]


def _strip_label(text: str) -> str:
    return TRAILING_LABEL.sub("", text).strip(" ,;:|")
