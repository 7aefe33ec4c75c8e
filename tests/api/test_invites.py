"""``/v1/invites``: candidates through the invites purpose, claims before sending, confirmation, links."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from models.enums import Use
from models.tables import ContactRecord, Invite, Principal

StoreCard = Callable[..., ContactRecord]


def candidates(client: TestClient, admin: Any, **params: Any) -> list[dict[str, Any]]:
    response = client.get("/v1/invites/candidates", params=params, headers=admin.headers)
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


def claim(client: TestClient, admin: Any, limit: int = 10) -> list[dict[str, Any]]:
    response = client.post("/v1/invites/claims", json={"limit": limit}, headers=admin.headers)
    assert response.status_code == 201, response.text
    return list(response.json()["items"])


def test_candidates_claim_and_confirmation(
    client: TestClient, admin_caller: Any, store_card: StoreCard, uploader: Principal, engine: Engine
) -> None:
    record = store_card(
        uploader, name="Eve Example", email="Eve@Example.com", uses=[Use.invites], notice_sent=False
    )
    store_card(uploader, name="No Use", email="nouse@example.com", uses=[Use.catalog])
    store_card(uploader, name="No Attestation", email="na@example.com", attested=False, uses=[Use.invites])
    [candidate] = candidates(client, admin_caller)
    assert candidate == {
        "subject_id": record.subject_id,
        "record_id": record.id,
        "email": "eve@example.com",
        "name": "Eve Example",
    }
    [claimed] = claim(client, admin_caller)
    assert claimed["email"] == "eve@example.com" and claimed["notice"]["rights"]
    assert candidates(client, admin_caller) == [], "a claimed person is nobody else's candidate"
    sent = client.post(f"/v1/invites/claims/{claimed['claim_id']}/sent", headers=admin_caller.headers)
    assert sent.status_code == 201, sent.text
    assert sent.json()["subject_id"] == record.subject_id and sent.json()["record_id"] == record.id
    with Session(engine) as session:
        assert len(session.exec(select(Invite)).all()) == 1  # committed before the answer
    assert candidates(client, admin_caller) == [] and claim(client, admin_caller) == []  # the lifetime cap
    again = client.post(f"/v1/invites/claims/{claimed['claim_id']}/sent", headers=admin_caller.headers)
    assert again.status_code == 409 and again.json()["code"] == "not_eligible"


def test_an_opt_out_between_claim_and_confirmation_refuses_the_confirmation(
    client: TestClient, admin_caller: Any, store_card: StoreCard, uploader: Principal
) -> None:
    store_card(uploader, name="Frank Fowler", email="frank@example.com", uses=[Use.invites])
    [claimed] = claim(client, admin_caller)
    opted = client.post("/v1/opt-out", json={"email": "frank@example.com", "scopes": ["invites"]})
    assert opted.status_code == 202
    refused = client.post(f"/v1/invites/claims/{claimed['claim_id']}/sent", headers=admin_caller.headers)
    assert refused.status_code == 409
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert candidates(client, admin_caller) == []


def test_the_unsubscribe_link_of_an_invitation_works_in_one_request_without_a_key(
    client: TestClient, admin_caller: Any, store_card: StoreCard, uploader: Principal
) -> None:
    store_card(uploader, name="Gina Gale", email="gina@example.com", uses=[Use.invites])
    [claimed] = claim(client, admin_caller)
    release = client.post(f"/v1/invites/claims/{claimed['claim_id']}/release", headers=admin_caller.headers)
    assert release.status_code == 200
    link = urlsplit(claimed["unsubscribe_url"])
    done = client.post(f"{link.path}?{link.query}")
    assert done.status_code == 200 and done.json() == {"status": "unsubscribed"}
    assert candidates(client, admin_caller) == []


def test_a_new_user_is_never_invited(
    client: TestClient, admin_caller: Any, store_card: StoreCard, uploader: Principal
) -> None:
    store_card(uploader, name="Hal Hart", email="hal@example.com", uses=[Use.invites])
    marked = client.post("/v1/users", json={"email": "HAL@example.com"}, headers=admin_caller.headers)
    assert marked.status_code == 200
    assert candidates(client, admin_caller) == []


def test_unknown_claims_and_bad_ids(client: TestClient, admin_caller: Any) -> None:
    headers = admin_caller.headers
    missing = client.post("/v1/invites/claims/424242/sent", headers=headers)
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"
    assert client.post("/v1/invites/claims/0/sent", headers=headers).status_code == 422
    assert client.post(f"/v1/invites/claims/{2**40}/sent", headers=headers).status_code == 422
    assert client.get("/v1/invites/candidates?limit=0", headers=headers).status_code == 422
    assert client.post("/v1/invites/claims", json={"limit": 0}, headers=headers).status_code == 422


def test_candidates_limit(
    client: TestClient, admin_caller: Any, store_card: StoreCard, uploader: Principal
) -> None:
    for name in ("Ann Alpha", "Ben Beta", "Cy Gamma"):
        store_card(uploader, name=name, email=f"{name.split()[0].lower()}@example.com", uses=[Use.invites])
    assert len(candidates(client, admin_caller, limit=2)) == 2
    assert len(candidates(client, admin_caller)) == 3
