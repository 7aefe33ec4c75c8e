"""Jobs a crashed server left running (issue 10): picked up again at start-up, or failed once poisonous."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import Session

from core.settings import load_settings
from models.blobs import BlobStore
from models.tables import Principal, UploadJob
from services.context import ServiceContext
from services.jobs import MAX_INTERRUPTIONS, requeue_running_jobs


def _job(engine: Engine, uploader: Principal, blobs: BlobStore, data: bytes, interrupted: int) -> int:
    assert uploader.id is not None
    key = blobs.put(data)
    with Session(engine) as session:
        job = UploadJob(
            principal_id=uploader.id,
            status="running",
            blob_key=key,
            metadata_={"metadata": {}, "sha256": key, "byte_size": len(data), "interrupted": interrupted},
        )
        session.add(job)
        session.commit()
        assert job.id is not None
        return job.id


def test_a_job_left_running_goes_back_to_the_queue_and_one_running_through_every_crash_fails(
    engine: Engine, uploader: Principal, tmp_path: Path, salt: bytes
) -> None:
    ctx = ServiceContext.from_settings(load_settings(), engine=engine, blob_dir=tmp_path / "b", salt=salt)
    fresh = _job(engine, uploader, ctx.blobs, b"first crash", 0)
    poison = _job(engine, uploader, ctx.blobs, b"crashes every time", MAX_INTERRUPTIONS - 1)

    assert requeue_running_jobs(ctx) == 1

    with Session(engine) as session:
        again, failed = session.get(UploadJob, fresh), session.get(UploadJob, poison)
        assert again is not None and failed is not None
        assert (again.status, again.metadata_["interrupted"]) == ("queued", 1)
        assert failed.status == "failed" and failed.error is not None
        assert failed.error["code"] == "ocr_failed" and failed.blob_key is None
    assert ctx.blobs.exists(again.blob_key or "") and not ctx.blobs.exists(failed.metadata_["sha256"])
