"""No process outlives ``kill -9`` of ``cards serve`` (issue 10, defect 8), with uvicorn's ``--workers``.

With ``--workers 2`` uvicorn is a supervisor whose server processes each own an OCR pool (fork
server, workers) beside multiprocessing's resource tracker; killed with SIGKILL, the supervisor
never tells them, and they went on serving. The kill here lands while uploads are in flight;
then every process of the server's group must be gone within seconds. (``--workers 1`` and
``cards import`` are killed twenty times each by ``test_kill_points.py``.)
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from importing import FAST_CARDS
from serving import cards_env, demo_keys, descendants, group_processes, kill_group, start_server, wait_gone

from models import migrate


def test_kill_9_of_a_multi_worker_server_during_uploads_leaves_no_process(
    empty_db_url: str, tmp_path: Path, samples_dir: Path
) -> None:
    migrate.upgrade(empty_db_url)
    env = cards_env(empty_db_url, tmp_path / "blobs", CARDS_OCR_WORKERS="1", CARDS_PROFILE="fast")
    auth = {"Authorization": f"Bearer {demo_keys(env)['uploader']}"}
    server = start_server(env, tmp_path / "server.log", "--workers", "2")
    metadata = json.dumps({"uses": []})

    def upload(name: str) -> int:
        try:
            return httpx.post(
                f"{server.base_url}/v1/cards",
                headers=auth,
                files={"image": (name, (samples_dir / name).read_bytes(), "image/png")},
                data={"metadata": metadata},
                timeout=60,
            ).status_code
        except httpx.TransportError:
            return 0  # the kill cut it off

    try:
        with ThreadPoolExecutor(4) as pool:
            assert set(pool.map(upload, FAST_CARDS[:2])) == {201}  # both workers' pools are started
            in_flight = [pool.submit(upload, name) for name in FAST_CARDS[2:]]
            time.sleep(0.3)
            tree = descendants(server.pid)
            assert len(tree) >= 4, tree  # two server processes, the tracker, at least one fork server

            server.kill()

            [f.result() for f in in_flight]
        left = wait_gone(server.pid, seconds=15)
        assert not left, f"still running after kill -9 of the server: {left} of {tree}"
        assert not [pid for pid in tree if pid in group_processes(server.pid)]
    finally:
        kill_group(server.pid)
