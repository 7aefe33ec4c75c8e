"""The controls fail closed: each defect found on the old main, written as the scenario that found it.

Two uploaders, the cards they store, the public endpoints and a privacy admin, on SQLite and
PostgreSQL. (The suppression key's location is tested through the CLI in
``tests/cli/test_suppression_key.py``.)
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from models.enums import Use
from models.tables import ContactRecord, FieldValue, Principal

StoreCard = Callable[..., ContactRecord]
SHARED = [Use.partner_sharing, Use.invites, Use.catalog]
ADA = {"name": "Ada Quillfeather", "email": "ada@orrery.example", "company": "Orrery Works"}


def ask(client: TestClient, admin: Any, **body: Any) -> Any:
    response = client.post("/v1/subject-requests", json=body, headers=admin.headers)
    assert response.status_code == 200, response.text
    return response.json()["result"]


def shared_names(client: TestClient, partner: Any) -> list[str]:
    response = client.get("/v1/partner/contacts", headers=partner.headers)
    assert response.status_code == 200, response.text
    return [v["value"] for c in response.json()["items"] for v in c["fields"].get("names", [])]


def value_id(session: Session, record_id: int | None, field: str) -> int:
    value = session.exec(
        select(FieldValue).where(FieldValue.record_id == record_id, FieldValue.field == field)
    ).first()
    assert value is not None and value.id is not None
    return value.id


# --- 2. cards with no e-mail or phone ----------------------------------------------------------


def test_a_card_without_email_or_phone_is_never_shared_with_partners(
    client: TestClient, partner_caller: Any, store_card: StoreCard, uploader: Principal
) -> None:
    store_card(uploader, name="Ada Quillfeather", company="Orrery Works", address="1 Gear St", uses=SHARED)
    assert shared_names(client, partner_caller) == [], "nobody to check an opt-out against: fail closed"


def test_opt_out_and_erasure_reach_another_uploaders_card_without_email_or_phone(
    client: TestClient,
    admin_caller: Any,
    partner_caller: Any,
    store_card: StoreCard,
    uploader: Principal,
    other_uploader: Principal,
    session: Session,
) -> None:
    store_card(uploader, **ADA, uses=SHARED)
    bare = store_card(
        other_uploader, name="Ada Quillfeather", company="Orrery Works", address="1 Gear St", uses=SHARED
    )
    assert sorted(shared_names(client, partner_caller)) == ["Ada Quillfeather", "Ada Quillfeather"]

    ask(client, admin_caller, type="opt_out", email=ADA["email"], scopes=["partners"])
    assert shared_names(client, partner_caller) == []

    bare_id = bare.id
    result = ask(client, admin_caller, type="erasure", email=ADA["email"])
    assert result["records"] == 2
    session.expire_all()
    assert session.get(ContactRecord, bare_id) is None, "the card without e-mail went with the person"


def test_a_person_can_be_found_by_name_and_company_alone(
    client: TestClient, admin_caller: Any, store_card: StoreCard, other_uploader: Principal
) -> None:
    store_card(other_uploader, name="Ada Quillfeather", company="Orrery Works Ltd", uses=SHARED)
    report = ask(client, admin_caller, type="access", name="ada  QUILLFEATHER", company="orrery works")
    assert report["found"] is True and len(report["records"]) == 1


# --- 3. a correction must not get around a refusal or an opt-out ------------------------------


def test_a_correction_to_a_childs_email_is_refused_and_changes_nothing(
    client: TestClient,
    admin_caller: Any,
    uploader_caller: Any,
    store_card: StoreCard,
    session: Session,
) -> None:
    ask(client, admin_caller, type="child", email="kid@school.example")
    uploader = session.get(Principal, uploader_caller.id)
    card = store_card(uploader, name="Someone Else", email="someone@example.com", uses=SHARED)
    patch = {"values": [{"id": value_id(session, card.id, "emails"), "value": "kid@school.example"}]}
    response = client.patch(f"/v1/cards/{card.id}", json=patch, headers=uploader_caller.headers)
    assert response.status_code == 422 and response.json()["code"] == "subject_suppressed"
    session.expire_all()
    emails = session.exec(
        select(FieldValue.value).where(FieldValue.record_id == card.id, FieldValue.field == "emails")
    )
    assert list(emails) == ["someone@example.com"]


def test_changing_an_opted_out_email_does_not_make_the_card_shareable_again(
    client: TestClient,
    admin_caller: Any,
    partner_caller: Any,
    uploader_caller: Any,
    store_card: StoreCard,
    session: Session,
) -> None:
    uploader = session.get(Principal, uploader_caller.id)
    card = store_card(uploader, **ADA, uses=SHARED)
    ask(client, admin_caller, type="opt_out", email=ADA["email"], scopes=["partners"])
    patch = {"values": [{"id": value_id(session, card.id, "emails"), "value": "ada.new@elsewhere.example"}]}
    assert (
        client.patch(f"/v1/cards/{card.id}", json=patch, headers=uploader_caller.headers).status_code == 200
    )
    assert shared_names(client, partner_caller) == []


# --- 4. erasure keeps a ledger and tells the recipients ----------------------------------------


def test_after_erasure_shine_the_light_still_names_the_partner_and_the_partner_is_told(
    client: TestClient, admin_caller: Any, partner_caller: Any, store_card: StoreCard, uploader: Principal
) -> None:
    store_card(uploader, **ADA, phone="+14155550134", uses=SHARED)
    assert shared_names(client, partner_caller) == ["Ada Quillfeather"]
    ask(client, admin_caller, type="erasure", email=ADA["email"])

    report = ask(
        client, admin_caller, type="shine_the_light", email=ADA["email"], year=datetime.now(UTC).year
    )
    [recipient] = report["partners"]
    assert recipient["legal_name"] == "Partner Co" and recipient["postal_address"] == "2 Main St"
    assert recipient["disclosures"] == 1 and "email_address" in recipient["categories"]

    feed = client.get("/v1/partner/suppressions", headers=partner_caller.headers)
    assert feed.status_code == 200, feed.text
    told = {(i["kind"], i["sha256"], i["reason"]) for i in feed.json()["items"]}
    assert ("email", hashlib.sha256(ADA["email"].encode()).hexdigest(), "erased") in told
    assert ("phone", hashlib.sha256(b"+14155550134").hexdigest(), "erased") in told
    assert ADA["email"] not in feed.text


def test_an_opt_out_of_partners_is_put_in_the_recipients_feed(
    client: TestClient, admin_caller: Any, partner_caller: Any, store_card: StoreCard, uploader: Principal
) -> None:
    store_card(uploader, **ADA, uses=SHARED)
    shared_names(client, partner_caller)
    ask(client, admin_caller, type="opt_out", email=ADA["email"], scopes=["partners"])
    items = client.get("/v1/partner/suppressions", headers=partner_caller.headers).json()["items"]
    assert [(i["reason"], i["sha256"]) for i in items] == [
        ("opt_out_partners", hashlib.sha256(ADA["email"].encode()).hexdigest())
    ]


def test_a_partner_that_received_nothing_is_told_nothing(
    client: TestClient, admin_caller: Any, partner_caller: Any, store_card: StoreCard, uploader: Principal
) -> None:
    store_card(uploader, **ADA, uses=SHARED)
    ask(client, admin_caller, type="erasure", email=ADA["email"])  # before any partner read
    assert client.get("/v1/partner/suppressions", headers=partner_caller.headers).json()["items"] == []


# --- partner registry, GPC, restriction ----------------------------------------------------------


def test_an_unregistered_partner_receives_nothing(
    client: TestClient, make_caller: Callable[..., Any], store_card: StoreCard, uploader: Principal
) -> None:
    from models.enums import Role

    stranger = make_caller(Role.partner, "unregistered-partner")
    store_card(uploader, **ADA, uses=SHARED)
    response = client.get("/v1/partner/contacts", headers=stranger.headers)
    assert response.status_code == 403 and "registry" in response.json()["detail"]


def test_global_privacy_control_opts_out_of_partner_sharing_whatever_was_asked(
    client: TestClient, partner_caller: Any, store_card: StoreCard, uploader: Principal
) -> None:
    store_card(uploader, **ADA, uses=SHARED)
    response = client.post(
        "/v1/opt-out", json={"email": ADA["email"], "scopes": ["invites"]}, headers={"Sec-GPC": "1"}
    )
    assert response.status_code == 202
    assert shared_names(client, partner_caller) == []


def test_the_public_opt_out_page_works_without_javascript_and_honours_gpc(
    client: TestClient, partner_caller: Any, store_card: StoreCard, uploader: Principal
) -> None:
    store_card(uploader, **ADA, uses=SHARED)
    page = client.get("/opt-out", headers={"Sec-GPC": "1"})
    assert page.status_code == 200 and "<form" in page.text and "<script" not in page.text
    assert "Global Privacy Control" in page.text
    done = client.post(
        "/opt-out", data={"email": ADA["email"], "scopes": "invites"}, headers={"Sec-GPC": "1"}
    )
    assert done.status_code == 200 and "sharing with partners" in done.text
    assert shared_names(client, partner_caller) == []


def test_the_public_opt_out_takes_a_phone_number(
    client: TestClient, partner_caller: Any, store_card: StoreCard, uploader: Principal
) -> None:
    store_card(uploader, **ADA, phone="+14155550134", uses=SHARED)
    response = client.post("/v1/opt-out", json={"phone": "+1 415 555 0134", "scopes": ["partners"]})
    assert response.status_code == 202
    assert shared_names(client, partner_caller) == []


def test_a_restricted_person_stays_visible_to_the_uploader_but_is_used_for_nothing_else(
    client: TestClient,
    admin_caller: Any,
    partner_caller: Any,
    catalog_caller: Any,
    uploader_caller: Any,
    store_card: StoreCard,
    session: Session,
) -> None:
    uploader = session.get(Principal, uploader_caller.id)
    card = store_card(uploader, **ADA, uses=SHARED)
    ask(client, admin_caller, type="restrict", email=ADA["email"])
    assert shared_names(client, partner_caller) == []
    assert client.get("/v1/catalog/companies", headers=catalog_caller.headers).json()["items"] == []
    assert client.get("/v1/invites/candidates", headers=admin_caller.headers).json()["items"] == []
    assert client.get(f"/v1/cards/{card.id}", headers=uploader_caller.headers).status_code == 200
    ask(client, admin_caller, type="lift_restriction", email=ADA["email"])
    assert shared_names(client, partner_caller) == ["Ada Quillfeather"]
