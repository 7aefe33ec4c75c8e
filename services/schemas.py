"""What a front hands the services when a card arrives: the upload's metadata (the "create" schema).

As in the FastAPI template, input schemas live apart from the tables; the HTTP API takes
:class:`CardMetadata` as the JSON ``metadata`` part of an upload, the web pages build it
from their form, and :mod:`services.uploads` stores it.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from models.enums import Basis, Use


class RequestBody(BaseModel):
    """Base of every request body: an unknown key is a 422 naming it, never silently dropped.

    A key in the wrong place (``basis`` beside ``attestation`` instead of inside it) would
    otherwise store a card that silently never qualifies for anything.
    """

    model_config = ConfigDict(extra="forbid")


class ClientDetails(RequestBody):
    """What the uploading app says about itself: these keys only, each bounded (stored with the source)."""

    app_version: str | None = Field(default=None, max_length=64)
    device_id: str | None = Field(default=None, max_length=128)
    platform: str | None = Field(default=None, max_length=32, description="e.g. ios, android, web.")
    import_batch: str | None = Field(
        default=None, max_length=64, description="Groups the cards of one import or one web upload."
    )


class AttestationIn(RequestBody):
    basis: Basis
    basis_text: str | None = Field(default=None, max_length=2000)
    text_version: str | None = Field(default=None, max_length=64, description="Version of the text shown.")

    @model_validator(mode="after")
    def other_needs_text(self) -> AttestationIn:
        if self.basis is Basis.other and not (self.basis_text or "").strip():
            raise ValueError("basis 'other' needs basis_text")
        return self


class CardMetadata(RequestBody):
    """The JSON ``metadata`` part of an upload."""

    attestation: AttestationIn | None = None
    uses: list[Use] = Field(default_factory=list, max_length=len(Use))
    client: ClientDetails = Field(default_factory=ClientDetails)
    region: str | None = Field(default=None, pattern=r"^[A-Za-z]{2}$")
    notes: str | None = Field(default=None, max_length=2000)
