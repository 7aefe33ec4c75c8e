"""The pipeline on awkward inputs: every bad file fails its own card with a reason, and turned
cards (upside down, or turned by an EXIF tag) are still read. Real tesseract throughout."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import phonenumbers
import pytest
from PIL import Image

from ingest.ocr import recognise
from ingest.pipeline import Options, extract_bytes, extract_file, extract_many, iter_images
from ingest.schema import Extraction

CARD = "card_01.png"  # a clean synthetic scan; its e-mail and phones come from samples/labels.json


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def jpeg_bytes(image: Image.Image, **options: Any) -> bytes:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, "JPEG", quality=95, **options)
    return buffer.getvalue()


def e164(number: str, country: str) -> str:
    region = {"UK": "GB"}.get(country, country)
    return phonenumbers.format_number(phonenumbers.parse(number, region), phonenumbers.PhoneNumberFormat.E164)


def values(extraction: Extraction, field: str) -> list[str]:
    return [v.value for v in extraction.fields.get(field, [])]


def rotation_steps(extraction: Extraction) -> list[str]:
    return [step for step in extraction.engine["steps"] if step.startswith("rotate_")]


@pytest.fixture(scope="module")
def card_path(samples_dir: Path) -> Path:
    return samples_dir / CARD


@pytest.fixture(scope="module")
def card_label(sample_labels: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return sample_labels[CARD]


@pytest.fixture(scope="module")
def card_image(card_path: Path) -> Image.Image:
    with Image.open(card_path) as image:
        return image.convert("RGB")


@pytest.fixture(scope="module")
def upright(card_path: Path) -> Extraction:
    extraction = extract_file(card_path)
    assert extraction.ok, extraction.error
    return extraction


@pytest.fixture(scope="module")
def upside_down(card_image: Image.Image) -> Extraction:
    extraction = extract_bytes(png_bytes(card_image.rotate(180)), "upside_down.png")
    assert extraction.ok, extraction.error
    return extraction


@pytest.fixture(scope="module")
def exif_turned(card_image: Image.Image) -> Extraction:
    """The card as a phone stores a photo taken turned: pixels a quarter-turn off, EXIF tag 6."""
    exif = Image.Exif()
    exif[0x0112] = 6
    data = jpeg_bytes(card_image.transpose(Image.Transpose.ROTATE_90), exif=exif.tobytes())
    extraction = extract_bytes(data, "exif_turned.jpg")
    assert extraction.ok, extraction.error
    return extraction


# --- a real card, upright and turned ---------------------------------------------------------


def test_sample_card_yields_its_labelled_emails(upright: Extraction, card_label: dict[str, Any]) -> None:
    assert values(upright, "emails") == card_label["emails"]


def test_upright_card_is_not_turned(upright: Extraction) -> None:
    assert rotation_steps(upright) == []


def test_upside_down_card_still_yields_its_email(upside_down: Extraction, card_label: dict[str, Any]) -> None:
    assert values(upside_down, "emails") == card_label["emails"]


def test_upside_down_card_still_yields_its_phones(
    upside_down: Extraction, card_label: dict[str, Any]
) -> None:
    expected = {e164(phone["number"], card_label["country"]) for phone in card_label["phones"]}
    assert expected <= set(values(upside_down, "phones"))


def test_upside_down_card_records_the_half_turn_in_engine_steps(upside_down: Extraction) -> None:
    assert rotation_steps(upside_down) == ["rotate_180"]


def test_upside_down_card_reports_boxes_on_the_image_it_was_given(
    upright: Extraction, upside_down: Extraction
) -> None:
    width, height = upright.image["width"], upright.image["height"]
    x, y, w, h = upright.fields["emails"][0].bbox
    mirrored = [width - x - w, height - y - h, w, h]
    assert np.abs(np.array(upside_down.fields["emails"][0].bbox) - mirrored).max() <= 4


def test_exif_rotated_photo_is_read_upright(exif_turned: Extraction, card_label: dict[str, Any]) -> None:
    assert values(exif_turned, "emails") == card_label["emails"]


def test_exif_rotated_photo_reports_its_upright_size(
    exif_turned: Extraction, card_image: Image.Image
) -> None:
    assert exif_turned.image["exif_rotated"] is True
    # The stored pixels are card_image turned a quarter: its width and height swapped.
    assert (exif_turned.image["width"], exif_turned.image["height"]) == card_image.size


def test_exif_rotated_photo_needs_no_further_turn(exif_turned: Extraction) -> None:
    assert rotation_steps(exif_turned) == []


def test_email_box_frames_the_email_on_the_original_image(
    upright: Extraction, card_image: Image.Image
) -> None:
    email = upright.fields["emails"][0]
    x, y, w, h = email.bbox
    pad = 6
    crop = np.asarray(card_image.crop((x - pad, y - pad, x + w + pad, y + h + pad)))[:, :, ::-1]
    crop = cv2.resize(crop, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC)
    assert recognise(np.ascontiguousarray(crop), psm=7).text.strip() == email.value


def test_blank_card_fails_with_no_text_found(tmp_path: Path) -> None:
    path = tmp_path / "blank.png"
    path.write_bytes(png_bytes(Image.new("RGB", (1004, 650), (250, 250, 247))))
    extraction = extract_file(path)
    assert extraction.error is not None and extraction.error["code"] == "no_text_found"
    assert "text" in extraction.error["message"].lower()
    assert extraction.fields == {}


# --- bad files fail their own card, never the caller ------------------------------------------


def _card_jpeg() -> bytes:
    image = Image.new("RGB", (400, 240), "white")
    image.paste((30, 30, 30), (20, 20, 360, 40))
    return jpeg_bytes(image)


def make_bad_file(kind: str, folder: Path) -> Path:
    """One of the inputs people actually send that cannot be a card."""
    if kind == "directory":
        (folder / "card.jpg").mkdir()
        return folder / "card.jpg"
    if kind == "missing path":
        return folder / "gone" / "card.png"
    jpeg = _card_jpeg()
    name, data = {
        "empty file": ("empty.png", b""),
        "text named .jpg": ("notes.jpg", b"Jane Doe\njane@example.com\n"),
        "truncated jpeg": ("cut.jpg", jpeg[: len(jpeg) // 2]),
        "tiny image": ("tiny.png", png_bytes(Image.new("RGB", (40, 25), "white"))),
        "pdf": ("card.pdf", b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n"),
        "heic": ("card.heic", b"\0\0\0\x18ftypheic\0\0\0\0mif1heic" + bytes(32)),
    }[kind]
    return _write(folder / name, data)


BAD_FILES = {
    "empty file": "empty_file",
    "text named .jpg": "unsupported_format",
    "truncated jpeg": "corrupt_image",
    "tiny image": "image_too_small",
    "pdf": "unsupported_format",
    "heic": "unsupported_format",
    "directory": "unreadable_file",
    "missing path": "unreadable_file",
}


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(("kind", "code"), BAD_FILES.items(), ids=BAD_FILES.keys())
def test_bad_file_fails_its_card_with_a_typed_error(tmp_path: Path, kind: str, code: str) -> None:
    path = make_bad_file(kind, tmp_path)
    extraction = extract_file(path)
    assert not extraction.ok
    assert extraction.source == str(path)
    assert extraction.error is not None and set(extraction.error) == {"code", "message"}
    assert extraction.error["code"] == code
    assert extraction.error["message"].strip()
    assert extraction.fields == {}


def test_pixel_bomb_fails_its_card_as_too_large(tmp_path: Path, pixel_bomb) -> None:
    extraction = extract_file(_write(tmp_path / "bomb.png", pixel_bomb(30000, 30000)))
    assert extraction.error is not None and extraction.error["code"] == "image_too_large"


def test_refused_card_keeps_the_sha256_of_the_bytes_it_read(tmp_path: Path) -> None:
    data = b"not an image at all"
    extraction = extract_file(_write(tmp_path / "card.jpg", data))
    assert extraction.sha256 == hashlib.sha256(data).hexdigest()


def test_unreadable_card_has_no_sha256(tmp_path: Path) -> None:
    assert extract_file(tmp_path / "missing.png").sha256 is None


def test_many_cards_come_back_in_input_order_with_parallel_jobs(tmp_path: Path) -> None:
    paths = [
        tmp_path / "z_missing.png",
        _write(tmp_path / "a_empty.png", b""),
        _write(tmp_path / "m_text.jpg", b"hello"),
        _write(tmp_path / "b_tiny.png", png_bytes(Image.new("RGB", (10, 10)))),
    ]
    results = list(extract_many(paths, jobs=2))
    assert [r.source for r in results] == [str(p) for p in paths]
    assert [r.error["code"] for r in results if r.error] == [
        "unreadable_file",
        "empty_file",
        "unsupported_format",
        "image_too_small",
    ]


# --- which files a folder yields ---------------------------------------------------------------


def test_folder_is_expanded_recursively_in_sorted_order(tmp_path: Path) -> None:
    for name in ["b.png", "a.jpg", "sub/c.jpeg", "sub/deeper/d.tif", "e.webp"]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    found = [p.relative_to(tmp_path).as_posix() for p in iter_images([tmp_path])]
    assert found == ["a.jpg", "b.png", "e.webp", "sub/c.jpeg", "sub/deeper/d.tif"]


def test_folder_expansion_keeps_image_suffixes_in_any_case_and_skips_other_files(tmp_path: Path) -> None:
    for name in ["card.JPG", "scan.PNG", "notes.txt", "labels.json", ".DS_Store"]:
        (tmp_path / name).write_bytes(b"x")
    assert sorted(p.name for p in iter_images([tmp_path])) == ["card.JPG", "scan.PNG"]


def test_folder_expansion_names_pdf_and_heic_files_so_they_are_refused_by_name(tmp_path: Path) -> None:
    for name in ["card.pdf", "photo.heic"]:
        (tmp_path / name).write_bytes(b"x")
    assert sorted(p.name for p in iter_images([tmp_path])) == ["card.pdf", "photo.heic"]


def test_file_named_explicitly_is_taken_whatever_its_suffix(tmp_path: Path) -> None:
    path = tmp_path / "card.txt"
    path.write_bytes(b"x")
    assert list(iter_images([path, tmp_path / "missing.png"])) == [path, tmp_path / "missing.png"]


def test_fast_profile_reads_a_small_scan_at_its_own_size(samples_dir: Path) -> None:
    small = samples_dir / "card_14.png"  # a 600 px low-resolution scan
    fast = extract_file(small, Options.for_profile("fast"))
    accurate = extract_file(small, Options.for_profile("accurate"))
    assert fast.ok and accurate.ok
    assert not any(step.startswith("scale_") for step in fast.engine["steps"])
    assert any(step.startswith("scale_") for step in accurate.engine["steps"])
    assert fast.engine["params"]["profile"] == "fast"


def test_unknown_profile_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown profile"):
        Options.for_profile("turbo")
