"""RFC 9457 problem details: one error shape for every HTTP answer.

``type`` is ``/problems/{code}`` with the same stable code the CLI prints as
``error.code``, so a client can branch on it whichever door it came through.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from core.errors import CardError, error_from_exception
from models.errors import STORAGE_EXCEPTIONS, storage_fault

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "/problems/"

HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "too_many_requests",
}


def problem(
    status: int, code: str, detail: str, *, retry_after: int | None = None, **extra: Any
) -> JSONResponse:
    body = {
        "type": PROBLEM_BASE + code,
        "title": code.replace("_", " "),
        "status": status,
        "detail": detail,
        "code": code,
        **extra,
    }
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else {}
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def install(app: FastAPI) -> None:
    """Register handlers so that no error leaves the API in another shape."""

    @app.exception_handler(CardError)
    async def card_error(_: Request, exc: CardError) -> JSONResponse:
        retry_after = getattr(exc, "retry_after", None)  # overloaded: when to come back
        return problem(exc.http_status, exc.code, exc.full_message, retry_after=retry_after)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400 and isinstance(exc.__cause__, UnicodeDecodeError | RecursionError):
            # FastAPI's "error parsing the body": not UTF-8, or JSON nested past the parser's depth.
            reason = "not UTF-8" if isinstance(exc.__cause__, UnicodeDecodeError) else "nested too deeply"
            errors = [{"loc": ["body"], "msg": f"The body is not valid JSON: {reason}."}]
            return problem(422, "invalid_request", f"The body is not valid JSON: {reason}.", errors=errors)
        code = HTTP_CODES.get(exc.status_code, "http_error")
        return problem(exc.status_code, code, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        found = exc.errors()
        errors = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", "")} for e in found]
        # An unknown key is named in the detail too: a key in the wrong place is the usual mistake.
        unknown = [
            ".".join(str(p) for p in e.get("loc", ())[1:])
            for e in found
            if e.get("type") == "extra_forbidden"
        ]
        detail = "The request is not valid: see errors."
        if unknown:
            detail = f"Unknown keys: {', '.join(unknown)}. The request is not valid: see errors."
        return problem(422, "invalid_request", detail, errors=errors)

    async def storage_failure(_: Request, exc: Exception) -> JSONResponse:
        """A database fault met outside a request's session (a service's own): 503, not 500."""
        fault = storage_fault(exc)
        if fault is None:  # an IntegrityError nobody expected: a bug
            log.error("unexpected database error", exc_info=exc)
            return problem(500, "error", "Internal error; it has been logged.")
        log.warning("storage fault: %s", fault.message)
        return problem(fault.http_status, fault.code, fault.full_message)

    for storage_exception in STORAGE_EXCEPTIONS:
        app.add_exception_handler(storage_exception, storage_failure)

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        err = error_from_exception(exc)
        return problem(500, err.code, "Internal error; it has been logged.")
