"""The ``cards`` command line contract, run as a user runs it (a subprocess of the installed script).

One mixed batch (good cards, bad files, a missing path, a sub-folder) is extracted once with
``--jobs 1`` and once with ``--jobs 2``; most tests read those two runs.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import phonenumbers
import pytest
import vobject
from PIL import Image

from core.errors import ExitCode

GOOD_CARDS = {"a_card.png": "card_01.png", "h_card.png": "card_02.png"}  # copy name -> sample
BAD_FILES = {  # name -> the code its card must fail with
    "missing.png": "unreadable_file",
    "b_empty.png": "empty_file",
    "c_notes.jpg": "unsupported_format",
    "d_truncated.jpg": "corrupt_image",
    "e_tiny.png": "image_too_small",
    "f_bomb.png": "image_too_large",
    "g_scan.pdf": "unsupported_format",
}
CONTRACT_KEYS = {"source", "sha256", "fields", "text", "engine", "timings_ms", "error"}
FIELD_NAMES = {
    "names",
    "job_titles",
    "departments",
    "companies",
    "emails",
    "websites",
    "phones",
    "addresses",
    "social",
}
PHONE_TYPES = {"work", "mobile", "fax", "other"}


def jsonl(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def without_timings(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in obj.items() if k not in ("timings_ms", "ocr_timings_ms")} for obj in objects]


def name_of(obj: dict[str, Any]) -> str:
    return Path(obj["source"]).name


@pytest.fixture(scope="module")
def inbox(tmp_path_factory: pytest.TempPathFactory, samples_dir: Path, pixel_bomb) -> Path:
    """A folder as people fill it: two good cards (one in a sub-folder) among bad files."""
    root = tmp_path_factory.mktemp("batch")
    folder = root / "inbox"
    (folder / "sub").mkdir(parents=True)
    shutil.copyfile(samples_dir / GOOD_CARDS["a_card.png"], folder / "a_card.png")
    shutil.copyfile(samples_dir / GOOD_CARDS["h_card.png"], folder / "sub" / "h_card.png")
    jpeg = root / "card.jpg"
    Image.open(samples_dir / GOOD_CARDS["a_card.png"]).convert("RGB").save(jpeg, "JPEG", quality=90)
    truncated = jpeg.read_bytes()
    (folder / "b_empty.png").write_bytes(b"")
    (folder / "c_notes.jpg").write_text("Call Jane back: jane@example.com\n")
    (folder / "d_truncated.jpg").write_bytes(truncated[: len(truncated) // 2])
    Image.new("RGB", (40, 24), "white").save(folder / "e_tiny.png")
    (folder / "f_bomb.png").write_bytes(pixel_bomb(30000, 30000))
    (folder / "g_scan.pdf").write_bytes(b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\n")
    (folder / "readme.txt").write_text("not an image: never picked from a folder\n")
    return folder


@pytest.fixture(scope="module")
def batch_args(inbox: Path) -> list[str]:
    # A missing path first, then the folder: output must follow this order, the folder sorted.
    return ["extract", "--format", "jsonl", "--region", "ca", str(inbox.parent / "missing.png"), str(inbox)]


@pytest.fixture(scope="module")
def expected_sources(inbox: Path) -> list[str]:
    names = [
        "a_card.png",
        "b_empty.png",
        "c_notes.jpg",
        "d_truncated.jpg",
        "e_tiny.png",
        "f_bomb.png",
        "g_scan.pdf",
        "sub/h_card.png",
    ]
    return [str(inbox.parent / "missing.png"), *(str(inbox / name) for name in names)]


@pytest.fixture(scope="module")
def batch(run_cards, batch_args: list[str]) -> subprocess.CompletedProcess[str]:
    return run_cards(*batch_args, "--jobs", "1")


@pytest.fixture(scope="module")
def batch_parallel(run_cards, batch_args: list[str]) -> subprocess.CompletedProcess[str]:
    return run_cards(*batch_args, "--jobs", "2")


@pytest.fixture(scope="module")
def objects(batch: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    return jsonl(batch.stdout)


@pytest.fixture(scope="module")
def good(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found = [obj for obj in objects if name_of(obj) in GOOD_CARDS]
    assert len(found) == len(GOOD_CARDS)
    return found


@pytest.fixture(scope="module")
def failed(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found = [obj for obj in objects if name_of(obj) in BAD_FILES]
    assert len(found) == len(BAD_FILES)
    return found


def field_values(objects: list[dict[str, Any]], field: str | None = None) -> list[tuple[dict, dict]]:
    """``(card, value)`` pairs for every extracted value (of one field, or of all)."""
    return [
        (obj, value)
        for obj in objects
        for name, values in obj["fields"].items()
        if field is None or name == field
        for value in values
    ]


# --- jsonl: one object per image, in input order ----------------------------------------------


def test_jsonl_prints_one_object_per_image_in_input_order(
    objects: list[dict[str, Any]], expected_sources: list[str]
) -> None:
    assert [obj["source"] for obj in objects] == expected_sources


def test_folder_expansion_skips_files_that_are_not_images(objects: list[dict[str, Any]]) -> None:
    assert "readme.txt" not in {name_of(obj) for obj in objects}


def test_every_object_carries_the_contract_keys(objects: list[dict[str, Any]]) -> None:
    for obj in objects:
        assert obj.keys() >= CONTRACT_KEYS, name_of(obj)


def test_exit_status_is_1_when_any_card_fails_after_processing_all_of_them(
    batch: subprocess.CompletedProcess[str], objects: list[dict[str, Any]], expected_sources: list[str]
) -> None:
    assert batch.returncode == ExitCode.card_failed, batch.stderr
    assert len(objects) == len(expected_sources)


def test_good_cards_among_bad_files_still_extract(
    good: list[dict[str, Any]], sample_labels: dict[str, dict[str, Any]]
) -> None:
    for obj in good:
        label = sample_labels[GOOD_CARDS[name_of(obj)]]
        assert obj["error"] is None
        assert [v["value"] for v in obj["fields"]["emails"]] == label["emails"], name_of(obj)


def test_failing_card_has_empty_fields_and_an_error_code_and_message(failed: list[dict[str, Any]]) -> None:
    for obj in failed:
        assert obj["fields"] == {}, name_of(obj)
        assert set(obj["error"]) == {"code", "message"}
        assert obj["error"]["code"] == BAD_FILES[name_of(obj)], name_of(obj)
        assert obj["error"]["message"].strip()


def test_each_failure_is_named_on_stderr_with_its_reason(
    batch: subprocess.CompletedProcess[str], failed: list[dict[str, Any]]
) -> None:
    for obj in failed:
        assert f"{obj['source']}: {obj['error']['code']}: {obj['error']['message']}" in batch.stderr


def test_successful_card_has_a_null_error(good: list[dict[str, Any]]) -> None:
    assert [obj["error"] for obj in good] == [None] * len(good)


def test_sha256_is_the_digest_of_the_file_bytes(objects: list[dict[str, Any]]) -> None:
    for obj in objects:
        path = Path(obj["source"])
        expected = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None
        assert obj["sha256"] == expected, path.name


def test_engine_names_tesseract_with_its_in_process_version(good: list[dict[str, Any]]) -> None:
    import tesserocr

    version = tesserocr.tesseract_version().split()[1]  # the library the pipeline runs, not the CLI
    for obj in good:
        assert obj["engine"]["name"].split("+")[0] == "tesseract"
        assert obj["engine"]["version"] == version
        assert obj["engine"]["versions"]["tesseract"] == version


def test_engine_params_record_the_region_upper_cased_and_the_tesseract_settings(
    good: list[dict[str, Any]],
) -> None:
    for obj in good:
        params = obj["engine"]["params"]
        assert params["default_region"] == "CA"
        assert isinstance(params["psm"], int) and params["lang"] == "eng"


def test_timings_are_non_negative_milliseconds_per_stage(good: list[dict[str, Any]]) -> None:
    for obj in good:
        assert {"load", "ocr"} <= obj["timings_ms"].keys()
        assert all(isinstance(ms, int | float) and ms >= 0 for ms in obj["timings_ms"].values())


def test_jobs_2_gives_the_same_results_in_the_same_order_as_jobs_1(
    batch: subprocess.CompletedProcess[str], batch_parallel: subprocess.CompletedProcess[str]
) -> None:
    assert batch_parallel.returncode == batch.returncode
    assert without_timings(jsonl(batch_parallel.stdout)) == without_timings(jsonl(batch.stdout))


# --- the shape of each extracted value ----------------------------------------------------------


def test_successful_card_lists_every_field_name(good: list[dict[str, Any]]) -> None:
    for obj in good:
        assert set(obj["fields"]) == FIELD_NAMES


def test_every_value_has_value_raw_confidence_bbox_and_method(good: list[dict[str, Any]]) -> None:
    pairs = field_values(good)
    assert pairs
    for _, value in pairs:
        assert {"value", "raw", "confidence", "bbox", "method"} <= value.keys()
        assert isinstance(value["value"], str) and value["value"]
        assert isinstance(value["raw"], str) and value["raw"]
        assert isinstance(value["method"], str) and value["method"]


def test_confidence_is_between_0_and_1(good: list[dict[str, Any]]) -> None:
    for _, value in field_values(good):
        assert isinstance(value["confidence"], float) and 0.0 <= value["confidence"] <= 1.0, value


def test_bbox_is_four_ints_inside_the_image(good: list[dict[str, Any]]) -> None:
    for obj, value in field_values(good):
        with Image.open(obj["source"]) as image:
            width, height = image.size
        bbox = value["bbox"]
        assert len(bbox) == 4 and all(type(v) is int for v in bbox), value
        x, y, w, h = bbox
        assert x >= 0 and y >= 0 and w > 0 and h > 0, value
        assert x + w <= width and y + h <= height, value


def test_phone_type_is_work_mobile_fax_or_other(good: list[dict[str, Any]]) -> None:
    phones = field_values(good, "phones")
    assert phones
    for _, phone in phones:
        assert phone["type"] in PHONE_TYPES, phone


def test_phone_value_is_e164_when_the_printed_number_parses(good: list[dict[str, Any]]) -> None:
    checked = 0
    for obj, phone in field_values(good, "phones"):
        try:
            parsed = phonenumbers.parse(phone["raw"], obj["region"])
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(parsed):
            assert phone["value"] == phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
            checked += 1
    assert checked


def test_phone_value_that_starts_with_plus_is_well_formed_e164(good: list[dict[str, Any]]) -> None:
    for _, phone in field_values(good, "phones"):
        if phone["value"].startswith("+"):
            assert re.fullmatch(r"\+[1-9]\d{1,14}", phone["value"]), phone


# --- other formats ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def json_run(run_cards, inbox: Path) -> subprocess.CompletedProcess[str]:
    return run_cards("extract", "--format", "json", "--jobs", "1", "--region", "ca", inbox / "sub/h_card.png")


def test_json_format_is_a_list_of_the_jsonl_objects(
    json_run: subprocess.CompletedProcess[str], objects: list[dict[str, Any]]
) -> None:
    listed = json.loads(json_run.stdout)
    assert isinstance(listed, list)
    same_card = [obj for obj in objects if name_of(obj) == "h_card.png"]
    assert without_timings(listed) == without_timings(same_card)


def test_exit_status_is_0_when_every_card_succeeds(json_run: subprocess.CompletedProcess[str]) -> None:
    assert json_run.returncode == ExitCode.ok, json_run.stderr


@pytest.fixture(scope="module")
def vcard_run(run_cards, inbox: Path) -> subprocess.CompletedProcess[str]:
    return run_cards("extract", "--format", "vcard", inbox / "a_card.png", inbox / "b_empty.png")


@pytest.fixture(scope="module")
def vcards(vcard_run: subprocess.CompletedProcess[str]) -> list[Any]:
    return list(vobject.readComponents(vcard_run.stdout))


def test_vcard_output_parses_into_one_card_per_successful_image(vcards: list[Any]) -> None:
    assert [card.name for card in vcards] == ["VCARD"]


def test_vcard_carries_the_email(vcards: list[Any], sample_labels: dict[str, dict[str, Any]]) -> None:
    emails = [prop.value for prop in vcards[0].contents.get("email", [])]
    assert emails == sample_labels[GOOD_CARDS["a_card.png"]]["emails"]


def test_vcard_urls_are_uris(vcards: list[Any]) -> None:
    urls = [prop.value for prop in vcards[0].contents.get("url", [])]
    assert urls
    for url in urls:
        assert re.fullmatch(r"https?://[^\s/@]+\.[^\s@]*", url), url


def test_vcard_phone_types_are_lists_of_types(vcards: list[Any]) -> None:
    """The export's own writer: ``TYPE=work,voice``, never the single unknown type ``"work,voice"``."""
    types = [tel.params.get("TYPE", []) for tel in vcards[0].contents.get("tel", [])]
    assert types and all(t and all("," not in one for one in t) for t in types)
    assert vcards[0].uid.value.startswith("urn:uuid:")


def test_vcard_format_still_exits_1_and_names_the_failed_card(
    vcard_run: subprocess.CompletedProcess[str],
) -> None:
    assert vcard_run.returncode == ExitCode.card_failed
    assert "b_empty.png: empty_file" in vcard_run.stderr


def test_table_format_lists_each_card_by_file_name_with_its_email_or_error_code(
    run_cards, inbox: Path, sample_labels: dict[str, dict[str, Any]]
) -> None:
    result = run_cards(
        "extract",
        "--format",
        "table",
        "--jobs",
        "1",
        inbox / "sub" / "h_card.png",
        inbox / "b_empty.png",
        env={"COLUMNS": "250"},
    )
    assert result.returncode == ExitCode.card_failed
    emails = sample_labels[GOOD_CARDS["h_card.png"]]["emails"]
    for text in ["h_card.png", *emails, "b_empty.png", "empty_file"]:
        assert text in result.stdout


def test_file_names_that_look_like_markup_are_reported_verbatim(run_cards, tmp_path: Path) -> None:
    (tmp_path / "scans[").mkdir()
    odd = [tmp_path / "card [draft].jpg", tmp_path / "scans[" / "]card.jpg"]  # "[/]" closes no tag
    for path in odd:
        path.write_text("not an image")
    result = run_cards("extract", *odd)
    assert result.returncode == ExitCode.card_failed, result.stderr
    assert [obj["source"] for obj in jsonl(result.stdout)] == [str(p) for p in odd]
    for path in odd:
        assert f"{path}: unsupported_format" in result.stderr


# --- usage errors --------------------------------------------------------------------------------


def assert_usage_error(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode == ExitCode.bad_args
    assert result.stdout == ""
    error = json.loads(result.stderr)
    assert set(error) == {"error"} and set(error["error"]) == {"code", "message"}
    assert error["error"]["code"] == "bad_arguments"
    for word in words:
        assert word in error["error"]["message"]


@pytest.mark.parametrize("region", ["USA", "u1"])
def test_bad_region_is_a_usage_error_with_the_json_error_shape(run_cards, inbox: Path, region: str) -> None:
    result = run_cards("extract", "--region", region, inbox / "a_card.png")
    assert_usage_error(result, "--region", region.upper())


def test_bad_region_from_the_environment_is_an_invalid_config_naming_the_variable(
    run_cards, inbox: Path
) -> None:
    """A setting is checked at start-up, before any card is read: exit 6, the variable named."""
    result = run_cards("extract", inbox / "a_card.png", env={"CARDS_DEFAULT_REGION": "Europe"})
    assert result.returncode == ExitCode.invalid_config and result.stdout == ""
    error = json.loads(result.stderr)["error"]
    assert error["code"] == "invalid_config" and "CARDS_DEFAULT_REGION" in error["message"]


def test_folder_without_images_is_a_usage_error(run_cards, tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("no cards here")
    assert_usage_error(run_cards("extract", tmp_path), "No image files")
