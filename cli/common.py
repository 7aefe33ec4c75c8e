"""What every sub-command shares: one way to report an error and exit."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

import typer

from core.errors import CardError, error_from_exception


def fail(error: CardError) -> NoReturn:
    """Print an error as JSON on stderr and exit with its code: the same shape as per-card errors."""
    print(json.dumps({"error": error.to_dict()}), file=sys.stderr)
    raise typer.Exit(int(error.exit_code))


@contextmanager
def reported_errors() -> Iterator[None]:
    """Turn any CardError (a database failure included) raised inside into the JSON error and exit code."""
    try:
        yield
    except typer.Exit:
        raise
    except CardError as exc:
        fail(exc)
    except Exception as exc:  # a database failure is storage_error; a bug still answers in the vocabulary
        fail(_as_card_error(exc))


def _as_card_error(exc: Exception) -> CardError:
    """The error in the vocabulary; storage code is consulted only when it is loaded (not by `extract`)."""
    if "sqlalchemy" in sys.modules:
        from models.errors import storage_error_from

        found = storage_error_from(exc)
        if found is not None:
            return found
    return error_from_exception(exc)


def print_json(data: Any, default: Callable[[Any], Any] = str) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=2, default=default))
