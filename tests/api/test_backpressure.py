"""A bounded OCR queue (issue 10, load): overflow answers 503 ``overloaded`` at once, never a long wait.

Real concurrent uploads against a real ``cards serve`` with one OCR worker and a queue bound of
one second, seeded with a per-card estimate (2 s) above the bound, so while one card is read
every other synchronous upload would wait too long: it is refused at once with ``Retry-After``,
or turned into a job with ``Prefer: respond-async``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from importing import FAST_CARDS, variant
from serving import Server, cards_env, demo_keys, start_server

from models import migrate

METADATA = json.dumps({"attestation": {"basis": "received_in_person"}, "uses": ["invites"]})
CONCURRENT = 6


@pytest.fixture
def busy_server(empty_db_url: str, tmp_path: Path) -> Iterator[tuple[Server, dict[str, str]]]:
    migrate.upgrade(empty_db_url)
    env = cards_env(
        empty_db_url,
        tmp_path / "blobs",
        CARDS_OCR_WORKERS="1",
        CARDS_JOB_CONCURRENCY="1",
        CARDS_PROFILE="fast",
        CARDS_MAX_QUEUE_SECONDS="1",
        CARDS_OCR_CARD_SECONDS="2",
    )
    keys = demo_keys(env)
    server = start_server(env, tmp_path / "server.log")
    try:
        yield server, {"Authorization": f"Bearer {keys['uploader']}"}
    finally:
        server.stop()


def _cards(samples_dir: Path, folder: Path) -> list[bytes]:
    """Distinct images (a PNG text chunk each), so none is answered as an earlier upload."""
    names = [FAST_CARDS[i % len(FAST_CARDS)] for i in range(CONCURRENT)]
    return [variant(samples_dir / n, folder / f"{i}-{n}", str(i)).read_bytes() for i, n in enumerate(names)]


def _post(server: Server, auth: dict[str, str], image: bytes, **headers: str) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = httpx.post(
        f"{server.base_url}/v1/cards",
        headers={**auth, **headers},
        files={"image": ("card.png", image, "image/png")},
        data={"metadata": METADATA},
        timeout=120,
    )
    return response, time.monotonic() - started


def _all_at_once(server: Server, auth: dict[str, str], images: list[bytes], **headers: str) -> list:  # type: ignore[type-arg]
    with ThreadPoolExecutor(len(images)) as pool:
        return list(pool.map(lambda image: _post(server, auth, image, **headers), images))


def test_concurrent_sync_uploads_beyond_the_bound_get_503_with_retry_after_and_the_rest_succeed(
    busy_server: tuple[Server, dict[str, str]], samples_dir: Path, tmp_path: Path
) -> None:
    server, auth = busy_server
    images = _cards(samples_dir, tmp_path / "cards")

    answers = _all_at_once(server, auth, images)

    statuses = [r.status_code for r, _ in answers]
    refused = [(r, s) for r, s in answers if r.status_code == 503]
    assert set(statuses) <= {201, 503}, [r.text for r, _ in answers]
    assert 1 <= statuses.count(201) < CONCURRENT and refused, statuses
    for response, seconds in refused:
        assert response.json()["code"] == "overloaded"
        assert response.headers["content-type"].startswith("application/problem+json")
        assert int(response.headers["retry-after"]) >= 1
        assert seconds < 10, "refused at once, not after waiting in the queue"
    deadline = time.monotonic() + 120

    def polite(image: bytes, response: httpx.Response) -> int:
        while response.status_code == 503 and time.monotonic() < deadline:  # honouring Retry-After
            time.sleep(int(response.headers["retry-after"]))
            response, _ = _post(server, auth, image)
        return response.status_code

    with ThreadPoolExecutor(len(images)) as pool:
        assert set(pool.map(polite, images, [r for r, _ in answers])) == {201}
    cards = httpx.get(f"{server.base_url}/v1/cards?limit=100", headers=auth, timeout=30).json()["items"]
    assert len(cards) == CONCURRENT == len({c["sha256"] for c in cards}), "each card stored once"


def test_prefer_respond_async_turns_the_overflow_into_jobs_that_complete(
    busy_server: tuple[Server, dict[str, str]], samples_dir: Path, tmp_path: Path
) -> None:
    server, auth = busy_server
    images = _cards(samples_dir, tmp_path / "cards")

    answers = _all_at_once(server, auth, images, Prefer="respond-async")

    statuses = [r.status_code for r, _ in answers]
    assert set(statuses) <= {201, 202} and 202 in statuses, [r.text for r, _ in answers]
    jobs = [r for r, _ in answers if r.status_code == 202]
    assert all(r.headers["preference-applied"] == "respond-async" for r in jobs)
    deadline = time.monotonic() + 120
    for response in jobs:
        job = response.json()
        while job["status"] in ("queued", "running"):
            assert time.monotonic() < deadline, f"job stuck: {job}"
            time.sleep(0.2)
            job = httpx.get(
                f"{server.base_url}{response.headers['location']}", headers=auth, timeout=30
            ).json()
        assert job["status"] == "done" and job["card_id"], job
    cards = httpx.get(f"{server.base_url}/v1/cards?limit=100", headers=auth, timeout=30).json()["items"]
    assert len(cards) == CONCURRENT == len({c["sha256"] for c in cards})
