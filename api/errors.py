"""Errors only the HTTP API meets: authentication and the shape of a request body.

Part of the project's one vocabulary (base and exit statuses in :mod:`core.errors`).
"""

from __future__ import annotations

from core.errors import CardError
from ingest.errors import ImageTooLargeError


class UploadTooLargeError(ImageTooLargeError):
    """The upload is larger than the byte limit."""

    http_status = 413
    hint = "Send an image below the byte limit: resize or recompress it."


class UnsupportedMediaTypeError(CardError):
    """The request body is not multipart/form-data."""

    code = "unsupported_media_type"
    http_status = 415
    hint = "Send multipart/form-data with an `image` file part and a `metadata` JSON part."


class UnauthorizedError(CardError):
    """A missing, unknown or revoked API key."""

    code = "unauthorized"
    http_status = 401
    hint = "Send `Authorization: Bearer <API key>`; keys come from `cards principals create`."


class BodyTooLargeError(CardError):
    """The request body is larger than its route accepts."""

    code = "body_too_large"
    http_status = 413
    hint = "JSON bodies are a few KiB (CARDS_MAX_JSON_BYTES; the public opt-out 4 KiB): send less."
