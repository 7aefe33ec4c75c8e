"""The field parsers on synthetic text, without OCR: each rule as a specification.

Words are laid out on lines with boxes the way tesseract reports them (one text height per
line, a space's width between words), so the layout rules (segments, sizes, positions) see
what they would see on a card.
"""

from __future__ import annotations

import pytest

from ingest.fields import extract_fields, infer_region, split_lines
from ingest.fields.contacts import domain_of, find_emails, find_websites, region_from_domain
from ingest.fields.phones import find_phones, phone_type, to_e164
from ingest.fields.segments import Segment
from ingest.ocr import Line, Word

LETTER_W = 10  # pixels per letter in the synthetic layout


def line(text: str, *, y: int, height: int = 20, x: int = 20, gaps: dict[int, int] | None = None) -> Line:
    """One OCR line of ``text``; ``gaps={word index: extra pixels}`` widens the gap before a word."""
    words, cursor = [], x
    for i, word in enumerate(text.split()):
        cursor += (gaps or {}).get(i, 0)
        width = LETTER_W * len(word)
        words.append(Word(word, 0.95, (cursor, y, width, height), 1, (1, 1, y)))
        cursor += width + LETTER_W
    return Line(words)


def card(*rows: str | tuple[str, int]) -> list[Segment]:
    """Segments of a card: each row is its text, or (text, letter height) for larger print."""
    lines, y = [], 20
    for row in rows:
        text, height = (row, 20) if isinstance(row, str) else row
        lines.append(line(text, y=y, height=height))
        y += height + 15
    return split_lines(lines)


def fields_of(*rows: str | tuple[str, int], region: str = "US") -> dict[str, list[str]]:
    found, _ = extract_fields(card(*rows), default_region=region, to_original=lambda box: list(box))
    return {name: [v.value for v in values] for name, values in found.items()}


def segment(text: str) -> Segment:
    return split_lines([line(text, y=10)])[0]


# --- segments ---------------------------------------------------------------------------------


def test_a_wide_gap_splits_a_line_into_two_segments() -> None:
    segments = split_lines([line("Jane Doe Inspire Things", y=10, gaps={2: 200})])
    assert [s.text for s in segments] == ["Jane Doe", "Inspire Things"]
    assert segments[1].left_text == "Jane Doe"


def test_segments_are_ordered_top_to_bottom_then_left_to_right() -> None:
    segments = split_lines([line("second", y=100), line("first", y=10), line("right", y=100, x=600)])
    assert [s.text for s in segments] == ["first", "second", "right"]


def test_a_span_box_covers_only_the_words_of_the_span() -> None:
    seg = segment("Tel +1 415 555 0134")
    start = seg.text.index("+1")
    x, _, w, _ = seg.span_box(start, len(seg.text))
    assert x == seg.words[1].box[0] and x + w == seg.words[-1].box[0] + seg.words[-1].box[2]


# --- phones -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prefix", "kind"),
    [
        ("Tel: ", "work"),
        ("T ", "work"),
        ("Mobile ", "mobile"),
        ("M: ", "mobile"),
        ("Fax ", "fax"),
        ("", "other"),
    ],
)
def test_a_phone_is_typed_by_the_label_printed_before_it(prefix: str, kind: str) -> None:
    assert phone_type(prefix)[0] == kind


def test_a_national_number_is_read_in_the_cards_region() -> None:
    assert to_e164("(415) 555-0134", "US")[0] == "+14155550134"  # a fictional 555 number: kept, not valid
    assert to_e164("020 7946 0958", "GB") == ("+442079460958", True)


def test_a_number_with_its_own_country_code_ignores_the_cards_region() -> None:
    assert to_e164("+44 20 7946 0958", "US") == ("+442079460958", True)


def test_a_00_prefix_is_an_international_prefix() -> None:
    assert to_e164("0044 20 7946 0958", "US")[0] == "+442079460958"


def test_find_phones_keeps_the_label_type_and_the_extension() -> None:
    found = find_phones(segment("Tel +44 20 7946 0958 ext 12"), "GB", [])
    assert [(m.value, m.kind, m.extension) for m in found] == [("+442079460958", "work", "12")]


def test_a_date_is_not_a_phone() -> None:
    assert find_phones(segment("Since 2019-05-14"), "US", []) == []


def test_a_postcode_before_a_country_is_not_a_phone() -> None:
    assert find_phones(segment("Matsue, Shimane 690-0826 Japan"), "JP", []) == []


# --- e-mails and websites ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "email"),
    [
        ("jane.doe@example.com", "jane.doe@example.com"),
        ("E: jane.doe@example.com", "jane.doe@example.com"),
        ("jane.doe©example.com", "jane.doe@example.com"),
        ("jane.doe (at) example.com", "jane.doe@example.com"),
        ("jane.doe@example .com", "jane.doe@example.com"),
    ],
    ids=["plain", "labelled", "copyright-sign", "spelled-at", "space-before-tld"],
)
def test_an_email_is_found_and_repaired_from_common_misreadings(text: str, email: str) -> None:
    assert [m.value for m in find_emails(segment(text))] == [email]


def test_a_website_is_found_with_or_without_its_scheme() -> None:
    assert [m.value.lower() for m in find_websites(segment("www.example.co.uk"), [])] == ["www.example.co.uk"]
    assert [m.value for m in find_websites(segment("https://example.org/team"), [])] == [
        "https://example.org/team"
    ]


def test_a_social_profile_url_is_typed_by_its_network() -> None:
    found = find_websites(segment("linkedin.com/in/janedoe"), [])
    assert [(m.value, m.kind) for m in found] == [("linkedin.com/in/janedoe", "linkedin")]


@pytest.mark.parametrize(
    ("value", "region"), [("jane@example.co.uk", "GB"), ("www.example.de", "DE"), ("x@example.com", None)]
)
def test_a_country_tld_names_the_region(value: str, region: str | None) -> None:
    assert region_from_domain(domain_of(value)) == region


def test_the_region_is_the_country_named_most_often_on_the_card() -> None:
    segments = card("1 Rue de Rivoli, 75001 Paris, France", "Tel +33 1 42 60 00 00", "London office")
    assert infer_region(segments, ["jane@example.fr"], [], "US") == "FR"


def test_the_default_region_stands_when_the_card_names_none() -> None:
    assert infer_region(card("Jane Doe", "Sales"), [], [], "CA") == "CA"


# --- the whole card ----------------------------------------------------------------------------


def test_a_simple_card_gives_every_field_its_value() -> None:
    fields = fields_of(
        ("Jane Doe", 34),
        "Head of Procurement",
        ("Example Widgets Ltd", 26),
        "jane.doe@examplewidgets.com",
        "Tel +44 20 7946 0958",
        "www.examplewidgets.com",
        region="GB",
    )
    assert fields["names"] == ["Jane Doe"]
    assert fields["job_titles"] == ["Head of Procurement"]
    assert fields["companies"] == ["Example Widgets Ltd"]
    assert fields["emails"] == ["jane.doe@examplewidgets.com"]
    assert fields["phones"] == ["+442079460958"]
    assert [w.lower() for w in fields["websites"]] == ["www.examplewidgets.com"]


def test_a_value_printed_twice_is_one_value() -> None:
    fields = fields_of(("Jane Doe", 34), "jane@example.com", ("Jane Doe", 34))
    assert fields["names"] == ["Jane Doe"]


def test_every_value_carries_its_raw_text_box_and_confidence() -> None:
    found, _ = extract_fields(
        card(("Jane Doe", 34), "jane@example.com"), default_region="US", to_original=lambda box: list(box)
    )
    email = found["emails"][0]
    assert email.raw == "jane@example.com" and 0 < email.confidence <= 1 and len(email.bbox) == 4
