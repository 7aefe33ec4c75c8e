"""Storage errors, raised where the database or the blob store is reached."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError, SQLAlchemyError

from core.errors import CardError, ExitCode


class StorageError(CardError):
    """The database could not be read or written."""

    code = "storage_error"
    exit_code = ExitCode.storage
    http_status = 503
    hint = "Check DATABASE_URL and that the database is reachable and migrated (`cards db upgrade`)."


# What a failing database raises (down, read-only, disk full, locked, not migrated): the HTTP
# API answers these 503 ``storage_error``. An IntegrityError is a conflict or a bug, not a fault.
STORAGE_EXCEPTIONS: tuple[type[Exception], ...] = (OperationalError, InterfaceError, DBAPIError)

BLOB_HINT = "Check that CARDS_BLOB_DIR is a writable folder with free space."


def storage_fault(exc: BaseException) -> StorageError | None:
    """A database fault as ``storage_error`` (None for a conflict, a bug, or anything else)."""
    if isinstance(exc, StorageError):
        return exc
    if isinstance(exc, IntegrityError) or not isinstance(exc, STORAGE_EXCEPTIONS):
        return None
    return storage_error_from(exc)


def blob_error(exc: OSError, what: str) -> StorageError:
    """A failure of the blob folder (read-only, full, not a folder) as ``storage_error``."""
    error = StorageError(f"The blob folder failed to {what}: {type(exc).__name__}: {exc}.", hint=BLOB_HINT)
    error.__cause__ = exc
    return error


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
