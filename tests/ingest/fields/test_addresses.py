"""Addresses on synthetic cards: several offices, labels before them, a state and ZIP on their own line."""

from __future__ import annotations

import pytest

from ingest.fields.addresses import strip_address_label


def test_a_state_and_zip_on_their_own_line_end_the_address(card) -> None:
    fields = card(
        [("NORTHWIND, INC.", 40), ("Ilse Marchetti, Owner", 30),
         ("57 N. Walnut Drive, Suite 120, New Orleans,", 22), ("LA 70112", 22), ("Phone (504) 555-0112", 22)]
    )  # fmt: skip
    assert fields["addresses"] == ["57 N. Walnut Drive, Suite 120, New Orleans, LA 70112"]


def test_offices_printed_one_under_another_are_separate_addresses(card) -> None:
    fields = card(
        [("Ilse Marchetti", 40), ("ilse@northwind.co.jp", 22),
         ("2-7-7 Ueno, Taito-ku, Tokyo 110-0005, JAPAN", 22),
         ("4-1-8 Minamihonmachi, Chuo-ku", 22), ("Osaka 541-0054, JAPAN", 22),
         ("2-37-21 Meieki, Nakamura-ku, Nagoya 450-0002, JAPAN", 22)],
        region="JP",
    )  # fmt: skip
    assert fields["addresses"] == [
        "2-7-7 Ueno, Taito-ku, Tokyo 110-0005, JAPAN",
        "4-1-8 Minamihonmachi, Chuo-ku, Osaka 541-0054, JAPAN",
        "2-37-21 Meieki, Nakamura-ku, Nagoya 450-0002, JAPAN",
    ]


def test_an_office_label_starts_a_new_address_and_is_left_out(card) -> None:
    fields = card(
        [("Ilse Marchetti", 40), ("ilse@northwind.co.jp", 22),
         ("Head Office 2-10-14 Gakuenminami, Matsue City", 22), ("Shimane 690-0826", 22),
         ("Osaka Branch 767-63 Tamayu-cho, Matsue City", 22), ("Shimane 699-0203", 22)],
        region="JP",
    )  # fmt: skip
    assert fields["addresses"] == [
        "2-10-14 Gakuenminami, Matsue City, Shimane 690-0826",
        "767-63 Tamayu-cho, Matsue City, Shimane 699-0203",
    ]


@pytest.mark.parametrize(
    ("printed", "address"),
    [("Address: 12 Queen's Road", "12 Queen's Road"),
     ("a: 26865 Interstate 45 South", "26865 Interstate 45 South"),
     ("TOKYO : 2-7-7 Ueno", "2-7-7 Ueno"), ("Vietnam Office QTSC Room 3", "QTSC Room 3"),
     ("12 Office Park Drive", "12 Office Park Drive"), ("Rue Montoyer 3", "Rue Montoyer 3")],
)  # fmt: skip
def test_the_label_before_an_address_is_no_part_of_it(printed: str, address: str) -> None:
    assert strip_address_label(printed) == address


def test_typographic_apostrophes_are_one_spelling(card) -> None:
    fields = card([("Ilse Marchetti", 40), ("Margie\u2019s Travel Ltd.", 30), ("ilse@margies.com", 22)])
    assert fields["companies"] == ["Margie's Travel Ltd."]
