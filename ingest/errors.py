"""The project's one error vocabulary.

Every failure a user can meet is a :class:`CardError` subclass with a stable ``code``.
The same code appears in the CLI's JSON (``error.code``), in HTTP problem types
(``/problems/{code}``) and maps to a process exit status, so scripts, the mobile app
and operators all talk about the same thing. Messages say what to do next.
Modelled on OCRmyPDF's ``exceptions.py``.
"""

from __future__ import annotations

from enum import IntEnum
from typing import ClassVar


class ExitCode(IntEnum):
    """Process exit statuses of the ``cards`` CLI."""

    ok = 0
    card_failed = 1  # at least one card failed; the others were processed
    bad_args = 2
    input_file = 3
    missing_dependency = 4
    ocr_engine = 5
    invalid_config = 6
    storage = 7
    not_found = 8
    forbidden = 9
    other = 15


class CardError(Exception):
    """Base of every expected failure. Subclasses set ``code``, ``exit_code`` and ``http_status``."""

    code: ClassVar[str] = "error"
    exit_code: ClassVar[ExitCode] = ExitCode.other
    http_status: ClassVar[int] = 500
    hint: ClassVar[str] = ""

    def __init__(self, message: str = "", *, hint: str | None = None) -> None:
        self.message = message or self.__class__.__doc__ or self.code
        if hint is not None:
            self.hint_text = hint
        else:
            self.hint_text = self.hint
        super().__init__(self.full_message)

    @property
    def full_message(self) -> str:
        return f"{self.message} {self.hint_text}".strip()

    def to_dict(self) -> dict[str, str]:
        """The ``{"code", "message"}`` object used in JSON output and problem details."""
        return {"code": self.code, "message": self.full_message}


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


class MissingDependencyError(CardError):
    """A program the pipeline needs is missing."""

    code = "missing_dependency"
    exit_code = ExitCode.missing_dependency
    http_status = 500
    hint = "Install it (Debian: apt-get install tesseract-ocr tesseract-ocr-eng) or run `make run`."


# --- configuration and arguments -------------------------------------------------------


class BadArgumentsError(CardError):
    """The command line or request arguments are invalid."""

    code = "bad_arguments"
    exit_code = ExitCode.bad_args
    http_status = 400
    hint = "Run `cards extract --help` for the accepted arguments."


class InvalidConfigError(CardError):
    """A setting has an invalid value."""

    code = "invalid_config"
    exit_code = ExitCode.invalid_config
    http_status = 500
    hint = "Fix the setting named above (environment variable or option) and retry."


def error_from_exception(exc: BaseException) -> CardError:
    """Wrap an unexpected exception so that one card's bug never stops a batch."""
    if isinstance(exc, CardError):
        return exc
    err = CardError(
        f"Unexpected {type(exc).__name__}: {exc}.", hint="This is a bug: report it with the image."
    )
    err.__cause__ = exc
    return err


# --- records and controls --------------------------------------------------------------


class StorageError(CardError):
    """The database could not be read or written."""

    code = "storage_error"
    exit_code = ExitCode.storage
    http_status = 503
    hint = "Check DATABASE_URL and that the database is reachable and migrated (`cards db upgrade`)."


class NotFoundError(CardError):
    """The thing asked for does not exist, or is not yours to see."""

    code = "not_found"
    exit_code = ExitCode.not_found
    http_status = 404
    hint = "Check the id, and that it belongs to you."


class ForbiddenError(CardError):
    """Your role does not allow this."""

    code = "forbidden"
    exit_code = ExitCode.forbidden
    http_status = 403
    hint = "Ask a privacy admin for the right role."


class InvalidAttestationError(BadArgumentsError):
    """The attestation is incomplete."""

    code = "invalid_attestation"
    http_status = 422
    hint = (
        "Give a basis: received_in_person, subject_consented, public_business_information, or other + text."
    )


class SubjectSuppressedError(InputFileError):
    """The person on this card asked not to be stored (a child's data is never kept)."""

    code = "subject_suppressed"
    hint = "Do not upload this card again."


class NotEligibleError(CardError):
    """This person does not qualify for that use any more."""

    code = "not_eligible"
    exit_code = ExitCode.forbidden
    http_status = 409
    hint = (
        "The person may have opted out, been erased, become a user, or been invited recently: "
        "take a fresh list from `cards invites candidates`."
    )


# --- HTTP requests (the API adds these; the codes are the same vocabulary) ---------------------


class UploadTooLargeError(ImageTooLargeError):
    """The upload is larger than the byte limit."""

    http_status = 413
    hint = "Send an image below the byte limit: resize or recompress it."


class UnsupportedMediaTypeError(CardError):
    """The request body is not multipart/form-data."""

    code = "unsupported_media_type"
    http_status = 415
    hint = "Send multipart/form-data with an `image` file part and a `metadata` JSON part."


class InvalidIdempotencyKeyError(BadArgumentsError):
    """The Idempotency-Key header is not usable."""

    code = "invalid_idempotency_key"
    hint = "Use 1-255 visible ASCII characters, e.g. a UUID."


class IdempotencyKeyReusedError(CardError):
    """This Idempotency-Key was used for a different request."""

    code = "idempotency_key_reused"
    http_status = 422
    hint = "Send a new Idempotency-Key with a different image or metadata."


class IdempotencyInProgressError(CardError):
    """The first request with this Idempotency-Key is still running."""

    code = "idempotency_key_in_progress"
    http_status = 409
    hint = "Retry the same request later: it will get the first request's answer."


class OcrUnavailableError(OcrEngineError):
    """The OCR worker process stopped."""

    http_status = 503
    hint = "Retry: a new OCR worker has been started."


class UnauthorizedError(CardError):
    """A missing, unknown or revoked API key."""

    code = "unauthorized"
    http_status = 401
    hint = "Send `Authorization: Bearer <API key>`; keys come from `cards principals create`."
