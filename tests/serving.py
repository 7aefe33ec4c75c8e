"""A real ``cards serve`` (uvicorn) process for tests that load it, kill it and look at its processes.

Each server runs in a process group of its own (``start_new_session``), so every process it
starts — uvicorn workers, the OCR fork server, multiprocessing's resource tracker, the OCR
workers — can be found in ``/proc`` by that group after the server itself is gone.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

REPO_ROOT = Path(__file__).resolve().parents[1]


def cards_command() -> list[str]:
    script = Path(sys.executable).with_name("cards")
    return [str(script)] if script.exists() else [sys.executable, "-m", "cli"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def group_processes(group: int) -> list[int]:
    """Live processes of a process group (zombies waiting for a reaper do not count)."""
    alive = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == group and fields[0] != "Z":
            alive.append(int(stat.parent.name))
    return alive


def descendants(pid: int) -> list[int]:
    """Every live process below ``pid`` (children, their children, ...), from /proc."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[0] != "Z":
            parents[int(stat.parent.name)] = int(fields[1])
    found, frontier = [], [pid]
    while frontier:
        parent = frontier.pop()
        children = [p for p, pp in parents.items() if pp == parent]
        found += children
        frontier += children
    return found


def wait_gone(group: int, seconds: float = 10.0) -> list[int]:
    """Wait until no process of ``group`` lives; returns the survivors (empty: all gone)."""
    deadline = time.monotonic() + seconds
    while (left := group_processes(group)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


def kill_group(group: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(group, signal.SIGKILL)


def cards_env(database_url: str, blob_dir: Path, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "CARDS_BLOB_DIR": str(blob_dir),
        "CARDS_SUPPRESSION_SALT": "serving-test-salt",
        "OMP_THREAD_LIMIT": "1",
        **extra,
    }


def demo_keys(env: dict[str, str]) -> dict[str, str]:
    """An API key per role, from ``cards demo`` (its principals are created on first use)."""
    done = subprocess.run(
        [*cards_command(), "demo", "--json"],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return {role: entry["key"] for role, entry in json.loads(done.stdout).items()}


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    base_url: str
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def kill(self) -> None:
        """``kill -9`` of the server process alone, as an operator or the OOM killer would."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        """SIGTERM, then whatever is left of its group."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        kill_group(self.pid)


def start_server(env: dict[str, str], log: Path, *extra: str, timeout: float = 60.0) -> Server:
    """``cards serve`` on a free loopback port, in its own process group; returns once /healthz answers."""
    port = free_port()
    with log.open("ab") as out:
        process = subprocess.Popen(
            [
                *cards_command(),
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--log-level",
                "warning",
                *extra,
            ],
            cwd=REPO_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Server(process, f"http://127.0.0.1:{port}", log)
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise AssertionError(f"the server stopped: {log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{server.base_url}/healthz", timeout=2).status_code in (200, 503):
                return server
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            server.stop()
            raise AssertionError(f"the server did not come up in {timeout} s")
        time.sleep(0.1)
