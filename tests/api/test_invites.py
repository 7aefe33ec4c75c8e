"""``/v1/invites``: candidates through the invites purpose, and logging an invite (re-checked)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from models.enums import Use
from models.tables import ContactRecord, Invite, Principal

StoreCard = Callable[..., ContactRecord]


def candidates(client: TestClient, admin: Any, **params: Any) -> list[dict[str, Any]]:
    response = client.get("/v1/invites/candidates", params=params, headers=admin.headers)
    assert response.status_code == 200, response.text
    return response.json()["items"]


def test_candidates_and_sent(
    client: TestClient, admin_caller: Any, store_card: StoreCard, uploader: Principal, engine: Engine
) -> None:
    record = store_card(uploader, name="Eve Example", email="Eve@Example.com", uses=[Use.invites])
    store_card(uploader, name="No Use", email="nouse@example.com", uses=[Use.catalog])
    store_card(uploader, name="No Attestation", email="na@example.com", attested=False, uses=[Use.invites])
    [candidate] = candidates(client, admin_caller)
    assert candidate == {
        "subject_id": record.subject_id,
        "record_id": record.id,
        "email": "eve@example.com",
        "name": "Eve Example",
    }
    sent = client.post(
        f"/v1/invites/{record.subject_id}/sent", json={"record_id": record.id}, headers=admin_caller.headers
    )
    assert sent.status_code == 201, sent.text
    assert sent.json()["subject_id"] == record.subject_id and sent.json()["record_id"] == record.id
    with Session(engine) as session:
        assert len(session.exec(select(Invite)).all()) == 1  # committed before the answer
    assert candidates(client, admin_caller) == []  # within the cooldown
    again = client.post(f"/v1/invites/{record.subject_id}/sent", headers=admin_caller.headers)
    assert again.status_code == 409 and again.json()["code"] == "not_eligible"


def test_opted_out_person_is_no_candidate_and_cannot_be_logged(
    client: TestClient, admin_caller: Any, store_card: StoreCard, uploader: Principal
) -> None:
    record = store_card(uploader, name="Frank", email="frank@example.com", uses=[Use.invites])
    assert len(candidates(client, admin_caller)) == 1
    opted = client.post("/v1/opt-out", json={"email": "frank@example.com", "scopes": ["invites"]})
    assert opted.status_code == 202
    assert candidates(client, admin_caller) == []
    refused = client.post(f"/v1/invites/{record.subject_id}/sent", headers=admin_caller.headers)
    assert refused.status_code == 409
    assert refused.headers["content-type"].startswith("application/problem+json")


def test_unknown_subject_and_bad_ids(client: TestClient, admin_caller: Any) -> None:
    headers = admin_caller.headers
    missing = client.post("/v1/invites/424242/sent", headers=headers)
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"
    assert client.post("/v1/invites/0/sent", headers=headers).status_code == 422
    assert client.post(f"/v1/invites/{2**40}/sent", headers=headers).status_code == 422
    assert client.get("/v1/invites/candidates?limit=0", headers=headers).status_code == 422


def test_candidates_limit(
    client: TestClient, admin_caller: Any, store_card: StoreCard, uploader: Principal
) -> None:
    for n in range(3):
        store_card(uploader, name=f"Person {n}", email=f"person{n}@example.com", uses=[Use.invites])
    assert len(candidates(client, admin_caller, limit=2)) == 2
    assert len(candidates(client, admin_caller)) == 3
