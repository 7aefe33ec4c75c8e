"""Phones that phonenumbers cannot validate for the card's region keep their printed form."""

from __future__ import annotations

from collections.abc import Callable

from ingest.fields.phones import find_phones, to_e164
from ingest.fields.segments import Segment


def test_a_number_cut_short_is_not_given_another_countrys_code() -> None:
    value, valid = to_e164("770-391-90", "US")
    assert not valid
    assert value is None or not value.startswith("+7")


def test_a_country_code_printed_without_its_plus_is_still_read_when_valid() -> None:
    assert to_e164("81 3 5205 6455", "US") == ("+81352056455", True)


def test_an_unvalidated_number_keeps_its_raw_text_and_is_marked(segment: Callable[[str], Segment]) -> None:
    [match] = find_phones(segment("Tel 770-391-90"), "US", [])
    assert match.value == "770-391-90"
    assert not match.valid
    assert match.method.endswith("_unvalidated")


def test_a_valid_number_is_e164(segment: Callable[[str], Segment]) -> None:
    [match] = find_phones(segment("Tel (415) 555-0142"), "US", [])
    assert (match.value, match.valid, match.kind) == ("+14155550142", True, "work")


def test_unvalidated_numbers_get_a_lower_confidence(card_fields) -> None:  # type: ignore[no-untyped-def]
    fields = card_fields([("Dana Whitlow", 40), ("Tel (415) 555-0142", 24), ("Mobile 770-391-90", 24)])
    by_value = {v.value: v.confidence for v in fields["phones"]}
    assert by_value["770-391-90"] < by_value["+14155550142"]


def test_a_us_zip_plus_four_is_not_a_phone(segment: Callable[[str], Segment]) -> None:
    assert find_phones(segment("STANFORD, CALIFORNIA 94305-9505"), "US", []) == []


def test_a_labelled_vanity_number_is_read_from_its_letters(segment: Callable[[str], Segment]) -> None:
    [match] = find_phones(segment("Phone: 1-888-FLOWERS"), "US", [])
    assert (match.value, match.kind) == ("+18883569377", "work")


def test_a_number_followed_by_its_country_belongs_to_that_country(segment: Callable[[str], Segment]) -> None:
    [match] = find_phones(segment("Cell-phone : 650-468-7208 (U.S.A.)"), "JP", [])
    assert match.value == "+16504687208"


def test_a_country_name_after_a_number_that_is_not_one_changes_nothing(
    segment: Callable[[str], Segment],
) -> None:
    [match] = find_phones(segment("Tel 03-5205-6455 (main)"), "JP", [])
    assert match.value == "+81352056455"


def test_a_letter_o_read_for_a_zero_inside_a_number_is_a_zero(segment: Callable[[str], Segment]) -> None:
    [match] = find_phones(segment("Tel: +212 522 98 57 O2"), "MA", [])
    assert match.value == "+212522985702"


def test_a_word_starting_with_o_after_a_number_is_left_alone(segment: Callable[[str], Segment]) -> None:
    matches = find_phones(segment("Tel 415 555 0142 Oakland"), "US", [])
    assert [m.value for m in matches] == ["+14155550142"]


def test_a_postcode_after_the_postal_mark_is_not_a_phone(segment: Callable[[str], Segment]) -> None:
    assert find_phones(segment("2-21-11 Nihonbashi, Chuo-ku T103-0013"), "JP", []) == []
    assert find_phones(segment("2-21-11 Nihonbashi 〒103-0013"), "JP", []) == []


def test_an_unlabelled_number_shaped_like_the_regions_postcode_is_not_a_phone(
    segment: Callable[[str], Segment],
) -> None:
    assert find_phones(segment("Naka-ku, Hamamatsu 430-7718"), "JP", []) == []
    assert [m.value for m in find_phones(segment("Tel 053-454-2441"), "JP", [])] == ["+81534542441"]
