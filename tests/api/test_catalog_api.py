"""``/v1/catalog`` over HTTP, on SQLite and PostgreSQL (tests/models/test_catalog.py: the model)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from api.routes import catalog as catalog_routes
from models.enums import Use
from models.tables import ContactRecord, Principal
from services.records import set_attestation, set_uses

StoreCard = Callable[..., ContactRecord]
CATALOG = [Use.catalog]
COMPANY_KEYS = {
    "id", "name", "domain", "country", "updated_at", "websites", "addresses", "phones", "job_titles",
    "departments", "sources",
}  # fmt: skip


def assert_problem(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status and body["code"] == code and body["type"] == f"/problems/{code}"
    return body


def test_companies_show_only_catalog_fields(
    client: TestClient, catalog_caller: Any, store_card: StoreCard, uploader: Principal
) -> None:
    store_card(
        uploader,
        company="Acme Corp.",
        name="Wile E. Coyote",
        email="wile@acme.example",
        website="https://www.acme.example",
        job_title="Genius",
        phone="+14155550134",
        mobile="+14155550199",
        uses=CATALOG,
    )
    response = client.get("/v1/catalog/companies", headers=catalog_caller.headers)
    assert response.status_code == 200, response.text
    page = response.json()
    assert page["next_cursor"] is None
    [company] = page["items"]
    assert set(company) == COMPANY_KEYS
    assert company["name"] == "Acme Corp." and company["domain"] == "acme.example"
    assert company["phones"] == [{"value": "+14155550134", "type": "work"}]
    for secret in ("Wile", "wile@", "+14155550199"):
        assert secret not in response.text
    one = client.get(f"/v1/catalog/companies/{company['id']}", headers=catalog_caller.headers)
    assert one.status_code == 200 and one.json() == company


def test_revoking_use_or_attestation_applies_to_the_next_request(
    client: TestClient, catalog_caller: Any, store_card: StoreCard, uploader: Principal, session: Session
) -> None:
    record = store_card(uploader, company="Initech", uses=CATALOG)
    [company] = client.get("/v1/catalog/companies", headers=catalog_caller.headers).json()["items"]
    set_uses(session, uploader, record, {Use.invites})
    session.commit()
    assert client.get("/v1/catalog/companies", headers=catalog_caller.headers).json()["items"] == []
    url = f"/v1/catalog/companies/{company['id']}"
    assert_problem(client.get(url, headers=catalog_caller.headers), 404, "not_found")
    set_uses(session, uploader, record, {Use.catalog})
    session.commit()
    assert client.get(url, headers=catalog_caller.headers).status_code == 200
    set_attestation(session, uploader, record, None)
    session.commit()
    assert_problem(client.get(url, headers=catalog_caller.headers), 404, "not_found")
    export = client.get("/v1/catalog/export", headers=catalog_caller.headers)
    assert export.status_code == 200 and export.text == ""


def test_paging_and_filters(
    client: TestClient, catalog_caller: Any, store_card: StoreCard, uploader: Principal
) -> None:
    for n in range(5):
        store_card(uploader, company=f"Company {n} GmbH", website=f"c{n}.example", region="DE", uses=CATALOG)
    store_card(uploader, company="Globex Inc", website="globex.example", region="US", uses=CATALOG)
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = client.get("/v1/catalog/companies", params=params, headers=catalog_caller.headers).json()
        assert len(page["items"]) <= 2
        seen += [c["name"] for c in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 6

    def names(**params: Any) -> list[str]:
        response = client.get("/v1/catalog/companies", params=params, headers=catalog_caller.headers)
        assert response.status_code == 200, response.text
        return sorted(c["name"] for c in response.json()["items"])

    assert names(q="globex") == ["Globex Inc"]
    assert names(country="us") == ["Globex Inc"]
    assert names(domain="https://www.c3.example/") == ["Company 3 GmbH"]
    assert len(names(updated_since="2000-01-01T00:00:00+02:00")) == 6
    assert names(updated_since="2999-01-01T00:00:00Z") == []


def test_bad_parameters_are_problems(client: TestClient, catalog_caller: Any) -> None:
    headers = catalog_caller.headers
    assert_problem(client.get("/v1/catalog/companies?cursor=nope", headers=headers), 400, "bad_arguments")
    response = client.get("/v1/catalog/companies?country=USA", headers=headers)
    body = assert_problem(response, 422, "invalid_request")
    assert body["errors"][0]["loc"] == ["query", "country"]
    assert_problem(client.get("/v1/catalog/companies?limit=0", headers=headers), 422, "invalid_request")
    assert_problem(client.get("/v1/catalog/companies/0", headers=headers), 422, "invalid_request")
    assert_problem(client.get("/v1/catalog/companies/999999", headers=headers), 404, "not_found")
    assert_problem(client.get("/v1/catalog/companies"), 401, "unauthorized")


def test_export_streams_every_company_as_ndjson(
    client: TestClient,
    catalog_caller: Any,
    store_card: StoreCard,
    uploader: Principal,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(catalog_routes, "EXPORT_PAGE", 2)  # several pages
    for n in range(5):
        store_card(uploader, company=f"Export {n}", uses=CATALOG if n != 2 else [Use.invites])
    response = client.get("/v1/catalog/export", headers=catalog_caller.headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in response.text.splitlines()]
    assert [c["name"] for c in lines] == ["Export 0", "Export 1", "Export 3", "Export 4"]
    assert all(set(c) == COMPANY_KEYS for c in lines)
    filtered = client.get("/v1/catalog/export", params={"q": "export 4"}, headers=catalog_caller.headers)
    assert [json.loads(line)["name"] for line in filtered.text.splitlines()] == ["Export 4"]
