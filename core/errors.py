"""The base of the project's one error vocabulary.

Every failure a user can meet is a :class:`CardError` subclass with a stable ``code``.
The same code appears in the CLI's JSON (``error.code``), in HTTP problem types
(``/problems/{code}``) and maps to a process exit status, so scripts, the mobile app
and operators all talk about the same thing. Messages say what to do next.
Modelled on OCRmyPDF's ``exceptions.py``.

The classes are defined where they arise — image and OCR errors in :mod:`ingest.errors`,
storage in :mod:`models.errors`, records and rights in :mod:`services.errors`, HTTP-only
ones in :mod:`api.errors` — and all derive from :class:`CardError` here, so the vocabulary
stays one: ``tests/test_error_vocabulary.py`` checks that every code is documented once in
the README with its exit and HTTP statuses. This module holds the base, the exit statuses
and the errors every layer may raise (bad arguments, a wrong setting).
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
        self.hint_text = hint if hint is not None else self.hint
        super().__init__(self.full_message)

    @property
    def full_message(self) -> str:
        return f"{self.message} {self.hint_text}".strip()

    def to_dict(self) -> dict[str, str]:
        """The ``{"code", "message"}`` object used in JSON output and problem details."""
        return {"code": self.code, "message": self.full_message}


def error_from_exception(exc: BaseException) -> CardError:
    """Wrap an unexpected exception so that one card's bug never stops a batch."""
    if isinstance(exc, CardError):
        return exc
    err = CardError(
        f"Unexpected {type(exc).__name__}: {exc}.", hint="This is a bug: report it with the image."
    )
    err.__cause__ = exc
    return err


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
