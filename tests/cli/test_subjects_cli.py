"""``cards subjects`` and ``cards invites``: a privacy operator's commands, run as a user would."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable

import pytest
from people import ADA, TEST_SALT, Upload
from sqlalchemy.engine import Engine
from sqlmodel import Session

from core.errors import ExitCode
from models.blobs import BlobStore
from models.tables import (
    Principal,
    Source,
)

pytestmark = pytest.mark.usefixtures("settings_salt_forbidden")


# --- the command line -------------------------------------------------------------------------


@pytest.fixture
def cli_env(db_url_and_engine: tuple[str, Engine], blobs: BlobStore) -> dict[str, str]:
    """The CLI pointed at this test's database and blob store, with the tests' salt."""
    return {
        "DATABASE_URL": db_url_and_engine[0],
        "CARDS_SUPPRESSION_SALT": TEST_SALT.decode(),
        "CARDS_BLOB_DIR": str(blobs.root),
    }


def test_cli_erases_a_person_and_then_finds_nothing(
    session: Session,
    upload: Upload,
    uploader: Principal,
    blobs: BlobStore,
    run_cards: Callable[..., subprocess.CompletedProcess[str]],
    cli_env: dict[str, str],
) -> None:
    record = upload(uploader, ADA)
    key = session.get(Source, record.source_id).blob_key  # type: ignore[union-attr]

    erased = run_cards("subjects", "erase", "--email", ADA.email, env=cli_env)
    access = run_cards("subjects", "access", "--phone", ADA.phone, env=cli_env)

    assert erased.returncode == 0, erased.stderr
    result = json.loads(erased.stdout)
    assert (result["records"], result["blobs_deleted"], result["reason"]) == (1, 1, "erased")
    assert not blobs.exists(key)  # type: ignore[arg-type]
    assert access.returncode == 0 and json.loads(access.stdout)["records"] == []


def test_cli_lists_invite_candidates_and_refuses_a_second_invite(
    session: Session,
    upload: Upload,
    uploader: Principal,
    privacy_admin: Principal,
    run_cards: Callable[..., subprocess.CompletedProcess[str]],
    cli_env: dict[str, str],
) -> None:
    ada = upload(uploader, ADA)

    listed = run_cards("invites", "candidates", "--limit", "5", env=cli_env)
    claimed = run_cards("invites", "claim", "--by", "dpo", env=cli_env)
    assert claimed.returncode == 0, claimed.stderr
    [claim] = json.loads(claimed.stdout)
    first = run_cards("invites", "sent", str(claim["claim_id"]), "--by", "dpo", env=cli_env)
    second = run_cards("invites", "sent", str(claim["claim_id"]), "--by", "dpo", env=cli_env)
    after = run_cards("invites", "claim", "--by", "dpo", env=cli_env)

    assert listed.returncode == 0, listed.stderr
    assert [c["subject_id"] for c in json.loads(listed.stdout)] == [ada.subject_id]
    assert claim["subject_id"] == ada.subject_id and claim["email"] == ADA.email
    assert first.returncode == 0, first.stderr
    assert second.returncode == ExitCode.forbidden
    assert json.loads(second.stderr)["error"]["code"] == "not_eligible"
    assert json.loads(after.stdout) == [], "invited once in a lifetime"


def test_cli_opt_out_without_a_contact_is_a_usage_error(
    run_cards: Callable[..., subprocess.CompletedProcess[str]], cli_env: dict[str, str]
) -> None:
    done = run_cards("subjects", "opt-out", "--scope", "invites", env=cli_env)
    assert done.returncode == ExitCode.bad_args
    assert json.loads(done.stderr)["error"]["code"] == "bad_arguments"
