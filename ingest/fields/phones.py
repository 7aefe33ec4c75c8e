"""Phone numbers: find, type by the printed label, normalise to E.164.

A number printed on a card is still that card's number even when it is fictional or
outdated, so an unparseable but phone-shaped run of digits is kept with its digits
rather than dropped; the region used for parsing comes from the card itself.
"""

from __future__ import annotations

import re

import phonenumbers

from ingest.fields.contacts import Match
from ingest.fields.segments import Segment
from ingest.fields.vocab import COUNTRIES, COUNTRY_REGION

PHONE = re.compile(
    r"(?P<number>(?:\+|00)?\s?\(?\+?\d[\d\s().\-/]{4,}\d)"
    r"(?:\s?(?P<ext>(?:ext|ex|x|#)\.?\s?\d{1,6}))?",
    re.I,
)
TYPE_LABELS = {
    "work": ["tel", "t", "phone", "ph", "p", "office", "o", "direct", "d", "dir", "main", "work", "w",
             "business", "b", "telephone", "téléphone", "telefon", "telefono", "teléfono", "fon", "voice",
             "landline", "switchboard", "office phone", "head office", "ddi"],
    "mobile": ["mobile", "m", "mob", "cell", "c", "cellular", "hp", "h", "handy", "gsm", "portable", "port",
               "móvil", "movil", "celular", "cel", "mobil", "whatsapp", "mobile phone", "cell phone"],
    "fax": ["fax", "f", "facsimile", "telefax", "fx"],
}  # fmt: skip
LABEL_TYPE = {label: kind for kind, labels in TYPE_LABELS.items() for label in labels}
LABEL_BEFORE = re.compile(r"([A-Za-zé][A-Za-zé .]{0,14}?)\s*[:.|\-]?\s*[(\[]?\s*$")


POSTCODE_CONTEXT = re.compile(
    r"\s*,?\s*(?:" + "|".join(re.escape(c) for c in sorted(COUNTRIES, key=len, reverse=True)) + r")\b", re.I
)


CJK_LABELS = {"電話": "work", "电话": "work", "代表": "work", "直通": "work", "携帯": "mobile",
              "手机": "mobile", "手機": "mobile", "传真": "fax", "傳真": "fax"}  # fmt: skip


def phone_type(prefix: str) -> tuple[str, bool]:
    """Type from the text printed just before a number; ``(type, labelled)``."""
    tail = prefix[-6:].rstrip(" :：.")
    for label, kind in CJK_LABELS.items():
        if tail.endswith(label):
            return kind, True
    m = LABEL_BEFORE.search(prefix[-18:])
    if not m:
        return "other", False
    label = m.group(1).strip(" .").lower()
    for candidate in (label, *label.split()[-1:], *label.split()[:1]):
        if candidate in LABEL_TYPE:
            return LABEL_TYPE[candidate], True
    if "/" in prefix[-12:] and "fax" in prefix[-12:].lower():  # "Tel/Fax"
        return "work", True
    return "other", False


def digits_of(text: str) -> str:
    return re.sub(r"\D", "", text)


def to_e164(number: str, region: str | None) -> tuple[str | None, bool]:
    """Best E.164 reading of a printed number: ``(value, is_valid)``; value None if unparseable.

    A number printed without ``+`` may be a country code without its plus ("81 294 52 5111"),
    but that reading is taken only when it is a valid number: a number cut short by the OCR
    ("770-391-90" on a US card) must not become another country's number ("+77039190").
    """
    text = re.sub(r"^00", "+", number.strip())
    attempts = [(text, region, True)]
    if not text.startswith("+"):
        attempts.append(("+" + digits_of(text), None, False))
    best: tuple[str | None, bool] = (None, False)
    for candidate, reg, may_be_possible in attempts:
        try:
            parsed = phonenumbers.parse(candidate, reg)
        except phonenumbers.NumberParseException:
            continue
        formatted = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
        if phonenumbers.is_valid_number(parsed):
            return formatted, True
        if best[0] is None and may_be_possible and phonenumbers.is_possible_number(parsed):
            best = (formatted, False)
    return best


# A letter O read for a zero inside a number ('98 57 O2', '2O21'): same length, so spans still map
DIGIT_O = re.compile(r"(?<=\d)[Oo](?=[\d\s/.-]|$)|(?<=\d[\s.-])[Oo](?=\d)")


# Postcodes that print like short phone numbers, by region
POSTCODE_SHAPE = {
    "JP": r"\d{3}-\d{4}", "BR": r"\d{5}-?\d{3}", "PL": r"\d{2}-\d{3}", "PT": r"\d{4}-\d{3}",
    "KR": r"\d{3}-\d{3}", "CZ": r"\d{3} \d{2}", "SK": r"\d{3} \d{2}",
}  # fmt: skip


def _shaped_like_postcode(number: str, region: str | None, before: str, labelled: bool) -> bool:
    """The region's postcode shape, unlabelled or after the postal mark ('T' is 〒 misread, not Tel)."""
    if re.search(r"〒\s?$", before):
        return True
    shape = POSTCODE_SHAPE.get(region or "")
    if not (shape and re.fullmatch(shape, number.strip())):
        return False
    return not labelled or bool(re.search(r"(?<![A-Za-z])T$", before))


def find_phones(segment: Segment, region: str | None, taken: list[tuple[int, int]]) -> list[Match]:
    text = DIGIT_O.sub("0", segment.text)
    found: list[Match] = []
    for m in PHONE.finditer(text):
        if any(m.start() < end and start < m.end() for start, end in taken):
            continue
        number = m.group("number").strip(" -./(")
        if number.endswith(")"):
            number = number if "(" in number else number[:-1]
        digits = digits_of(number)
        if not 6 <= len(digits) <= 16:
            continue
        before = text[: m.start()]
        kind, labelled = phone_type(before if before.strip() else segment.left_text)
        value, valid = to_e164(number, _printed_country(text[m.end() :]) or region)
        # Postcodes, dates and reference numbers are digit runs too: require some evidence.
        if not (labelled or valid or len(digits) >= 9 or number.lstrip().startswith("+")):
            continue
        if re.fullmatch(r"\d{4}[-/.]\d{2}[-/.]\d{2}|\d{2}[-/.]\d{2}[-/.]\d{4}", number):
            continue
        if not labelled and re.fullmatch(r"\d{5}-\d{4}", number.strip()):
            continue  # a US ZIP+4 ('CALIFORNIA 94305-9505'), never written so as a phone number
        if not labelled and len(digits) <= 8 and POSTCODE_CONTEXT.match(text[m.end() :]):
            continue  # "Shimane, 690-0826 JAPAN": a postcode before its country or city
        if not valid and _shaped_like_postcode(number, region, before, labelled):
            continue  # '〒103-0013' (often read 'T103-0013'), '09682-828' in Brazil: a postcode
        method = "regex_label" if labelled else "regex"
        extension = digits_of(m.group("ext") or "") or None
        if value is None:  # nothing phonenumbers accepts for the card's region: the number as printed
            value, method = re.sub(r"\s+", " ", number.strip()), method + "_unvalidated"
        found.append(Match(segment, m.start(), m.end(), value, method, kind, extension, valid))
    found += _vanity_numbers(segment, region, taken, found)
    return found


PRINTED_COUNTRY = re.compile(r"\s*\(?\s*([^\W\d_][\w. ]{1,24}?)\s*\)?\s*(?:$|[,;|/])")


def _printed_country(after: str) -> str | None:
    """A number followed by its own country ('650-468-7208 (U.S.A.)') belongs to that country."""
    m = PRINTED_COUNTRY.match(after)
    return COUNTRY_REGION.get(m.group(1).strip().lower()) if m else None


VANITY = re.compile(r"(?P<number>\+?1?[\s.-]?\(?8[0-9]{2}\)?[\s.-]\d{0,3}[\s.-]?[A-Z]{4,7})\b")


def _vanity_numbers(
    segment: Segment, region: str | None, taken: list[tuple[int, int]], found: list[Match]
) -> list[Match]:
    """'Phone: 1-888-VINTAGE': a toll-free number spelt in letters, after a phone label."""
    out = []
    used = taken + [(f.start, f.end) for f in found]
    for m in VANITY.finditer(segment.text):
        if any(m.start() < end and start < m.end() for start, end in used):
            continue
        kind, labelled = phone_type(segment.text[: m.start()])
        if not labelled:
            continue
        value, valid = to_e164(m.group("number"), region or "US")
        if value and valid:
            out.append(Match(segment, m.start(), m.end(), value, "regex_label_vanity", kind, None, True))
    return out


def repair_plus_read_as_four(matches: list[Match], region: str | None) -> None:
    """'+212' is often read '4212': fix it when another number on the card has that country code."""
    codes = {m.raw.lstrip()[1:4] for m in matches if m.raw.lstrip().startswith("+")}
    for m in matches:
        raw = m.raw.lstrip()
        if raw.startswith("4") and not m.valid:
            for code in codes:
                if digits_of(raw)[1:].startswith(digits_of(code)) and code:
                    value, valid = to_e164("+" + raw[1:], region)
                    if value:
                        m.value, m.method = value, m.method + "_repaired_plus"
                        m.valid = valid
                    break
