"""An ``Idempotency-Key`` claimed by a process that was killed is taken over at once (issue 10, faults).

Without this, the retry of an upload whose server was killed mid-request waited a minute and
got 409 ``idempotency_key_in_progress`` for ten minutes (``STALE_CLAIM``), behind a claim
nobody would ever answer. The claimant here is a real process killed with SIGKILL.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from sqlalchemy.engine import Engine

from models.tables import Principal
from services.idempotency import claim, claimant_gone

CLAIM_THEN_DIE = """
import os, signal, sys
from models.db import make_engine
from services.idempotency import claim
assert claim(make_engine(sys.argv[1]), int(sys.argv[2]), "retry-me", "h" * 64).mine
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_claim_whose_process_was_killed_is_taken_over_by_the_retry(
    db_url_and_engine: tuple[str, Engine], uploader: Principal
) -> None:
    url, engine = db_url_and_engine
    assert uploader.id is not None
    killed = subprocess.run(
        [sys.executable, "-c", CLAIM_THEN_DIE, url, str(uploader.id)],
        env={**os.environ, "PYTHONPATH": os.getcwd()},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr

    retry = claim(engine, uploader.id, "retry-me", "h" * 64)

    assert retry.mine, "the dead process's claim is taken over at once"


def test_a_claim_whose_process_still_runs_is_left_to_it(engine: Engine, uploader: Principal) -> None:
    assert uploader.id is not None
    assert claim(engine, uploader.id, "busy", "h" * 64).mine

    second = claim(engine, uploader.id, "busy", "h" * 64)

    assert not second.mine and second.row is not None and not second.answered
    assert not claimant_gone(second.row.response)
