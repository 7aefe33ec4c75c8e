"""Mounting the web app on the API's FastAPI application: its pages, its static files, its error pages.

:func:`install` is the one thing ``api.main`` calls. Errors under ``/app`` answer as HTML
pages (the same codes and messages as the API's problem details: a 404 page for another
uploader's card, a 403 page for a wrong role, a 403 for a form without its CSRF token);
every other path keeps the API's problem+json handlers, which are looked up and delegated to.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from core.errors import CardError, error_from_exception
from web import auth, cards, privacy, upload
from web.deps import PREFIX, SignInRequired, render

ROUTERS = (auth.router, upload.router, cards.router, privacy.router)
STATIC = Path(__file__).parent / "static"

TITLES = {
    400: "That request was not right",
    401: "Please sign in",
    403: "Not allowed",
    404: "Not found",
    405: "Not allowed here",
    413: "Too large",
    422: "Please check the form",
    500: "Something went wrong",
    503: "Try again shortly",
}

Handler = Callable[[Request, Any], Awaitable[Response]]


def _page(request: Request, status: int, code: str, message: str) -> Response:
    return render(
        request,
        "error.html",
        status_code=status,
        status=status,
        title=TITLES.get(status, "Error"),
        code=code,
        message=message,
    )


def _is_web(request: Request) -> bool:
    return request.url.path == PREFIX or request.url.path.startswith(PREFIX + "/")


def install(app: FastAPI) -> None:
    """Add the pages and static files, and route errors under ``/app`` to HTML pages (see the module doc)."""
    for router in ROUTERS:
        app.include_router(router)
    app.mount(f"{PREFIX}/static", StaticFiles(directory=STATIC), name="web-static")

    def wrap(kind: type[Exception], page: Callable[[Request, Any], Response]) -> None:
        previous: Handler | None = app.exception_handlers.get(kind)  # type: ignore[assignment]

        async def handler(request: Request, exc: Any) -> Response:
            if _is_web(request) or previous is None:
                return page(request, exc)
            return await previous(request, exc)

        app.add_exception_handler(kind, handler)

    def card_error(request: Request, exc: CardError) -> Response:
        return _page(request, exc.http_status, exc.code, exc.full_message)

    def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        message = "There is no such page." if exc.status_code == 404 else str(exc.detail)
        return _page(request, exc.status_code, "http_error", message)

    def invalid(request: Request, exc: RequestValidationError) -> Response:
        fields = sorted({str(e.get("loc", ("", ""))[-1]) for e in exc.errors()})
        return _page(
            request, 422, "invalid_request", f"Some of the form is missing or wrong: {', '.join(fields)}."
        )

    def unexpected(request: Request, exc: Exception) -> Response:
        err = error_from_exception(exc)
        return _page(request, 500, err.code, "Internal error; it has been logged.")

    wrap(CardError, card_error)
    wrap(StarletteHTTPException, http_error)
    wrap(RequestValidationError, invalid)
    wrap(Exception, unexpected)

    @app.exception_handler(SignInRequired)
    async def sign_in_first(request: Request, exc: SignInRequired) -> Response:
        return RedirectResponse(f"{PREFIX}/login", status_code=303)

    @app.get(PREFIX, include_in_schema=False)
    def slash() -> Response:
        return RedirectResponse(f"{PREFIX}/", status_code=307)
