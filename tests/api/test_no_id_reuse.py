"""Ids are never reused, and an ``Idempotency-Key``'s replay answers with its own card or not at all.

On the old main SQLite handed a deleted card's id to the next card, so the replay of a key whose
card had been deleted showed another card (issue 10, defect 1). Both databases.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from card_requests import ATTESTED_META, Store, assert_problem
from fastapi.testclient import TestClient

pytestmark = pytest.mark.usefixtures("settings_salt_forbidden")


def post_with_key(client: TestClient, caller: Any, image: bytes, key: str) -> Any:
    return client.post(
        "/v1/cards",
        headers={**caller.headers, "Idempotency-Key": key},
        files={"image": ("card.png", image, "image/png")},
        data={"metadata": json.dumps(ATTESTED_META)},
    )


def test_a_deleted_cards_id_is_never_given_to_the_next_card(
    client: TestClient, store: Store, uploader_caller: Any
) -> None:
    first = store(uploader_caller, name="Ada Lovelace", email="ada@example.com")
    assert client.delete(f"/v1/cards/{first}", headers=uploader_caller.headers).status_code == 204
    second = store(uploader_caller, name="Grace Hopper", email="grace@example.com")
    assert second > first


def test_a_replay_after_the_card_was_deleted_is_404_never_another_card(
    client: TestClient, store: Store, uploader_caller: Any, samples_dir: Path
) -> None:
    p_image = (samples_dir / "card_01.png").read_bytes()
    q_image = (samples_dir / "card_02.png").read_bytes()
    # P is stored already, so the upload answers with it at once (no OCR needed for the key's answer).
    p_id = store(uploader_caller, image=p_image, name="Ada Lovelace", email="ada@example.com")
    answered = post_with_key(client, uploader_caller, p_image, "key-z")
    assert (answered.status_code, answered.json()["id"]) == (200, p_id)
    assert client.delete(f"/v1/cards/{p_id}", headers=uploader_caller.headers).status_code == 204
    q_id = store(uploader_caller, image=q_image, name="Grace Hopper", email="grace@example.com")

    replay = post_with_key(client, uploader_caller, p_image, "key-z")

    assert q_id != p_id
    body = assert_problem(replay, 404, "not_found")
    assert "grace" not in replay.text.lower() and replay.headers.get("idempotent-replayed") == "true"
    assert body["status"] == 404
