"""E-mails and websites from text as OCR prints it: spaced dots, glued labels, misread '@'."""

from __future__ import annotations

import pytest

from ingest.fields.contacts import find_emails, find_websites
from ingest.fields.segments import split_lines
from ingest.ocr import Line, Word


def make_segment(text: str):  # type: ignore[no-untyped-def]
    words = [Word(t, 0.95, (40 + 200 * i, 40, 180, 24), 1, (1, 1, 1)) for i, t in enumerate(text.split())]
    return split_lines([Line(words)])[0]


def emails(text: str) -> list[str]:
    return [m.value for m in find_emails(make_segment(text))]


def websites(text: str) -> list[str]:
    return [m.value for m in find_websites(make_segment(text), [])]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("www.northwind.co. uk", "www.northwind.co.uk"),
        ("Web: www.northwind.co .uk", "www.northwind.co.uk"),
        ("www.tallis-group.com. au", "www.tallis-group.com.au"),
        ("http://www.kestrel.ac. jp/lab", "http://www.kestrel.ac.jp/lab"),
    ],
)
def test_a_space_after_a_dot_inside_a_host_keeps_the_country_tld(text: str, expected: str) -> None:
    assert websites(text) == [expected]


def test_a_sentence_after_a_website_is_not_taken_for_its_tld() -> None:
    assert websites("www.northwind.com. Tel 555 0100") == ["www.northwind.com"]


@pytest.mark.parametrize(
    "text",
    [
        "E-Mail.ana.kowal@northwind.example",
        "Email:ana.kowal@northwind.example",
        "eMail-ana.kowal@northwind.example",
    ],
)
def test_a_label_glued_to_an_email_is_not_part_of_it(text: str) -> None:
    assert emails(text) == ["ana.kowal@northwind.example"]


def test_a_local_part_that_merely_starts_like_a_label_is_kept() -> None:
    assert emails("mailroom@northwind.example") == ["mailroom@northwind.example"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("E-Mail rbaker77everizon.net", "rbaker77@verizon.net"),
        ("Email: t.ngo0northwind.com", "t.ngo@northwind.com"),
    ],
)
def test_an_at_sign_misread_after_an_email_label_is_restored(text: str, expected: str) -> None:
    assert emails(text) == [expected]


def test_without_an_email_label_a_host_is_not_turned_into_an_email() -> None:
    assert emails("rbaker77everizon.net") == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [("jhnoh@stanford edu", "jhnoh@stanford.edu"), ("E: ana@northwind com", "ana@northwind.com")],
)
def test_the_dot_before_a_generic_tld_read_as_a_space_is_restored(text: str, expected: str) -> None:
    assert emails(text) == [expected]


def test_a_word_after_an_email_is_not_taken_for_its_tld() -> None:
    assert emails("ana@northwind.example info desk") == ["ana@northwind.example"]
