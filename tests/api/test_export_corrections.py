"""Exports carry the current value of every field: a corrected phone is exported as corrected.

On the old main vCard and both CSVs wrote the OCR text of a phone whose value had no ``+`` (so a
correction never reached them), and the CSV guard put an apostrophe before "+1 212 555 1031".
"""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
import vobject
from card_requests import Store
from fastapi.testclient import TestClient

pytestmark = pytest.mark.usefixtures("settings_salt_forbidden")


def corrected_card(client: TestClient, store: Store, caller: Any, new_phone: str) -> None:
    card_id = store(caller, name="Ada Lovelace", email="ada@example.com", phone="555-0134")
    card = client.get(f"/v1/cards/{card_id}", headers=caller.headers).json()
    phone_id = card["fields"]["phones"][0]["id"]
    patched = client.patch(
        f"/v1/cards/{card_id}",
        json={"values": [{"id": phone_id, "value": new_phone}]},
        headers=caller.headers,
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["fields"]["phones"][0]["value"] == new_phone


def export(client: TestClient, caller: Any, fmt: str) -> str:
    response = client.get("/v1/cards/export", params={"format": fmt}, headers=caller.headers)
    assert response.status_code == 200
    return response.content.decode("utf-8-sig")


@pytest.mark.parametrize("new_phone", ["(212) 555-1031", "+1 212 555 1031"])
def test_every_export_carries_the_corrected_phone(
    client: TestClient, store: Store, uploader_caller: Any, new_phone: str
) -> None:
    corrected_card(client, store, uploader_caller, new_phone)

    vcard = next(vobject.readComponents(export(client, uploader_caller, "vcard")))
    google = next(csv.DictReader(io.StringIO(export(client, uploader_caller, "csv"))))
    outlook = next(csv.DictReader(io.StringIO(export(client, uploader_caller, "outlook-csv"))))
    jsonl = export(client, uploader_caller, "jsonl")

    assert vcard.tel.value == new_phone
    assert google["Phone 1 - Value"] == new_phone  # no apostrophe before a phone number
    assert new_phone in outlook.values()
    assert f'"value": "{new_phone}"' in jsonl
    assert "555-0134" not in vcard.serialize() + json_free(google) + json_free(outlook)


def json_free(row: dict[str, str]) -> str:
    return " ".join(row.values())
