"""``cards export``: an uploader's contacts to a file only its owner can read, or to stdout."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import vobject
from address_book import RUN, TEST_SALT
from sqlalchemy.engine import Engine

from models.blobs import BlobStore
from models.tables import ContactRecord, Principal


def test_cli_export_writes_an_owner_only_file(
    tmp_path: Path,
    db_url_and_engine: tuple[str, Engine],
    blobs: BlobStore,
    uploader: Principal,
    contacts: dict[str, ContactRecord],
    run_cards: RUN,
) -> None:
    env = {
        "DATABASE_URL": db_url_and_engine[0],
        "CARDS_BLOB_DIR": str(blobs.root),
        "CARDS_SUPPRESSION_SALT": TEST_SALT.decode(),
    }
    output = tmp_path / "out" / "alice.vcf"

    done = run_cards(
        "export", "--uploader", "alice-uploader", "--format", "vcard", "--output", output, env=env
    )
    by_id = run_cards("export", "--uploader", str(uploader.id), "--format", "csv", env=env)
    missing = run_cards("export", "--uploader", "ghost", "--format", "jsonl", env=env)

    assert done.returncode == 0, done.stderr
    assert "exported 3 contacts" in done.stderr
    assert output.stat().st_mode & 0o777 == 0o600
    assert len(list(vobject.readComponents(output.read_text()))) == 3
    assert not list(output.parent.glob(".*tmp")), "no temporary file left behind"
    assert by_id.returncode == 0 and len(list(csv.DictReader(io.StringIO(by_id.stdout)))) == 3
    assert missing.returncode == 8 and json.loads(missing.stderr)["error"]["code"] == "not_found"
