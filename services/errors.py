"""Errors of the services: records, rights, invites and idempotent requests.

Part of the project's one vocabulary (base and exit statuses in :mod:`core.errors`).
"""

from __future__ import annotations

from core.errors import BadArgumentsError, CardError, ExitCode
from ingest.errors import InputFileError


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


class OverloadedError(CardError):
    """More cards are waiting for OCR than the server can read in time."""

    code = "overloaded"
    http_status = 503
    hint = (
        "Retry after the seconds in Retry-After, or queue the card: `?mode=async` or "
        "`Prefer: respond-async`."
    )

    def __init__(self, message: str = "", *, retry_after: int = 1, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.retry_after = retry_after
