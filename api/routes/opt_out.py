"""The public opt-out: a page (``/opt-out``, plain HTML, no JavaScript) and ``POST /v1/opt-out`` (JSON).

No key: anyone may stop the use of their own e-mail address or phone number. Both only ever
suppress, and answer the same whether or not the contact is known, so they cannot be used
to find out whom we hold. A browser sending Global Privacy Control (``Sec-GPC: 1``) opts
out of partner sharing whatever boxes are ticked (it is the person's standing objection to
the sale or sharing of their data). A per-client sliding-window limit
(``CARDS_OPT_OUT_PER_MINUTE``), counted in the database so that every server process shares
it, keeps them from flooding the suppression list; the client is the peer address, or behind
``CARDS_TRUSTED_PROXIES`` the address they forward (:mod:`api.hardening`). The body is capped
(4 KiB) before it is read, so the limit never waits on a huge body.
"""

from __future__ import annotations

from html import escape
from typing import Annotated

from fastapi import APIRouter, Form, Request, status
from fastapi.responses import HTMLResponse, JSONResponse

from api.deps import ServicesDep, SessionDep
from api.problems import problem
from api.ratelimit import opt_out_wait
from api.schemas import OptOutAccepted, PublicOptOut, problem_responses
from core.errors import BadArgumentsError
from services import rights
from services.context import ServiceContext

router = APIRouter(tags=["opt-out"])

PAGE_STYLE = """
body{font:16px/1.5 system-ui,sans-serif;max-width:36rem;margin:2rem auto;padding:0 1rem;color:#1a1a1a}
label{display:block;margin:.8rem 0 .2rem;font-weight:600}
input[type=email],input[type=tel]{width:100%;padding:.5rem;border:1px solid #555;
  border-radius:4px;font:inherit}
fieldset{border:1px solid #777;border-radius:4px;margin:1rem 0}
fieldset label{display:inline;font-weight:400;margin-left:.3rem}
button{margin-top:1rem;padding:.6rem 1.2rem;background:#0b4f9c;color:#fff;border:0;
  border-radius:4px;font:inherit}
:focus-visible{outline:3px solid #b35900;outline-offset:2px}
.note{color:#333;font-size:.95rem}
"""


def gpc(request: Request) -> bool:
    """Whether the browser sends Global Privacy Control."""
    return request.headers.get("sec-gpc", "").strip() == "1"


def _opt_out(
    services: ServiceContext, session: SessionDep, email: str | None, phone: str | None, scopes: set[str]
) -> None:
    rights.opt_out(
        session,
        email=email or None,
        phone=phone or None,
        scopes=scopes,
        actor=None,
        salt=services.salt,
        region=services.settings.default_region,
    )
    session.commit()


def _limited(request: Request) -> int:
    return opt_out_wait(request)


@router.post(
    "/v1/opt-out",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=OptOutAccepted,
    responses=problem_responses(400, 422, 429),
)
def public_opt_out(
    body: PublicOptOut, session: SessionDep, services: ServicesDep, request: Request
) -> OptOutAccepted | JSONResponse:
    """Stop invites and/or partner sharing for your own e-mail or phone: no key, and no hint if we know it."""
    wait = _limited(request)
    if wait:
        limited = problem(429, "too_many_requests", f"Too many opt-out requests: retry in {wait} s.")
        limited.headers["Retry-After"] = str(wait)
        return limited
    scopes = set(body.scopes) | ({"partners"} if gpc(request) else set())
    _opt_out(services, session, body.email, body.phone, scopes)
    return OptOutAccepted()


def _page(title: str, body: str, status_code: int = 200) -> HTMLResponse:
    html = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{PAGE_STYLE}</style></head>"
        f"<body><main><h1>{escape(title)}</h1>{body}</main></body></html>"
    )
    return HTMLResponse(html, status_code=status_code, headers={"Cache-Control": "no-store"})


def _form(request: Request, message: str = "") -> str:
    signal = (
        '<p class="note">Your browser sends Global Privacy Control: sharing with partners is stopped '
        "whatever you tick below.</p>"
        if gpc(request)
        else ""
    )
    return (
        f"{message}<p>Your business card may have been uploaded by someone you gave it to. Give your "
        "e-mail address or phone number to stop its use for the purposes you choose. We answer the same "
        "whether or not we hold it.</p>"
        f"{signal}"
        '<form method="post" action="/opt-out">'
        '<label for="email">E-mail address</label>'
        '<input id="email" name="email" type="email" autocomplete="email">'
        '<label for="phone">Phone number (with its country code, e.g. +44 20 7946 0958)</label>'
        '<input id="phone" name="phone" type="tel" autocomplete="tel">'
        "<fieldset><legend>Stop</legend>"
        '<div><input id="invites" name="scopes" type="checkbox" value="invites" checked>'
        '<label for="invites">invitations to try the service</label></div>'
        '<div><input id="partners" name="scopes" type="checkbox" value="partners" checked>'
        '<label for="partners">sharing with business partners for their marketing</label></div>'
        '</fieldset><button type="submit">Opt out</button></form>'
    )


@router.get("/opt-out", response_class=HTMLResponse, include_in_schema=False)
def opt_out_page(request: Request) -> HTMLResponse:
    """The opt-out form."""
    return _page("Opt out", _form(request))


@router.post("/opt-out", response_class=HTMLResponse, include_in_schema=False)
def opt_out_form(
    request: Request,
    session: SessionDep,
    services: ServicesDep,
    email: Annotated[str, Form(max_length=320)] = "",
    phone: Annotated[str, Form(max_length=64)] = "",
    scopes: Annotated[list[str] | None, Form()] = None,
) -> HTMLResponse:
    """The form's answer: the same whether or not we know the contact."""
    wait = _limited(request)
    if wait:
        return _page("Opt out", f"<p>Too many requests from your address: try again in {wait} s.</p>", 429)
    chosen = {s for s in scopes or [] if s in ("invites", "partners")} | (
        {"partners"} if gpc(request) else set()
    )
    if not (email.strip() or phone.strip()) or not chosen:
        message = '<p role="alert"><strong>Give your e-mail or phone and choose what to stop.</strong></p>'
        return _page("Opt out", _form(request, message), 422)
    try:
        _opt_out(services, session, email.strip(), phone.strip(), chosen)
    except BadArgumentsError as exc:
        return _page(
            "Opt out", _form(request, f'<p role="alert"><strong>{escape(exc.message)}</strong></p>'), 422
        )
    done = ", ".join("invitations" if s == "invites" else "sharing with partners" for s in sorted(chosen))
    return _page(
        "Done",
        f"<p>If we hold or later receive this contact, it will not be used for: {escape(done)}.</p>"
        '<p><a href="/opt-out">Opt out another address</a></p>',
    )
