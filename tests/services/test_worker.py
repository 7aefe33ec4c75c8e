"""What a queue worker does with one job (:func:`services.worker.run_job`), without the broker:
delivered twice it stores its card once, a bad image fails at once (no retry), a card that keeps
killing its worker fails after the last attempt. Every test runs on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, func, select

from core.settings import load_settings
from models.blobs import BlobStore
from models.tables import Principal, Source, UploadJob
from services import queue
from services.context import ServiceContext
from services.worker import run_job

pytestmark = pytest.mark.usefixtures("settings_salt_forbidden")


@pytest.fixture
def ctx(engine: Engine, blobs: BlobStore, salt: bytes) -> ServiceContext:
    settings = load_settings(_env_file=None, CARDS_PROFILE="fast", CARDS_SUPPRESSION_SALT=salt.decode())
    return ServiceContext(settings=settings, engine=engine, blobs=blobs, salt=salt)


def queue_card(ctx: ServiceContext, uploader: Principal, data: bytes, **meta: Any) -> int:
    key = ctx.blobs.put(data)
    payload = queue.job_payload(
        sha256=key,
        byte_size=len(data),
        filename="#1",
        client={"import_batch": "b1", "file": "#1"},
        uses=["catalog"],
        attestation={"basis": "received_in_person", "text_version": "2026-11", "details": {}},
    )
    with Session(ctx.engine) as session:
        job = UploadJob(principal_id=uploader.id, blob_key=key, batch="b1", metadata_={**payload, **meta})
        session.add(job)
        session.commit()
        assert job.id is not None
        return job.id


def job_row(ctx: ServiceContext, job_id: int) -> UploadJob:
    with Session(ctx.engine) as session:
        job = session.get(UploadJob, job_id)
        assert job is not None
        return job


def sources(ctx: ServiceContext) -> int:
    with Session(ctx.engine) as session:
        return int(session.exec(select(func.count()).select_from(Source)).one())


def test_a_job_delivered_twice_stores_its_card_once(
    ctx: ServiceContext, uploader: Principal, samples_dir: Path
) -> None:
    job_id = queue_card(ctx, uploader, (samples_dir / "card_05.png").read_bytes())
    first = run_job(ctx, job_id)
    assert first.startswith("done:")
    assert run_job(ctx, job_id) == "skipped"
    assert sources(ctx) == 1 and job_row(ctx, job_id).status == "done"


def test_a_job_redelivered_after_its_card_was_committed_ends_with_that_card(
    ctx: ServiceContext, uploader: Principal, samples_dir: Path
) -> None:
    data = (samples_dir / "card_05.png").read_bytes()
    first = run_job(ctx, queue_card(ctx, uploader, data))
    again = queue_card(ctx, uploader, data)  # as if the worker died between the commit and the job's end
    assert run_job(ctx, again) == first
    assert sources(ctx) == 1
    assert job_row(ctx, again).blob_key is None and ctx.blobs.exists(job_row(ctx, again).metadata_["sha256"])


def test_a_bad_image_fails_its_job_with_its_code_and_is_not_retried(
    ctx: ServiceContext, uploader: Principal
) -> None:
    job_id = queue_card(ctx, uploader, b"not an image at all")
    assert run_job(ctx, job_id) == "failed:unsupported_format"  # returned, not raised: no retry
    job = job_row(ctx, job_id)
    assert job.status == "failed" and job.error is not None and job.error["code"] == "unsupported_format"
    assert sources(ctx) == 0
    assert not ctx.blobs.exists(job.metadata_["sha256"]), "the failed card's image is not kept"


def test_a_card_that_keeps_stopping_its_worker_fails_after_the_last_attempt(
    ctx: ServiceContext, uploader: Principal, samples_dir: Path
) -> None:
    data = (samples_dir / "card_05.png").read_bytes()
    job_id = queue_card(ctx, uploader, data, attempts=queue.MAX_ATTEMPTS)
    assert run_job(ctx, job_id) == "failed:ocr_failed"
    assert job_row(ctx, job_id).status == "failed" and sources(ctx) == 0
