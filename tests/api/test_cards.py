"""``/v1/cards``: the uploader's reads and writes of their own cards, and the export.

Every test runs on SQLite and on PostgreSQL (the ``engine`` fixture is parametrized), on
synthetic records stored directly with :func:`services.records.store_extraction`, as the
importer does.
"""

from __future__ import annotations

import csv
import hashlib
import io
from typing import Any

import pytest
import vobject
from card_requests import Store, assert_problem, count
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from models.enums import Use
from models.policy import record_qualifies
from models.tables import (
    Attestation,
    AuditEvent,
    ContactRecord,
    Disclosure,
    ExtractionRun,
    FieldCorrection,
    FieldValue,
    PermittedUse,
    Principal,
    Source,
)
from services.disclosures import partner_contacts

pytestmark = pytest.mark.usefixtures("settings_salt_forbidden")


def test_a_request_without_a_key_is_a_401_problem(client: TestClient) -> None:
    response = client.get("/v1/cards")
    assert_problem(response, 401, "unauthorized")
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize("role_caller", ["catalog_caller", "partner_caller", "admin_caller"])
def test_other_roles_are_refused_the_uploaders_endpoints(
    request: pytest.FixtureRequest, client: TestClient, role_caller: str
) -> None:
    caller = request.getfixturevalue(role_caller)
    assert_problem(client.get("/v1/cards", headers=caller.headers), 403, "forbidden")
    assert_problem(client.get("/v1/cards/1", headers=caller.headers), 403, "forbidden")
    upload = client.post("/v1/cards", headers=caller.headers, files={"image": ("c.png", b"x", "image/png")})
    assert_problem(upload, 403, "forbidden")


def test_another_uploaders_card_is_404_on_every_card_endpoint(
    client: TestClient, store: Store, uploader_caller: Any, other_uploader_caller: Any, card_png: bytes
) -> None:
    card_id = store(other_uploader_caller, image=card_png, name="Ada Lovelace", email="ada@example.com")
    headers = uploader_caller.headers
    missing = client.get(f"/v1/cards/{card_id + 1000}", headers=headers).json()
    for response in (
        client.get(f"/v1/cards/{card_id}", headers=headers),
        client.get(f"/v1/cards/{card_id}/image", headers=headers),
        client.patch(f"/v1/cards/{card_id}", headers=headers, json={"uses": []}),
        client.delete(f"/v1/cards/{card_id}", headers=headers),
    ):
        body = assert_problem(response, 404, "not_found")
        assert body["detail"].replace(str(card_id), "N") == missing["detail"].replace(
            str(card_id + 1000), "N"
        )
    assert client.get(f"/v1/cards/{card_id}", headers=other_uploader_caller.headers).status_code == 200


def test_the_list_holds_only_own_cards_newest_first_in_pages(
    client: TestClient, store: Store, uploader_caller: Any, other_uploader_caller: Any
) -> None:
    mine = [store(uploader_caller, name=f"Person {n}", email=f"p{n}@example.com") for n in range(3)]
    store(other_uploader_caller, name="Not Mine", email="other@example.com")
    first = client.get("/v1/cards", headers=uploader_caller.headers, params={"limit": 2}).json()
    assert [c["id"] for c in first["items"]] == [mine[2], mine[1]] and first["next_cursor"]
    rest = client.get(
        "/v1/cards", headers=uploader_caller.headers, params={"limit": 2, "cursor": first["next_cursor"]}
    ).json()
    assert [c["id"] for c in rest["items"]] == [mine[0]] and rest["next_cursor"] is None


def test_the_list_pages_oldest_first_when_asked(
    client: TestClient, store: Store, uploader_caller: Any
) -> None:
    mine = [store(uploader_caller, name=f"Person {n}") for n in range(3)]
    page = client.get("/v1/cards", headers=uploader_caller.headers, params={"order": "oldest", "limit": 100})
    assert [c["id"] for c in page.json()["items"]] == mine


def test_a_cursor_that_is_not_ours_is_a_400_problem(client: TestClient, uploader_caller: Any) -> None:
    response = client.get("/v1/cards", headers=uploader_caller.headers, params={"cursor": "garbage!"})
    assert_problem(response, 400, "bad_arguments")


def test_a_limit_over_100_is_a_422_problem(client: TestClient, uploader_caller: Any) -> None:
    assert_problem(client.get("/v1/cards?limit=101", headers=uploader_caller.headers), 422, "invalid_request")


def test_a_card_lists_its_values_with_ids_uses_and_attestation(
    client: TestClient, store: Store, uploader_caller: Any
) -> None:
    card_id = store(uploader_caller, name="Ada Lovelace", email="ada@example.com", uses=[Use.invites])
    card = client.get(f"/v1/cards/{card_id}", headers=uploader_caller.headers).json()
    assert card["fields"]["names"][0]["value"] == "Ada Lovelace" and card["fields"]["names"][0]["id"]
    assert card["uses"] == ["invites"] and card["attestation"]["basis"] == "received_in_person"


def test_the_image_is_the_stored_bytes_with_their_media_type(
    client: TestClient, store: Store, uploader_caller: Any, card_png: bytes
) -> None:
    card_id = store(uploader_caller, image=card_png, name="Ada Lovelace")
    response = client.get(f"/v1/cards/{card_id}/image", headers=uploader_caller.headers)
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png" and response.content == card_png
    assert "no-store" in response.headers["cache-control"]


def test_a_card_without_a_stored_image_answers_404_for_the_image(
    client: TestClient, store: Store, uploader_caller: Any
) -> None:
    card_id = store(uploader_caller, name="Ada Lovelace")
    assert_problem(
        client.get(f"/v1/cards/{card_id}/image", headers=uploader_caller.headers), 404, "not_found"
    )


def test_a_correction_keeps_the_ocr_value_and_the_history(
    client: TestClient, store: Store, engine: Engine, uploader_caller: Any
) -> None:
    card_id = store(uploader_caller, name="Ada Lovelace", email="ada@exarnple.com")
    before = client.get(f"/v1/cards/{card_id}", headers=uploader_caller.headers).json()
    email = before["fields"]["emails"][0]
    response = client.patch(
        f"/v1/cards/{card_id}",
        headers=uploader_caller.headers,
        json={"values": [{"id": email["id"], "value": "ada@example.com"}]},
    )
    assert response.status_code == 200, response.text
    after = response.json()["fields"]["emails"][0]
    assert (after["value"], after["ocr_value"]) == ("ada@example.com", "ada@exarnple.com")
    assert after["corrected_at"] is not None
    with Session(engine) as session:
        history = session.exec(
            select(FieldCorrection).where(FieldCorrection.field_value_id == email["id"])
        ).all()
        assert [(h.previous_value, h.new_value, h.corrected_by) for h in history] == [
            ("ada@exarnple.com", "ada@example.com", uploader_caller.id)
        ]
        assert (
            session.exec(select(AuditEvent).where(AuditEvent.action == "corrected")).one().record_id
            == card_id
        )


def test_a_correction_of_another_cards_value_is_a_404(
    client: TestClient, store: Store, uploader_caller: Any, engine: Engine
) -> None:
    mine = store(uploader_caller, name="Ada Lovelace")
    other = store(uploader_caller, name="Grace Hopper")
    with Session(engine) as session:
        foreign = session.exec(select(FieldValue.id).where(FieldValue.record_id == other)).first()
    response = client.patch(
        f"/v1/cards/{mine}", headers=uploader_caller.headers, json={"values": [{"id": foreign, "value": "X"}]}
    )
    assert_problem(response, 404, "not_found")


def test_a_corrected_company_moves_the_catalog_link(
    client: TestClient, store: Store, uploader_caller: Any, engine: Engine
) -> None:
    from models.tables import CatalogCompany

    card_id = store(uploader_caller, name="Ada Lovelace", company="Acrne Corp")
    card = client.get(f"/v1/cards/{card_id}", headers=uploader_caller.headers).json()
    company = card["fields"]["companies"][0]["id"]
    client.patch(
        f"/v1/cards/{card_id}",
        headers=uploader_caller.headers,
        json={"values": [{"id": company, "value": "Acme"}]},
    )
    with Session(engine) as session:
        assert [c.name for c in session.exec(select(CatalogCompany)).all()] == ["Acme"]


def test_removing_a_use_applies_to_the_very_next_request(
    client: TestClient, store: Store, engine: Engine, uploader_caller: Any, partner_caller: Any
) -> None:
    card_id = store(uploader_caller, name="Ada Lovelace", email="ada@example.com", uses=[Use.partner_sharing])

    def shared() -> list[int]:
        with Session(engine) as session:
            partner = session.get(Principal, partner_caller.id)
            assert partner is not None
            ids = [c["id"] for c in partner_contacts(session, partner)]
            session.rollback()  # the disclosure log is not what this test is about
            return ids

    assert shared() == [card_id]
    response = client.patch(f"/v1/cards/{card_id}", headers=uploader_caller.headers, json={"uses": []})
    assert response.status_code == 200 and response.json()["uses"] == []
    assert shared() == []
    assert count(engine, AuditEvent, AuditEvent.action == "uses_changed") == 1


def test_revoking_the_attestation_applies_to_the_very_next_request(
    client: TestClient, store: Store, engine: Engine, uploader_caller: Any
) -> None:
    card_id = store(uploader_caller, name="Ada Lovelace", company="Acme", uses=[Use.catalog])
    with Session(engine) as session:
        assert record_qualifies(session, card_id, "catalog")
    response = client.patch(
        f"/v1/cards/{card_id}", headers=uploader_caller.headers, json={"revoke_attestation": True}
    )
    assert response.status_code == 200 and response.json()["attestation"] is None
    with Session(engine) as session:
        assert not record_qualifies(session, card_id, "catalog")
        revoked = session.exec(select(Attestation).where(Attestation.record_id == card_id)).one()
        assert revoked.revoked_at is not None  # kept as evidence, no longer current


def test_a_new_attestation_replaces_the_current_one(
    client: TestClient, store: Store, engine: Engine, uploader_caller: Any
) -> None:
    card_id = store(uploader_caller, name="Ada Lovelace", attested=False)
    response = client.patch(
        f"/v1/cards/{card_id}",
        headers=uploader_caller.headers,
        json={"attestation": {"basis": "other", "basis_text": "Met at a fair", "text_version": "v9"}},
    )
    attestation = response.json()["attestation"]
    assert (attestation["basis"], attestation["basis_text"], attestation["text_version"]) == (
        "other",
        "Met at a fair",
        "v9",
    )
    assert count(engine, Attestation, col(Attestation.revoked_at).is_(None)) == 1


def test_an_attestation_and_its_revocation_together_are_a_422(
    client: TestClient, store: Store, uploader_caller: Any
) -> None:
    card_id = store(uploader_caller, name="Ada Lovelace")
    response = client.patch(
        f"/v1/cards/{card_id}",
        headers=uploader_caller.headers,
        json={"attestation": {"basis": "received_in_person"}, "revoke_attestation": True},
    )
    assert_problem(response, 422, "invalid_attestation")


def test_delete_removes_the_record_its_rows_and_its_image(
    app: FastAPI, client: TestClient, store: Store, engine: Engine, uploader_caller: Any, card_png: bytes
) -> None:
    card_id = store(
        uploader_caller, image=card_png, name="Ada Lovelace", email="ada@example.com", uses=[Use.catalog]
    )
    key = hashlib.sha256(card_png).hexdigest()
    assert app.state.services.blobs.exists(key)
    response = client.delete(f"/v1/cards/{card_id}", headers=uploader_caller.headers)
    assert response.status_code == 204 and response.content == b""
    for model in (ContactRecord, FieldValue, Attestation, PermittedUse, Source, ExtractionRun):
        assert count(engine, model) == 0, model.__name__
    assert not app.state.services.blobs.exists(key)
    assert_problem(client.get(f"/v1/cards/{card_id}", headers=uploader_caller.headers), 404, "not_found")
    with Session(engine) as session:
        event = session.exec(select(AuditEvent).where(AuditEvent.action == "deleted")).one()
        assert (event.record_id, event.actor_id, event.details["records"]) == (card_id, uploader_caller.id, 1)


def test_delete_keeps_an_image_another_uploaders_card_uses(
    app: FastAPI,
    client: TestClient,
    store: Store,
    uploader_caller: Any,
    other_uploader_caller: Any,
    card_png: bytes,
) -> None:
    mine = store(uploader_caller, image=card_png, name="Ada Lovelace")
    store(other_uploader_caller, image=card_png, name="Ada Lovelace")
    assert client.delete(f"/v1/cards/{mine}", headers=uploader_caller.headers).status_code == 204
    assert app.state.services.blobs.exists(hashlib.sha256(card_png).hexdigest())


def test_delete_keeps_the_partner_disclosure_log_without_the_card(
    client: TestClient, store: Store, engine: Engine, uploader_caller: Any, partner_caller: Any
) -> None:
    card_id = store(uploader_caller, name="Ada Lovelace", email="ada@example.com", uses=[Use.partner_sharing])
    with Session(engine) as session:
        partner = session.get(Principal, partner_caller.id)
        assert partner is not None
        partner_contacts(session, partner)
        session.commit()
    assert client.delete(f"/v1/cards/{card_id}", headers=uploader_caller.headers).status_code == 204
    with Session(engine) as session:
        logged = session.exec(select(Disclosure)).one()
    assert logged.record_id is None and logged.subject_id is not None  # Shine-the-Light still answers


def test_the_vcard_export_parses_with_vobject_and_holds_only_own_cards(
    client: TestClient, store: Store, uploader_caller: Any, other_uploader_caller: Any
) -> None:
    store(uploader_caller, name="Ada Lovelace", email="ada@example.com")
    store(uploader_caller, name="Grace Hopper", email="grace@example.com")
    store(other_uploader_caller, name="Not Mine", email="other@example.com")
    response = client.get("/v1/cards/export", headers=uploader_caller.headers, params={"format": "vcard"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/vcard")
    assert response.headers["content-disposition"] == 'attachment; filename="cards.vcf"'
    cards = list(vobject.readComponents(response.text))
    assert sorted(c.fn.value for c in cards) == ["Ada Lovelace", "Grace Hopper"]
    assert sorted(c.email.value for c in cards) == ["ada@example.com", "grace@example.com"]


def test_the_csv_export_has_googles_columns(client: TestClient, store: Store, uploader_caller: Any) -> None:
    store(uploader_caller, name="Ada Lovelace", email="ada@example.com")
    response = client.get("/v1/cards/export?format=csv", headers=uploader_caller.headers)
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [(r["First Name"], r["Last Name"], r["E-mail 1 - Value"]) for r in rows] == [
        ("Ada", "Lovelace", "ada@example.com")
    ]


def test_the_export_is_audited_with_its_count(
    client: TestClient, store: Store, engine: Engine, uploader_caller: Any
) -> None:
    store(uploader_caller, name="Ada Lovelace")
    client.get("/v1/cards/export?format=jsonl", headers=uploader_caller.headers)
    with Session(engine) as session:
        event = session.exec(select(AuditEvent).where(AuditEvent.action == "exported")).one()
    assert (event.actor_id, event.details["format"], event.details["count"]) == (
        uploader_caller.id,
        "jsonl",
        1,
    )


def test_an_unknown_export_format_is_a_422_problem(client: TestClient, uploader_caller: Any) -> None:
    assert_problem(
        client.get("/v1/cards/export?format=pdf", headers=uploader_caller.headers), 422, "invalid_request"
    )
