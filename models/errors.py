"""Storage errors, raised where the database or the blob store is reached."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.exc import SQLAlchemyError

from core.errors import CardError, ExitCode


class StorageError(CardError):
    """The database could not be read or written."""

    code = "storage_error"
    exit_code = ExitCode.storage
    http_status = 503
    hint = "Check DATABASE_URL and that the database is reachable and migrated (`cards db upgrade`)."


def storage_error_from(exc: BaseException) -> StorageError | None:
    """A database failure (down, locked, not migrated) as ``storage_error``; None for anything else."""
    if not isinstance(exc, SQLAlchemyError):
        return None
    first_line = str(exc).splitlines()[0] if str(exc) else ""
    error = StorageError(f"The database failed: {type(exc).__name__}: {first_line}.")
    error.__cause__ = exc
    return error


@contextmanager
def storage_errors() -> Iterator[None]:
    """Raise database failures inside as ``storage_error`` rather than as bugs."""
    try:
        yield
    except SQLAlchemyError as exc:
        error = storage_error_from(exc)
        assert error is not None
        raise error from exc
