"""``/v1/cards``: uploads with real OCR, and the uploader's reads and writes of their own cards.

Every test runs on SQLite and on PostgreSQL (the ``engine`` fixture is parametrized). Real
tesseract runs only where the upload itself is the behaviour (a handful of tests: each costs
about a second); everything else stores synthetic records directly with
:func:`models.records.store_extraction`, as the importer does.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Callable, Iterable
from concurrent.futures import Executor, Future
from pathlib import Path
from typing import Any

import httpx
import pytest
import vobject
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from ingest.schema import Extraction
from models.policy import record_qualifies
from models.records import AttestationInput, store_extraction
from models.rights import partner_contacts
from models.tables import (
    Attestation,
    AuditEvent,
    Channel,
    ContactRecord,
    Disclosure,
    ExtractionRun,
    FieldCorrection,
    FieldValue,
    PermittedUse,
    Principal,
    Source,
    Use,
)

pytestmark = pytest.mark.usefixtures("settings_salt_forbidden")

ATTESTED_META: dict[str, Any] = {"attestation": {"basis": "received_in_person"}, "uses": []}
PROBLEM = "application/problem+json"

Upload = Callable[..., httpx.Response]
Store = Callable[..., int]


@pytest.fixture
def card_png(samples_dir: Path) -> bytes:
    return (samples_dir / "card_01.png").read_bytes()


@pytest.fixture
def upload(client: TestClient, uploader_caller: Any) -> Upload:
    """``upload(image, metadata=ATTESTED_META, *, caller=uploader, params=None, headers=None)``."""

    def _upload(
        image: bytes,
        metadata: dict[str, Any] | None = ATTESTED_META,
        *,
        caller: Any = None,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        data = {"metadata": json.dumps(metadata)} if metadata is not None else {}
        return client.post(
            "/v1/cards",
            headers={**(caller or uploader_caller).headers, **(headers or {})},
            params=params,
            files={"image": ("card.png", image, "image/png")},
            data=data,
        )

    return _upload


@pytest.fixture
def store(app: FastAPI, engine: Engine, salt: bytes, build_extraction: Callable[..., Extraction]) -> Store:
    """``store(caller, *, image=None, uses=(), attested=True, **card) -> record id`` (no OCR).

    With ``image`` the bytes go to the app's blob store and the source points at them.
    """

    def _store(
        caller: Any,
        *,
        image: bytes | None = None,
        uses: Iterable[Use] = (),
        attested: bool = True,
        **card: Any,
    ) -> int:
        with Session(engine, expire_on_commit=False) as session:
            principal = session.get(Principal, caller.id)
            assert principal is not None
            sha = hashlib.sha256(image).hexdigest() if image else None
            record = store_extraction(
                session,
                uploader=principal,
                channel=Channel.api,
                extraction=build_extraction(sha=sha, **card),
                byte_size=len(image or b""),
                blob_key=app.state.blobs.put(image) if image else None,
                client={},
                attestation=AttestationInput(basis="received_in_person", text_version="t1")
                if attested
                else None,  # type: ignore[arg-type]
                uses=set(uses),
                salt=salt,
            )
            session.commit()
            assert record.id is not None
            return record.id

    return _store


def count(engine: Engine, model: type, *conditions: Any) -> int:
    with Session(engine) as session:
        return len(session.exec(select(model).where(*conditions)).all())


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body = response.json()
    assert (body["status"], body["code"], body["type"]) == (status, code, f"/problems/{code}")
    return body


# --- uploads (real OCR) --------------------------------------------------------------------------


def test_upload_answers_201_with_the_card_and_its_fields(
    app: FastAPI, upload: Upload, card_png: bytes, sample_labels: dict[str, Any]
) -> None:
    response = upload(card_png, {**ATTESTED_META, "uses": ["catalog"], "client": {"app_version": "2.1"}})
    assert response.status_code == 201, response.text
    card = response.json()
    assert response.headers["location"] == f"/v1/cards/{card['id']}"
    assert [v["value"] for v in card["fields"]["emails"]] == sample_labels["card_01.png"]["emails"]
    assert card["uses"] == ["catalog"] and card["channel"] == "mobile"
    assert card["attestation"]["basis"] == "received_in_person"
    # The client named no text version: the settings' current one is recorded.
    assert card["attestation"]["text_version"] == app.state.settings.attestation_version
    assert card["sha256"] == hashlib.sha256(card_png).hexdigest()
    assert card["image_url"] == f"/v1/cards/{card['id']}/image"
    value = card["fields"]["emails"][0]
    assert value["ocr_value"] == value["value"] and value["id"] > 0 and value["bbox"]


def test_ocr_runs_in_the_process_pool_not_on_the_event_loop(
    app: FastAPI, client: TestClient, upload: Upload, card_png: bytes
) -> None:
    class Spy(Executor):
        """Forwards to the real pool and notes what was submitted."""

        def __init__(self, pool: Executor) -> None:
            self.pool, self.calls = pool, []

        def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
            self.calls.append(fn.__name__)
            return self.pool.submit(fn, *args, **kwargs)

    spy = Spy(app.state.ocr_pool)
    app.state.ocr_pool = spy
    try:
        assert upload(card_png).status_code == 201
    finally:
        app.state.ocr_pool = spy.pool
    assert spy.calls == ["extract_bytes"]


@pytest.mark.parametrize(
    ("image", "code"),
    [
        (b"", "empty_file"),
        (b"just some text, not an image", "unsupported_format"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "corrupt_image"),
    ],
    ids=["empty", "text", "truncated"],
)
def test_a_bad_image_is_a_422_problem_with_the_pipelines_code(
    upload: Upload, engine: Engine, image: bytes, code: str
) -> None:
    assert_problem(upload(image), 422, code)
    assert count(engine, ContactRecord) == 0


def test_a_truncated_real_card_is_a_422_problem(upload: Upload, card_png: bytes) -> None:
    assert_problem(upload(card_png[: len(card_png) // 2]), 422, "corrupt_image")


def test_an_image_over_the_byte_limit_is_a_413_problem(
    app: FastAPI, upload: Upload, engine: Engine, card_png: bytes
) -> None:
    app.state.max_upload_bytes = 1000  # Content-Length alone is over the limit: refused before reading
    assert_problem(upload(card_png), 413, "image_too_large")
    assert count(engine, ContactRecord) == 0 and not any(app.state.blobs.root.rglob("*"))


def test_the_image_part_is_read_only_up_to_the_limit(app: FastAPI, upload: Upload, card_png: bytes) -> None:
    app.state.max_upload_bytes = (
        len(card_png) - 1
    )  # the body passes the Content-Length check; the part does not
    assert_problem(upload(card_png), 413, "image_too_large")


def test_an_image_over_the_pixel_limit_is_a_422_before_ocr(
    app: FastAPI, upload: Upload, card_png: bytes
) -> None:
    app.state.max_upload_pixels = 10_000
    body = assert_problem(upload(card_png), 422, "image_too_large")
    assert "pixels" in body["detail"]


def test_an_upload_without_metadata_is_a_422_problem(upload: Upload, card_png: bytes) -> None:
    body = assert_problem(upload(card_png, None), 422, "invalid_request")
    assert {"loc": ["body", "metadata"], "msg": "Field required"} in body["errors"]


def test_an_upload_with_an_unknown_basis_is_a_422_problem(
    upload: Upload, card_png: bytes, engine: Engine
) -> None:
    body = assert_problem(upload(card_png, {"attestation": {"basis": "found_it"}}), 422, "invalid_request")
    assert body["errors"][0]["loc"][:4] == ["body", "metadata", "attestation", "basis"]
    assert count(engine, ContactRecord) == 0


def test_metadata_that_is_not_json_is_a_422_problem(client: TestClient, uploader_caller: Any) -> None:
    response = client.post(
        "/v1/cards",
        headers=uploader_caller.headers,
        files={"image": ("card.png", b"x", "image/png")},
        data={"metadata": "{not json"},
    )
    assert_problem(response, 422, "invalid_request")


def test_a_body_that_is_not_multipart_is_a_415_problem(client: TestClient, uploader_caller: Any) -> None:
    response = client.post("/v1/cards", headers=uploader_caller.headers, json={"image": "x"})
    assert_problem(response, 415, "unsupported_media_type")


def test_the_same_image_twice_is_one_card(upload: Upload, engine: Engine, card_png: bytes) -> None:
    first, second = upload(card_png), upload(card_png)
    assert (first.status_code, second.status_code) == (201, 200)
    assert second.json()["id"] == first.json()["id"]
    assert count(engine, ContactRecord) == 1 and count(engine, Source) == 1


# --- who may see what --------------------------------------------------------------------------


def test_a_request_without_a_key_is_a_401_problem(client: TestClient) -> None:
    response = client.get("/v1/cards")
    assert_problem(response, 401, "unauthorized")
    assert response.headers["www-authenticate"] == "Bearer"


def test_an_upload_with_a_wrong_key_is_a_401_problem(client: TestClient) -> None:
    response = client.post(
        "/v1/cards",
        headers={"Authorization": "Bearer cv_nope"},
        files={"image": ("c.png", b"x", "image/png")},
    )
    assert_problem(response, 401, "unauthorized")


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


# --- reading --------------------------------------------------------------------------------------


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


# --- correcting and changing uses -----------------------------------------------------------------


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


# --- deleting -------------------------------------------------------------------------------------


def test_delete_removes_the_record_its_rows_and_its_image(
    app: FastAPI, client: TestClient, store: Store, engine: Engine, uploader_caller: Any, card_png: bytes
) -> None:
    card_id = store(
        uploader_caller, image=card_png, name="Ada Lovelace", email="ada@example.com", uses=[Use.catalog]
    )
    key = hashlib.sha256(card_png).hexdigest()
    assert app.state.blobs.exists(key)
    response = client.delete(f"/v1/cards/{card_id}", headers=uploader_caller.headers)
    assert response.status_code == 204 and response.content == b""
    for model in (ContactRecord, FieldValue, Attestation, PermittedUse, Source, ExtractionRun):
        assert count(engine, model) == 0, model.__name__
    assert not app.state.blobs.exists(key)
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
    assert app.state.blobs.exists(hashlib.sha256(card_png).hexdigest())


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


# --- export -------------------------------------------------------------------------------------


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
