"""The API as ``make run`` serves it: ``cards serve`` (uvicorn) on loopback, real HTTP, both databases.

The database is migrated with the real migrations, the demo keys come from ``cards demo``,
and a real sample card goes through OCR in the server's pool, so this catches what the
in-process tests cannot: the uvicorn entry point (``api.main:app``), settings from the
environment, the lifespan in a real event loop, and a clean shutdown on SIGTERM.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from models import migrate


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    def __init__(self, base_url: str, process: subprocess.Popen[str], env: dict[str, str], log: Path) -> None:
        self.base_url, self.process, self.env, self.log = base_url, process, env, log


@pytest.fixture
def server(empty_db_url: str, tmp_path: Path) -> Iterator[Server]:
    migrate.upgrade(empty_db_url)
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": empty_db_url,
        "CARDS_BLOB_DIR": str(tmp_path / "blobs"),
        "CARDS_SUPPRESSION_SALT": "uvicorn-test-salt",
        "CARDS_OCR_WORKERS": "1",
        "CARDS_OPT_OUT_PER_MINUTE": "5",
        "OMP_THREAD_LIMIT": "1",
    }
    command = [*_cards(), "serve", "--host", "127.0.0.1", "--port", str(port)]
    log = (tmp_path / "server.log").open("w")
    process = subprocess.Popen(
        command, cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT, text=True
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, (tmp_path / "server.log").read_text()
            try:
                if httpx.get(f"{base_url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the server did not come up in 60 s"
            time.sleep(0.2)
        yield Server(base_url, process, env, tmp_path / "server.log")
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        log.close()


def _cards() -> list[str]:
    script = Path(sys.executable).with_name("cards")
    return [str(script)] if script.exists() else [sys.executable, "-m", "cli"]


def test_real_server_end_to_end(
    server: Server, samples_dir: Path, run_cards: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    demo = run_cards(
        "demo",
        "--json",
        env={k: server.env[k] for k in ("DATABASE_URL", "CARDS_SUPPRESSION_SALT", "CARDS_BLOB_DIR")},
    )
    assert demo.returncode == 0, demo.stderr
    keys = {role: entry["key"] for role, entry in json.loads(demo.stdout).items()}

    def auth(role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {keys[role]}"}

    with httpx.Client(base_url=server.base_url, timeout=120) as client:
        assert client.get("/docs").status_code == 200
        assert "/v1/catalog/companies" in client.get("/openapi.json").json()["paths"]
        health = client.get("/healthz").json()
        assert health["database"]["status"] == health["tesseract"]["status"] == "ok"

        refused = client.get("/v1/catalog/companies")
        assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer"
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert client.get("/v1/catalog/companies", headers=auth("partner")).status_code == 403

        metadata = {"attestation": {"basis": "received_in_person"}, "uses": ["catalog", "partner_sharing"]}
        image = (samples_dir / "card_01.png").read_bytes()
        upload = client.post(
            "/v1/cards",
            headers=auth("uploader"),
            files={"image": ("card_01.png", image, "image/png")},
            data={"metadata": json.dumps(metadata)},
        )
        assert upload.status_code == 201, upload.text
        card: dict[str, Any] = upload.json()
        assert card["fields"]["companies"], card

        companies = client.get("/v1/catalog/companies", headers=auth("catalog_builder")).json()["items"]
        assert len(companies) == 1 and companies[0]["sources"] == 1
        export = client.get("/v1/catalog/export", headers=auth("catalog_builder"))
        assert export.headers["content-type"].startswith("application/x-ndjson")
        assert [json.loads(line)["id"] for line in export.text.splitlines()] == [companies[0]["id"]]

        # Partners get the person only once the notice owed to them was sent (the mailer's job).
        assert client.get("/v1/partner/contacts", headers=auth("partner")).json()["items"] == []
        [notice] = client.get("/v1/notices/due", headers=auth("privacy_admin")).json()["items"]
        assert notice["email"] == card["fields"]["emails"][0]["value"].lower()
        sent = client.post(f"/v1/notices/{notice['id']}/sent", headers=auth("privacy_admin"))
        assert sent.status_code == 200
        contacts = client.get("/v1/partner/contacts", headers=auth("partner")).json()["items"]
        assert [c["id"] for c in contacts] == [card["id"]]

        email = card["fields"]["emails"][0]["value"]
        assert client.post("/v1/opt-out", json={"email": email}).status_code == 202
        assert client.get("/v1/partner/contacts", headers=auth("partner")).json()["items"] == []
        access = client.post(
            "/v1/subject-requests", json={"type": "access", "email": email}, headers=auth("privacy_admin")
        )
        assert access.status_code == 200 and access.json()["result"]["found"] is True

        # Issue 10: no server banner; X-Forwarded-For from an untrusted peer (none is trusted by
        # default, loopback included) does not make a new client of the rate limit.
        assert "server" not in access.headers and access.headers["x-content-type-options"] == "nosniff"
        forged = [
            client.post(
                "/v1/opt-out",
                json={"email": f"x{n}@example.com"},
                headers={"X-Forwarded-For": f"198.51.100.{n}"},
            ).status_code
            for n in range(5)
        ]
        assert forged == [202, 202, 202, 202, 429]  # the e2e's own opt-out above was the first of 5
    assert_huge_body_refused_unread(server.base_url)

    pool = children_of(server.process.pid)
    assert pool, "the OCR pool's worker processes"
    server.process.send_signal(signal.SIGTERM)
    assert server.process.wait(timeout=30) == 0
    assert "Application shutdown complete" in server.log.read_text()
    deadline = time.monotonic() + 10
    while any(Path(f"/proc/{pid}").exists() and not zombie(pid) for pid in pool):
        assert time.monotonic() < deadline, f"OCR workers left running after the server stopped: {pool}"
        time.sleep(0.1)


def assert_huge_body_refused_unread(base_url: str) -> None:
    """A 150 MB body declared to the public opt-out is answered 413 after its first KiB, not read whole."""
    host, port = base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(
            b"POST /v1/opt-out HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {150 * 1024 * 1024}\r\n\r\n".encode()
            + b"{" * 1024
        )
        started = time.monotonic()
        received = b""
        while chunk := sock.recv(65536):  # the server closes the connection after its answer
            received += chunk
        answer = received.decode("latin-1")
    assert answer.startswith("HTTP/1.1 413"), answer
    assert "body_too_large" in answer and time.monotonic() - started < 5


def children_of(pid: int) -> list[int]:
    """Live child processes of ``pid`` (Linux /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def test_serve_refuses_an_unmigrated_database(
    tmp_path: Path, run_cards: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    result = run_cards(
        "serve", "--port", str(free_port()), env={"DATABASE_URL": f"sqlite:///{tmp_path}/new.db"}
    )
    assert result.returncode == 7
    assert json.loads(result.stderr)["error"]["code"] == "storage_error"
