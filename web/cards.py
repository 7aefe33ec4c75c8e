"""The uploader's review queue and card review pages, the card image and the export.

Every card is read through :mod:`services.cards` (the policy's ``own`` purpose), so another
uploader's card is a 404 page, exactly like the API's 404. Corrections, uses and the
attestation are saved by :func:`services.records.apply_changes`, the function behind
``PATCH /v1/cards/{id}``: the OCR value and every earlier value stay in the history, and each
change is audited. The boxes over the image are drawn in CSS from the stored boxes, as
percentages of the image's size, so they sit on the values without JavaScript too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse

from ingest.load import media_type
from models.enums import Basis, Channel
from services import cards as card_service
from services import records, review
from services.audit import audit
from services.errors import InvalidAttestationError, NotFoundError
from services.export import WRITERS, ExportFormat
from services.export.stored import stream_export
from services.paging import MAX_ID
from services.records import AttestationInput
from web.deps import PREFIX, Csrf, FormDep, Uploader, render, services_of
from web.upload import USES

if TYPE_CHECKING:
    from models.tables import Principal

router = APIRouter(prefix=PREFIX, include_in_schema=False)

FIELD_LABELS = {
    "names": "Name",
    "job_titles": "Job title",
    "departments": "Department",
    "companies": "Company",
    "emails": "E-mail",
    "phones": "Phone",
    "websites": "Website",
    "addresses": "Address",
    "social": "Social",
}
SHORT_BASES = {
    Basis.received_in_person: "Received in person",
    Basis.subject_consented: "The person agreed",
    Basis.public_business_information: "Public business information",
    Basis.other: "Other (say what below)",
}


def _card_id(card_id: int) -> int:
    if not 0 < card_id <= MAX_ID:
        raise NotFoundError(f"No card {card_id}.")
    return card_id


def summary(card: card_service.Card) -> dict[str, str]:
    """The first name, company, e-mail and phone of a card, for the queue's list."""
    first: dict[str, str] = {}
    for value in card.values:
        first.setdefault(value.field, value.value)
    return first


@router.get("/queue", response_class=HTMLResponse)
def queue_page(
    request: Request,
    principal: Uploader,
    batch: str | None = Query(None, max_length=100),
    page: int = Query(0, ge=0, le=100_000),
) -> HTMLResponse:
    """Own cards, the ones with a missing or doubtful key value first; filter by import batch."""
    services = services_of(request)
    below = services.settings.review_below
    with services.session() as db:
        items, total = review.review_queue(db, principal, below=below, batch=batch or None, page=page)
        batches = review.import_batches(db, principal)
    return render(
        request,
        "queue.html",
        items=[(item, summary(item.card)) for item in items],
        total=total,
        batches=batches,
        batch=batch or "",
        page=page,
        pages=max(1, -(-total // review.PAGE)),
        below=below,
    )


def _boxes(card: card_service.Card, size: tuple[int, int] | None) -> list[dict[str, Any]]:
    """Each value's box as percentages of the image (what the overlay draws), in the values' order."""
    if size is None:
        return []
    width, height = size
    boxes = []
    for value in card.values:
        if not value.bbox or len(value.bbox) != 4:
            continue
        x, y, w, h = value.bbox
        boxes.append(
            {
                "value": value,
                "left": round(100 * x / width, 3),
                "top": round(100 * y / height, 3),
                "width": round(100 * w / width, 3),
                "height": round(100 * h / height, 3),
            }
        )
    return boxes


def _review_context(principal: Principal, request: Request, card_id: int) -> dict[str, Any]:
    services = services_of(request)
    with services.session() as db:
        card = card_service.own_card(db, principal, card_id)
        order = list(FIELD_LABELS)
        # As a card reads: name, title, company, then the ways to reach the person.
        card.values.sort(key=lambda v: (order.index(v.field) if v.field in order else len(order), v.position))
        try:
            size = review.image_size(card_service.card_image(db, services.blobs, principal, card_id))
        except NotFoundError:
            size = None  # retention removed the image: the values stay editable
        following = review.next_in_queue(db, principal, card_id, below=services.settings.review_below)
    return {
        "card": card,
        "size": size,
        "boxes": _boxes(card, size),
        "labels": FIELD_LABELS,
        "next_id": following,
        "bases": SHORT_BASES,
        "uses": USES,
        "below": services.settings.review_below,
    }


@router.get("/cards/{card_id}", response_class=HTMLResponse)
def card_page(request: Request, principal: Uploader, card_id: int) -> HTMLResponse:
    """The card image with each value's box, the values to correct, uses and attestation, delete."""
    context = _review_context(principal, request, _card_id(card_id))
    saved = request.query_params.get("saved")
    return render(request, "card.html", saved=saved, **context)


@router.get("/cards/{card_id}/image")
def card_image(request: Request, principal: Uploader, card_id: int) -> Response:
    services = services_of(request)
    with services.session() as db:
        data = card_service.card_image(db, services.blobs, principal, _card_id(card_id))
    return Response(
        data,
        media_type=media_type(data),
        headers={"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"},
    )


@router.post("/cards/{card_id}", dependencies=[Csrf])
def save_values(request: Request, principal: Uploader, card_id: int, form: FormDep) -> Response:
    """Corrections, through the same service as ``PATCH /v1/cards/{id}``; then this card or the next."""
    corrections = []
    for key, value in form.multi_items():
        if key.startswith("v-") and key[2:].isdigit() and isinstance(value, str):
            corrections.append((int(key[2:]), value.strip()))
    services = services_of(request)
    following = None
    with services.session() as db:
        record = card_service.get_own_card(db, principal, _card_id(card_id))
        records.apply_changes(
            db, principal, record, corrections=corrections, channel=Channel.api, salt=services.salt
        )
        if form.get("after") == "next":
            following = review.next_in_queue(db, principal, card_id, below=services.settings.review_below)
    target = f"{PREFIX}/cards/{following}" if following else f"{PREFIX}/cards/{card_id}?saved=values"
    return RedirectResponse(target, status_code=303)


@router.post("/cards/{card_id}/consent", dependencies=[Csrf])
def save_consent(request: Request, principal: Uploader, card_id: int, form: FormDep) -> Response:
    """Permitted uses and the attestation (a new one replaces the current; "none" withdraws it)."""
    services = services_of(request)
    uses = records.parse_uses([u for u in form.getlist("uses") if isinstance(u, str)])
    basis = str(form.get("basis") or "")
    text = str(form.get("basis_text") or "").strip() or None
    with services.session() as db:
        record = card_service.get_own_card(db, principal, _card_id(card_id))
        card = card_service.load_cards(db, [record])[0]
        current = card.attestation
        attestation = None
        revoke = False
        if basis == "none":
            revoke = current is not None
        elif basis and (current is None or current.basis != basis or (current.basis_text or None) != text):
            try:
                chosen = Basis(basis)
            except ValueError as exc:
                raise InvalidAttestationError(f"Unknown basis {basis!r}.") from exc
            attestation = AttestationInput(
                basis=chosen, basis_text=text, text_version=services.settings.attestation_version
            )
        records.apply_changes(
            db,
            principal,
            record,
            uses=uses,
            attestation=attestation,
            revoke_attestation=revoke,
            channel=Channel.api,
            salt=services.salt,
        )
    return RedirectResponse(f"{PREFIX}/cards/{card_id}?saved=consent", status_code=303)


@router.get("/cards/{card_id}/delete", response_class=HTMLResponse)
def delete_page(request: Request, principal: Uploader, card_id: int) -> HTMLResponse:
    """Confirm first: deleting removes the values, history, image and OCR text for good."""
    services = services_of(request)
    with services.session() as db:
        card = card_service.own_card(db, principal, _card_id(card_id))
    return render(request, "card_delete.html", card=card, first=summary(card))


@router.post("/cards/{card_id}/delete", dependencies=[Csrf])
def delete_card(request: Request, principal: Uploader, card_id: int) -> Response:
    services = services_of(request)
    with services.session() as db:
        record = card_service.get_own_card(db, principal, _card_id(card_id))
        records.delete_record(db, principal, record, services.blobs)
    return RedirectResponse(f"{PREFIX}/queue?deleted={card_id}", status_code=303)


@router.get("/export")
def export(request: Request, principal: Uploader, format: ExportFormat = ExportFormat.vcard) -> Response:
    """Every own card as vCard, CSV or JSON lines: the same export as ``GET /v1/cards/export``."""
    services = services_of(request)
    with services.session() as db:
        count = card_service.count_own_cards(db, principal)
        audit(db, "exported", principal, format=format.value, count=count, channel="web")
    writer = WRITERS[format]
    return StreamingResponse(
        stream_export(services.engine, principal, format),
        media_type=writer.media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{writer.filename}"',
            "Cache-Control": "no-store",
        },
    )
