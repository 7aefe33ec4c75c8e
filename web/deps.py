"""What every page needs: the services, the signed-in principal, CSRF checks and the templates.

Authentication is a session cookie set at sign-in (:mod:`services.web_sessions`): HttpOnly,
SameSite=Strict, Secure when the request came over TLS, expiring after
``CARDS_SESSION_HOURS``. A page without a live session redirects to the sign-in page; a role
the page is not for is a 403 page; another uploader's card is a 404 page, exactly as the API
answers. Every POST carries the session's CSRF token (before sign-in: a nonce cookie's),
checked here before the handler runs.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from models.enums import Role
from services import web_sessions
from services.context import ServiceContext
from services.errors import ForbiddenError
from services.principals import Principal  # the caller, as the services hand it out
from web.errors import CsrfError

SESSION_COOKIE = "cv_session"
NONCE_COOKIE = "cv_signin"
PREFIX = "/app"
HOME = {
    Role.uploader: f"{PREFIX}/queue",
    Role.privacy_admin: f"{PREFIX}/privacy",
    Role.catalog_builder: f"{PREFIX}/catalog",
    Role.partner: f"{PREFIX}/partner",
}

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")


def when(value: str | None) -> str:
    """An ISO time from a report as people read it: ``2026-12-04 18:56 UTC``."""
    if not value:
        return ""
    return f"{value[:10]} {value[11:16]} UTC" if len(value) >= 16 and value[10] == "T" else value


templates.env.filters["when"] = when


class SignInRequired(Exception):
    """No live session: the page answers with a redirect to the sign-in page."""


def services_of(request: Request) -> ServiceContext:
    services: ServiceContext = request.app.state.services
    return services


def session_secret(request: Request) -> bytes:
    """The CSRF key, resolved on first use (so the JSON API never needs it)."""
    secret: bytes | None = getattr(request.app.state, "web_secret", None)
    if secret is None:
        secret = web_sessions.resolve_session_secret(services_of(request).settings)
        request.app.state.web_secret = secret
    return secret


def _lookup(services: ServiceContext, token: str | None) -> Principal | None:
    with services.session() as db:
        return web_sessions.principal_for(db, token)


async def signed_in(request: Request) -> Principal:
    """The principal of the request's session cookie; otherwise the page redirects to sign-in."""
    principal = await run_in_threadpool(_lookup, services_of(request), request.cookies.get(SESSION_COOKIE))
    if principal is None:
        raise SignInRequired()
    request.state.principal = principal
    return principal


def require(*roles: Role) -> Callable[..., Any]:
    """A page for these roles only: signed in, then a 403 page for any other role."""

    async def check(request: Request, principal: Annotated[Principal, Depends(signed_in)]) -> Principal:
        if Role(principal.role) not in roles:
            raise ForbiddenError(f"This page is for {', '.join(r.value for r in roles)}.")
        return principal

    return check


async def csrf_checked(request: Request) -> None:
    """Refuse a form without the token of this session (or, for sign-in, of this browser's nonce)."""
    if request.url.path == f"{PREFIX}/login":
        bound = request.cookies.get(NONCE_COOKIE)
    else:
        bound = request.cookies.get(SESSION_COOKIE)
        if not bound:
            raise SignInRequired()  # signed out: the sign-in page, not a CSRF error
    form = await request.form()
    given = form.get("csrf")
    if not web_sessions.csrf_valid(session_secret(request), bound, given if isinstance(given, str) else None):
        raise CsrfError("This form was sent without a valid CSRF token.")


async def form_of(request: Request) -> FormData:
    """The parsed form (parsed once: the CSRF check reads the same), so handlers can be plain functions
    that run in the thread pool, keeping database work off the event loop."""
    return await request.form()


FormDep = Annotated[FormData, Depends(form_of)]
Uploader = Annotated[Principal, Depends(require(Role.uploader))]
PrivacyAdmin = Annotated[Principal, Depends(require(Role.privacy_admin))]
CatalogBuilder = Annotated[Principal, Depends(require(Role.catalog_builder))]
AnyPrincipal = Annotated[Principal, Depends(signed_in)]
Csrf = Depends(csrf_checked)


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """A page: the template with the signed-in principal, its navigation and the form token."""
    principal: Principal | None = getattr(request.state, "principal", None)
    token = request.cookies.get(SESSION_COOKIE)
    nonce = None
    if principal is None:
        nonce = request.cookies.get(NONCE_COOKIE) or secrets.token_urlsafe(24)
        token = nonce
    csrf = web_sessions.csrf_token(session_secret(request), token) if token else ""
    response = templates.TemplateResponse(
        request,
        template,
        {
            "principal": principal,
            "role": Role(principal.role).value if principal else None,
            "csrf": csrf,
            "prefix": PREFIX,
            **context,
        },
        status_code=status_code,
        headers=NO_STORE,
    )
    if nonce is not None and request.cookies.get(NONCE_COOKIE) != nonce:
        set_cookie(request, response, NONCE_COOKIE, nonce, max_age=3600)
    return response


NO_STORE = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
}


def set_cookie(request: Request, response: Response, name: str, value: str, *, max_age: int) -> None:
    """A cookie only this app's pages get: HttpOnly, SameSite=Strict, Secure over TLS."""
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=PREFIX,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
