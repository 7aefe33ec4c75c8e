"""Stage 1, load: bytes in, an upright 8-bit BGR pixel array out, or a typed refusal.

Everything that makes an image unusable is caught here, before any expensive work:
empty files, non-images, formats we do not read, truncated data, images too small to
hold a legible card and decompression bombs (checked from the header, before decoding).
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ingest.errors import (
    CorruptImageError,
    EmptyFileError,
    ImageTooLargeError,
    ImageTooSmallError,
    UnreadableFileError,
    UnsupportedFormatError,
)

SUPPORTED_FORMATS = frozenset({"JPEG", "PNG", "TIFF", "WEBP", "BMP", "MPO"})
MIN_WIDTH, MIN_HEIGHT = 100, 60
DEFAULT_MAX_PIXELS = 50_000_000  # a 12 MP phone photo is 12e6; 50e6 leaves room for 600 dpi scans
DEFAULT_MAX_BYTES = 40 * 1024 * 1024

# Formats people send that we recognise but do not decode: name them instead of "not an image".
_KNOWN_UNSUPPORTED = (
    (b"%PDF", "PDF"),
    (b"GIF8", "GIF"),
    (b"8BPS", "PSD"),
)
# Signatures of the formats we do read: a file that starts like one but that Pillow cannot
# identify was cut short or damaged, which is a different fix for the user than "wrong format".
_SUPPORTED_MAGIC = (
    (b"\xff\xd8\xff", "JPEG"),
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
)


@dataclass(frozen=True)
class LoadedImage:
    """A decoded image in the orientation a person would view it."""

    pixels: np.ndarray  # H x W x 3, uint8, BGR (OpenCV's order)
    format: str
    sha256: str
    byte_size: int
    exif_rotated: bool

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])


def read_source(path: Path) -> bytes:
    """Read a file's bytes, turning OS errors into the error vocabulary."""
    try:
        return path.read_bytes()
    except IsADirectoryError as exc:
        raise UnreadableFileError(f"{path} is a directory, not an image file.") from exc
    except OSError as exc:
        raise UnreadableFileError(f"Cannot read {path}: {exc.strerror or exc}.") from exc


def _sniff_unsupported(data: bytes) -> str | None:
    for magic, name in _KNOWN_UNSUPPORTED:
        if data.startswith(magic):
            return name
    if data[4:8] == b"ftyp" and data[8:12] in {b"heic", b"heix", b"mif1", b"msf1", b"hevc", b"avif"}:
        return "HEIC/AVIF"
    return None


def _sniff_supported(data: bytes) -> str | None:
    for magic, name in _SUPPORTED_MAGIC:
        if data.startswith(magic):
            return name
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WebP"
    if data[:2] == b"BM" and data[6:10] == b"\0\0\0\0":  # "BM" alone is too common a start for text
        return "BMP"
    return None


_MEDIA_TYPES = {
    "JPEG": "image/jpeg",
    "PNG": "image/png",
    "TIFF": "image/tiff",
    "WebP": "image/webp",
    "BMP": "image/bmp",
}


def media_type(data: bytes) -> str:
    """The media type of image bytes in a format we read, from their signature (the loader's own rule)."""
    return _MEDIA_TYPES.get(_sniff_supported(data) or "", "application/octet-stream")


def load_image(
    data: bytes,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> LoadedImage:
    """Decode ``data`` into an upright BGR array, or raise an :class:`InputFileError`."""
    if not data:
        raise EmptyFileError("The image file is empty (0 bytes).")
    if len(data) > max_bytes:
        raise ImageTooLargeError(f"The file is {len(data):,} bytes; the limit is {max_bytes:,}.")
    unsupported = _sniff_unsupported(data)
    if unsupported:
        raise UnsupportedFormatError(f"{unsupported} files are not supported.")

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
    except UnidentifiedImageError as exc:
        looks_like = _sniff_supported(data)
        if looks_like:
            raise CorruptImageError(
                f"The file starts like a {looks_like} image but its header is damaged or cut short."
            ) from exc
        raise UnsupportedFormatError("The file is not an image in a format we read.") from exc
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageTooLargeError(f"The image declares too many pixels ({exc}).") from exc
    except OSError as exc:
        raise CorruptImageError(f"The image header cannot be read: {exc}.") from exc

    if image.format not in SUPPORTED_FORMATS:
        raise UnsupportedFormatError(f"{image.format or 'This'} images are not supported.")
    width, height = image.size
    # Checked on the header's declared size, before a single pixel is decoded.
    if width * height > max_pixels:
        raise ImageTooLargeError(
            f"The image is {width}x{height} = {width * height:,} pixels; the limit is {max_pixels:,}."
        )
    if min(width, height) < MIN_HEIGHT or max(width, height) < MIN_WIDTH:
        raise ImageTooSmallError(f"The image is only {width}x{height} px.")

    try:
        image.load()
        oriented = ImageOps.exif_transpose(image)
    except (OSError, SyntaxError, ValueError) as exc:  # truncated or malformed data
        raise CorruptImageError(f"The image data is damaged: {exc}.") from exc
    exif_rotated = _has_orientation(image)
    pixels = to_bgr8(oriented)
    return LoadedImage(
        pixels=pixels,
        format=image.format,
        sha256=hashlib.sha256(data).hexdigest(),
        byte_size=len(data),
        exif_rotated=bool(exif_rotated),
    )


def _has_orientation(image: Image.Image) -> bool:
    """Whether the EXIF orientation tag asked for a turn or flip (2-8); 1, 0 and junk values do not."""
    try:
        return image.getexif().get(0x0112, 1) in range(2, 9)
    except Exception:  # a broken EXIF block is not a reason to refuse the card
        return False


def to_bgr8(image: Image.Image) -> np.ndarray:
    """Convert any Pillow mode (CMYK, 16-bit, grey, palette, alpha) to 8-bit BGR on white."""
    mode = image.mode
    if mode in {"I;16", "I;16B", "I;16L", "I;16N", "I", "F"}:
        array = np.asarray(image, dtype=np.float64)
        top = 65535.0 if mode.startswith("I;16") or array.max() > 255 else 255.0
        grey = np.clip(array / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return np.repeat(grey[:, :, None], 3, axis=2)
    if mode in {"RGBA", "LA", "PA"} or (mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(white, rgba)
    rgb = np.asarray(image.convert("RGB"))
    return np.ascontiguousarray(rgb[:, :, ::-1])
