"""Every route that answers with card data asks the purpose policy first (a new route cannot forget).

Each served endpoint is declared here as returning card data or not. For the first kind the
test calls the route as its allowed caller, with data in place, and counts the policy's
decisions (``models.policy.rule_for``, through which every selection of records and every
filter of fields goes). A new endpoint fails :func:`test_every_route_is_declared` until it is
declared, and a card-data route that reads around the policy fails the coverage test.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session
from test_authorization_matrix import MATRIX, served_endpoints

from models import policy
from models.enums import Role, Use
from models.tables import ContactRecord, Principal

#: Routes whose answer holds values read from cards, and the request that makes them answer with some.
CARD_DATA = {
    ("GET", "/v1/cards"),
    ("GET", "/v1/cards/{card_id}"),
    ("PATCH", "/v1/cards/{card_id}"),
    ("GET", "/v1/cards/{card_id}/image"),
    ("GET", "/v1/cards/export"),
    ("POST", "/v1/cards"),
    ("GET", "/v1/catalog/companies"),
    ("GET", "/v1/catalog/companies/{company_id}"),
    ("GET", "/v1/catalog/export"),
    ("GET", "/v1/partner/contacts"),
    ("GET", "/v1/invites/candidates"),
    ("POST", "/v1/invites/claims"),
    ("GET", "/v1/notices/due"),
}
#: Routes that answer with no card data, and why.
NO_CARD_DATA = {
    ("GET", "/healthz"): "service state",
    ("POST", "/v1/opt-out"): "the same answer for everyone",
    ("GET", "/opt-out"): "a form",
    ("POST", "/opt-out"): "the same answer for everyone",
    ("POST", "/v1/invites/unsubscribe"): "a status",
    ("DELETE", "/v1/cards/{card_id}"): "204, no body",
    ("GET", "/v1/jobs/{job_id}"): "ids and codes",
    ("GET", "/v1/partner/suppressions"): "hashes of what the partner was sent",
    ("POST", "/v1/subject-requests"): "a subject's own data by law (Art. 15): every record of the person",
    ("POST", "/v1/invites/claims/{claim_id}/sent"): "ids",
    ("POST", "/v1/invites/claims/{claim_id}/release"): "a status",
    ("POST", "/v1/users"): "a status",
    ("POST", "/v1/notices/{notice_id}/sent"): "a status",
    ("GET", "/v1/partners"): "the partner registry",
    ("PUT", "/v1/partners/{partner_id}"): "the partner registry",
    ("GET", "/v1/register"): "the processing register",
}


def test_every_route_is_declared(app: Any) -> None:
    served = served_endpoints(app)
    assert sorted(served - CARD_DATA - NO_CARD_DATA.keys()) == [], "declare whether these return card data"
    assert not CARD_DATA & NO_CARD_DATA.keys()


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The purposes the policy is asked about, in order."""
    asked: list[str] = []
    real = policy.rule_for

    def spy(purpose: str) -> policy.PurposeRule:
        asked.append(purpose)
        return real(purpose)

    monkeypatch.setattr(policy, "rule_for", spy)
    return asked


@pytest.mark.parametrize("endpoint", sorted(CARD_DATA), ids=lambda e: f"{e[0]} {e[1]}")
def test_a_route_with_card_data_asks_the_policy(
    endpoint: tuple[str, str],
    client: TestClient,
    make_caller: Callable[[Role, str], Any],
    partner_caller: Any,
    store_card: Callable[..., ContactRecord],
    session: Session,
    samples_dir: Path,
    counted: list[str],
) -> None:
    callers = {role: make_caller(role, f"coverage-{role.value}") for role in Role}
    callers[Role.partner] = partner_caller
    uploader = session.get(Principal, callers[Role.uploader].id)
    method, path = endpoint
    record = store_card(
        uploader,
        name="Ada Quillfeather",
        email="ada@orrery.example",
        company="Orrery Works",
        uses=set(Use),
        notice_sent=endpoint != ("GET", "/v1/notices/due"),  # the mailer's list holds only unsent notices
    )
    entry = MATRIX[endpoint]
    role = next(iter(entry.who))
    url = path.replace("{card_id}", str(record.id)).replace("{company_id}", "1")
    kwargs: dict[str, Any] = {"json": entry.json, "params": entry.params}
    if endpoint == ("POST", "/v1/cards"):
        image = (samples_dir / "card_01.png").read_bytes()
        kwargs = {"files": {"image": ("c.png", image, "image/png")}, "data": {"metadata": "{}"}}
    elif endpoint == ("PATCH", "/v1/cards/{card_id}"):
        kwargs = {"json": {"uses": ["catalog"]}}
    counted.clear()
    response = client.request(method, url, headers=callers[role].headers, **kwargs)
    assert response.status_code < 500, response.text
    assert counted, f"{method} {path} answered without asking the policy"


#: The web app's pages (web/) that show card data; every other page is a form, a status or the desk's
#: access report (a person's own data by law, as ``POST /v1/subject-requests``).
WEB_CARD_DATA = {
    ("GET", "/app/queue"),
    ("GET", "/app/cards/{card_id}"),
    ("GET", "/app/cards/{card_id}/image"),
    ("GET", "/app/cards/{card_id}/delete"),
    ("GET", "/app/export"),
    ("GET", "/app/catalog"),
}


@pytest.mark.parametrize("endpoint", sorted(WEB_CARD_DATA), ids=lambda e: f"{e[0]} {e[1]}")
def test_a_page_with_card_data_asks_the_policy(
    endpoint: tuple[str, str],
    app: Any,
    client: TestClient,
    make_caller: Callable[[Role, str], Any],
    store_card: Callable[..., ContactRecord],
    session: Session,
    counted: list[str],
) -> None:
    from test_authorization_matrix import WEB_MATRIX, _sign_in

    role = next(iter(WEB_MATRIX[endpoint].who))
    caller = make_caller(role, f"page-{role.value}")
    owner = caller if role is Role.uploader else make_caller(Role.uploader, "page-uploader")
    uploader = session.get(Principal, owner.id)
    record = store_card(
        uploader, name="Ada Quillfeather", email="ada@orrery.example", company="Orrery Works", uses=set(Use)
    )
    _sign_in(client, caller.key)
    counted.clear()
    response = client.get(endpoint[1].replace("{card_id}", str(record.id)), follow_redirects=False)
    assert response.status_code in (200, 404), response.text  # 404: the stored card has no image
    assert counted, f"{endpoint[0]} {endpoint[1]} answered without asking the policy"
