"""The stored data: who uploaded what, what was read from it, and what it may be used for.

Tables follow the FastAPI full-stack template: SQLModel tables here, separate read/create
schemas where an API needs them. Personal data lives only in ``fieldvalue``,
``extractionrun.text`` and blobs; every other table holds ids, hashes, codes and times, so
that erasing a person is deleting their rows and blobs (see ``services/rights.py``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, DateTime, Index, LargeBinary, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from models.enums import Basis, Channel, NoticeTrigger, Role, SuppressionReason, Use

# Named constraints, so that future migrations (SQLite batch mode included) can drop and alter them.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


# Ids are never reused: SQLite without AUTOINCREMENT hands a deleted row's id to the next row, so
# a reference kept anywhere (an Idempotency-Key's answer, a partner's copy, a client's cache)
# would silently point at someone else's card. PostgreSQL sequences never go back anyway.
AUTOINCREMENT: dict[str, Any] = {"sqlite_autoincrement": True}


def utcnow() -> datetime:
    return datetime.now(UTC)


def _ts(nullable: bool = False, index: bool = False) -> Any:
    return Field(
        default_factory=utcnow if not nullable else None,
        sa_type=DateTime(timezone=True),
        nullable=nullable,
        index=index,
    )


class Principal(SQLModel, table=True):
    __table_args__ = AUTOINCREMENT
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True, unique=True)
    role: Role = Field(index=True)
    api_key_hash: str | None = Field(default=None, index=True, unique=True)
    created_at: datetime = _ts()
    revoked_at: datetime | None = _ts(nullable=True)


class Source(SQLModel, table=True):
    """One received image; the same bytes from the same uploader are one source (idempotent import)."""

    __table_args__ = (
        UniqueConstraint("uploader_id", "sha256", name="uq_source_uploader_sha256"),
        AUTOINCREMENT,
    )
    id: int | None = Field(default=None, primary_key=True)
    uploader_id: int = Field(foreign_key="principal.id", index=True)
    channel: Channel
    received_at: datetime = _ts()
    client: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    sha256: str = Field(index=True, max_length=64)
    byte_size: int = Field(sa_type=BigInteger)
    blob_key: str | None = Field(default=None, max_length=64, index=True)
    status: str = Field(default="extracted")  # extracted | failed
    error_code: str | None = None


class ExtractionRun(SQLModel, table=True):
    __table_args__ = AUTOINCREMENT
    id: int | None = Field(default=None, primary_key=True)
    source_id: int = Field(foreign_key="source.id", index=True, ondelete="CASCADE")
    engine: str
    engine_version: str
    pipeline_version: str
    params: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    timings_ms: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    text: str = Field(default="", sa_column=Column(Text, nullable=False))
    created_at: datetime = _ts()


class Subject(SQLModel, table=True):
    """A person behind one or more records, across uploaders."""

    __table_args__ = AUTOINCREMENT
    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = _ts()
    is_user: bool = False  # already a user of the service: never invited


class SubjectKey(SQLModel, table=True):
    """Salted hashes of a subject's normalised e-mails, E.164 phones and name + company/domain.

    ``kind`` is a :class:`~models.enums.KeyKind` value. E-mail and phone keys identify a person
    (an invite or a partner needs one); a name + company key only links a card without either
    to the same person, so that opt-outs and erasure reach it.
    """

    __table_args__ = (UniqueConstraint("kind", "key_hash", name="uq_subjectkey_kind_hash"), AUTOINCREMENT)
    id: int | None = Field(default=None, primary_key=True)
    subject_id: int = Field(foreign_key="subject.id", index=True, ondelete="CASCADE")
    kind: str  # email | phone
    key_hash: str = Field(max_length=64, index=True)  # looked up without kind by the rights functions


class ContactRecord(SQLModel, table=True):
    __table_args__ = AUTOINCREMENT
    id: int | None = Field(default=None, primary_key=True)
    source_id: int = Field(foreign_key="source.id", index=True, ondelete="CASCADE")
    extraction_run_id: int | None = Field(
        default=None, foreign_key="extractionrun.id", ondelete="SET NULL", index=True
    )
    uploader_id: int = Field(foreign_key="principal.id", index=True)
    subject_id: int | None = Field(default=None, foreign_key="subject.id", index=True, ondelete="SET NULL")
    region: str | None = Field(default=None, max_length=2)
    notes: str | None = None
    created_at: datetime = _ts()
    updated_at: datetime = _ts(index=True)


class FieldValue(SQLModel, table=True):
    """One value of a record, with the OCR evidence it came from; a correction never erases ``ocr_value``."""

    __table_args__ = (Index("ix_fieldvalue_record_field", "record_id", "field"), AUTOINCREMENT)
    id: int | None = Field(default=None, primary_key=True)
    record_id: int = Field(foreign_key="contactrecord.id", ondelete="CASCADE")
    field: str = Field(max_length=32)
    position: int = 0
    value: str = Field(sa_column=Column(Text, nullable=False))
    ocr_value: str | None = Field(default=None, sa_column=Column(Text))  # None: typed in by a person
    raw: str = Field(default="", sa_column=Column(Text, nullable=False))
    confidence: float = 0.0
    bbox: list[int] | None = Field(default=None, sa_column=Column(JSON))
    method: str = ""
    type: str | None = None
    extension: str | None = None
    corrected_by: int | None = Field(default=None, foreign_key="principal.id")
    corrected_at: datetime | None = _ts(nullable=True)


class FieldCorrection(SQLModel, table=True):
    """The history of a value: every earlier value, who changed it and when."""

    __table_args__ = AUTOINCREMENT
    id: int | None = Field(default=None, primary_key=True)
    field_value_id: int = Field(foreign_key="fieldvalue.id", index=True, ondelete="CASCADE")
    previous_value: str = Field(sa_column=Column(Text, nullable=False))
    new_value: str = Field(sa_column=Column(Text, nullable=False))
    corrected_by: int = Field(foreign_key="principal.id")
    corrected_at: datetime = _ts()


class Attestation(SQLModel, table=True):
    """The uploader's statement that they were authorised to upload this card."""

    __table_args__ = AUTOINCREMENT
    id: int | None = Field(default=None, primary_key=True)
    record_id: int = Field(foreign_key="contactrecord.id", index=True, ondelete="CASCADE")
    basis: Basis
    basis_text: str | None = None  # required when basis is "other"
    text_version: str
    attested_by: int = Field(foreign_key="principal.id")
    attested_at: datetime = _ts()
    channel: Channel
    details: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    revoked_at: datetime | None = _ts(nullable=True)


class PermittedUse(SQLModel, table=True):
    __table_args__ = (
        UniqueConstraint("record_id", "use", name="uq_permitteduse_record_use"),
        Index("ix_permitteduse_use_record", "use", "record_id"),  # the policy's EXISTS per purpose
        AUTOINCREMENT,
    )
    id: int | None = Field(default=None, primary_key=True)
    record_id: int = Field(foreign_key="contactrecord.id", index=True, ondelete="CASCADE")
    use: Use
    set_by: int = Field(foreign_key="principal.id")
    set_at: datetime = _ts()


class Suppression(SQLModel, table=True):
    """Hashes of people who must not be used for a reason; outlives their records."""

    __table_args__ = (
        UniqueConstraint("key_hash", "reason", name="uq_suppression_hash_reason"),
        AUTOINCREMENT,
    )
    id: int | None = Field(default=None, primary_key=True)
    key_hash: str = Field(max_length=64, index=True)
    kind: str  # email | phone
    reason: SuppressionReason
    created_at: datetime = _ts()


class Disclosure(SQLModel, table=True):
    """One disclosure of one record to one partner (for Shine-the-Light and accountability).

    Erasing the person turns each of their rows into :class:`DisclosureLedger` rows (no
    contact data, keyed by the person's hashes), so their rights still work afterwards.
    """

    __table_args__ = AUTOINCREMENT
    id: int | None = Field(default=None, primary_key=True)
    partner_id: int = Field(foreign_key="principal.id", index=True)
    record_id: int | None = Field(
        default=None, foreign_key="contactrecord.id", ondelete="SET NULL", index=True
    )
    subject_id: int | None = Field(default=None, foreign_key="subject.id", index=True, ondelete="SET NULL")
    categories: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    purpose: str
    direct_marketing: bool = True
    disclosed_at: datetime = _ts(index=True)


class Invite(SQLModel, table=True):
    __table_args__ = AUTOINCREMENT
    id: int | None = Field(default=None, primary_key=True)
    subject_id: int = Field(foreign_key="subject.id", index=True, ondelete="CASCADE")
    record_id: int | None = Field(
        default=None, foreign_key="contactrecord.id", ondelete="SET NULL", index=True
    )
    sent_by: int = Field(foreign_key="principal.id")
    sent_at: datetime = _ts(index=True)


class AuditEvent(SQLModel, table=True):
    """Append-only: ids, codes and field names only, never a person's data."""

    __table_args__ = AUTOINCREMENT
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _ts(index=True)
    actor_id: int | None = Field(default=None, foreign_key="principal.id")
    action: str = Field(index=True)
    record_id: int | None = Field(default=None, index=True)
    subject_id: int | None = Field(default=None, index=True)
    details: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class CatalogCompany(SQLModel, table=True):
    """A company as the catalog knows it: derived from records, listed only while one qualifies."""

    __table_args__ = AUTOINCREMENT
    id: int | None = Field(default=None, primary_key=True)
    name: str
    name_key: str = Field(index=True, unique=True)  # normalised name: case, accents, legal suffixes
    domain: str | None = Field(default=None, index=True)
    country: str | None = Field(default=None, max_length=2, index=True)
    created_at: datetime = _ts()
    updated_at: datetime = _ts(index=True)


class CatalogLink(SQLModel, table=True):
    """Which record vouches for which company (deleted with the record)."""

    __table_args__ = (
        UniqueConstraint("company_id", "record_id", name="uq_cataloglink_company_record"),
        AUTOINCREMENT,
    )
    id: int | None = Field(default=None, primary_key=True)
    company_id: int = Field(foreign_key="catalogcompany.id", index=True, ondelete="CASCADE")
    record_id: int = Field(foreign_key="contactrecord.id", index=True, ondelete="CASCADE")


class IdempotencyKey(SQLModel, table=True):
    """The first answer to a request carrying ``Idempotency-Key``, replayed to every retry."""

    __table_args__ = (
        UniqueConstraint("principal_id", "key", name="uq_idempotencykey_principal_key"),
        AUTOINCREMENT,
    )
    id: int | None = Field(default=None, primary_key=True)
    principal_id: int = Field(foreign_key="principal.id", index=True)
    key: str = Field(max_length=255)
    request_hash: str = Field(max_length=64)
    status_code: int | None = None  # None while the first request is still running
    response: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    created_at: datetime = _ts()


class UploadJob(SQLModel, table=True):
    """An asynchronous upload: the image waits in the blob store until a worker extracts it."""

    __table_args__ = AUTOINCREMENT
    id: int | None = Field(default=None, primary_key=True)
    principal_id: int = Field(foreign_key="principal.id", index=True)
    status: str = Field(default="queued", index=True)  # queued | running | done | failed
    blob_key: str | None = Field(default=None, max_length=64, index=True)
    metadata_: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column("metadata", JSON, nullable=False)
    )
    record_id: int | None = Field(
        default=None, foreign_key="contactrecord.id", ondelete="SET NULL", index=True
    )
    error: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    # The import a queued card belongs to (``cards import --queue``: the bulk queue); None: an upload.
    batch: str | None = Field(default=None, max_length=100, index=True)
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class DisclosureLedger(SQLModel, table=True):
    """What an erasure keeps of a disclosure: recipient, time, categories, keyed by the person's hashes.

    No contact data and no record: enough for a Shine-the-Light answer (Cal. Civ. Code
    § 1798.83) after erasure, and for telling the recipients (GDPR Art. 19).
    """

    __table_args__ = AUTOINCREMENT
    id: int | None = Field(default=None, primary_key=True)
    partner_id: int = Field(foreign_key="principal.id", index=True)
    disclosure_ref: int  # the erased Disclosure row's id: one disclosure, one count, whatever the hashes
    key_hash: str = Field(max_length=64, index=True)
    categories: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    purpose: str
    direct_marketing: bool = True
    disclosed_at: datetime = _ts(index=True)
    recorded_at: datetime = _ts()


class PartnerSuppression(SQLModel, table=True):
    """A recipient's notice that a person erased or opted out: hashes the partner can match, nothing else.

    ``identifier_hash`` is the plain SHA-256 of the normalised e-mail or E.164 phone the partner
    was sent (it holds the value already; our salted hashes would mean nothing to it).
    """

    __table_args__ = (
        UniqueConstraint(
            "partner_id", "identifier_hash", "reason", name="uq_partnersuppression_partner_hash"
        ),
        AUTOINCREMENT,
    )
    id: int | None = Field(default=None, primary_key=True)
    partner_id: int = Field(foreign_key="principal.id", index=True)
    kind: str  # email | phone
    identifier_hash: str = Field(max_length=64)
    reason: SuppressionReason
    created_at: datetime = _ts(index=True)


class PartnerProfile(SQLModel, table=True):
    """The partner registry: who a partner is, by contract, and what it receives."""

    principal_id: int = Field(foreign_key="principal.id", primary_key=True)
    legal_name: str
    postal_address: str = Field(sa_column=Column(Text, nullable=False))
    country: str = Field(max_length=2)
    contract_ref: str
    purposes: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    registered_at: datetime = _ts()
    updated_at: datetime = _ts()


class Notice(SQLModel, table=True):
    """The notice owed to a person whose data is used beyond its uploader's address book (GDPR Art. 14)."""

    __table_args__ = AUTOINCREMENT
    id: int | None = Field(default=None, primary_key=True)
    subject_id: int = Field(foreign_key="subject.id", index=True, unique=True, ondelete="CASCADE")
    trigger: NoticeTrigger
    due_at: datetime = _ts(index=True)
    sent_at: datetime | None = _ts(nullable=True)
    sent_by: int | None = Field(default=None, foreign_key="principal.id")
    created_at: datetime = _ts()


class InviteClaim(SQLModel, table=True):
    """A candidate reserved by a mailer before the invite is sent: confirmed (sent) or released.

    At most one open claim per person (unique ``open_subject_id``, cleared when the claim
    ends), so two mailers never write to the same person; an unconfirmed claim expires.
    """

    __table_args__ = AUTOINCREMENT
    id: int | None = Field(default=None, primary_key=True)
    subject_id: int = Field(foreign_key="subject.id", index=True, ondelete="CASCADE")
    open_subject_id: int | None = Field(default=None, unique=True)
    record_id: int | None = Field(default=None, foreign_key="contactrecord.id", ondelete="SET NULL")
    claimed_by: int = Field(foreign_key="principal.id")
    claimed_at: datetime = _ts()
    expires_at: datetime = _ts()
    status: str = Field(default="reserved", index=True)  # reserved | sent | released | expired


class KeyCheck(SQLModel, table=True):
    """A fingerprint of the suppression key this database's hashes were made with: refuse another."""

    name: str = Field(primary_key=True, max_length=64)
    fingerprint: str = Field(max_length=64)
    created_at: datetime = _ts()


class WebSession(SQLModel, table=True):
    """A signed-in browser of the web app: only the SHA-256 of its cookie's token is stored."""

    __table_args__ = (AUTOINCREMENT,)
    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    principal_id: int = Field(foreign_key="principal.id", index=True, ondelete="CASCADE")
    created_at: datetime = _ts()
    expires_at: datetime = _ts(index=True)
    ended_at: datetime | None = _ts(nullable=True)  # signed out


class RateLimitHit(SQLModel, table=True):
    """One counted request of a rate-limited client, shared by every server process (a sliding window).

    ``client_hash`` is a SHA-256 of the limit's name and the client address, never the address:
    rows live a minute, and an address is personal data.
    """

    __table_args__ = (Index("ix_ratelimithit_client_at", "client_hash", "at"), AUTOINCREMENT)
    id: int | None = Field(default=None, primary_key=True)
    client_hash: str = Field(max_length=64)
    at: datetime = _ts(index=True)


class Blob(SQLModel, table=True):
    """A card image kept in the database (``CARDS_BLOB_STORE=database``), keyed by its SHA-256.

    Content-addressed like the blob folder, so every worker on every machine reads the same
    bytes by the key the source row holds; erasure and retention delete it like a file.
    """

    key: str = Field(primary_key=True, max_length=64)
    data: bytes = Field(sa_type=LargeBinary, nullable=False)
    byte_size: int = Field(sa_type=BigInteger, nullable=False)
    created_at: datetime = _ts(index=True)
