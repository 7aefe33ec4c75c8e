"""Cards arriving one at a time (the mobile app, the HTTP API, the web pages): store what was read.

The blob is written first, so no row ever points at a missing image; then one transaction
stores the record. The same bytes from the same uploader are one card: answered from the
earlier one, also when two uploads race (the unique source constraint decides; the loser
finds the winner). A failure leaves no blob behind unless another source or pending job
uses it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from ingest.schema import Extraction
from models.blobs import BlobStore
from models.enums import Channel, Use
from models.tables import ContactRecord, Principal, Source
from services.context import ServiceContext
from services.deletion import blobs_in_use
from services.errors import NotFoundError
from services.records import AttestationInput, store_extraction
from services.schemas import AttestationIn, CardMetadata

STORE_ATTEMPTS = 3


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
    ctx: ServiceContext, principal_id: int, data: bytes, extraction: Extraction, metadata: CardMetadata
) -> Stored:
    """Store one uploaded card: the blob first, then the rows in one transaction (see the module doc)."""
    client = metadata.client.model_dump(exclude_none=True)
    return store_card_as(
        ctx,
        principal_id,
        data,
        extraction,
        channel=channel_of(metadata),
        client=client,
        attestation=attestation_input(metadata.attestation, ctx.settings.attestation_version, client),
        uses=set(metadata.uses),
        notes=metadata.notes,
    )


def store_card_as(
    ctx: ServiceContext,
    principal_id: int,
    data: bytes,
    extraction: Extraction,
    *,
    channel: Channel,
    client: dict[str, Any],
    attestation: AttestationInput | None,
    uses: set[Use],
    notes: str | None = None,
) -> Stored:
    """Store one card with its provenance as given (an upload's, or a queued import's)."""
    assert extraction.sha256
    blob_key = ctx.blobs.put(data)
    try:
        for attempt in range(STORE_ATTEMPTS):
            try:
                with Session(ctx.engine, expire_on_commit=False) as session:
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
                        attestation=attestation,
                        uses=uses,
                        salt=ctx.salt,
                    )
                    if notes is not None:
                        record.notes = notes  # kept off Source.client: notes may name the person
                        session.add(record)
                    session.commit()
                    assert record.id is not None
                    keep_blob(ctx.blobs, blob_key, data)
                    return Stored(record.id, created=True)
            except IntegrityError:
                # A concurrent upload of the same image (answered above on the next attempt), or
                # of another card of the same person creating the same subject key (retried).
                if attempt == STORE_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")
    except BaseException:
        drop_blob_if_unused(ctx.engine, ctx.blobs, blob_key)
        raise


def keep_blob(blobs: BlobStore, key: str, data: bytes) -> None:
    """After the commit, put back an image removed between our blob and our commit (an erasure of
    another card with the same bytes, or an orphan sweep that saw it unreferenced)."""
    if not blobs.exists(key):
        blobs.put(data)


def drop_blob_if_unused(engine: Engine, blobs: BlobStore, key: str | None) -> None:
    """Delete an image blob no source and no pending job refers to (after a failure or a finished job)."""
    if not key:
        return
    with Session(engine) as session:
        if key not in blobs_in_use(session, [key]):
            blobs.delete(key)
