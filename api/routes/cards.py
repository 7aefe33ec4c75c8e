"""The uploader's cards: upload, list, read, correct, delete, export — their own records only.

Every read goes through the purpose policy as purpose ``own`` (``qualifying_records("own",
principal=...)`` and ``visible_fields("own", ...)``, in :mod:`api.uploads`). Another
uploader's card answers 404, exactly like a card that does not exist. Writes commit before
the answer is sent, so a use or attestation revoked applies to the very next request.

Uploads (``POST /v1/cards``):

* ``multipart/form-data`` with an ``image`` file and a ``metadata`` JSON part
  (:class:`~api.schemas.CardMetadata`: attestation, permitted uses, client details, region, notes).
* Default: OCR runs (in the process pool, never on the event loop) and the answer is 201 with
  the card and ``Location``. The same image bytes sent again by the same uploader are the
  same card: 200 with the existing card, nothing stored twice, no OCR run (the repeat's
  metadata is not applied: change uses or the attestation with ``PATCH``).
* ``?mode=async``: 202 with a job (``Location: /v1/jobs/{id}``); poll it for ``card_id``.
* ``Idempotency-Key``: the first answer is replayed to every retry with the same key (header
  ``Idempotent-Replayed: true``), also while the first is still running; the same key with
  another image or metadata is a 422 ``idempotency_key_reused``. Keys are per API key and
  kept 24 hours. A replay shows the first answer's card (or job) as it is now: the key keeps
  a reference, never the card's data, so a card deleted since answers 404.
* Limits: 40 MiB (413 ``image_too_large``) and 50 megapixels (422 ``image_too_large``); a bad
  image is a 422 whose ``code`` is the pipeline's (``corrupt_image``, ``no_text_found``, …).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Path, Query, Request
from fastapi.responses import Response, StreamingResponse
from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from starlette.concurrency import run_in_threadpool

from api import uploads
from api.deps import BriefUploader, SessionDep, Uploader
from api.schemas import CardOut, CardPage, CardPatch, JobOut, problem_responses
from ingest.errors import InvalidAttestationError, NotFoundError
from models.catalog import decode_cursor, encode_cursor
from models.export import (
    GOOGLE_HEADER,
    OUTLOOK_HEADER,
    ExportFormat,
    contact_json,
    contact_vcard,
    google_row,
    iter_contacts,
    outlook_row,
)
from models.policy import qualifying_records
from models.records import (
    audit,
    correct_field,
    delete_record,
    record_uses,
    relink_catalog,
    set_attestation,
    set_uses,
)
from models.tables import Channel, ContactRecord, FieldValue, Principal, Source

router = APIRouter(prefix="/v1/cards", tags=["cards"], responses=problem_responses(401, 403))

CardId = Annotated[int, Path(ge=1, le=2**31 - 1, description="The card's id.")]
MAX_ID = 2**31 - 1

UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["image", "metadata"],
                    "properties": {
                        "image": {
                            "type": "string",
                            "format": "binary",
                            "description": "The card: JPEG, PNG, TIFF, WebP or BMP; at most 40 MiB, 50 MP.",
                        },
                        "metadata": {
                            "type": "string",
                            "description": "JSON: a `CardMetadata` (attestation, uses, client, region).",
                        },
                    },
                },
                "encoding": {"metadata": {"contentType": "application/json"}},
            }
        },
    }
}

UPLOAD_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"model": CardOut, "description": "This image was uploaded before by you: that card."},
    202: {"model": JobOut, "description": "`?mode=async`: queued; poll `Location`."},
    **problem_responses(400, 409, 422, 503),
    413: {**problem_responses(413)[413], "description": "The image is over the byte limit."},
    415: {**problem_responses(415)[415], "description": "The body is not multipart/form-data."},
}

EXPORT_TYPES: dict[ExportFormat, tuple[str, str]] = {
    ExportFormat.vcard: ("text/vcard; charset=utf-8", "cards.vcf"),
    ExportFormat.csv: ("text/csv; charset=utf-8", "cards.csv"),
    ExportFormat.outlook_csv: ("text/csv; charset=utf-8", "cards-outlook.csv"),
    ExportFormat.jsonl: ("application/x-ndjson", "cards.jsonl"),
}
EXPORT_FLUSH = 64 * 1024


@router.post(
    "",
    status_code=201,
    response_model=CardOut,
    responses=UPLOAD_RESPONSES,
    openapi_extra=UPLOAD_BODY,
)
async def upload_card(
    request: Request,
    principal: BriefUploader,
    mode: Annotated[Literal["sync", "async"], Query(description="`async`: answer 202 with a job.")] = "sync",
    idempotency_key: Annotated[
        str | None, Header(description="Retries with the same key get the first answer.")
    ] = None,
) -> Response:
    """Upload a card image; 201 with the card (200 if you sent these bytes before), or 202 with a job."""
    app = request.app
    key = uploads.check_idempotency_key(idempotency_key)
    upload = await uploads.read_upload(request)
    assert principal.id is not None
    principal_id = principal.id

    async def extract_and_store() -> uploads.Outcome:
        found = await run_in_threadpool(
            uploads.find_existing_card, app.state.engine, principal_id, upload.sha256
        )
        if found is not None:
            return uploads.Outcome(200, {"card_id": found})
        extraction = await uploads.run_pipeline(app, upload.data, upload.filename, upload.metadata.region)
        stored = await run_in_threadpool(
            uploads.store_card, app, principal_id, upload.data, extraction, upload.metadata
        )
        return uploads.Outcome(201 if stored.created else 200, {"card_id": stored.record_id})

    async def enqueue() -> uploads.Outcome:
        job_id = await run_in_threadpool(uploads.create_job, app, principal_id, upload)
        uploads.wake_worker(app)
        return uploads.Outcome(202, {"job_id": job_id})

    return await uploads.idempotent(
        app.state.engine,
        principal_id,
        key,
        upload.request_hash(mode),
        enqueue if mode == "async" else extract_and_store,
        uploads.render(app.state.engine, principal),
    )


@router.get("", response_model=CardPage, responses=problem_responses(400, 422))
def list_cards(
    session: SessionDep,
    principal: Uploader,
    cursor: Annotated[
        str | None, Query(max_length=200, description="`next_cursor` of the previous page.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    order: Annotated[
        Literal["newest", "oldest"], Query(description="By id: newest or oldest first.")
    ] = "newest",
) -> CardPage:
    """Your cards, a page at a time (newest first by default); follow `next_cursor` (null at the end)."""
    query = qualifying_records("own", principal=principal)
    after = decode_cursor(cursor)
    newest = order == "newest"
    if after is not None:
        query = query.where(col(ContactRecord.id) < after if newest else col(ContactRecord.id) > after)
    query = query.order_by(col(ContactRecord.id).desc() if newest else col(ContactRecord.id))
    rows = list(session.exec(query.limit(limit + 1)).all())
    page = rows[:limit]
    last = page[-1].id if len(rows) > limit else None
    return CardPage(items=uploads.cards_out(session, page), next_cursor=encode_cursor(last) if last else None)


@router.get(
    "/export",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "Every card of yours, streamed in the format asked for.",
            "content": {media: {} for media, _ in EXPORT_TYPES.values()},
        },
        **problem_responses(422),
    },
)
def export_cards(
    request: Request,
    session: SessionDep,
    principal: Uploader,
    format_: Annotated[
        ExportFormat, Query(alias="format", description="vcard (4.0), csv (Google), outlook-csv or jsonl.")
    ] = ExportFormat.vcard,
) -> StreamingResponse:
    """Your cards as a vCard 4.0 file, a Google or Outlook CSV, or JSON lines (streamed)."""
    count_query = select(func.count()).select_from(qualifying_records("own", principal=principal).subquery())
    count = int(session.exec(count_query).one())
    # Audited (and committed) before the first byte leaves, with the number of cards it holds.
    audit(session, "exported", principal, format=format_.value, count=count, channel="api")
    session.commit()
    media_type, filename = EXPORT_TYPES[format_]
    return StreamingResponse(
        _export_chunks(request.app.state.engine, principal, format_),
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"},
    )


def _export_chunks(engine: Engine, principal: Principal, fmt: ExportFormat) -> Iterator[str]:
    """The export, rendered as :mod:`models.export` renders it, in chunks as the records are read.

    Its own session: the request's may be gone while a slow client is still reading.
    """
    buffer = io.StringIO()
    writer: csv.DictWriter[str] | None = None
    if fmt in (ExportFormat.csv, ExportFormat.outlook_csv):
        google = fmt is ExportFormat.csv
        writer = csv.DictWriter(buffer, fieldnames=GOOGLE_HEADER if google else OUTLOOK_HEADER)
        if not google:
            buffer.write("\ufeff")  # Outlook and Excel read UTF-8 names only with the BOM
        writer.writeheader()
    with Session(engine) as session:
        for contact in iter_contacts(session, principal):
            if fmt is ExportFormat.vcard:
                buffer.write(contact_vcard(contact))
            elif fmt is ExportFormat.jsonl:
                buffer.write(json.dumps(contact_json(contact), ensure_ascii=False) + "\n")
            else:
                assert writer is not None
                writer.writerow(google_row(contact) if fmt is ExportFormat.csv else outlook_row(contact))
            if buffer.tell() >= EXPORT_FLUSH:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
    yield buffer.getvalue()


@router.get("/{card_id}", response_model=CardOut, responses=problem_responses(404, 422))
def get_card(session: SessionDep, principal: Uploader, card_id: CardId) -> CardOut:
    """One of your cards with every value, its evidence and its correction state."""
    return uploads.cards_out(session, [uploads.get_own_card(session, principal, card_id)])[0]


@router.get(
    "/{card_id}/image",
    response_class=Response,
    responses={
        200: {"description": "The image as uploaded.", "content": {"image/*": {}}},
        **problem_responses(404, 422),
    },
)
def get_card_image(request: Request, session: SessionDep, principal: Uploader, card_id: CardId) -> Response:
    """The card's image exactly as uploaded, with its media type."""
    record = uploads.get_own_card(session, principal, card_id)
    source = session.get(Source, record.source_id)
    blobs = request.app.state.blobs
    if source is None or not source.blob_key or not blobs.exists(source.blob_key):
        raise NotFoundError(f"The image of card {card_id} is not stored.")
    data = blobs.get(source.blob_key)
    return Response(
        data,
        media_type=uploads.image_media_type(data),
        headers={"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"},
    )


@router.patch("/{card_id}", response_model=CardOut, responses=problem_responses(404, 422))
def patch_card(
    request: Request, session: SessionDep, principal: Uploader, card_id: CardId, patch: CardPatch
) -> CardOut:
    """Correct values (the OCR value and every earlier value are kept), change uses or the attestation.

    Each change is audited. ``attestation`` replaces the current one; ``revoke_attestation``
    withdraws it (the record is then its uploader's only). Applies from the next request on.
    """
    if patch.attestation is not None and patch.revoke_attestation:
        raise InvalidAttestationError("Give a new attestation or revoke the current one, not both.")
    record = uploads.get_own_card(session, principal, card_id)
    assert record.id is not None
    relink = False
    for correction in patch.values:
        value = session.get(FieldValue, correction.id) if correction.id <= MAX_ID else None
        if value is None or value.record_id != record.id:
            raise NotFoundError(f"No value {correction.id} on card {card_id}.")
        if value.value != correction.value:
            correct_field(
                session, principal, record, correction.id, correction.value, salt=request.app.state.salt
            )
            relink = relink or value.field in ("companies", "websites")
    if relink:
        relink_catalog(session, record)
    if patch.uses is not None and set(patch.uses) != record_uses(session, record.id):
        set_uses(session, principal, record, set(patch.uses))
    if patch.attestation is not None:
        attestation = uploads.attestation_input(
            patch.attestation, request.app.state.settings.attestation_version, {}
        )
        set_attestation(session, principal, record, attestation, channel=Channel.api)
    elif patch.revoke_attestation:
        set_attestation(session, principal, record, None, channel=Channel.api)
    session.commit()  # before the answer: the next request must see it
    return uploads.cards_out(session, [record])[0]


@router.delete("/{card_id}", status_code=204, response_class=Response, responses=problem_responses(404, 422))
def delete_card(request: Request, session: SessionDep, principal: Uploader, card_id: CardId) -> Response:
    """Delete the card: its values, corrections, attestation, uses, catalog links, OCR text and image.

    Partner disclosures and invites already logged stay (with the card reference cleared). The
    image file is deleted after the commit unless another of your sources holds the same bytes.
    """
    record = uploads.get_own_card(session, principal, card_id)
    delete_record(session, principal, record, request.app.state.blobs)
    session.commit()
    return Response(status_code=204)
