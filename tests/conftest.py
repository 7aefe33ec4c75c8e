"""Shared fixtures: where the sample cards live, and small builders of image files.

Every image a test needs is built here in memory or in ``tmp_path``, except the synthetic
cards in ``samples/`` (read, never written) and the real cards in ``../shared/eval`` (read
in place when present, never copied).
"""

from __future__ import annotations

import io
import json
import os
import shutil
import struct
import subprocess
import sys
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

# Database fixtures (SQLite and PostgreSQL variants) for tests/models and tests/api.
pytest_plugins = ["db_fixtures", "queueing"]  # queueing: a private Redis, a PG schema, worker processes

REPO_ROOT = Path(__file__).resolve().parents[1]

ImageEncoder = Callable[..., bytes]


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def samples_dir() -> Path:
    path = REPO_ROOT / "samples"
    if not (path / "labels.json").is_file():
        pytest.skip("samples/ with labels.json is missing: run `make samples`")
    return path


@pytest.fixture(scope="session")
def sample_labels(samples_dir: Path) -> dict[str, dict[str, Any]]:
    """Ground truth of the synthetic cards, read at run time: the cards may be regenerated."""
    return json.loads((samples_dir / "labels.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def shared_eval_dir() -> Path:
    """The real cards, read in place; tests that need them skip where they are not present."""
    path = REPO_ROOT / ".." / "shared" / "eval"
    if not path.is_dir():
        pytest.skip("../shared/eval is not present on this machine")
    return path.resolve()


@pytest.fixture
def encode() -> ImageEncoder:
    """``encode(image, "PNG", **save_options) -> bytes``: a Pillow image as file bytes."""

    def _encode(image: Image.Image, fmt: str, **options: Any) -> bytes:
        buffer = io.BytesIO()
        image.save(buffer, fmt, **options)
        return buffer.getvalue()

    return _encode


def png_declaring_size(width: int, height: int) -> bytes:
    """A tiny valid PNG (100x60 white) whose IHDR is patched to claim ``width`` x ``height``.

    The CRC is recomputed so the header is well formed: only the pixel data is missing,
    which a loader that trusts the header would try to allocate.
    """
    buffer = io.BytesIO()
    Image.new("L", (100, 60), 255).save(buffer, "PNG")
    data = buffer.getvalue()
    assert data[12:16] == b"IHDR"
    ihdr = struct.pack(">II", width, height) + data[24:29]  # width, height, then depth/colour/etc.
    crc = struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    return data[:16] + ihdr + crc + data[33:]


@pytest.fixture(scope="session")
def pixel_bomb() -> Callable[[int, int], bytes]:
    return png_declaring_size


def _cards_command() -> list[str]:
    script = Path(sys.executable).with_name("cards")
    if script.exists():
        return [str(script)]
    found = shutil.which("cards")
    if found:
        return [found]
    return [sys.executable, "-m", "cli"]


@pytest.fixture(scope="session")
def run_cards() -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run the installed ``cards`` command as a user would, from the repository root."""

    def _run(*args: str | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        full_env = {**os.environ, "OMP_THREAD_LIMIT": "1", **(env or {})}
        return subprocess.run(
            [*_cards_command(), *map(str, args)],
            cwd=REPO_ROOT,
            env=full_env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

    return _run
