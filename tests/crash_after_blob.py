"""A process that uploads one card and is killed (SIGKILL, as ``kill -9``) right after its blob is written.

Run as ``python tests/crash_after_blob.py IMAGE UPLOADER_ID`` with the ``cards`` environment
(``DATABASE_URL``, ``CARDS_BLOB_DIR``, ``CARDS_SUPPRESSION_SALT``). It reads the card for real,
then stores it through :func:`services.uploads.store_card`, the HTTP upload's code path; the blob
store's ``put`` does its real work and then the process kills itself before the transaction
that would reference the blob is committed — the crash point of issue 10, defect 2.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

from core.settings import load_settings
from ingest.pipeline import extract_bytes
from services.context import ServiceContext
from services.extraction import pipeline_options
from services.schemas import CardMetadata
from services.uploads import store_card


def main(image: Path, uploader_id: int) -> None:
    settings = load_settings()
    ctx = ServiceContext.from_settings(settings)
    data = image.read_bytes()
    extraction = extract_bytes(data, image.name, pipeline_options(settings, profile="fast"))
    real_put = ctx.blobs.put

    def put_then_die(payload: bytes) -> str:
        key = real_put(payload)
        print(key, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
        return key

    ctx.blobs.put = put_then_die  # type: ignore[method-assign]
    metadata = CardMetadata.model_validate(
        {"attestation": {"basis": "received_in_person"}, "uses": ["invites", "catalog"]}
    )
    store_card(ctx, uploader_id, data, extraction, metadata)
    raise SystemExit("the kill point was never reached")


if __name__ == "__main__":
    main(Path(sys.argv[1]), int(sys.argv[2]))
