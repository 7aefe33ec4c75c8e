"""Request and response bodies (separate from the tables, as in the FastAPI template)."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from core.times import as_utc
from models.enums import Basis, Use
from services.cards import Card
from services.schemas import AttestationIn, CardMetadata, ClientDetails, RequestBody

__all__ = ["AttestationIn", "CardMetadata", "ClientDetails"]  # the upload's input schemas, from the services

Scope = Literal["invites", "partners"]
PartnerPurpose = Literal["partner_sharing"]
PARTNER_PURPOSES: tuple[PartnerPurpose, ...] = ("partner_sharing",)
RequestType = Literal[
    "opt_out", "restrict", "lift_restriction", "erasure", "child", "access", "shine_the_light"
]
SCOPES: tuple[Scope, ...] = ("invites", "partners")


class FieldValueOut(BaseModel):
    id: int
    field: str
    value: str
    raw: str
    confidence: float
    bbox: list[int] | None
    method: str
    type: str | None = None
    extension: str | None = None
    ocr_value: str | None = None
    corrected_at: datetime | None = None


class AttestationOut(BaseModel):
    basis: Basis
    basis_text: str | None
    text_version: str
    attested_at: datetime


class CardOut(BaseModel):
    id: int
    created_at: datetime
    updated_at: datetime
    channel: str
    sha256: str
    region: str | None
    uses: list[Use]
    attestation: AttestationOut | None
    fields: dict[str, list[FieldValueOut]]
    image_url: str

    @classmethod
    def from_card(cls, card: Card) -> CardOut:
        """The card as the uploader sees it (timestamps as aware UTC: a replay must equal the original)."""
        fields: dict[str, list[FieldValueOut]] = defaultdict(list)
        for v in card.values:
            out = FieldValueOut.model_validate(v, from_attributes=True)
            out.corrected_at = as_utc(v.corrected_at) if v.corrected_at else None
            fields[v.field].append(out)
        record, source, attestation = card.record, card.source, card.attestation
        return cls(
            id=card.id,
            created_at=as_utc(record.created_at),
            updated_at=as_utc(record.updated_at),
            channel=source.channel.value if source else "",
            sha256=source.sha256 if source else "",
            region=record.region,
            uses=card.uses,
            attestation=AttestationOut(
                basis=attestation.basis,
                basis_text=attestation.basis_text,
                text_version=attestation.text_version,
                attested_at=as_utc(attestation.attested_at),
            )
            if attestation
            else None,
            fields=dict(fields),
            image_url=f"/v1/cards/{card.id}/image",
        )


class CardPage(BaseModel):
    items: list[CardOut]
    next_cursor: str | None


class CorrectionIn(RequestBody):
    id: int = Field(description="The field value's id.")
    value: str = Field(min_length=1, max_length=2000)


class CardPatch(RequestBody):
    values: list[CorrectionIn] = Field(default_factory=list, max_length=100)
    uses: list[Use] | None = Field(default=None, max_length=len(Use))
    attestation: AttestationIn | None = None
    revoke_attestation: bool = False


class JobOut(BaseModel):
    id: int
    status: Literal["queued", "running", "done", "failed"]
    card_id: int | None = None
    error: dict[str, Any] | None = None
    created_at: datetime
    updated_at: datetime
    url: str

    @classmethod
    def from_job(cls, job: Any) -> JobOut:
        """An :class:`~models.tables.UploadJob` row as the uploader sees it."""
        return cls(
            id=job.id,
            status=job.status,
            card_id=job.record_id if job.status == "done" else None,
            error=job.error,
            created_at=as_utc(job.created_at),
            updated_at=as_utc(job.updated_at),
            url=f"/v1/jobs/{job.id}",
        )


class CompanyOut(BaseModel):
    id: int
    name: str
    domain: str | None
    country: str | None
    updated_at: datetime
    websites: list[str]
    addresses: list[str]
    phones: list[dict[str, str]]
    job_titles: list[str]
    departments: list[str]
    sources: int


class CompanyPage(BaseModel):
    items: list[CompanyOut]
    next_cursor: str | None


class PartnerContactPage(BaseModel):
    items: list[dict[str, Any]]
    next_cursor: str | None


class SubjectRequest(RequestBody):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"type": "opt_out", "email": "ada@example.com", "scopes": ["partners"]},
                {"type": "access", "phone": "+14155550134"},
                {"type": "shine_the_light", "email": "ada@example.com", "year": 2026},
            ]
        },
    )
    type: RequestType
    email: str | None = Field(default=None, max_length=320)
    phone: str | None = Field(default=None, max_length=64)
    name: str | None = Field(default=None, max_length=200, description="Full name, with `company`.")
    company: str | None = Field(default=None, max_length=200, description="Company or its web domain.")
    year: int | None = Field(default=None, ge=2000, le=2100)
    scopes: list[Scope] = Field(default_factory=lambda: list(SCOPES), max_length=len(SCOPES))

    @model_validator(mode="after")
    def needs_contact(self) -> SubjectRequest:
        if not (self.email or self.phone or (self.name and self.company)):
            raise ValueError("give an email, a phone, or a name with a company")
        if self.type == "shine_the_light" and self.year is None:
            raise ValueError("shine_the_light needs a year")
        return self


class PublicOptOut(RequestBody):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"email": "ada@example.com"}]})
    email: str | None = Field(default=None, min_length=3, max_length=320)
    phone: str | None = Field(default=None, min_length=3, max_length=64)
    scopes: list[Scope] = Field(default_factory=lambda: list(SCOPES), max_length=len(SCOPES))

    @model_validator(mode="after")
    def needs_contact(self) -> PublicOptOut:
        if not (self.email or self.phone):
            raise ValueError("give an email or a phone")
        return self


# --- health, catalog export, partner, subject requests, invites ------------------------------


class Problem(BaseModel):
    """RFC 9457 problem details: the one shape of every error answer (``application/problem+json``)."""

    type: str = Field(description="`/problems/{code}`.")
    title: str
    status: int
    detail: str
    code: str = Field(description="The same stable code the CLI prints as `error.code`.")
    errors: list[dict[str, Any]] | None = Field(default=None, description="Validation errors (422 only).")


PROBLEM_DESCRIPTIONS = {
    400: "Bad arguments (e.g. a cursor that is not one of ours).",
    401: "Missing, unknown or revoked API key.",
    403: "The key's role may not use this endpoint.",
    404: "Not found, or not yours to see.",
    409: "Conflict: the state changed (e.g. the person no longer qualifies).",
    422: "The request does not match the schema.",
    429: "Too many requests from this address: wait and retry.",
    503: "A dependency (database, tesseract) is not available.",
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for these error statuses, as ``application/problem+json``."""
    schema = Problem.model_json_schema()
    return {
        status: {
            "description": PROBLEM_DESCRIPTIONS.get(status, "Error."),
            "content": {"application/problem+json": {"schema": schema}},
        }
        for status in statuses
    }


class CheckOut(BaseModel):
    status: Literal["ok", "failing"]
    detail: str | None = None


class HealthOut(BaseModel):
    status: Literal["ok"]
    version: str
    database: CheckOut
    blobs: CheckOut
    tesseract: CheckOut
    broker: CheckOut | None = Field(default=None, description="With `CARDS_BROKER_URL`: Redis reachable.")
    queues: dict[str, int] | None = Field(default=None, description="Cards waiting per queue (a broker).")


class SubjectRequestResult(BaseModel):
    """What a subject request did (opt-out, erasure, child) or found (access, Shine-the-Light)."""

    type: RequestType
    result: dict[str, Any]


class OptOutAccepted(BaseModel):
    """The same answer whether or not the address is known: it reveals nothing."""

    status: Literal["accepted"] = "accepted"
    detail: str = "If we hold or later receive this address, it will not be used for the scopes asked for."


class InviteCandidateOut(BaseModel):
    subject_id: int
    record_id: int
    email: str
    name: str | None


class InviteCandidates(BaseModel):
    items: list[InviteCandidateOut]


class InviteClaimIn(RequestBody):
    limit: int = Field(default=10, ge=1, le=500, description="At most this many people.")


class InviteClaimOut(BaseModel):
    claim_id: int
    subject_id: int
    record_id: int
    email: str
    name: str | None
    expires_at: datetime | None
    unsubscribe_url: str
    notice: dict[str, Any] | None = Field(description="The notice the invitation must carry (null: sent).")


class InviteClaims(BaseModel):
    items: list[InviteClaimOut]


class UserIn(RequestBody):
    email: str = Field(
        min_length=3, max_length=320, description="The new user's e-mail (only its hash is kept)."
    )


class NoticeOut(BaseModel):
    id: int
    subject_id: int
    email: str
    name: str | None
    due_at: datetime | None
    overdue: bool
    text: dict[str, Any]


class NoticesDue(BaseModel):
    items: list[NoticeOut]


class NoticeSentIn(RequestBody):
    channel: Literal["email", "post", "invite", "other"] = "email"


class PartnerIn(RequestBody):
    legal_name: str = Field(min_length=1, max_length=300)
    postal_address: str = Field(min_length=1, max_length=1000)
    country: str = Field(pattern=r"^[A-Za-z]{2}$")
    contract_ref: str = Field(min_length=1, max_length=200)
    purposes: list[PartnerPurpose] = Field(default_factory=lambda: list(PARTNER_PURPOSES))


class PartnerOut(BaseModel):
    id: int
    name: str
    legal_name: str
    postal_address: str
    country: str
    contract_ref: str
    purposes: list[str]
    active: bool
    registered_at: datetime | None


class PartnerList(BaseModel):
    items: list[PartnerOut]


class SuppressionFeedItem(BaseModel):
    id: int
    kind: Literal["email", "phone"]
    sha256: str = Field(description="SHA-256 (hex) of the normalised e-mail (lower case) or E.164 phone.")
    reason: str
    since: datetime | None


class SuppressionFeed(BaseModel):
    items: list[SuppressionFeedItem]
    next_cursor: str | None


class InviteOut(BaseModel):
    id: int
    subject_id: int
    record_id: int | None
    sent_at: datetime
