"""Stage 1, load: what gets in as an upright 8-bit BGR array, and what is refused and why."""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageDraw

from ingest.errors import (
    CorruptImageError,
    EmptyFileError,
    ImageTooLargeError,
    ImageTooSmallError,
    UnreadableFileError,
    UnsupportedFormatError,
)
from ingest.load import load_image, read_source

RED, BLUE, WHITE, BLACK = (255, 0, 0), (0, 0, 255), (255, 255, 255), (0, 0, 0)


def bgr(rgb: tuple[int, int, int]) -> list[int]:
    return list(rgb[::-1])


def card_like(size: tuple[int, int] = (400, 240)) -> Image.Image:
    """White image with some dark 'text' bars: enough structure for JPEG to have real data."""
    image = Image.new("RGB", size, WHITE)
    draw = ImageDraw.Draw(image)
    for row in range(20, size[1] - 20, 30):
        draw.rectangle((20, row, size[0] - 40, row + 12), fill=(30, 30, 30))
    return image


def marked(size: tuple[int, int] = (300, 200)) -> Image.Image:
    """White image with a red block in its top-left corner: shows which way is up."""
    image = Image.new("RGB", size, WHITE)
    ImageDraw.Draw(image).rectangle((0, 0, size[0] // 3, size[1] // 3), fill=RED)
    return image


def with_orientation(image: Image.Image, orientation: int, encode, fmt: str = "JPEG") -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return encode(image, fmt, exif=exif.tobytes(), quality=95)


# --- refusals -------------------------------------------------------------------------


def test_empty_file_is_refused_as_empty() -> None:
    with pytest.raises(EmptyFileError) as caught:
        load_image(b"")
    assert caught.value.code == "empty_file"


def test_text_file_named_jpg_is_refused_as_unsupported_format(tmp_path: Path) -> None:
    path = tmp_path / "card.jpg"
    path.write_text("Jane Doe\njane@example.com\n+1 415 555 0100\n")
    with pytest.raises(UnsupportedFormatError):
        load_image(read_source(path))


def test_truncated_jpeg_is_refused_as_corrupt(encode) -> None:
    data = encode(card_like(), "JPEG", quality=90)
    with pytest.raises(CorruptImageError) as caught:
        load_image(data[: len(data) // 2])
    assert "truncated" in caught.value.full_message.lower()


@pytest.mark.parametrize("kept", [3, 20, 200])
def test_jpeg_cut_inside_its_header_is_refused_as_corrupt_not_as_another_format(encode, kept: int) -> None:
    data = encode(card_like(), "JPEG", quality=90)
    with pytest.raises(CorruptImageError):
        load_image(data[:kept])


@pytest.mark.parametrize("kept", [8, 20, 40])
def test_png_cut_inside_its_header_is_refused_as_corrupt(encode, kept: int) -> None:
    with pytest.raises(CorruptImageError):
        load_image(encode(card_like(), "PNG")[:kept])


def test_truncated_png_is_refused_as_corrupt(encode) -> None:
    data = encode(card_like(), "PNG")
    with pytest.raises(CorruptImageError):
        load_image(data[: len(data) // 2])


def test_png_with_damaged_pixel_data_is_refused_as_corrupt(encode) -> None:
    data = bytearray(encode(card_like(), "PNG"))
    middle = len(data) // 2
    data[middle : middle + 64] = bytes(64)
    with pytest.raises(CorruptImageError):
        load_image(bytes(data))


@pytest.mark.parametrize("size", [(50, 30), (99, 60), (100, 59), (59, 100), (60, 99)])
def test_image_below_100x60_is_refused_as_too_small(encode, size: tuple[int, int]) -> None:
    with pytest.raises(ImageTooSmallError) as caught:
        load_image(encode(Image.new("RGB", size, WHITE), "PNG"))
    assert f"{size[0]}x{size[1]}" in caught.value.message


@pytest.mark.parametrize("size", [(100, 60), (60, 100)])
def test_image_of_exactly_the_minimum_size_is_accepted(encode, size: tuple[int, int]) -> None:
    loaded = load_image(encode(Image.new("RGB", size, WHITE), "PNG"))
    assert (loaded.width, loaded.height) == size


@pytest.mark.parametrize(
    "size",
    [(30000, 30000), (10000, 10000), (8000, 8000)],
    ids=["over-pillow-hard-limit", "over-pillow-warning", "over-own-limit"],
)
def test_pixel_bomb_is_refused_as_too_large_from_its_header(pixel_bomb, size: tuple[int, int]) -> None:
    data = pixel_bomb(*size)
    assert len(data) < 200  # the test file itself is tiny: only the header lies
    started = time.perf_counter()
    with pytest.raises(ImageTooLargeError):
        load_image(data)
    assert time.perf_counter() - started < 0.5


def test_image_just_under_the_pixel_limit_is_not_refused_as_too_large(pixel_bomb) -> None:
    # 7000x7000 = 49 MP: the header passes, so the (missing) pixel data is what fails.
    with pytest.raises(CorruptImageError):
        load_image(pixel_bomb(7000, 7000))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs /proc and RLIMIT_AS")
def test_pixel_bomb_is_refused_without_allocating_its_pixels(pixel_bomb, tmp_path: Path) -> None:
    """Under an address-space cap of +256 MiB, decoding 30000x30000 (900 MB grey) cannot happen."""
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(pixel_bomb(30000, 30000))
    script = textwrap.dedent(
        """
        import resource, sys
        from pathlib import Path
        from core.errors import CardError
        from ingest.load import load_image

        data = Path(sys.argv[1]).read_bytes()
        size = next(int(l.split()[1]) * 1024 for l in open("/proc/self/status") if l.startswith("VmSize"))
        cap = size + 256 * 2**20
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
        try:
            load_image(data)
        except CardError as exc:
            print(exc.code)
        except MemoryError:
            print("MemoryError")
        """
    )
    env = {**os.environ, "OMP_THREAD_LIMIT": "1", "OPENBLAS_NUM_THREADS": "1"}
    command = [sys.executable, "-c", script, str(bomb)]
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60, check=False)
    assert result.stdout.strip() == "image_too_large", result.stderr


def test_file_over_the_byte_limit_is_refused_as_too_large(encode) -> None:
    data = encode(card_like(), "PNG")
    with pytest.raises(ImageTooLargeError):
        load_image(data, max_bytes=len(data) - 1)


@pytest.mark.parametrize(
    ("data", "named"),
    [
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n", "PDF"),
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(64), "HEIC"),
        (b"\x00\x00\x00\x1cftypmif1\x00\x00\x00\x00mif1heicmiaf" + bytes(64), "HEIC"),
        (b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf" + bytes(64), "AVIF"),
    ],
    ids=["pdf", "heic", "heif-mif1", "avif"],
)
def test_pdf_and_heic_are_refused_as_unsupported_format_by_name(data: bytes, named: str) -> None:
    with pytest.raises(UnsupportedFormatError) as caught:
        load_image(data)
    assert named in caught.value.message


def test_gif_is_refused_as_unsupported_format_although_pillow_reads_it(encode) -> None:
    with pytest.raises(UnsupportedFormatError) as caught:
        load_image(encode(card_like().convert("P"), "GIF"))
    assert "GIF" in caught.value.message


def test_other_format_pillow_reads_is_refused_as_unsupported(encode) -> None:
    with pytest.raises(UnsupportedFormatError) as caught:
        load_image(encode(card_like((200, 200)), "ICO", sizes=[(128, 128)]))
    assert "ICO" in caught.value.message


# --- reading the path -----------------------------------------------------------------


def test_directory_passed_as_a_file_is_refused_as_unreadable(tmp_path: Path) -> None:
    with pytest.raises(UnreadableFileError) as caught:
        read_source(tmp_path)
    assert "directory" in caught.value.message


def test_missing_path_is_refused_as_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "card.jpg"
    with pytest.raises(UnreadableFileError) as caught:
        read_source(path)
    assert str(path) in caught.value.message


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root reads any file")
def test_file_without_read_permission_is_refused_as_unreadable(tmp_path: Path, encode) -> None:
    path = tmp_path / "card.png"
    path.write_bytes(encode(card_like(), "PNG"))
    path.chmod(0)
    try:
        with pytest.raises(UnreadableFileError):
            read_source(path)
    finally:
        path.chmod(0o600)


# --- what comes out ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "options"),
    [("PNG", {}), ("JPEG", {"quality": 95}), ("TIFF", {}), ("WEBP", {"lossless": True}), ("BMP", {})],
)
def test_supported_format_loads_as_8bit_bgr(encode, fmt: str, options: dict) -> None:
    image = Image.new("RGB", (300, 200), WHITE)
    ImageDraw.Draw(image).rectangle((0, 0, 149, 199), fill=RED)
    loaded = load_image(encode(image, fmt, **options))
    assert loaded.format == fmt
    assert loaded.pixels.shape == (200, 300, 3) and loaded.pixels.dtype == np.uint8
    assert loaded.pixels.flags["C_CONTIGUOUS"]
    np.testing.assert_allclose(loaded.pixels[100, 50], bgr(RED), atol=3)
    np.testing.assert_allclose(loaded.pixels[100, 250], bgr(WHITE), atol=3)


def test_loaded_image_records_the_sha256_and_size_of_its_bytes(encode) -> None:
    data = encode(card_like(), "PNG")
    loaded = load_image(data)
    assert loaded.sha256 == hashlib.sha256(data).hexdigest()
    assert loaded.byte_size == len(data)


def test_cmyk_jpeg_loads_with_its_colours(encode) -> None:
    cmyk = Image.new("CMYK", (300, 200), (0, 0, 0, 0))  # paper white
    cmyk.paste((0, 0, 0, 255), (100, 0, 200, 200))  # key black
    cmyk.paste((255, 0, 0, 0), (200, 0, 300, 200))  # cyan
    data = encode(cmyk, "JPEG", quality=95)
    assert Image.open(io.BytesIO(data)).mode == "CMYK"
    pixels = load_image(data).pixels
    np.testing.assert_allclose(pixels[100, 50], bgr(WHITE), atol=4)
    np.testing.assert_allclose(pixels[100, 150], bgr(BLACK), atol=4)
    np.testing.assert_allclose(pixels[100, 250], bgr((0, 255, 255)), atol=4)


def test_16bit_grey_png_is_scaled_to_8bit_not_clipped(encode) -> None:
    levels = np.zeros((200, 300), np.uint16)
    levels[:, 100:200] = 32768
    levels[:, 200:] = 65535
    data = encode(Image.fromarray(levels), "PNG")
    assert Image.open(io.BytesIO(data)).mode.startswith("I")
    pixels = load_image(data).pixels
    assert pixels.dtype == np.uint8 and pixels.shape == (200, 300, 3)
    assert list(pixels[100, 50]) == [0, 0, 0]
    assert list(pixels[100, 150]) == [128, 128, 128]
    assert list(pixels[100, 250]) == [255, 255, 255]


def test_dark_16bit_grey_png_stays_dark(encode) -> None:
    data = encode(Image.fromarray(np.full((200, 300), 200, np.uint16)), "PNG")
    assert load_image(data).pixels.max() <= 1  # 200 / 65535 of full scale, not 200 / 255


def test_16bit_colour_png_loads_as_8bit_bgr() -> None:
    rgb16 = np.zeros((200, 300, 3), np.uint16)
    rgb16[:, :150] = (65535, 0, 0)  # red, in RGB order
    rgb16[:, 150:] = (32768, 32768, 32768)
    ok, encoded = cv2.imencode(".png", np.ascontiguousarray(rgb16[:, :, ::-1]))  # OpenCV writes BGR
    assert ok
    pixels = load_image(encoded.tobytes()).pixels
    assert pixels.dtype == np.uint8
    assert list(pixels[100, 50]) == bgr(RED)
    np.testing.assert_allclose(pixels[100, 200], [128, 128, 128], atol=1)


def test_rgba_png_is_flattened_on_white(encode) -> None:
    rgba = Image.new("RGBA", (300, 200), (0, 0, 0, 0))  # transparent black: must not become black
    rgba.paste((0, 0, 255, 255), (0, 0, 100, 200))  # opaque blue
    rgba.paste((0, 0, 0, 128), (200, 0, 300, 200))  # half-transparent black
    pixels = load_image(encode(rgba, "PNG")).pixels
    assert list(pixels[100, 150]) == bgr(WHITE)
    assert list(pixels[100, 50]) == bgr(BLUE)
    np.testing.assert_allclose(pixels[100, 250], [127, 127, 127], atol=2)


@pytest.mark.parametrize("mode", ["LA", "P"])
def test_other_transparent_modes_are_flattened_on_white(encode, mode: str) -> None:
    if mode == "LA":
        data = encode(Image.new("LA", (300, 200), (0, 0)), "PNG")
    else:
        image = Image.new("P", (300, 200), 0)
        image.putpalette([0, 0, 0] * 256)
        data = encode(image, "PNG", transparency=0)
    assert list(load_image(data).pixels[100, 150]) == bgr(WHITE)


@pytest.mark.parametrize(
    ("orientation", "stored_as"),
    [
        (3, Image.Transpose.ROTATE_180),
        (6, Image.Transpose.ROTATE_90),  # camera turned: stored a quarter-turn anticlockwise
        (8, Image.Transpose.ROTATE_270),
    ],
)
def test_exif_orientation_turns_the_pixels_upright(encode, orientation: int, stored_as) -> None:
    upright = marked((300, 200))
    stored = upright.transpose(stored_as)
    loaded = load_image(with_orientation(stored, orientation, encode))
    assert (loaded.width, loaded.height) == upright.size  # for 6 and 8 the stored size is swapped
    assert loaded.exif_rotated
    np.testing.assert_allclose(loaded.pixels[10, 10], bgr(RED), atol=12)  # the marker is top-left again
    np.testing.assert_allclose(loaded.pixels[-10, -10], bgr(WHITE), atol=12)


def test_exif_orientation_in_a_png_is_honoured(encode) -> None:
    upright = marked((300, 200))
    loaded = load_image(with_orientation(upright.transpose(Image.Transpose.ROTATE_90), 6, encode, "PNG"))
    assert (loaded.width, loaded.height) == (300, 200)
    assert list(loaded.pixels[10, 10]) == bgr(RED)


@pytest.mark.parametrize("orientation", [None, 0, 1, 9], ids=["no-tag", "0", "1", "9"])
def test_orientation_tag_that_moves_nothing_is_not_reported_as_rotated(
    encode, orientation: int | None
) -> None:
    image = marked((300, 200))
    data = encode(image, "JPEG") if orientation is None else with_orientation(image, orientation, encode)
    loaded = load_image(data)
    assert not loaded.exif_rotated
    assert (loaded.width, loaded.height) == (300, 200)


def test_real_photos_with_an_orientation_tag_load_turned_by_it(shared_eval_dir: Path) -> None:
    """Real phone photos tagged 6 or 8 come out as their stored pixels turned the right way."""
    turns_for = {6: -1, 8: 1}  # np.rot90: 6 = turn clockwise, 8 = anticlockwise
    checked = 0
    for path in sorted((shared_eval_dir / "photos").glob("*.jpg")):
        with Image.open(path) as image:
            orientation = image.getexif().get(0x0112, 1)
            if orientation not in turns_for:
                continue
            stored = np.asarray(image.convert("RGB"))[:, :, ::-1]
        loaded = load_image(path.read_bytes())
        assert loaded.exif_rotated, path.name
        upright = np.rot90(stored, turns_for[orientation])
        np.testing.assert_array_equal(loaded.pixels, upright, err_msg=path.name)
        checked += 1
    if not checked:
        pytest.skip("no EXIF-rotated photo in ../shared/eval/photos")


def test_every_real_eval_image_is_accepted_by_the_loader(shared_eval_dir: Path) -> None:
    paths = sorted(p for p in shared_eval_dir.rglob("*") if p.suffix.lower() in {".jpg", ".jpeg", ".png"})
    assert paths
    for path in paths:
        loaded = load_image(read_source(path))
        assert loaded.pixels.ndim == 3 and loaded.pixels.dtype == np.uint8, path.name


def test_pixel_limit_is_configurable(encode) -> None:
    data = encode(card_like((400, 240)), "PNG")
    with pytest.raises(ImageTooLargeError):
        load_image(data, max_pixels=400 * 240 - 1)
    assert load_image(data, max_pixels=400 * 240).width == 400
