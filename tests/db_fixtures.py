"""Database fixtures: every test that touches the database runs on SQLite and on PostgreSQL.

PostgreSQL is the machine's server (127.0.0.1:5432, trust auth, database ``test``); each
test gets its own schema, dropped afterwards, so tests never see each other's rows.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, select

import models.tables  # noqa: F401  (registers the tables)
from ingest.schema import Extraction, FieldValue
from models.blobs import BlobStore, FolderBlobStore
from models.db import make_engine
from models.enums import Basis, Channel, Role, SuppressionReason, Use
from models.keys import key_hash, normalise_email, normalise_phone
from models.tables import ContactRecord, Notice, Principal, Suppression, utcnow
from services.partners import PartnerDetails, register_partner
from services.records import AttestationInput, store_extraction

POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
TEST_SALT = b"test-salt-not-secret"


def postgres_engine(schema: str) -> Engine:
    admin = make_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    admin.dispose()
    from sqlmodel import create_engine

    return create_engine(POSTGRES_URL, connect_args={"options": f"-csearch_path={schema}"})


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url_and_engine(request: pytest.FixtureRequest, tmp_path) -> Iterator[tuple[str, Engine]]:  # type: ignore[no-untyped-def]
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/cards.db"
        engine = make_engine(url)
        SQLModel.metadata.create_all(engine)
        yield url, engine
        engine.dispose()
        return
    schema = f"t_{uuid.uuid4().hex[:12]}"
    engine = postgres_engine(schema)
    SQLModel.metadata.create_all(engine)
    yield f"{POSTGRES_URL}?options=-csearch_path%3D{schema}", engine
    engine.dispose()
    admin = make_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture
def engine(db_url_and_engine: tuple[str, Engine]) -> Engine:
    return db_url_and_engine[1]


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with Session(engine, expire_on_commit=False) as s:
        yield s


@pytest.fixture
def salt() -> bytes:
    return TEST_SALT


@pytest.fixture
def blobs(tmp_path) -> BlobStore:  # type: ignore[no-untyped-def]
    return FolderBlobStore(tmp_path / "blobs")


def make_principal(session: Session, name: str, role: Role) -> Principal:
    principal = Principal(name=name, role=role)
    session.add(principal)
    session.commit()
    return principal


@pytest.fixture
def uploader(session: Session) -> Principal:
    return make_principal(session, "alice-uploader", Role.uploader)


@pytest.fixture
def other_uploader(session: Session) -> Principal:
    return make_principal(session, "bob-uploader", Role.uploader)


@pytest.fixture
def partner(session: Session) -> Principal:
    """A partner in the partner registry (an unregistered partner receives nothing)."""
    principal = make_principal(session, "acme-partner", Role.partner)
    details = PartnerDetails("Acme Partner Ltd", "1 Partner Way, Springfield, CA 90000", "US", "DSA-2026-1")
    register_partner(session, None, principal, details)
    session.commit()
    return principal


@pytest.fixture
def privacy_admin(session: Session) -> Principal:
    return make_principal(session, "dpo", Role.privacy_admin)


# --- synthetic cards: Extraction objects built in memory, no OCR ------------------------------

#: A complete, valid attestation for tests that only need "the uploader attested".
ATTESTED = AttestationInput(basis=Basis.received_in_person, text_version="test-1")

Values = str | Sequence[str] | None


def field_value(value: str, *, type: str | None = None, confidence: float = 0.9) -> FieldValue:
    """One extracted value with plausible evidence (raw text = value, a fixed box)."""
    return FieldValue(
        value=value, raw=value, confidence=confidence, bbox=[10, 10, 200, 24], method="test", type=type
    )


def _listed(values: Values) -> list[str]:
    if values is None:
        return []
    return [values] if isinstance(values, str) else list(values)


def make_extraction(
    *,
    name: Values = None,
    email: Values = None,
    phone: Values = None,
    phone_type: str | None = "work",
    mobile: Values = None,
    company: Values = None,
    job_title: Values = None,
    website: Values = None,
    address: Values = None,
    sha: str | None = None,
    region: str | None = "US",
) -> Extraction:
    """A successful extraction holding exactly the given values; ``sha`` defaults to a fresh random one.

    ``phone`` values get ``phone_type`` (work by default), ``mobile`` values the type ``mobile``.
    The OCR text is every value joined, so it holds the card's personal data as a real one does.
    """
    phones = [field_value(p, type=phone_type) for p in _listed(phone)]
    phones += [field_value(p, type="mobile") for p in _listed(mobile)]
    fields = {
        "names": [field_value(v) for v in _listed(name)],
        "job_titles": [field_value(v) for v in _listed(job_title)],
        "companies": [field_value(v) for v in _listed(company)],
        "emails": [field_value(v) for v in _listed(email)],
        "websites": [field_value(v) for v in _listed(website)],
        "phones": phones,
        "addresses": [field_value(v) for v in _listed(address)],
    }
    fields = {k: v for k, v in fields.items() if v}
    return Extraction(
        source="synthetic.png",
        sha256=sha or hashlib.sha256(uuid.uuid4().bytes).hexdigest(),
        fields=fields,
        text="\n".join(v.value for values in fields.values() for v in values),
        engine={"name": "tesseract", "version": "5.3.0", "pipeline": "test", "params": {"psm": 3}},
        timings_ms={"ocr": 1.0},
        region=region,
    )


StoreCard = Callable[..., ContactRecord]


@pytest.fixture
def store_card(session: Session, salt: bytes) -> StoreCard:
    """``store_card(uploader, extraction=None, *, uses=(), attested=True, **make_extraction_kwargs)``.

    Stores one synthetic card through :func:`services.records.store_extraction` and commits, as
    the importer does (one card, one transaction). ``attestation`` overrides ``attested``.
    The person's notice (GDPR Art. 14) is marked sent unless ``notice_sent=False``: most tests
    want a record that qualifies, and partner sharing needs a sent notice.
    """

    def _store(
        uploader: Principal,
        extraction: Extraction | None = None,
        *,
        uses: Iterable[Use] = (),
        attested: bool = True,
        attestation: AttestationInput | None = None,
        channel: Channel = Channel.batch,
        notice_sent: bool = True,
        **card: Any,
    ) -> ContactRecord:
        record = store_extraction(
            session,
            uploader=uploader,
            channel=channel,
            extraction=extraction or make_extraction(**card),
            byte_size=1234,
            blob_key=None,
            client={},
            attestation=attestation or (ATTESTED if attested else None),
            uses=set(uses),
            salt=salt,
        )
        if notice_sent:
            mark_notice_sent(session, record.subject_id)
        session.commit()
        return record

    return _store


def mark_notice_sent(session: Session, subject_id: int | None) -> None:
    """Mark the person's notice sent, as the mailer does once it sent it (no-op without one)."""
    notice = session.exec(select(Notice).where(Notice.subject_id == subject_id)).first()
    if notice is not None and notice.sent_at is None:
        notice.sent_at = utcnow()
        session.add(notice)


def make_suppression(
    session: Session,
    salt: bytes,
    reason: SuppressionReason,
    *,
    email: str | None = None,
    phone: str | None = None,
) -> Suppression:
    """Suppress a person for ``reason`` by e-mail or phone, hashed as the subject index hashes them."""
    if email is not None:
        kind, normal = "email", normalise_email(email)
    elif phone is not None:
        kind, normal = "phone", normalise_phone(phone)
    else:
        raise ValueError("suppress by e-mail or by phone")
    assert normal, "the test value must normalise"
    row = Suppression(key_hash=key_hash(kind, normal, salt), kind=kind, reason=reason)
    session.add(row)
    session.commit()
    return row


@pytest.fixture
def suppress(session: Session, salt: bytes) -> Callable[..., Suppression]:
    """``suppress(reason, email=... | phone=...)``: :func:`make_suppression` on this test's database."""

    def _suppress(
        reason: SuppressionReason, *, email: str | None = None, phone: str | None = None
    ) -> Suppression:
        return make_suppression(session, salt, reason, email=email, phone=phone)

    return _suppress


@pytest.fixture
def settings_salt_forbidden(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any code path that falls back to the configured salt (which may write ./var/suppression.salt).

    Tests pass the salt explicitly; this proves the code under test honours it.
    """
    import services.context

    def _refuse(*_args: object, **_kwargs: object) -> bytes:
        raise AssertionError("the configured salt was read: pass the salt explicitly")

    monkeypatch.setattr(services.context, "resolve_salt", _refuse)


@pytest.fixture
def build_extraction() -> Callable[..., Extraction]:
    """:func:`make_extraction` as a fixture (test modules cannot import from a conftest reliably)."""
    return make_extraction


@pytest.fixture
def attested() -> AttestationInput:
    """:data:`ATTESTED`: a complete, valid attestation."""
    return ATTESTED


# --- empty databases, for migrations (appended with the migration tests) ----------------


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_db_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """The URL of an EMPTY database (no tables): a tmp SQLite file, or a throwaway PostgreSQL schema.

    Migrations must start from nothing, so unlike ``db_url_and_engine`` nothing is created here.
    """
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/migrated.db"
        return
    schema = f"m_{uuid.uuid4().hex[:12]}"
    admin = make_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
