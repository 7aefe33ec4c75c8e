"""``POST /v1/subject-requests`` (privacy admin) and the public ``POST /v1/opt-out``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from api.ratelimit import RateLimiter
from models.enums import SuppressionReason, Use
from models.tables import ContactRecord, Principal, Suppression

StoreCard = Callable[..., ContactRecord]
ALL_USES = [Use.catalog, Use.partner_sharing, Use.invites]


def ask(client: TestClient, admin: Any, **body: Any) -> Any:
    return client.post("/v1/subject-requests", json=body, headers=admin.headers)


def partner_names(client: TestClient, partner: Any) -> list[str]:
    items = client.get("/v1/partner/contacts", headers=partner.headers).json()["items"]
    return [v["value"] for c in items for v in c["fields"].get("names", [])]


def test_opt_out_stops_partner_sharing_on_the_next_request(
    client: TestClient, admin_caller: Any, partner_caller: Any, store_card: StoreCard, uploader: Principal
) -> None:
    store_card(uploader, name="Ada Lovelace", email="ada@example.com", uses=ALL_USES)
    assert partner_names(client, partner_caller) == ["Ada Lovelace"]
    response = ask(client, admin_caller, type="opt_out", email="ADA@example.com", scopes=["partners"])
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["type"] == "opt_out" and body["result"]["found"] is True
    assert body["result"]["scopes"] == ["partners"]
    assert partner_names(client, partner_caller) == []


def test_erasure_removes_the_person_everywhere(
    client: TestClient,
    admin_caller: Any,
    partner_caller: Any,
    catalog_caller: Any,
    store_card: StoreCard,
    uploader: Principal,
    engine: Engine,
) -> None:
    record = store_card(uploader, name="Bob", email="bob@acme.example", company="Acme", uses=ALL_USES)
    assert client.get("/v1/catalog/companies", headers=catalog_caller.headers).json()["items"]
    response = ask(client, admin_caller, type="erasure", email="bob@acme.example")
    assert response.status_code == 200, response.text
    result = response.json()["result"]
    assert result["found"] is True and result["records"] == 1 and result["reason"] == "erased"
    with Session(engine) as session:
        assert session.get(ContactRecord, record.id) is None  # committed before the answer
    assert client.get("/v1/catalog/companies", headers=catalog_caller.headers).json()["items"] == []
    assert partner_names(client, partner_caller) == []
    access = ask(client, admin_caller, type="access", email="bob@acme.example").json()["result"]
    assert access["found"] is False and access["records"] == []
    assert {s["reason"] for s in access["suppressions"]} == {"erased"}


def test_child_flag_erases_and_suppresses(
    client: TestClient, admin_caller: Any, store_card: StoreCard, uploader: Principal, engine: Engine
) -> None:
    store_card(uploader, name="Kid", phone="+14155550100", uses=ALL_USES)
    response = ask(client, admin_caller, type="child", phone="+1 415 555 0100")
    assert response.status_code == 200, response.text
    assert response.json()["result"]["reason"] == "child"
    with Session(engine) as session:
        reasons = {s.reason for s in session.exec(select(Suppression)).all()}
    assert reasons == {SuppressionReason.child}


def test_access_and_shine_the_light_reports(
    client: TestClient,
    admin_caller: Any,
    partner_caller: Any,
    store_card: StoreCard,
    uploader: Principal,
) -> None:
    store_card(uploader, name="Carol", email="carol@example.com", uses=[Use.partner_sharing])
    assert partner_names(client, partner_caller) == ["Carol"]
    access = ask(client, admin_caller, type="access", email="carol@example.com")
    assert access.status_code == 200, access.text
    report = access.json()["result"]
    assert report["found"] is True and len(report["records"]) == 1
    assert [d["partner"] for d in report["disclosures"]] == [partner_caller.name]
    year = datetime.now(UTC).year
    light = ask(client, admin_caller, type="shine_the_light", email="carol@example.com", year=year)
    assert light.status_code == 200, light.text
    [entry] = light.json()["result"]["partners"]
    assert entry["partner"] == partner_caller.name and "name" in entry["categories"]
    last_year = ask(client, admin_caller, type="shine_the_light", email="carol@example.com", year=year - 1)
    assert last_year.json()["result"]["partners"] == []


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"type": "opt_out"}, 422, "invalid_request"),  # no e-mail or phone
        ({"type": "shine_the_light", "email": "a@example.com"}, 422, "invalid_request"),  # no year
        ({"type": "forget_me", "email": "a@example.com"}, 422, "invalid_request"),
        ({"type": "access", "email": "not an address"}, 400, "bad_arguments"),
        ({"type": "erasure", "phone": "12"}, 400, "bad_arguments"),
        ({"type": "opt_out", "email": "a@example.com", "scopes": []}, 400, "bad_arguments"),
    ],
)
def test_bad_requests_are_problems(
    client: TestClient, admin_caller: Any, body: dict[str, Any], status: int, code: str
) -> None:
    response = client.post("/v1/subject-requests", json=body, headers=admin_caller.headers)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == code


def test_public_opt_out_answers_the_same_whether_known_or_not(
    client: TestClient, partner_caller: Any, store_card: StoreCard, uploader: Principal, engine: Engine
) -> None:
    store_card(uploader, name="Dora", email="dora@example.com", uses=[Use.partner_sharing])
    known = client.post("/v1/opt-out", json={"email": "dora@example.com"})
    unknown = client.post("/v1/opt-out", json={"email": "nobody@example.com"})
    assert known.status_code == unknown.status_code == 202
    assert known.json() == unknown.json() and known.content == unknown.content
    assert partner_names(client, partner_caller) == []  # it did suppress
    with Session(engine) as session:
        reasons = {s.reason for s in session.exec(select(Suppression)).all()}
    assert reasons == {SuppressionReason.opt_out_invites, SuppressionReason.opt_out_partners}
    bad_key = client.post(
        "/v1/opt-out", json={"email": "x@example.com"}, headers={"Authorization": "Bearer cv_nonsense"}
    )
    assert bad_key.status_code == 202  # no key needed, none checked


def test_public_opt_out_is_rate_limited_per_address(app: Any, client: TestClient) -> None:
    app.state.opt_out_limiter = RateLimiter(per_minute=3)
    statuses = [client.post("/v1/opt-out", json={"email": f"p{n}@example.com"}).status_code for n in range(4)]
    assert statuses == [202, 202, 202, 429]
    limited = client.post("/v1/opt-out", json={"email": "p9@example.com"})
    assert limited.headers["content-type"].startswith("application/problem+json")
    assert int(limited.headers["retry-after"]) >= 1 and limited.json()["code"] == "too_many_requests"


def test_rate_limiter_window_slides(engine: Any) -> None:
    """The window is counted in the database (shared by every server process), per client."""
    from datetime import timedelta

    from models.tables import utcnow
    from services.ratelimit import retry_after

    start = utcnow()

    def at(seconds: float, client: str = "a") -> int:
        return retry_after(engine, "opt_out", client, 2, now=start + timedelta(seconds=seconds))

    assert at(0) == 0 and at(1) == 0
    assert at(2) == 59
    assert at(60.5) == 0  # the first call left the window
    assert at(61, client="b") == 0
