"""Errors of the extraction pipeline: the image cannot be used, or the OCR engine failed.

Part of the project's one vocabulary (base and exit statuses in :mod:`core.errors`): each
class has a stable ``code`` that the CLI prints as ``error.code`` and the HTTP API uses as
its problem type. Messages say what to do next.
"""

from __future__ import annotations

from core.errors import CardError, ExitCode

# --- input images -------------------------------------------------------------------


class InputFileError(CardError):
    """The input image cannot be used."""

    code = "input_file"
    exit_code = ExitCode.input_file
    http_status = 422
    hint = "Check the image and send it again."


class EmptyFileError(InputFileError):
    """The image file is empty."""

    code = "empty_file"
    hint = "The file has no bytes: re-export or re-upload the image."


class UnreadableFileError(InputFileError):
    """The image file cannot be read."""

    code = "unreadable_file"
    hint = "Check that the path exists and is readable."


class UnsupportedFormatError(InputFileError):
    """The file is not an image in a format we read."""

    code = "unsupported_format"
    hint = "Send a JPEG, PNG, TIFF, WebP or BMP image."


class CorruptImageError(InputFileError):
    """The image data is damaged."""

    code = "corrupt_image"
    hint = "The image is damaged or truncated: take or export it again."


class ImageTooSmallError(InputFileError):
    """The image is too small to hold a legible card."""

    code = "image_too_small"
    hint = "Scan or photograph the card at a higher resolution (at least 100x60 px)."


class ImageTooLargeError(InputFileError):
    """The image is too large to process."""

    code = "image_too_large"
    hint = "Resize the image below the pixel or byte limit before sending it."


class NoTextFoundError(InputFileError):
    """OCR found no text on the card."""

    code = "no_text_found"
    hint = "The card looks blank to OCR: check lighting, focus and that the card fills the frame."


# --- the OCR engine ------------------------------------------------------------------


class OcrEngineError(CardError):
    """Tesseract failed on this card."""

    code = "ocr_failed"
    exit_code = ExitCode.ocr_engine
    http_status = 500
    hint = "Retry; if it persists, report the image to the maintainers."


class OcrTimeoutError(OcrEngineError):
    """Tesseract timed out on this card."""

    code = "ocr_timeout"
    http_status = 503
    hint = "OCR took too long: retry, or raise CARDS_OCR_TIMEOUT."


class OcrUnavailableError(OcrEngineError):
    """The OCR worker process stopped."""

    http_status = 503
    hint = "Retry: a new OCR worker has been started."


class MissingDependencyError(CardError):
    """A program the pipeline needs is missing."""

    code = "missing_dependency"
    exit_code = ExitCode.missing_dependency
    http_status = 500
    hint = "Install it (Debian: apt-get install tesseract-ocr tesseract-ocr-eng) or run `make run`."
