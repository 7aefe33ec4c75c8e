"""The harder synthetic cards (samples/hard.py), each read for the class of difficulty it carries.

Real OCR, default profile. The expected values come from samples/labels.json, so a card
regenerated with other content is still judged right; each test names the class it guards.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ingest.pipeline import extract_file
from ingest.schema import Extraction

pytestmark = pytest.mark.slow


def hard_cards(labels: dict[str, dict[str, Any]], note: str) -> list[str]:
    return sorted(
        name for name, label in labels.items() if name.startswith("hard_") and note in label["notes"]
    )


@pytest.fixture(scope="module")
def read(samples_dir: Path) -> Any:
    cache: dict[str, Extraction] = {}

    def run(name: str) -> Extraction:
        if name not in cache:
            cache[name] = extract_file(samples_dir / name)
            assert cache[name].ok, cache[name].error
        return cache[name]

    return run


def values(extraction: Extraction, field: str) -> list[str]:
    return [v.value for v in extraction.fields[field]]


def test_the_hard_set_covers_every_class(sample_labels: dict[str, dict[str, Any]]) -> None:
    for note in ("beyond English", "wordmark", "two column", "glued labels", "spaced domain", "low contrast",
                 "bilingual Latin + ja", "bilingual Latin + zh", "photo"):  # fmt: skip
        assert hard_cards(sample_labels, note), note


def test_names_with_letters_english_data_lacks_are_read_as_printed(
    read: Any, sample_labels: dict[str, dict[str, Any]]
) -> None:
    for name in hard_cards(sample_labels, "beyond English"):
        expected = sample_labels[name]["names"]
        assert values(read(name), "names") == expected, name
        assert any(ord(c) > 127 for c in expected[0])  # the card does print such a letter


def test_a_logo_wordmark_alone_is_the_company(read: Any, sample_labels: dict[str, dict[str, Any]]) -> None:
    for name in hard_cards(sample_labels, "wordmark"):
        assert values(read(name), "companies") == sample_labels[name]["companies"], name


def test_two_columns_keep_name_title_and_address_apart(
    read: Any, sample_labels: dict[str, dict[str, Any]]
) -> None:
    for name in hard_cards(sample_labels, "two column"):
        got, label = read(name), sample_labels[name]
        assert values(got, "names") == label["names"]
        assert values(got, "job_titles") == label["job_titles"]
        assert values(got, "addresses") == label["addresses"]


def test_labels_glued_to_values_are_not_part_of_them(
    read: Any, sample_labels: dict[str, dict[str, Any]]
) -> None:
    for name in hard_cards(sample_labels, "glued labels"):
        got, label = read(name), sample_labels[name]
        assert values(got, "emails") == label["emails"]
        assert len(values(got, "phones")) == len(label["phones"])


def test_a_host_printed_with_a_space_after_a_dot_keeps_its_country_tld(
    read: Any, sample_labels: dict[str, dict[str, Any]]
) -> None:
    for name in hard_cards(sample_labels, "spaced domain"):
        assert values(read(name), "websites") == sample_labels[name]["websites"], name


def test_low_contrast_print_is_read(read: Any, sample_labels: dict[str, dict[str, Any]]) -> None:
    for name in hard_cards(sample_labels, "low contrast"):
        got, label = read(name), sample_labels[name]
        assert values(got, "emails") == label["emails"]
        assert values(got, "names") == label["names"]


@pytest.mark.parametrize("lang", ["ja", "zh"])
def test_bilingual_cards_keep_latin_values_right_and_native_ones_in_their_script(
    read: Any, sample_labels: dict[str, dict[str, Any]], lang: str
) -> None:
    for name in hard_cards(sample_labels, f"bilingual Latin + {lang}"):
        got, label = read(name), sample_labels[name]
        latin_names = [v.value for v in got.fields["names"] if v.script is None]
        assert latin_names == label["names"]
        assert values(got, "emails") == label["emails"]
        native = [v for field in ("names", "companies") for v in got.fields[field] if v.script]
        assert native, "no value kept in its own script"
        assert {v.value.replace(" ", "") for v in native} <= {t.replace(" ", "") for t in label["non_latin"]}
