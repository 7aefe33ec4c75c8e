"""Browser fixtures: a real ``cards serve`` on a free port with a temp SQLite database, and chromium.

The server is the one ``make run`` starts (uvicorn, the real OCR pool, settings from the
environment), migrated with the real migrations; principals get real API keys. The
browser is Debian's chromium driven by Playwright (its own browser download does not work
here), headless. One server and one browser serve the whole module, so the tests of this
folder take seconds, not minutes; each test signs in its own principals.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from browsing import CHROMIUM, SCREENSHOTS, WebServer
from sqlmodel import Session

from models import migrate
from models.db import engine_for
from models.enums import Role
from services.principals import create_principal


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _cards() -> list[str]:
    exe = Path(sys.executable).with_name("cards")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "cli"]


PRINCIPALS = {
    "uploader-a": Role.uploader,
    "uploader-b": Role.uploader,
    "privacy-officer": Role.privacy_admin,
    "catalog-team": Role.catalog_builder,
}


@pytest.fixture(scope="module")
def web_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebServer]:
    root = tmp_path_factory.mktemp("web")
    db_url = f"sqlite:///{root / 'cards.db'}"
    migrate.upgrade(db_url)
    engine = engine_for(db_url)
    keys = {}
    with Session(engine) as session:
        for name, role in PRINCIPALS.items():
            keys[name] = create_principal(session, name, role)[1]
        session.commit()
    engine.dispose()
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "CARDS_BLOB_DIR": str(root / "blobs"),
        "CARDS_SUPPRESSION_SALT": "web-test-salt",
        "CARDS_SESSION_SECRET": "web-test-session-secret",
        "CARDS_OCR_WORKERS": "2",
        "CARDS_PROFILE": "fast",
        "OMP_THREAD_LIMIT": "1",
    }
    log_path = root / "server.log"
    log = log_path.open("w")
    process = subprocess.Popen(
        [*_cards(), "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=root,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, log_path.read_text()
            try:
                if httpx.get(f"{base_url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the server did not come up in 60 s"
            time.sleep(0.2)
        yield WebServer(base_url, db_url, keys, log_path)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists() or shutil.which("chromium") is None:
        pytest.fail("chromium is missing: `make test` installs it (scripts/install-system-deps.sh)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
