"""What every sub-command shares: one way to report an error and exit."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

import typer

from ingest.errors import CardError, error_from_exception


def fail(error: CardError) -> NoReturn:
    """Print an error as JSON on stderr and exit with its code: the same shape as per-card errors."""
    print(json.dumps({"error": error.to_dict()}), file=sys.stderr)
    raise typer.Exit(int(error.exit_code))


@contextmanager
def reported_errors() -> Iterator[None]:
    """Turn any CardError (or unexpected failure) raised inside into the JSON error and exit code."""
    try:
        yield
    except typer.Exit:
        raise
    except CardError as exc:
        fail(exc)
    except Exception as exc:  # a bug still answers in the error vocabulary
        fail(error_from_exception(exc))


def print_json(data: Any, default: Callable[[Any], Any] = str) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=2, default=default))
