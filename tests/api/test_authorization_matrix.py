"""Every endpoint × every kind of caller → the status class it must answer, on SQLite and PostgreSQL.

The endpoints are read from the app itself (its OpenAPI paths and the routers ``api.main``
includes), so a new endpoint without an entry in :data:`MATRIX` fails this test until
someone decides who may call it. Requests are cheap: 401/403 are decided before a body is
read, and an allowed caller may answer 404 (nothing with id 1) or 422 (the empty body).
"""

from __future__ import annotations

import types
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session

import api.main
from api.ratelimit import RateLimiter
from models.enums import Role
from models.tables import Principal
from services.partners import PartnerDetails, register_partner
from services.principals import revoke_principal

PUBLIC = "public"
UPLOADER = frozenset({Role.uploader})
CATALOG = frozenset({Role.catalog_builder})
PARTNER = frozenset({Role.partner})
ADMIN = frozenset({Role.privacy_admin})
ALLOWED_OK = frozenset({200, 201, 202, 204, 404, 422})


@dataclass(frozen=True)
class Entry:
    """Who may call an endpoint, what an allowed call may answer, and the request to send."""

    who: frozenset[Role] | str
    ok: frozenset[int] = ALLOWED_OK
    json: Any = None
    params: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] | None = None  # a form post (the public HTML pages)


MATRIX: dict[tuple[str, str], Entry] = {
    ("GET", "/healthz"): Entry(PUBLIC, ok=frozenset({200})),
    ("POST", "/v1/opt-out"): Entry(PUBLIC, ok=frozenset({202}), json={"email": "matrix@example.com"}),
    ("GET", "/opt-out"): Entry(PUBLIC, ok=frozenset({200})),
    ("POST", "/opt-out"): Entry(
        PUBLIC, ok=frozenset({200}), data={"email": "m@example.com", "scopes": "invites"}
    ),
    ("POST", "/v1/invites/unsubscribe"): Entry(
        PUBLIC, ok=frozenset({400}), params={"token": "not-a-real-token"}
    ),
    # The uploader's own cards and jobs (api/routes/cards.py, jobs.py).
    ("POST", "/v1/cards"): Entry(UPLOADER, ok=frozenset({415, 422}), json={}),  # no image: no OCR
    ("GET", "/v1/cards"): Entry(UPLOADER, ok=frozenset({200})),
    ("GET", "/v1/cards/export"): Entry(UPLOADER, ok=frozenset({200})),
    ("GET", "/v1/cards/{card_id}"): Entry(UPLOADER, ok=frozenset({404})),
    ("PATCH", "/v1/cards/{card_id}"): Entry(UPLOADER, ok=frozenset({404, 422}), json={}),
    ("DELETE", "/v1/cards/{card_id}"): Entry(UPLOADER, ok=frozenset({404})),
    ("GET", "/v1/cards/{card_id}/image"): Entry(UPLOADER, ok=frozenset({404})),
    ("GET", "/v1/jobs/{job_id}"): Entry(UPLOADER, ok=frozenset({404})),
    # The catalog builder.
    ("GET", "/v1/catalog/companies"): Entry(CATALOG, ok=frozenset({200})),
    ("GET", "/v1/catalog/companies/{company_id}"): Entry(CATALOG, ok=frozenset({404})),
    ("GET", "/v1/catalog/export"): Entry(CATALOG, ok=frozenset({200})),
    # The partner.
    ("GET", "/v1/partner/contacts"): Entry(PARTNER, ok=frozenset({200})),
    ("GET", "/v1/partner/suppressions"): Entry(PARTNER, ok=frozenset({200})),
    # The privacy admin.
    ("POST", "/v1/subject-requests"): Entry(ADMIN, ok=frozenset({422}), json={}),
    ("GET", "/v1/invites/candidates"): Entry(ADMIN, ok=frozenset({200})),
    ("POST", "/v1/invites/claims"): Entry(ADMIN, ok=frozenset({201}), json={"limit": 1}),
    ("POST", "/v1/invites/claims/{claim_id}/sent"): Entry(ADMIN, ok=frozenset({404})),
    ("POST", "/v1/invites/claims/{claim_id}/release"): Entry(ADMIN, ok=frozenset({404})),
    ("POST", "/v1/users"): Entry(ADMIN, ok=frozenset({200}), json={"email": "new.user@example.com"}),
    ("GET", "/v1/notices/due"): Entry(ADMIN, ok=frozenset({200})),
    ("POST", "/v1/notices/{notice_id}/sent"): Entry(ADMIN, ok=frozenset({404})),
    ("GET", "/v1/partners"): Entry(ADMIN, ok=frozenset({200})),
    ("PUT", "/v1/partners/{partner_id}"): Entry(ADMIN, ok=frozenset({422}), json={}),
    ("GET", "/v1/register"): Entry(ADMIN, ok=frozenset({200})),
}

#: Callers that are nobody: each must get 401 from every endpoint that needs a key.
ANONYMOUS: dict[str, Callable[[dict[str, str]], dict[str, str]]] = {
    "no key": lambda keys: {},
    "unknown key": lambda keys: {"Authorization": "Bearer cv_" + "x" * 43},
    "not a key": lambda keys: {"Authorization": "Bearer hunter2"},
    "basic auth": lambda keys: {"Authorization": "Basic dXNlcjpwYXNz"},
    "revoked key": lambda keys: {"Authorization": f"Bearer {keys['revoked']}"},
}


def served_endpoints(app: Any) -> set[tuple[str, str]]:
    """(method, path) of every operation: the OpenAPI paths and the routes of every included router."""
    found = {
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        for method in operations
        if method in {"get", "post", "put", "patch", "delete"}
    }
    for module in vars(api.main).values():
        router = getattr(module, "router", None) if isinstance(module, types.ModuleType) else None
        for route in getattr(router, "routes", []):
            if isinstance(route, APIRoute):  # include_in_schema=False routes count too
                found |= {(m, route.path) for m in route.methods - {"HEAD", "OPTIONS"}}
    return found


def test_every_endpoint_has_a_matrix_entry(app: Any) -> None:
    served = served_endpoints(app)
    assert sorted(served - MATRIX.keys()) == [], "endpoints nobody decided the callers of: add them to MATRIX"
    assert sorted(MATRIX.keys() - served) == [], "MATRIX entries for endpoints that no longer exist"


def test_authorization_matrix(
    app: Any, client: TestClient, make_caller: Callable[[Role, str], Any], engine: Engine
) -> None:
    app.state.opt_out_limiter = RateLimiter(per_minute=10_000)
    made = {role: make_caller(role, f"matrix-{role.value}") for role in Role}
    keys = {role.value: caller.key for role, caller in made.items()}
    revoked = make_caller(Role.privacy_admin, "matrix-revoked")
    with Session(engine) as session:
        revoke_principal(session, revoked.id)
        partner = session.get(Principal, made[Role.partner].id)
        assert partner is not None
        register_partner(session, None, partner, PartnerDetails("Matrix Partner", "1 Way", "US", "C-1"))
        session.commit()
    keys["revoked"] = revoked.key
    callers: dict[str, tuple[dict[str, str], Role | None]] = {
        name: (headers(keys), None) for name, headers in ANONYMOUS.items()
    }
    callers |= {role.value: ({"Authorization": f"Bearer {keys[role.value]}"}, role) for role in Role}

    wrong: list[str] = []
    for (method, path), entry in sorted(MATRIX.items()):
        url = path.replace("{", "").replace("}", "")
        url = "/".join("1" if part.endswith("_id") else part for part in url.split("/"))
        for name, (headers, role) in callers.items():
            response = client.request(
                method, url, headers=headers, json=entry.json, params=entry.params, data=entry.data
            )
            if entry.who == PUBLIC or (role is not None and role in entry.who):
                expected: frozenset[int] = entry.ok
            elif role is None:
                expected = frozenset({401})
            else:
                expected = frozenset({403})
            if response.status_code not in expected:
                wrong.append(f"{method} {path} as {name}: {response.status_code} (want {sorted(expected)})")
                continue
            if response.status_code >= 400:
                problem = response.json()
                if (
                    not response.headers["content-type"].startswith("application/problem+json")
                    or problem.get("status") != response.status_code
                ):
                    wrong.append(f"{method} {path} as {name}: not a problem+json answer")
            if response.status_code == 401 and response.headers.get("www-authenticate") != "Bearer":
                wrong.append(f"{method} {path} as {name}: 401 without WWW-Authenticate: Bearer")
    assert wrong == [], "\n".join(wrong)


@pytest.mark.parametrize("method", ["PUT", "DELETE"])
def test_an_unknown_method_is_a_problem_too(client: TestClient, method: str) -> None:
    response = client.request(method, "/v1/catalog/companies")
    assert response.status_code == 405
    assert response.headers["content-type"].startswith("application/problem+json")


# The web app's pages (web/): the same roles as the API, as HTML. Signed out, a page redirects
# to the sign-in page (303); a role the page is not for gets a 403 page; an allowed caller may
# get a 404 page (no card 1) or a 422 page (an empty form). Every POST carries the CSRF token.
SIGNED_IN = "signed in"
WEB_ALLOWED_OK = frozenset({200, 303, 404, 422})
WEB_MATRIX: dict[tuple[str, str], Entry] = {
    ("GET", "/app"): Entry(PUBLIC, ok=frozenset({307})),
    ("GET", "/app/"): Entry(PUBLIC, ok=frozenset({303})),
    ("GET", "/app/login"): Entry(PUBLIC, ok=frozenset({200})),
    ("POST", "/app/login"): Entry(PUBLIC, ok=frozenset({401}), data={"api_key": "cv_" + "x" * 43}),
    ("POST", "/app/logout"): Entry(SIGNED_IN, ok=frozenset({303})),
    ("GET", "/app/partner"): Entry(SIGNED_IN, ok=frozenset({200})),
    ("GET", "/app/upload"): Entry(UPLOADER, ok=frozenset({200})),
    ("POST", "/app/upload"): Entry(UPLOADER, ok=frozenset({422}), data={"basis": "received_in_person"}),
    ("POST", "/app/upload/file"): Entry(UPLOADER, ok=frozenset({422}), data={"basis": "received_in_person"}),
    ("GET", "/app/queue"): Entry(UPLOADER, ok=frozenset({200})),
    ("GET", "/app/export"): Entry(UPLOADER, ok=frozenset({200})),
    ("GET", "/app/cards/{card_id}"): Entry(UPLOADER, ok=frozenset({404})),
    ("POST", "/app/cards/{card_id}"): Entry(UPLOADER, ok=frozenset({404})),
    ("GET", "/app/cards/{card_id}/image"): Entry(UPLOADER, ok=frozenset({404})),
    ("POST", "/app/cards/{card_id}/consent"): Entry(UPLOADER, ok=frozenset({404})),
    ("GET", "/app/cards/{card_id}/delete"): Entry(UPLOADER, ok=frozenset({404})),
    ("POST", "/app/cards/{card_id}/delete"): Entry(UPLOADER, ok=frozenset({404})),
    ("GET", "/app/privacy"): Entry(ADMIN, ok=frozenset({200})),
    ("POST", "/app/privacy"): Entry(ADMIN, ok=frozenset({200}), data={"email": "m@example.com"}),
    ("POST", "/app/privacy/confirm"): Entry(
        ADMIN, ok=frozenset({200}), data={"email": "m@example.com", "action": "erase"}
    ),
    ("POST", "/app/privacy/act"): Entry(ADMIN, ok=frozenset({400}), data={"email": "m@example.com"}),
    ("GET", "/app/catalog"): Entry(CATALOG, ok=frozenset({200})),
}


def web_pages(app: Any) -> set[tuple[str, str]]:
    """(method, path) of every page: the web app's routers and the app's own routes under /app."""
    from web.app import ROUTERS

    routes = [route for router in ROUTERS for route in router.routes] + list(app.routes)
    return {
        (method, route.path)
        for route in routes
        if isinstance(route, APIRoute) and (route.path == "/app" or route.path.startswith("/app/"))
        for method in route.methods - {"HEAD", "OPTIONS"}
    }


def test_every_page_has_a_matrix_entry(app: Any) -> None:
    served = web_pages(app)
    assert sorted(served - WEB_MATRIX.keys()) == [], "pages nobody decided the callers of: add them"
    assert sorted(WEB_MATRIX.keys() - served) == [], "WEB_MATRIX entries for pages that no longer exist"


def _sign_in(client: TestClient, key: str) -> str:
    client.cookies.clear()
    page = client.get("/app/login")
    csrf = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    response = client.post("/app/login", data={"csrf": csrf, "api_key": key}, follow_redirects=False)
    assert response.status_code == 303, response.text
    return response.cookies["cv_session"]


def test_authorization_matrix_of_the_pages(
    app: Any, client: TestClient, make_caller: Callable[[Role, str], Any]
) -> None:
    from services.web_sessions import csrf_token

    sessions: dict[str, tuple[str | None, Role | None]] = {"signed out": (None, None)}
    for role in Role:
        sessions[role.value] = (_sign_in(client, make_caller(role, f"web-{role.value}").key), role)
    secret = app.state.web_secret
    wrong: list[str] = []
    # Signing out last: it ends the sessions the other rows use.
    for (method, path), entry in sorted(
        WEB_MATRIX.items(), key=lambda item: (item[0][1] == "/app/logout", item[0])
    ):
        url = path.replace("{card_id}", "1")
        for name, (token, role) in sessions.items():
            client.cookies.clear()
            data = dict(entry.data or {})
            if token is not None:
                client.cookies.set("cv_session", token)
                data["csrf"] = csrf_token(secret, token)
            if method == "POST" and path == "/app/login":  # the sign-in form's token is the nonce cookie's
                client.get("/app/login")
                data["csrf"] = csrf_token(secret, client.cookies["cv_signin"])
            response = client.request(
                method, url, data=data if method == "POST" else None, follow_redirects=False
            )
            allowed = entry.who == PUBLIC or (
                role is not None and (entry.who == SIGNED_IN or role in entry.who)
            )
            if allowed:
                expected = entry.ok
            elif role is None:
                expected = frozenset({303})
            else:
                expected = frozenset({403})
            if response.status_code not in expected:
                wrong.append(f"{method} {path} as {name}: {response.status_code} (want {sorted(expected)})")
            elif response.status_code == 303 and role is None and entry.who != PUBLIC:
                if response.headers["location"] != "/app/login":
                    wrong.append(f"{method} {path} as {name}: redirects to {response.headers['location']}")
            elif (
                response.status_code >= 400
                and path != "/app/upload/file"
                and not response.headers["content-type"].startswith("text/html")
            ):
                wrong.append(f"{method} {path} as {name}: not an HTML page")
    assert wrong == [], "\n".join(wrong)
