"""Names, titles and companies on synthetic cards: what a company can never be, and lines OCR joins."""

from __future__ import annotations

import pytest

from ingest.fields.entities import clean_company


@pytest.mark.parametrize(
    ("raw", "clean"),
    [("@ Kestrel, Ltd.", "Kestrel, Ltd."), ("_ NORTHWIND", "NORTHWIND"), ("TALLIS GROUP i", "TALLIS GROUP"),
     (".. ORBITA =", "ORBITA"), ("Marrow & Finch", "Marrow & Finch")],
)  # fmt: skip
def test_junk_glued_to_a_company_is_trimmed(raw: str, clean: str) -> None:
    assert clean_company(raw) == clean


def test_a_name_and_a_title_on_one_line_are_split(card) -> None:
    fields = card([("NORTHWIND", 50), ("Ilse Marchetti Founder & CEO", 30), ("imarchetti@northwind.com", 22)])
    assert fields["names"] == ["Ilse Marchetti"]
    assert fields["job_titles"] == ["Founder & CEO"]


def test_a_title_whose_first_words_look_like_a_name_stays_whole(card) -> None:
    fields = card(
        [("Ilse Marchetti", 40), ("Trade Missions Assistant", 26), ("imarchetti@northwind.com", 22)]
    )
    assert fields["job_titles"] == ["Trade Missions Assistant"]


def test_a_label_is_never_the_company(card) -> None:
    fields = card([("Ilse Marchetti", 40), ("Sales Manager", 26), ("TEL", 40), ("Tel 415 555 0142", 22)])
    assert all(v.upper() not in {"TEL", "EMAIL", "URL"} for v in fields["companies"])


def test_a_fragment_of_an_email_is_never_the_company(card) -> None:
    fields = card(
        [
            ("Ilse Marchetti", 40),
            ("E-mail:imarch@nw", 40),
            ("Tel 415 555 0142", 22),
            ("imarch@northwind.com", 22),
        ]
    )
    assert not any("@" in v for v in fields["companies"])


def test_a_department_is_not_the_company(card) -> None:
    fields = card([("Ilse Marchetti", 40), ("Department of Marine Biology", 44), ("ilse@northwind.com", 22)])
    assert "Department of Marine Biology" not in fields["companies"]


def test_a_company_cut_at_an_ampersand_goes_on_on_the_next_line(card) -> None:
    fields = card(
        [("Ilse Marchetti", 30), ("Project Manager", 24), ("Marrow Brothers Consulting &", 34),
         ("Logistics", 34), ("ilse@marrowbrothers.com", 22)]
    )  # fmt: skip
    assert fields["companies"] == ["Marrow Brothers Consulting & Logistics"]


def test_a_logo_wordmark_alone_and_large_is_the_company(card) -> None:
    fields = card(
        [("ORBITANE", 70), ("Ilse Marchetti", 34), ("Account Manager", 24), ("Tel 415 555 0142", 22)]
    )
    assert fields["companies"] == ["ORBITANE"]


def test_a_logo_short_form_gives_way_to_the_full_name_printed_below(card) -> None:
    fields = card(
        [("KVX", 60), ("Ilse Marchetti", 34), ("Account Director", 24), ("KVX Nordic", 24),
         ("ilse.marchetti@kvx.com", 22)]
    )  # fmt: skip
    assert fields["companies"] == ["KVX Nordic"]


def test_a_logo_acronym_gives_way_to_the_name_it_spells(card) -> None:
    fields = card(
        [("HBT", 60), ("Ilse Marchetti", 34), ("Account Director", 24), ("Harlow Brandt Tessaro", 24),
         ("ilse.marchetti@hbt.com", 22)]
    )  # fmt: skip
    assert fields["companies"] == ["Harlow Brandt Tessaro"]


def test_a_company_name_goes_on_after_a_line_break_before_for(card) -> None:
    fields = card(
        [("Ilse Marchetti", 34), ("Research Fellow", 24), ("Royal Institute", 28),
         ("for Maritime Studies", 28), ("ilse@rims.example", 22)]
    )  # fmt: skip
    assert fields["companies"] == ["Royal Institute for Maritime Studies"]


def test_a_street_word_without_a_number_does_not_make_a_title_an_address(card) -> None:
    fields = card(
        [("Ilse Marchetti", 34), ("Sensing Unit Leader", 24), ("Public Sector Sales", 24),
         ("12 Harbor Road", 22), ("Springfield, IL 62704", 22), ("ilse@orbane.com", 22)]
    )  # fmt: skip
    assert fields["addresses"] == ["12 Harbor Road, Springfield, IL 62704"]
    assert "Sensing Unit Leader" in fields["job_titles"]


def test_a_capital_i_read_as_l_at_a_names_start_is_restored(card) -> None:
    fields = card([("lan Whitlow", 40), ("Hardware Engineer", 24), ("ian@whitlow.example", 22)])
    assert fields["names"] == ["Ian Whitlow"]


def test_a_second_role_line_under_the_title_is_a_role(card) -> None:
    fields = card(
        [("Ilse Marchetti", 40), ("Regional Vice President", 26), ("Lodging Development - Africa", 26),
         ("Orbane Hotels Inc.", 30), ("ilse@orbane.com", 22)]
    )  # fmt: skip
    assert fields["job_titles"] == ["Regional Vice President"]
    assert fields["departments"] == ["Lodging Development - Africa"]


def test_a_title_and_a_company_on_one_line_are_split_at_the_comma(card) -> None:
    fields = card(
        [("Ilse Marchetti", 40), ("Science Teacher, Harlow Valley School", 24), ("ilse@hvs.example", 22)]
    )
    assert fields["job_titles"] == ["Science Teacher"]
    assert fields["companies"] == ["Harlow Valley School"]


def test_legal_forms_alone_are_not_a_company(card) -> None:
    fields = card(
        [("Ilse Marchetti", 40), ("Science Teacher", 24), ("LP LP EP", 30), ("ilse@hvs.example", 22)]
    )
    assert "LP LP EP" not in fields["companies"]


@pytest.mark.parametrize("place", ["France", "MOROCCO", "United Kingdom", "California"])
def test_a_country_or_state_alone_on_a_line_is_never_the_company(card, place: str) -> None:
    fields = card(
        [("Ilse Marchetti", 30), ("Board member", 24), (f"{place} +33 6 87 16 28 57", 40), (place, 40),
         ("ilse@northwind.org", 22)]
    )  # fmt: skip
    assert place.lower() not in [v.lower() for v in fields["companies"]]


def test_a_lower_case_name_is_a_name_when_the_email_agrees(card) -> None:
    fields = card(
        [("northwind", 40), ("ilse marchetti", 30), ("general manager", 24), ("ilse@northwind.sg", 22)]
    )
    assert fields["names"] == ["ilse marchetti"]
    assert "ilse marchetti" not in fields["companies"]


def test_a_lower_case_line_the_email_does_not_name_is_not_a_name(card) -> None:
    fields = card([("Ilse Marchetti", 30), ("quality first", 40), ("ilse@northwind.com", 22)])
    assert fields["names"] == ["Ilse Marchetti"]


def test_roles_printed_with_a_pipe_are_two_roles_even_with_a_street_word(card) -> None:
    fields = card(
        [("Ilse Marchetti", 40), ("CEO Real Estate | Board member", 26), ("ilse@northwind.org", 22)]
    )
    assert sorted(fields["job_titles"]) == ["Board member", "CEO Real Estate"]


def test_a_licence_number_after_a_title_is_not_part_of_it(card) -> None:
    fields = card(
        [("NORTHWIND, INC.", 40), ("Ilse Marchetti, Owner, License #M45678", 30), ("Tel 415 555 0142", 22)]
    )
    assert fields["job_titles"] == ["Owner"]


def test_a_hyphenated_coinage_with_a_title_word_is_a_title(card) -> None:
    fields = card([("Ilse Marchetti", 40), (": yogurt-in-chief", 24), ("ilse@northwind.com", 22)])
    assert fields["job_titles"] == ["yogurt-in-chief"]


@pytest.mark.parametrize("title", ["Examiner", "Underwriter", "Translator"])
def test_a_one_word_title_from_the_vocabulary_is_a_title(card, title: str) -> None:
    fields = card([(title, 24), ("Ilse MARCHETTI", 40), ("Northwind Ltd.", 30), ("ilse@northwind.co.uk", 22)])
    assert fields["job_titles"] == [title]


def test_a_space_the_ocr_put_inside_a_surname_is_removed(card) -> None:
    fields = card([("Northwind LLC", 30), ("ilse.marchetti@northwind.com", 22), ("Ilse M archetti", 30)])
    assert fields["names"] == ["Ilse Marchetti"]


def test_an_initial_before_a_capitalised_surname_is_kept(card) -> None:
    fields = card([("Northwind LLC", 30), ("ilse@northwind.com", 22), ("Ilse M Marchetti", 30)])
    assert fields["names"] == ["Ilse M Marchetti"]


def test_a_card_in_japanese_with_no_country_in_latin_letters_is_read_as_japan(card_fields) -> None:
    fields = card_fields([("山竹産業株式会社", 40), ("TEL 03-3669-4661", 22)], region="US")
    assert [v.value for v in fields["phones"]] == ["+81336694661"]
