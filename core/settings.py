"""One settings object: every environment variable the project reads is a field here.

As in the FastAPI full-stack template, the settings are read once, at start-up, by a front
(the ``cards`` command, the HTTP app, a benchmark) and passed down explicitly: no other
module reads the environment, and nothing is read at import time. A wrong value stops the
program at start-up with ``invalid_config`` naming the variable, instead of surfacing later
as a confusing failure in the middle of a batch. README's "Settings" table lists them all
(a test keeps the table equal to this class).
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.errors import InvalidConfigError

Profile = Literal["accurate", "fast", "best"]
BlobStoreKind = Literal["filesystem", "database"]


class Settings(BaseSettings):
    """The project's configuration; field aliases are the environment variables' names."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    database_url: str = Field(
        default="sqlite:///./var/cards.db",
        alias="DATABASE_URL",
        description="Where records live: SQLite (the embedded default) or `postgresql+psycopg://…`.",
    )
    blob_dir: Path = Field(
        default=Path("./var/blobs"), alias="CARDS_BLOB_DIR", description="Folder of the card images."
    )
    # Keys the hashes of e-mails and phones in the suppression list and subject index. Losing it
    # means suppressed people can no longer be recognised: set it explicitly in production.
    suppression_salt: str = Field(
        default="",
        alias="CARDS_SUPPRESSION_SALT",
        description="Secret key of the e-mail/phone hashes; empty: a random key in `./var/suppression.salt`.",
    )
    default_region: str = Field(
        default="US",
        alias="CARDS_DEFAULT_REGION",
        pattern=r"^[A-Za-z]{2}$",
        description="Country of a phone number when the card gives none (ISO 3166 alpha-2).",
    )
    attestation_version: str = Field(
        default="2026-11",
        alias="CARDS_ATTESTATION_VERSION",
        min_length=1,
        description="Version of the attestation text uploaders agree to, stored with each attestation.",
    )
    invite_cooldown_days: int = Field(
        default=90,
        alias="CARDS_INVITE_COOLDOWN_DAYS",
        ge=1,
        description="No second invite within this many days.",
    )
    invite_lifetime_cap: int = Field(
        default=1,
        alias="CARDS_INVITE_LIFETIME_CAP",
        ge=1,
        le=5,
        description="Invites a person may ever get (never automatic reminders).",
    )
    invite_claim_minutes: int = Field(
        default=60,
        alias="CARDS_INVITE_CLAIM_MINUTES",
        ge=1,
        description="How long a mailer's claim on a candidate lasts before it is released.",
    )
    controller_name: str = Field(
        default="cardvault (demo controller)",
        alias="CARDS_CONTROLLER_NAME",
        min_length=1,
        description="Who holds the data, as notices and the register name it.",
    )
    controller_contact: str = Field(
        default="privacy@cardvault.invalid",
        alias="CARDS_CONTROLLER_CONTACT",
        min_length=1,
        description="How people reach the privacy officer (notices, register).",
    )
    public_url: str = Field(
        default="http://127.0.0.1:8000",
        alias="CARDS_PUBLIC_URL",
        pattern=r"^https?://",
        description="The service's public address, for the opt-out links in notices and invites.",
    )
    retain_images_days: int = Field(
        default=365, alias="CARDS_RETAIN_IMAGES_DAYS", ge=0, description="Card images (0: keep them)."
    )
    retain_ocr_days: int = Field(
        default=365,
        alias="CARDS_RETAIN_OCR_DAYS",
        ge=0,
        description="OCR text and value boxes (0: keep them).",
    )
    retain_unused_months: int = Field(
        default=24,
        alias="CARDS_RETAIN_UNUSED_MONTHS",
        ge=0,
        description="Records with no permitted use, unchanged this long, are deleted (0: keep them).",
    )
    retain_ledger_days: int = Field(
        default=1098,
        alias="CARDS_RETAIN_LEDGER_DAYS",
        ge=400,
        description="Disclosure log and ledger (Shine-the-Light covers the previous calendar year).",
    )
    retain_audit_days: int = Field(
        default=2196, alias="CARDS_RETAIN_AUDIT_DAYS", ge=0, description="Audit events (0: keep them)."
    )
    retain_jobs_days: int = Field(
        default=30,
        alias="CARDS_RETAIN_JOBS_DAYS",
        ge=1,
        description="Finished upload jobs and invite claims.",
    )
    report_dir: Path = Field(
        default=Path("./var/reports"),
        alias="CARDS_REPORT_DIR",
        description="Where `cards import` writes its reports.",
    )
    retain_reports_days: int = Field(
        default=30,
        alias="CARDS_RETAIN_REPORTS_DAYS",
        ge=1,
        description="Import reports under `./var/reports`.",
    )
    ocr_timeout: float = Field(
        default=60.0,
        alias="CARDS_OCR_TIMEOUT",
        gt=0,
        description="Seconds one OCR call may take (`ocr_timeout`).",
    )
    ocr_lang: str = Field(
        default="eng",
        alias="CARDS_OCR_LANG",
        pattern=r"^[A-Za-z_]+(\+[A-Za-z_]+)*$",
        description="Tesseract language data, e.g. `eng` or `eng+deu`.",
    )
    second_pass_below: float = Field(
        default=0.8,
        alias="CARDS_SECOND_PASS_BELOW",
        ge=0,
        le=2,
        description="A sparse-text pass reads a photo whose confident letters are below this share.",
    )
    profile: Profile = Field(
        default="accurate", alias="CARDS_PROFILE", description="Extraction profile: accurate, fast or best."
    )
    max_image_bytes: int = Field(
        default=40 * 1024 * 1024,
        alias="CARDS_MAX_IMAGE_BYTES",
        ge=1,
        description="Largest image file accepted (413 over HTTP).",
    )
    max_image_pixels: int = Field(
        default=50_000_000,
        alias="CARDS_MAX_IMAGE_PIXELS",
        ge=1,
        description="Most pixels an image may declare (checked from the header, before decoding).",
    )
    ocr_workers: int = Field(
        default=0,
        alias="CARDS_OCR_WORKERS",
        ge=0,
        description="OCR processes of the HTTP API; 0: one per core.",
    )
    job_concurrency: int = Field(
        default=0,
        alias="CARDS_JOB_CONCURRENCY",
        ge=0,
        description="Async upload jobs run at once; 0: one per core.",
    )
    orphan_grace_seconds: float = Field(
        default=900.0,
        alias="CARDS_ORPHAN_GRACE_SECONDS",
        ge=0,
        description="An image no row refers to is swept only once this old (its upload may be in flight).",
    )
    orphan_sweep_seconds: float = Field(
        default=3600.0,
        alias="CARDS_ORPHAN_SWEEP_SECONDS",
        ge=0,
        description="How often the server sweeps orphan image blobs (also at start-up); 0: only at start-up.",
    )
    max_queue_seconds: float = Field(
        default=20.0,
        alias="CARDS_MAX_QUEUE_SECONDS",
        ge=0,
        description="A sync upload that would wait longer for OCR gets 503 `overloaded`; 0: no limit.",
    )
    ocr_card_seconds: float = Field(
        default=1.0,
        alias="CARDS_OCR_CARD_SECONDS",
        gt=0,
        description="First guess of a card's OCR seconds, for the queue bound (then learnt).",
    )
    opt_out_per_minute: int = Field(
        default=10,
        alias="CARDS_OPT_OUT_PER_MINUTE",
        ge=1,
        description="Public opt-out requests per client address per minute, counted in the database "
        "across every server process.",
    )

    # Signs the web app's CSRF tokens. Losing it only signs everyone out of the web app.
    session_secret: str = Field(
        default="",
        alias="CARDS_SESSION_SECRET",
        description="Signs the web app's CSRF tokens; empty: a random key in `./var/session.secret`.",
    )
    session_hours: int = Field(
        default=12,
        alias="CARDS_SESSION_HOURS",
        ge=1,
        le=720,
        description="How long a web sign-in lasts before the session cookie expires.",
    )
    review_below: float = Field(
        default=0.8,
        alias="CARDS_REVIEW_BELOW",
        ge=0,
        le=1,
        description="Review queue: cards with a key value below this confidence (or missing) come first.",
    )

    max_json_bytes: int = Field(
        default=16 * 1024,
        alias="CARDS_MAX_JSON_BYTES",
        ge=256,
        le=1024 * 1024,
        description="Largest JSON or form body accepted (the public opt-out: 4 KiB at most); 413 over it.",
    )
    trusted_proxies: str = Field(
        default="",
        alias="CARDS_TRUSTED_PROXIES",
        description="Proxies whose `X-Forwarded-For` is believed: addresses or CIDRs, comma-separated.",
    )
    api_docs: bool = Field(
        default=True,
        alias="CARDS_API_DOCS",
        description="Serve `/docs` (Swagger UI from the local `swagger-ui-bundle` package; never a CDN).",
    )

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: str) -> str:
        for part in value.split(","):
            if part.strip():
                ipaddress.ip_network(part.strip(), strict=False)  # ValueError names the bad entry
        return value

    def trusted_networks(self) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        """``CARDS_TRUSTED_PROXIES`` as networks (a bare address is a /32 or /128)."""
        return [
            ipaddress.ip_network(part.strip(), strict=False)
            for part in self.trusted_proxies.split(",")
            if part.strip()
        ]

    blob_store: BlobStoreKind = Field(
        default="filesystem",
        alias="CARDS_BLOB_STORE",
        description="Card images: `filesystem` (in `CARDS_BLOB_DIR`) or `database` (PostgreSQL only).",
    )
    broker_url: str = Field(
        default="",
        alias="CARDS_BROKER_URL",
        pattern=r"^(|redis://.*|rediss://.*)$",
        description="Celery broker, `redis://host:6379/0`; empty: OCR in process (the embedded mode).",
    )
    worker_concurrency: int = Field(
        default=0,
        alias="CARDS_WORKER_CONCURRENCY",
        ge=0,
        description="OCR processes of one `cards worker`; 0: one per core.",
    )
    worker_max_tasks: int = Field(
        default=500,
        alias="CARDS_WORKER_MAX_TASKS",
        ge=1,
        description="Cards a worker process reads before it is replaced (bounds leaks in native code).",
    )
    queue_republish_seconds: float = Field(
        default=60.0,
        alias="CARDS_QUEUE_REPUBLISH_SECONDS",
        gt=0,
        description="A queued card untouched this long, while its queue is empty, is published again.",
    )

    @field_validator("default_region")
    @classmethod
    def _upper(cls, value: str) -> str:
        return value.upper()


def env_name(field: str) -> str:
    """The environment variable of a settings field (its alias); an alias is returned as it is."""
    info = Settings.model_fields.get(field)
    return (info.alias or field.upper()) if info is not None else field


def load_settings(**overrides: Any) -> Settings:
    """Read and validate the settings; a wrong value is ``invalid_config`` naming the variable."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_url=False):
            field = str(error["loc"][0]) if error.get("loc") else "?"
            name = env_name(field)
            problems.append(f"{name}: {error['msg']}")
        raise InvalidConfigError(f"Invalid settings: {'; '.join(problems)}.") from exc


@lru_cache
def get_settings() -> Settings:
    """The process's settings, read once (for the fronts: the CLI, the HTTP app, benchmarks)."""
    return load_settings()
