"""The uploader's cards: upload, list, read, correct, delete, export — their own records only.

Every read goes through the purpose policy as purpose ``own`` (in :mod:`services.cards`).
Another uploader's card answers 404, exactly like a card that does not exist. Writes commit before
the answer is sent, so a use or attestation revoked applies to the very next request.

Uploads (``POST /v1/cards``):

* ``multipart/form-data`` with an ``image`` file and a ``metadata`` JSON part
  (:class:`~api.schemas.CardMetadata`: attestation, permitted uses, client details, region, notes).
* Default: OCR runs (in the process pool, never on the event loop) and the answer is 201 with
  the card and ``Location``. The same image bytes sent again by the same uploader are the
  same card: 200 with the existing card, nothing stored twice, no OCR run (the repeat's
  metadata is not applied: change uses or the attestation with ``PATCH``).
* ``?mode=async``: 202 with a job (``Location: /v1/jobs/{id}``); poll it for ``card_id``.
* A bounded queue: when the card would wait more than ``CARDS_MAX_QUEUE_SECONDS`` for an OCR
  worker, a synchronous upload answers 503 ``overloaded`` with ``Retry-After`` at once — or, with
  ``Prefer: respond-async``, 202 with a job (``Preference-Applied: respond-async``).
* ``Idempotency-Key``: the first answer is replayed to every retry with the same key (header
  ``Idempotent-Replayed: true``), also while the first is still running; the same key with
  another image or metadata is a 422 ``idempotency_key_reused``. Keys are per API key and
  kept 24 hours. A replay shows the first answer's card (or job) as it is now: the key keeps
  a reference bound to the card itself (its id and image hash; ids are never reused), never
  the card's data, so a card deleted since answers 404 — never another card.
* Limits: 40 MiB (413 ``image_too_large``) and 50 megapixels (422 ``image_too_large``); a bad
  image is a 422 whose ``code`` is the pipeline's (``corrupt_image``, ``no_text_found``, …).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Path, Query, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from api import uploads
from api.deps import BriefUploader, Caller, ServicesDep, SessionDep, Uploader
from api.problems import problem
from api.schemas import CardOut, CardPage, CardPatch, JobOut, problem_responses
from ingest.load import media_type
from models.enums import Channel
from services import cards as card_service
from services import idempotency, jobs, records
from services.audit import audit
from services.context import ServiceContext
from services.errors import InvalidAttestationError, NotFoundError, OverloadedError
from services.export import WRITERS, ExportFormat
from services.export.stored import stream_export
from services.extraction import pipeline_options
from services.idempotency import Outcome
from services.paging import MAX_ID
from services.uploads import attestation_input, find_existing_card, store_card

router = APIRouter(prefix="/v1/cards", tags=["cards"], responses=problem_responses(401, 403))

CardId = Annotated[int, Path(ge=1, le=MAX_ID, description="The card's id.")]

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


@router.post(
    "",
    status_code=201,
    response_model=CardOut,
    responses=UPLOAD_RESPONSES,
    openapi_extra=UPLOAD_BODY,
)
async def upload_card(
    request: Request,
    services: ServicesDep,
    principal: BriefUploader,
    mode: Annotated[Literal["sync", "async"], Query(description="`async`: answer 202 with a job.")] = "sync",
    idempotency_key: Annotated[
        str | None, Header(description="Retries with the same key get the first answer.")
    ] = None,
    prefer: Annotated[
        str | None,
        Header(description="`respond-async`: when OCR is busy, 202 with a job instead of 503 `overloaded`."),
    ] = None,
) -> Response:
    """Upload a card image; 201 with the card (200 if you sent these bytes before), or 202 with a job."""
    key = idempotency.check_key(idempotency_key)
    prefer_async = "respond-async" in (prefer or "").lower()
    upload = await uploads.read_upload(request, services.settings.max_image_bytes)
    assert principal.id is not None
    principal_id = principal.id

    async def extract_and_store() -> Outcome:
        found = await run_in_threadpool(find_existing_card, services.engine, principal_id, upload.sha256)
        if found is not None:
            return Outcome(200, {"card_id": found, "sha256": upload.sha256})
        options = pipeline_options(services.settings, region=upload.metadata.region)
        try:
            ocr = request.app.state.ocr
            extraction = await ocr.extract(upload.data, upload.filename, options, admit=True)
        except OverloadedError:
            if not prefer_async:
                raise  # 503 with Retry-After: the client waits elsewhere, not in our queue
            return await enqueue()
        stored = await run_in_threadpool(
            store_card, services, principal_id, upload.data, extraction, upload.metadata
        )
        return Outcome(201 if stored.created else 200, {"card_id": stored.record_id, "sha256": upload.sha256})

    async def enqueue() -> Outcome:
        job_id = await run_in_threadpool(
            jobs.create_job,
            services,
            principal_id,
            upload.data,
            upload.filename,
            upload.metadata,
            upload.sha256,
        )
        request.app.state.jobs.wake(job_id)
        return Outcome(202, {"job_id": job_id, "sha256": upload.sha256})

    work = enqueue if mode == "async" else extract_and_store
    if key is None:
        outcome, replayed = await work(), False
    else:
        outcome, replayed = await idempotency.run_once(
            services.engine, principal_id, key, upload.request_hash(mode), work
        )
    response = await run_in_threadpool(_render, services, principal, outcome, replayed)
    if prefer_async and mode == "sync" and "job_id" in outcome.ref:
        response.headers["Preference-Applied"] = "respond-async"
    return response


def _render(services: ServiceContext, principal: Caller, outcome: Outcome, replayed: bool) -> Response:
    """An upload's answer as it is now: its card or job (a deleted card is a 404), or its problem."""
    response: Response
    bound = outcome.ref.get("sha256")  # the image the answer was about (keys stored before: None)
    try:
        if "card_id" in outcome.ref:
            card_id = int(outcome.ref["card_id"])
            card = CardOut.from_card(card_service.own_card_now(services.engine, principal, card_id))
            if bound is not None and card.sha256 != bound:
                raise NotFoundError(f"Card {card_id}, the answer to this Idempotency-Key, was deleted.")
            response = JSONResponse(
                card.model_dump(mode="json"),
                status_code=outcome.status,
                headers={"Location": f"/v1/cards/{card_id}"},
            )
        elif "job_id" in outcome.ref:
            row = jobs.own_job_now(services.engine, principal, int(outcome.ref["job_id"]))
            if bound is not None and (row.metadata_ or {}).get("sha256") != bound:
                raise NotFoundError(f"Job {row.id}, the answer to this Idempotency-Key, is gone.")
            job = JobOut.from_job(row)
            response = JSONResponse(
                job.model_dump(mode="json"), status_code=outcome.status, headers={"Location": job.url}
            )
        else:
            body = outcome.ref["problem"]
            response = problem(outcome.status, body["code"], body.get("detail", ""))
    except NotFoundError as exc:  # gone since: a replay says so, with the replay header
        response = problem(exc.http_status, exc.code, exc.full_message)
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response


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
    page, next_cursor = card_service.list_own_cards(
        session, principal, cursor=cursor, limit=limit, newest=order == "newest"
    )
    return CardPage(items=[CardOut.from_card(card) for card in page], next_cursor=next_cursor)


@router.get(
    "/export",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "Every card of yours, streamed in the format asked for.",
            "content": {writer.media_type: {} for writer in WRITERS.values()},
        },
        **problem_responses(422),
    },
)
def export_cards(
    services: ServicesDep,
    session: SessionDep,
    principal: Uploader,
    format_: Annotated[
        ExportFormat, Query(alias="format", description="vcard (4.0), csv (Google), outlook-csv or jsonl.")
    ] = ExportFormat.vcard,
) -> StreamingResponse:
    """Your cards as a vCard 4.0 file, a Google or Outlook CSV, or JSON lines (streamed)."""
    count = card_service.count_own_cards(session, principal)
    # Audited (and committed) before the first byte leaves, with the number of cards it holds.
    audit(session, "exported", principal, format=format_.value, count=count, channel="api")
    session.commit()
    writer = WRITERS[format_]
    return StreamingResponse(
        stream_export(services.engine, principal, format_),
        media_type=writer.media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{writer.filename}"',
            "Cache-Control": "no-store",
        },
    )


@router.get("/{card_id}", response_model=CardOut, responses=problem_responses(404, 422))
def get_card(session: SessionDep, principal: Uploader, card_id: CardId) -> CardOut:
    """One of your cards with every value, its evidence and its correction state."""
    return CardOut.from_card(card_service.own_card(session, principal, card_id))


@router.get(
    "/{card_id}/image",
    response_class=Response,
    responses={
        200: {"description": "The image as uploaded.", "content": {"image/*": {}}},
        **problem_responses(404, 422),
    },
)
def get_card_image(
    services: ServicesDep, session: SessionDep, principal: Uploader, card_id: CardId
) -> Response:
    """The card's image exactly as uploaded, with its media type."""
    data = card_service.card_image(session, services.blobs, principal, card_id)
    return Response(
        data,
        media_type=media_type(data),
        headers={"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"},
    )


@router.patch("/{card_id}", response_model=CardOut, responses=problem_responses(404, 422))
def patch_card(
    services: ServicesDep, session: SessionDep, principal: Uploader, card_id: CardId, patch: CardPatch
) -> CardOut:
    """Correct values (the OCR value and every earlier value are kept), change uses or the attestation.

    Each change is audited. ``attestation`` replaces the current one; ``revoke_attestation``
    withdraws it (the record is then its uploader's only). Applies from the next request on.
    """
    if patch.attestation is not None and patch.revoke_attestation:
        raise InvalidAttestationError("Give a new attestation or revoke the current one, not both.")
    record = card_service.get_own_card(session, principal, card_id)
    records.apply_changes(
        session,
        principal,
        record,
        corrections=[(c.id, c.value) for c in patch.values],
        uses=set(patch.uses) if patch.uses is not None else None,
        attestation=attestation_input(patch.attestation, services.settings.attestation_version, {})
        if patch.attestation is not None
        else None,
        revoke_attestation=patch.revoke_attestation,
        channel=Channel.api,
        salt=services.salt,
    )
    session.commit()  # before the answer: the next request must see it
    return CardOut.from_card(card_service.own_card(session, principal, card_id))


@router.delete("/{card_id}", status_code=204, response_class=Response, responses=problem_responses(404, 422))
def delete_card(services: ServicesDep, session: SessionDep, principal: Uploader, card_id: CardId) -> Response:
    """Delete the card: its values, corrections, attestation, uses, catalog links, OCR text and image.

    Partner disclosures and invites already logged stay (with the card reference cleared). The
    image file is deleted after the commit unless another of your sources holds the same bytes.
    """
    record = card_service.get_own_card(session, principal, card_id)
    records.delete_record(session, principal, record, services.blobs)
    session.commit()
    return Response(status_code=204)
