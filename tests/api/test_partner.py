"""``GET /v1/partner/contacts``: shared contacts, each logged in the same, committed transaction."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from api.routes import partner as partner_routes
from models.enums import Role, Use
from models.tables import AuditEvent, ContactRecord, Disclosure, Principal
from services.partners import PartnerDetails, register_partner
from services.records import set_uses

StoreCard = Callable[..., ContactRecord]
SHARED = [Use.partner_sharing]


def disclosures(engine: Engine) -> list[Disclosure]:
    with Session(engine) as session:
        return list(session.exec(select(Disclosure).order_by(col(Disclosure.id))).all())


def test_contacts_carry_only_partner_fields_and_are_each_logged(
    client: TestClient, partner_caller: Any, store_card: StoreCard, uploader: Principal, engine: Engine
) -> None:
    shared = store_card(
        uploader,
        name="Ada Lovelace",
        email="ada@engines.example",
        phone="+442071234567",
        mobile="+447700900123",
        company="Analytical Engines Ltd",
        uses=SHARED,
    )
    store_card(uploader, name="Not Shared", email="no@example.com", uses=[Use.catalog])
    store_card(uploader, name="Unattested", email="un@example.com", attested=False, uses=SHARED)
    response = client.get("/v1/partner/contacts", headers=partner_caller.headers)
    assert response.status_code == 200, response.text
    page = response.json()
    assert page["next_cursor"] is None
    [contact] = page["items"]
    assert contact["id"] == shared.id
    assert contact["fields"]["names"] == [{"value": "Ada Lovelace"}]
    assert contact["fields"]["phones"] == [{"value": "+442071234567", "type": "work", "extension": None}]
    assert "+447700900123" not in response.text and "Not Shared" not in response.text
    [logged] = disclosures(engine)
    assert (logged.partner_id, logged.record_id) == (partner_caller.id, shared.id)
    assert logged.purpose == "partner_sharing"
    assert set(logged.categories) >= {"name", "email_address", "telephone_number"}


def test_paging_logs_each_page_once(
    client: TestClient, partner_caller: Any, store_card: StoreCard, uploader: Principal, engine: Engine
) -> None:
    ids = [store_card(uploader, name=f"P {n}", email=f"p{n}@example.com", uses=SHARED).id for n in range(5)]
    got: list[int] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = client.get("/v1/partner/contacts", params=params, headers=partner_caller.headers).json()
        got += [c["id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert got == ids
    assert [d.record_id for d in disclosures(engine)] == ids


def test_revoked_use_is_not_shared_on_the_next_request(
    client: TestClient,
    partner_caller: Any,
    store_card: StoreCard,
    uploader: Principal,
    session: Session,
) -> None:
    record = store_card(uploader, name="Grace Hopper", email="grace@navy.example", uses=SHARED)
    assert len(client.get("/v1/partner/contacts", headers=partner_caller.headers).json()["items"]) == 1
    set_uses(session, uploader, record, set())
    session.commit()
    assert client.get("/v1/partner/contacts", headers=partner_caller.headers).json()["items"] == []


def test_nothing_is_sent_when_the_disclosure_log_cannot_be_committed(
    app: Any,
    partner_caller: Any,
    store_card: StoreCard,
    uploader: Principal,
    engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store_card(uploader, name="Secret Person", email="secret@example.com", uses=SHARED)

    real = partner_routes.partner_contacts

    def read_then_fail_commit(session: Session, *args: Any, **kwargs: Any) -> list[dict[str, Any]]:
        contacts = real(session, *args, **kwargs)

        def failing_commit() -> None:
            raise RuntimeError("the database went away")

        session.commit = failing_commit  # type: ignore[method-assign]  # this request's session only
        return contacts

    monkeypatch.setattr(partner_routes, "partner_contacts", read_then_fail_commit)
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/v1/partner/contacts", headers=partner_caller.headers)
    assert response.status_code == 500
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "Secret" not in response.text and "secret@" not in response.text
    assert disclosures(engine) == []
    with Session(engine) as session:
        assert session.exec(select(AuditEvent).where(AuditEvent.action == "disclosed")).all() == []


def test_a_revoked_partner_key_is_refused(
    client: TestClient, make_caller: Callable[[Role, str], Any], engine: Engine
) -> None:
    from services.principals import revoke_principal

    caller = make_caller(Role.partner, "former-partner")
    with Session(engine) as session:
        principal = session.get(Principal, caller.id)
        assert principal is not None
        register_partner(session, None, principal, PartnerDetails("Former Ltd", "3 Way", "US", "C-3"))
        session.commit()
    assert client.get("/v1/partner/contacts", headers=caller.headers).status_code == 200
    with Session(engine) as session:
        revoke_principal(session, caller.id)
        session.commit()
    response = client.get("/v1/partner/contacts", headers=caller.headers)
    assert response.status_code == 401 and response.headers["www-authenticate"] == "Bearer"
