"""Sign-in with an API key, sign-out, and the start page of each role.

The key is typed into a password field and sent in a POST body only: it never appears in
a URL, a page or a log. A wrong key answers the same page with the same message whether the
key is unknown, malformed or revoked.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from models.enums import Role
from services import web_sessions
from services.context import ServiceContext
from services.principals import principal_by_id
from web.deps import (
    HOME,
    NONCE_COOKIE,
    PREFIX,
    SESSION_COOKIE,
    AnyPrincipal,
    Csrf,
    SignInRequired,
    render,
    services_of,
    set_cookie,
    signed_in,
)

router = APIRouter(prefix=PREFIX, include_in_schema=False)


@router.get("/")
async def home(request: Request) -> Response:
    """Signed in: the role's page; otherwise the sign-in page."""
    try:
        principal = await signed_in(request)
    except SignInRequired:
        return RedirectResponse(f"{PREFIX}/login", status_code=303)
    return RedirectResponse(HOME[Role(principal.role)], status_code=303)


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request) -> HTMLResponse:
    return render(request, "login.html")


def _sign_in(services: ServiceContext, key: str) -> tuple[str, str] | None:
    with services.session() as db:
        made = web_sessions.sign_in(db, key, hours=services.settings.session_hours)
        if made is None:
            return None
        token, row = made
        principal = principal_by_id(db, row.principal_id)
        assert principal is not None
        return token, HOME[Role(principal.role)]


@router.post("/login", dependencies=[Csrf])
async def login(request: Request, api_key: Annotated[str, Form(max_length=200)]) -> Response:
    """A key that works: a session cookie and the role's page; otherwise the form again, with a 401."""
    services = services_of(request)
    made = await run_in_threadpool(_sign_in, services, api_key)
    if made is None:
        return render(
            request, "login.html", status_code=401, error="That API key is unknown, revoked or mistyped."
        )
    token, home_page = made
    response = RedirectResponse(home_page, status_code=303)
    set_cookie(request, response, SESSION_COOKIE, token, max_age=services.settings.session_hours * 3600)
    response.delete_cookie(NONCE_COOKIE, path=PREFIX)
    return response


def _sign_out(services: ServiceContext, token: str | None) -> None:
    with services.session() as db:
        web_sessions.sign_out(db, token)


@router.post("/logout", dependencies=[Depends(signed_in), Csrf])
async def logout(request: Request) -> Response:
    """End the session in the database (the cookie alone no longer signs anyone in) and clear it."""
    await run_in_threadpool(_sign_out, services_of(request), request.cookies.get(SESSION_COOKIE))
    response = RedirectResponse(f"{PREFIX}/login?signed_out=1", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path=PREFIX)
    return response


@router.get("/partner", response_class=HTMLResponse)
def partner_page(request: Request, principal: AnyPrincipal) -> HTMLResponse:
    """Partners read contacts over the API only (every read is logged as a disclosure)."""
    return render(request, "partner.html")
