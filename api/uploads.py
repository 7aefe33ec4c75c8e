"""The upload service behind ``POST /v1/cards`` and the job worker: everything but HTTP routing.

* :func:`read_upload` reads the multipart body within the byte limit: a declared
  ``Content-Length`` over it is refused before a byte is read, and the body stream itself is
  counted, so a chunked upload stops at the limit instead of being spooled to disk whole.
* :func:`run_pipeline` runs OCR in the app's process pool (``app.state.ocr_pool``): the event
  loop only awaits it.
* :func:`store_card` stores an extraction as a record (blob first, then one transaction).
* :func:`idempotent` runs a request's work at most once per ``Idempotency-Key``.
* :func:`cards_out` builds :class:`~api.schemas.CardOut` through the purpose policy (``own``).

Database work here is synchronous and called through ``run_in_threadpool`` by async callers.

Error codes added by the API (problem ``code``): ``image_too_large`` with status 413 (bytes;
the pixel limit stays a 422 from the pipeline), ``unsupported_media_type`` (415),
``invalid_idempotency_key`` (400), ``idempotency_key_reused`` (422),
``idempotency_key_in_progress`` (409).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import anyio
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select, update
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.responses import Response
from starlette.types import Message, Receive

from api.problems import problem
from api.schemas import AttestationIn, AttestationOut, CardMetadata, CardOut, FieldValueOut, JobOut
from ingest.errors import (
    CardError,
    IdempotencyInProgressError,
    IdempotencyKeyReusedError,
    InvalidIdempotencyKeyError,
    NotFoundError,
    OcrUnavailableError,
    UnsupportedMediaTypeError,
    UploadTooLargeError,
    error_from_exception,
)
from ingest.load import DEFAULT_MAX_BYTES, DEFAULT_MAX_PIXELS
from ingest.pipeline import Options, extract_bytes
from ingest.schema import Extraction
from models import idempotency
from models.blobs import BlobStore
from models.policy import qualifying_records, visible_fields
from models.records import AttestationInput, store_extraction
from models.rights import blobs_in_use
from models.tables import (
    Attestation,
    Channel,
    ContactRecord,
    FieldValue,
    PermittedUse,
    Principal,
    Source,
    UploadJob,
    utcnow,
)

log = logging.getLogger(__name__)

FORM_OVERHEAD = 64 * 1024  # multipart boundaries, part headers and the metadata part
METADATA_MAX = 16 * 1024
CHUNK = 1024 * 1024
IDEMPOTENCY_WAIT_S = 60.0  # how long a duplicate waits for the first request's answer
IDEMPOTENCY_KEY_MAX = 255  # the column's length


# --- limits --------------------------------------------------------------------------------------


def max_upload_bytes(app: FastAPI) -> int:
    """The byte limit of an image (``app.state.max_upload_bytes`` overrides the pipeline's)."""
    return int(getattr(app.state, "max_upload_bytes", DEFAULT_MAX_BYTES))


def max_upload_pixels(app: FastAPI) -> int:
    """The pixel limit of an image (``app.state.max_upload_pixels`` overrides the pipeline's)."""
    return int(getattr(app.state, "max_upload_pixels", DEFAULT_MAX_PIXELS))


# --- reading the request ------------------------------------------------------------------------


@dataclass(frozen=True)
class Upload:
    """A card upload as received: the image bytes and the validated metadata."""

    data: bytes
    filename: str
    metadata: CardMetadata
    sha256: str  # of ``data``; hashed in a thread when read (40 MiB take a while)

    def request_hash(self, mode: str) -> str:
        """What makes two requests "the same" for ``Idempotency-Key``: image, metadata and mode."""
        digest = hashlib.sha256()
        digest.update(mode.encode() + b"\0" + bytes.fromhex(self.sha256))
        digest.update(json.dumps(self.metadata.model_dump(mode="json"), sort_keys=True).encode())
        return digest.hexdigest()


def _capped(receive: Receive, limit: int) -> Receive:
    """``receive`` that refuses the body once more than ``limit`` bytes have arrived."""
    seen = 0

    async def wrapped() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise UploadTooLargeError(f"The upload exceeds {limit:,} bytes.")
        return message

    return wrapped


def _missing(field: str) -> dict[str, Any]:
    return {"type": "missing", "loc": ("body", field), "msg": "Field required", "input": None}


async def read_upload(request: Request) -> Upload:
    """The ``image`` and ``metadata`` parts, within the limits; 413, 415 or 422 problems otherwise."""
    content_type = request.headers.get("content-type", "")
    if not content_type.lower().startswith("multipart/form-data"):
        raise UnsupportedMediaTypeError(f"The body is {content_type or 'untyped'}, not multipart/form-data.")
    cap = max_upload_bytes(request.app)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > cap + FORM_OVERHEAD:
        raise UploadTooLargeError(f"The upload is {int(declared):,} bytes; the image limit is {cap:,}.")
    counted = Request(request.scope, _capped(request.receive, cap + FORM_OVERHEAD))
    form = await counted.form(max_files=2, max_fields=4, max_part_size=METADATA_MAX)
    try:
        image, metadata = form.get("image"), form.get("metadata")
        errors = []
        if not isinstance(image, UploadFile):
            errors.append(_missing("image"))
        if metadata is None:
            errors.append(_missing("metadata"))
        if errors:
            raise RequestValidationError(errors)
        assert isinstance(image, UploadFile) and metadata is not None
        data = await _read_capped(image, cap)
        if isinstance(metadata, UploadFile):  # sent as a file part (with a filename)
            raw = (await metadata.read(METADATA_MAX + 1))[:METADATA_MAX].decode("utf-8", "replace")
        else:
            raw = metadata
        sha256 = await run_in_threadpool(lambda: hashlib.sha256(data).hexdigest())
        return Upload(data, image.filename or "upload", parse_metadata(raw), sha256)
    finally:
        await form.close()


async def _read_capped(upload: UploadFile, cap: int) -> bytes:
    """The file's bytes, read in chunks and stopped at ``cap + 1``: a 413 never holds more."""
    chunks: list[bytes] = []
    size = 0
    while chunk := await upload.read(min(CHUNK, cap + 1 - size)):
        chunks.append(chunk)
        size += len(chunk)
        if size > cap:
            raise UploadTooLargeError(f"The image is over the limit of {cap:,} bytes.")
    return b"".join(chunks)


def parse_metadata(raw: str) -> CardMetadata:
    """The metadata part as :class:`CardMetadata`; a 422 problem listing what is wrong otherwise."""
    try:
        return CardMetadata.model_validate_json(raw or "{}")
    except ValidationError as exc:
        errors = [
            {**e, "loc": ("body", "metadata", *e.get("loc", ()))}
            for e in exc.errors(include_url=False, include_context=False)
        ]
        raise RequestValidationError(errors) from exc


# --- OCR --------------------------------------------------------------------------------------


async def run_pipeline(app: FastAPI, data: bytes, source: str, region: str | None) -> Extraction:
    """Run the pipeline in a worker process; the event loop only waits for it.

    A pipeline failure raises its :class:`CardError` (a bad image: 422 with the reason). A
    worker that died (BrokenProcessPool) gets the pool replaced, so the next upload works.
    """
    settings = app.state.settings
    options = Options(
        region=(region or settings.default_region).upper(),
        max_pixels=max_upload_pixels(app),
        max_bytes=max_upload_bytes(app),
    )
    pool: ProcessPoolExecutor = app.state.ocr_pool
    try:
        return await asyncio.get_running_loop().run_in_executor(pool, extract_bytes, data, source, options)
    except BrokenProcessPool as exc:
        if app.state.ocr_pool is pool:
            workers = getattr(pool, "_max_workers", None) or os.cpu_count() or 1
            app.state.ocr_pool = ProcessPoolExecutor(max_workers=workers)
            pool.shutdown(wait=False, cancel_futures=True)
        raise OcrUnavailableError("The OCR worker stopped while reading this card.") from exc


# --- storing ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Stored:
    record_id: int
    created: bool  # False: the uploader had sent these bytes before; this is that card


def existing_card(session: Session, principal_id: int, sha256: str) -> int | None:
    """The uploader's card from the same image bytes (sources are unique per uploader and SHA-256)."""
    return session.exec(
        select(ContactRecord.id)
        .join(Source, col(Source.id) == col(ContactRecord.source_id))
        .where(Source.uploader_id == principal_id, Source.sha256 == sha256)
        .order_by(col(ContactRecord.id))
    ).first()


def find_existing_card(engine: Engine, principal_id: int, sha256: str) -> int | None:
    with Session(engine) as session:
        return existing_card(session, principal_id, sha256)


def channel_of(metadata: CardMetadata) -> Channel:
    """A request from the mobile app names its device or app version; anything else is the API."""
    client = metadata.client
    return Channel.mobile if (client.device_id or client.app_version) else Channel.api


def attestation_input(
    attestation: AttestationIn | None, default_version: str, client: dict[str, Any]
) -> AttestationInput | None:
    """The metadata's attestation as the records layer takes it (text version defaults to settings')."""
    if attestation is None:
        return None
    return AttestationInput(
        basis=attestation.basis,
        basis_text=attestation.basis_text,
        text_version=attestation.text_version or default_version,
        details={"client": client} if client else {},
    )


def store_card(
    app: FastAPI, principal_id: int, data: bytes, extraction: Extraction, metadata: CardMetadata
) -> Stored:
    """Store one extracted card: the blob first (so no row points at a missing image), then the rows.

    The same bytes from the same uploader are one card: answered from the earlier one, also
    when two uploads race (the unique source constraint decides; the loser finds the winner).
    A failure leaves no blob behind unless another source or pending job uses it.
    """
    engine: Engine = app.state.engine
    blobs: BlobStore = app.state.blobs
    assert extraction.sha256
    client = metadata.client.model_dump(exclude_none=True)
    channel = channel_of(metadata)
    blob_key = blobs.put(data)
    try:
        for attempt in range(3):
            try:
                with Session(engine, expire_on_commit=False) as session:
                    found = existing_card(session, principal_id, extraction.sha256)
                    if found is not None:
                        return Stored(found, created=False)
                    principal = session.get(Principal, principal_id)
                    if principal is None:
                        raise NotFoundError("The uploader no longer exists.")
                    record = store_extraction(
                        session,
                        uploader=principal,
                        channel=channel,
                        extraction=extraction,
                        byte_size=len(data),
                        blob_key=blob_key,
                        client=client,
                        attestation=attestation_input(
                            metadata.attestation, app.state.settings.attestation_version, client
                        ),
                        uses=set(metadata.uses),
                        salt=app.state.salt,
                    )
                    record.notes = metadata.notes  # kept off Source.client: notes may name the person
                    session.add(record)
                    session.commit()
                    assert record.id is not None
                    return Stored(record.id, created=True)
            except IntegrityError:
                # A concurrent upload of the same image (answered above on the next attempt), or
                # of another card of the same person creating the same subject key (retried).
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")
    except BaseException:
        drop_blob_if_unused(engine, blobs, blob_key)
        raise


def drop_blob_if_unused(engine: Engine, blobs: BlobStore, key: str | None) -> None:
    """Delete an image blob no source and no pending job refers to (after a failure or a finished job)."""
    if not key:
        return
    with Session(engine) as session:
        if key not in blobs_in_use(session, [key]):
            blobs.delete(key)


# --- idempotency ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """What a request produced, as stored for replays: a reference or a problem, never a card's data."""

    status: int
    ref: dict[str, Any]  # {"card_id": n} | {"job_id": n} | {"problem": {...}}


def problem_body(exc: CardError) -> dict[str, Any]:
    response = problem(exc.http_status, exc.code, exc.full_message)
    return json.loads(bytes(response.body))


def check_idempotency_key(key: str | None) -> str | None:
    """The header's value, or None when absent; 400 for an empty, overlong or non-ASCII key."""
    if key is None:
        return None
    if not key or len(key) > IDEMPOTENCY_KEY_MAX or not all(33 <= ord(c) <= 126 for c in key):
        raise InvalidIdempotencyKeyError("The Idempotency-Key header is not usable.")
    return key


async def idempotent(
    engine: Engine,
    principal_id: int,
    key: str | None,
    request_hash: str,
    work: Callable[[], Awaitable[Outcome]],
    render: Callable[[Outcome], Response],
) -> Response:
    """Run ``work`` once per key and answer every request with the key from its outcome.

    The key is claimed first (a committed INSERT: the unique constraint picks one winner).
    Others poll with short sleeps, off the event loop's back, until the winner's outcome is
    stored, then replay it with ``Idempotent-Replayed: true``. 4xx outcomes are stored and
    replayed; a 5xx or a crash releases the claim so that a retry runs the work again.
    """
    if key is None:
        return await run_in_threadpool(render, await work())
    deadline = time.monotonic() + IDEMPOTENCY_WAIT_S
    delay = 0.02
    while True:
        claim = await run_in_threadpool(idempotency.claim, engine, principal_id, key, request_hash)
        if claim.mine:
            break
        row = claim.row
        if row is not None and row.request_hash != request_hash:
            raise IdempotencyKeyReusedError(f"Idempotency-Key {key!r} was used for a different request.")
        if row is not None and row.status_code is not None:
            response = await run_in_threadpool(render, Outcome(row.status_code, row.response or {}))
            response.headers["Idempotent-Replayed"] = "true"
            return response
        if time.monotonic() > deadline:
            raise IdempotencyInProgressError(f"A request with Idempotency-Key {key!r} is still running.")
        await asyncio.sleep(delay)
        delay = min(delay * 1.5, 0.5)
    try:
        try:
            outcome = await work()
        except CardError as exc:
            if exc.http_status >= 500:
                raise
            outcome = Outcome(exc.http_status, {"problem": problem_body(exc)})
        await run_in_threadpool(idempotency.complete, engine, principal_id, key, outcome.status, outcome.ref)
    except BaseException:
        with anyio.CancelScope(shield=True):
            await run_in_threadpool(idempotency.release, engine, principal_id, key)
        raise
    return await run_in_threadpool(render, outcome)


def render_problem(outcome: Outcome) -> Response:
    body = outcome.ref["problem"]
    return problem(outcome.status, body["code"], body.get("detail", ""))


# --- jobs ----------------------------------------------------------------------------------------


def create_job(app: FastAPI, principal_id: int, upload: Upload) -> int:
    """Queue an upload: the image goes to the blob store, the metadata into the job row."""
    blob_key = app.state.blobs.put(upload.data)
    try:
        with Session(app.state.engine, expire_on_commit=False) as session:
            job = UploadJob(
                principal_id=principal_id,
                blob_key=blob_key,
                metadata_={
                    "metadata": upload.metadata.model_dump(mode="json"),
                    "filename": upload.filename,
                    "sha256": upload.sha256,
                    "byte_size": len(upload.data),
                },
            )
            session.add(job)
            session.commit()
            assert job.id is not None
            return job.id
    except BaseException:
        drop_blob_if_unused(app.state.engine, app.state.blobs, blob_key)
        raise


def claim_next_job(engine: Engine) -> UploadJob | None:
    """Move the oldest queued job to running and return it; None when none waits.

    The move is a conditional UPDATE, so two workers (two server processes) never take one job.
    """
    with Session(engine, expire_on_commit=False) as session:
        for _ in range(5):
            job_id = session.exec(
                select(UploadJob.id).where(UploadJob.status == "queued").order_by(col(UploadJob.id)).limit(1)
            ).first()
            if job_id is None:
                return None
            moved = session.exec(
                update(UploadJob)
                .where(col(UploadJob.id) == job_id, col(UploadJob.status) == "queued")
                .values(status="running", updated_at=utcnow())
            )
            session.commit()
            if moved.rowcount == 1:
                return session.get(UploadJob, job_id)
    return None


def requeue_running_jobs(engine: Engine) -> int:
    """Jobs left running by a stopped or crashed server go back to the queue (at startup)."""
    with Session(engine) as session:
        moved = session.exec(
            update(UploadJob)
            .where(col(UploadJob.status) == "running")
            .values(status="queued", updated_at=utcnow())
        )
        session.commit()
        return int(moved.rowcount or 0)


def requeue_job(engine: Engine, job_id: int) -> None:
    with Session(engine) as session:
        session.exec(
            update(UploadJob)
            .where(col(UploadJob.id) == job_id, col(UploadJob.status) == "running")
            .values(status="queued", updated_at=utcnow())
        )
        session.commit()


def finish_job(
    app: FastAPI, job_id: int, *, record_id: int | None = None, error: dict[str, str] | None = None
) -> None:
    """Record the job's end; the finished job keeps no personal data (no notes, no file name, no blob).

    The image blob stays only if the stored source uses it (a failed job's image is deleted).
    """
    engine: Engine = app.state.engine
    with Session(engine) as session:
        job = session.get(UploadJob, job_id)
        if job is None:
            return
        blob_key = job.blob_key
        kept = {k: job.metadata_.get(k) for k in ("sha256", "byte_size")}
        job.status = "failed" if error else "done"
        job.record_id, job.error, job.blob_key, job.metadata_ = record_id, error, None, kept
        job.updated_at = utcnow()
        session.add(job)
        session.commit()
    drop_blob_if_unused(engine, app.state.blobs, blob_key)


async def process_job(app: FastAPI, job: UploadJob) -> None:
    """Extract and store one claimed job: running → done (with the card) or failed (with the code)."""
    assert job.id is not None
    meta = job.metadata_
    try:
        metadata = CardMetadata.model_validate(meta.get("metadata", {}))
        found = await run_in_threadpool(
            find_existing_card, app.state.engine, job.principal_id, meta.get("sha256")
        )
        if found is None:
            if not job.blob_key:
                raise NotFoundError("The uploaded image is no longer stored.")
            data = await run_in_threadpool(app.state.blobs.get, job.blob_key)
            extraction = await run_pipeline(app, data, str(meta.get("filename") or "upload"), metadata.region)
            stored = await run_in_threadpool(store_card, app, job.principal_id, data, extraction, metadata)
            found = stored.record_id
        await run_in_threadpool(finish_job, app, job.id, record_id=found)
    except asyncio.CancelledError:
        with anyio.CancelScope(shield=True):  # the server is stopping: another run takes the job
            await run_in_threadpool(requeue_job, app.state.engine, job.id)
        raise
    except CardError as exc:
        await run_in_threadpool(finish_job, app, job.id, error=exc.to_dict())
    except Exception as exc:
        log.exception("upload job %s failed", job.id)
        error = {"code": error_from_exception(exc).code, "message": "Internal error; it has been logged."}
        await run_in_threadpool(finish_job, app, job.id, error=error)


def job_out(job: UploadJob) -> JobOut:
    assert job.id is not None
    return JobOut(
        id=job.id,
        status=job.status,  # type: ignore[arg-type]
        card_id=job.record_id if job.status == "done" else None,
        error=job.error,
        created_at=utc(job.created_at),
        updated_at=utc(job.updated_at),
        url=f"/v1/jobs/{job.id}",
    )


def get_own_job(session: Session, principal: Principal, job_id: int) -> UploadJob:
    """The principal's own job, or 404 (another uploader's job is not disclosed either)."""
    job = session.get(UploadJob, job_id)
    if job is None or job.principal_id != principal.id:
        raise NotFoundError(f"No job {job_id}.")
    return job


# --- cards as the uploader sees them (purpose "own") ---------------------------------------------


def utc(moment: datetime) -> datetime:
    """Timestamps as aware UTC: SQLite hands them back naive, and a replay must equal the original."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def get_own_card(session: Session, principal: Principal, card_id: int) -> ContactRecord:
    """One of the principal's records through the policy's ``own`` purpose; 404 for anyone else's."""
    record = session.exec(
        qualifying_records("own", principal=principal).where(col(ContactRecord.id) == card_id)
    ).first()
    if record is None:
        raise NotFoundError(f"No card {card_id}.")
    return record


def cards_out(session: Session, records: Sequence[ContactRecord]) -> list[CardOut]:
    """The records as :class:`CardOut`, with a fixed number of queries per page (not per card).

    Values pass through ``visible_fields("own", ...)``: today the uploader sees every field,
    and a policy change there changes this answer with no change here.
    """
    ids = [r.id for r in records if r.id is not None]
    if not ids:
        return []
    values: dict[int, list[FieldValue]] = defaultdict(list)
    rows = session.exec(
        select(FieldValue)
        .where(col(FieldValue.record_id).in_(ids))
        .order_by(col(FieldValue.record_id), col(FieldValue.field), col(FieldValue.position))
    ).all()
    for value in visible_fields("own", rows):
        values[value.record_id].append(value)
    uses: dict[int, list[Any]] = defaultdict(list)
    for use in session.exec(
        select(PermittedUse).where(col(PermittedUse.record_id).in_(ids)).order_by(col(PermittedUse.use))
    ):
        uses[use.record_id].append(use.use)
    attestations = {
        a.record_id: a
        for a in session.exec(
            select(Attestation)
            .where(col(Attestation.record_id).in_(ids), col(Attestation.revoked_at).is_(None))
            .order_by(col(Attestation.id))
        )
    }
    sources = {
        s.id: s
        for s in session.exec(select(Source).where(col(Source.id).in_({r.source_id for r in records})))
    }
    cards = []
    for record in records:
        assert record.id is not None
        fields: dict[str, list[FieldValueOut]] = defaultdict(list)
        for v in values.get(record.id, []):
            assert v.id is not None
            out = FieldValueOut.model_validate(v, from_attributes=True)
            out.corrected_at = utc(v.corrected_at) if v.corrected_at else None  # SQLite returns naive times
            fields[v.field].append(out)
        attestation = attestations.get(record.id)
        source = sources.get(record.source_id)
        cards.append(
            CardOut(
                id=record.id,
                created_at=utc(record.created_at),
                updated_at=utc(record.updated_at),
                channel=source.channel.value if source else "",
                sha256=source.sha256 if source else "",
                region=record.region,
                uses=sorted(uses.get(record.id, [])),
                attestation=AttestationOut(
                    basis=attestation.basis,
                    basis_text=attestation.basis_text,
                    text_version=attestation.text_version,
                    attested_at=utc(attestation.attested_at),
                )
                if attestation
                else None,
                fields=dict(fields),
                image_url=f"/v1/cards/{record.id}/image",
            )
        )
    return cards


def card_response(engine: Engine, principal: Principal, status: int, card_id: int) -> JSONResponse:
    """The card as it is now, with its Location (the first answer and every replay are built here)."""
    with Session(engine) as session:
        card = cards_out(session, [get_own_card(session, principal, card_id)])[0]
    return JSONResponse(
        card.model_dump(mode="json"), status_code=status, headers={"Location": f"/v1/cards/{card_id}"}
    )


def job_response(engine: Engine, principal: Principal, status: int, job_id: int) -> JSONResponse:
    with Session(engine) as session:
        job = job_out(get_own_job(session, principal, job_id))
    return JSONResponse(job.model_dump(mode="json"), status_code=status, headers={"Location": job.url})


def render(engine: Engine, principal: Principal) -> Callable[[Outcome], Response]:
    """The renderer of an upload's outcomes for :func:`idempotent`."""

    def _render(outcome: Outcome) -> Response:
        if "card_id" in outcome.ref:
            return card_response(engine, principal, outcome.status, int(outcome.ref["card_id"]))
        if "job_id" in outcome.ref:
            return job_response(engine, principal, outcome.status, int(outcome.ref["job_id"]))
        return render_problem(outcome)

    return _render


IMAGE_TYPES = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
    (b"BM", "image/bmp"),
)


def image_media_type(data: bytes) -> str:
    """The media type of stored image bytes, from their magic bytes (what was uploaded, as uploaded)."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return next((media for magic, media in IMAGE_TYPES if data.startswith(magic)), "application/octet-stream")


def wake_worker(app: FastAPI) -> None:
    """Tell the job worker a job is queued (it also polls, for jobs queued by other processes)."""
    event: asyncio.Event | None = getattr(app.state, "job_wakeup", None)
    if event is not None:
        event.set()
