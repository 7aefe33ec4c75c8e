"""The upload page: one or many card images, the attestation and the permitted uses.

Without JavaScript the form posts every file to ``/app/upload`` and the answer lists each
file with a link to its review page. With JavaScript (``static/app.js``) each file goes to
``/app/upload/file`` on its own, so the page shows progress per file and results as they
come. Both run the same code: OCR in the API's process pool, then
:func:`services.uploads.store_card`, as ``POST /v1/cards`` does. One form submission is one
import batch (``web-<UTC time>``), which the review queue can filter by.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile

from core.errors import CardError
from models.enums import Basis, Use
from services.context import ServiceContext
from services.errors import InvalidAttestationError
from services.extraction import pipeline_options
from services.schemas import AttestationIn, CardMetadata, ClientDetails
from services.uploads import find_existing_card, store_card
from web.deps import PREFIX, Csrf, Uploader, render, services_of

router = APIRouter(prefix=PREFIX, include_in_schema=False)

BASES = {
    Basis.received_in_person: "I received this card in person from the person on it",
    Basis.subject_consented: "The person on the card agreed that I upload it",
    Basis.public_business_information: "The card shows business information the person made public",
    Basis.other: "Other (say what authorised you below)",
}
USES = {
    Use.invites: "Invites: we may invite the person to the service (once, never a reminder)",
    Use.catalog: "Catalog: the company details may appear in the company catalog",
    Use.partner_sharing: "Partner sharing: the contact may be shared with registered partners",
}


def new_batch() -> str:
    return "web-" + datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


def metadata_from(form: FormData) -> CardMetadata:
    """The form's attestation, uses and batch as the services take them; a bad attestation is a 422 page."""
    basis = str(form.get("basis") or "")
    text = str(form.get("basis_text") or "").strip() or None
    batch = str(form.get("batch") or "") or new_batch()
    if not batch.startswith("web-") or len(batch) > 40:
        batch = new_batch()
    try:
        attestation = AttestationIn(basis=Basis(basis), basis_text=text) if basis else None
        uses = [Use(u) for u in form.getlist("uses") if isinstance(u, str)]
        return CardMetadata(
            attestation=attestation,
            uses=uses,
            client=ClientDetails(import_batch=batch, platform="web"),
        )
    except (ValueError, ValidationError) as exc:
        raise InvalidAttestationError(
            "Choose what authorised you to upload these cards; 'Other' needs a few words saying what."
        ) from exc


async def store_one(
    request: Request, services: ServiceContext, principal_id: int, file: UploadFile, metadata: CardMetadata
) -> dict[str, Any]:
    """One file: its card (new, or the one these bytes made before) or the error in plain words."""
    name = file.filename or "image"
    limit = services.settings.max_image_bytes
    data = await file.read(limit + 1)
    if len(data) > limit:
        return {"file": name, "ok": False, "error": f"Larger than {limit // (1024 * 1024)} MiB."}
    if not data:
        return {"file": name, "ok": False, "error": "The file is empty."}
    try:
        sha256 = hashlib.sha256(data).hexdigest()
        found = await run_in_threadpool(find_existing_card, services.engine, principal_id, sha256)
        if found is not None:
            return {
                "file": name,
                "ok": True,
                "card_id": found,
                "new": False,
                "url": f"{PREFIX}/cards/{found}",
            }
        options = pipeline_options(services.settings)
        extraction = await request.app.state.ocr.extract(data, name, options)
        stored = await run_in_threadpool(store_card, services, principal_id, data, extraction, metadata)
    except CardError as exc:
        return {"file": name, "ok": False, "error": exc.full_message, "code": exc.code}
    card_id = stored.record_id
    return {
        "file": name,
        "ok": True,
        "card_id": card_id,
        "new": stored.created,
        "url": f"{PREFIX}/cards/{card_id}",
    }


@router.get("/upload", response_class=HTMLResponse)
def upload_page(request: Request, principal: Uploader) -> HTMLResponse:
    return render(request, "upload.html", bases=BASES, uses=USES, batch=new_batch())


def _files(form: FormData) -> list[UploadFile]:
    return [f for f in form.getlist("images") if isinstance(f, UploadFile) and (f.filename or f.size)]


@router.post("/upload", response_class=HTMLResponse, dependencies=[Csrf])
async def upload(request: Request, principal: Uploader) -> HTMLResponse:
    """The no-JavaScript path: every file of the form, one after another, then the results page."""
    form = await request.form()
    metadata = metadata_from(form)
    files = _files(form)
    if not files:
        return render(
            request,
            "upload.html",
            status_code=422,
            bases=BASES,
            uses=USES,
            batch=new_batch(),
            error="Choose at least one card image.",
        )
    assert principal.id is not None
    results = [await store_one(request, services_of(request), principal.id, f, metadata) for f in files]
    batch = {"import_batch": metadata.client.import_batch}
    return render(request, "upload_done.html", results=results, batch=batch)


@router.post("/upload/file", dependencies=[Csrf])
async def upload_file(request: Request, principal: Uploader) -> JSONResponse:
    """The JavaScript path: one file, answered as JSON for the page's progress list."""
    form = await request.form()
    metadata = metadata_from(form)
    files = _files(form)
    if len(files) != 1:
        return JSONResponse({"ok": False, "error": "Send one image."}, status_code=422)
    assert principal.id is not None
    result = await store_one(request, services_of(request), principal.id, files[0], metadata)
    return JSONResponse(
        result, status_code=200 if result["ok"] else 422, headers={"Cache-Control": "no-store"}
    )
