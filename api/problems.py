"""RFC 9457 problem details: one error shape for every HTTP answer.

``type`` is ``/problems/{code}`` with the same stable code the CLI prints as
``error.code``, so a client can branch on it whichever door it came through.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from core.errors import CardError, error_from_exception

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
        code = HTTP_CODES.get(exc.status_code, "http_error")
        return problem(exc.status_code, code, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", "")} for e in exc.errors()]
        return problem(422, "invalid_request", "The request is not valid: see errors.", errors=errors)

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        err = error_from_exception(exc)
        return problem(500, err.code, "Internal error; it has been logged.")
