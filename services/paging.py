"""Opaque keyset cursors: ``next_cursor`` of one page is the ``cursor`` of the next.

A cursor is the last id of a page, base64url-encoded JSON. It is opaque to clients (they
must not build one) and validated on the way in, so a forged one is a 400, never a
database error.
"""

from __future__ import annotations

import base64
import json

from core.errors import BadArgumentsError

MAX_ID = 2**31 - 1  # ids are 32-bit integers on PostgreSQL: a larger cursor would be a database error


def encode_cursor(last_id: int) -> str:
    """The cursor of the page after the one ending with ``last_id``."""
    return base64.urlsafe_b64encode(json.dumps({"after": last_id}).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int | None:
    """The id a page starts after (None: the first page); 400 for anything that is not our cursor."""
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        after = json.loads(base64.urlsafe_b64decode(padded.encode()))["after"]
        if not isinstance(after, int) or isinstance(after, bool) or not 0 <= after <= MAX_ID:
            raise ValueError
        return after
    except (ValueError, KeyError, TypeError, json.JSONDecodeError) as exc:
        raise BadArgumentsError(
            "The cursor is not valid.", hint="Use the next_cursor of a previous page."
        ) from exc
