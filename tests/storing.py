"""Storing synthetic extractions straight through the records service, and reading back what it left."""

from __future__ import annotations

from collections.abc import Callable

from sqlmodel import Session, col, select

from ingest.schema import Extraction
from models.enums import Basis, Channel, Use
from models.tables import (
    AuditEvent,
    ContactRecord,
    FieldValue,
    Principal,
)
from services.records import (
    AttestationInput,
    store_extraction,
)
from services.values import record_values

StoreCard = Callable[..., ContactRecord]


Build = Callable[..., Extraction]


ATTESTED = AttestationInput(basis=Basis.received_in_person, text_version="test-1")


CARD = {
    "name": "Dana Reyes",
    "email": "Dana.Reyes@Example.com",
    "phone": "+14155550134",
    "mobile": "+14155550199",
    "company": "Example Ltd",
    "job_title": "Head of Procurement",
    "address": "1 Market St, San Francisco, CA 94105",
}


def store_directly(
    session: Session,
    uploader: Principal,
    extraction: Extraction,
    salt: bytes,
    *,
    attestation: AttestationInput | None = None,
    uses: set[Use] | None = None,
) -> ContactRecord:
    return store_extraction(
        session,
        uploader=uploader,
        channel=Channel.mobile,
        extraction=extraction,
        byte_size=2048,
        blob_key="b" * 64,
        client={"app": "ios-3.1"},
        attestation=attestation,
        uses=uses or set(),
        salt=salt,
    )


def audit_events(session: Session, action: str | None = None) -> list[AuditEvent]:
    query = select(AuditEvent).order_by(col(AuditEvent.id))
    if action is not None:
        query = query.where(AuditEvent.action == action)
    return list(session.exec(query).all())


def value_of(session: Session, record: ContactRecord, field: str) -> FieldValue:
    return next(v for v in record_values(session, record.id) if v.field == field)
