"""Invented people and a way to store their cards without OCR: shared by the services and CLI tests.

Each person's image "blob" carries their name, e-mail and phone, so that a blob left behind
by an erasure is caught by a byte search, as a real card image would be.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from db_fixtures import mark_notice_sent
from sqlalchemy import func
from sqlmodel import Session, SQLModel, col, select

from core.settings import load_settings
from ingest.schema import Extraction
from models.blobs import BlobStore
from models.enums import Basis, Channel, Role, Use
from models.policy import qualifying_records
from models.tables import ContactRecord, Invite, Notice, Principal
from services import invites, notices, partners, rights
from services.records import AttestationInput, store_extraction

TEST_SALT = b"test-salt-not-secret"  # the conftest's salt, for the CLI's environment
ATTESTED = AttestationInput(basis=Basis.received_in_person, text_version="test-1")
ALL_USES = frozenset(Use)
COOLDOWN = 90  # the default CARDS_INVITE_COOLDOWN_DAYS


@dataclass(frozen=True)
class Person:
    name: str
    email: str
    phone: str  # E.164, printed as the work number
    company: str
    job_title: str

    def needles(self) -> list[bytes]:
        """What must not survive an erasure, as bytes (the phone also without its +)."""
        return [self.name.encode(), self.email.encode(), self.phone.encode(), self.phone[1:].encode()]


ADA = Person(
    "Ada Quillfeather", "ada.quillfeather@example.org", "+14155550134", "Orrery Works", "Head of Research"
)
BEN = Person("Benedikt Ostrowski", "b.ostrowski@example.net", "+442079460958", "Lindqvist AB", "Buyer")
CARA = Person("Cara Mbeki-Lund", "cara.ml@example.com", "+14155550177", "Tern Labs", "CTO")

Upload = Callable[..., ContactRecord]


def card_image(person: Person) -> bytes:
    """Fresh 'image' bytes that, like a real card, carry the person's data."""
    return f"PNG card {uuid.uuid4().hex} {person.name} {person.email} {person.phone}".encode()


@pytest.fixture
def upload(
    session: Session, salt: bytes, blobs: BlobStore, build_extraction: Callable[..., Extraction]
) -> Upload:
    """``upload(uploader, person, *, uses, attested, channel, image, client, **card overrides)``, committed.

    The image goes into the blob store and the extraction's sha256 is the blob key, as in the importer.
    """

    def _upload(
        uploader: Principal,
        person: Person = ADA,
        *,
        uses: frozenset[Use] | set[Use] = ALL_USES,
        attested: bool = True,
        channel: Channel = Channel.mobile,
        image: bytes | None = None,
        client: dict[str, Any] | None = None,
        notice_sent: bool = True,
        **card: Any,
    ) -> ContactRecord:
        data = image if image is not None else card_image(person)
        key = blobs.put(data)
        values = {
            "name": person.name,
            "email": person.email,
            "phone": person.phone,
            "company": person.company,
            "job_title": person.job_title,
            **card,
        }
        record = store_extraction(
            session,
            uploader=uploader,
            channel=channel,
            extraction=build_extraction(sha=key, **values),
            byte_size=len(data),
            blob_key=key,
            client=client if client is not None else {"device": "test-phone", "app": "3.1"},
            attestation=ATTESTED if attested else None,
            uses=set(uses),
            salt=salt,
        )
        if notice_sent:  # most tests want a record that qualifies; partner sharing needs the notice sent
            mark_notice_sent(session, record.subject_id)
        session.commit()
        return record

    return _upload


def make_principal(session: Session, name: str, role: Role) -> Principal:
    principal = Principal(name=name, role=role)
    session.add(principal)
    session.commit()
    return principal


def qualifying_ids(session: Session, purpose: str) -> set[int]:
    return {r.id for r in session.exec(qualifying_records(purpose)).all() if r.id is not None}


def count(session: Session, table: type[SQLModel], *where: Any) -> int:
    return session.exec(select(func.count()).select_from(table).where(*where)).one()


def candidate_subjects(session: Session, cooldown_days: int = 30, lifetime_cap: int = 1) -> list[int]:
    rules = invites.InviteRules(cooldown_days=cooldown_days, lifetime_cap=lifetime_cap)
    return [c.subject_id for c in invites.invite_candidates(session, rules=rules)]


def invite(
    session: Session, admin: Principal, subject_id: int | None, salt: bytes, **settings: Any
) -> Invite:
    """Claim the person and confirm the invitation sent, as a mailer does (other claims are released)."""
    claims = invites.claim_candidates(session, admin, load_settings(**settings), salt=salt, limit=500)
    mine = [c for c in claims if c.subject_id == subject_id]
    for other in claims:
        if other.subject_id != subject_id:
            invites.release(session, other.claim_id, admin)
    assert mine, f"subject {subject_id} could not be claimed"
    sent = invites.confirm_sent(session, mine[0].claim_id, admin)
    session.commit()
    return sent


def send_notices(session: Session) -> int:
    """Mark every due notice sent, as the mailer would once it sent them (partner sharing needs it)."""
    due = session.exec(select(Notice).where(col(Notice.sent_at).is_(None))).all()
    for notice in due:
        assert notice.id is not None
        notices.mark_sent(session, notice.id, None)
    session.commit()
    return len(due)


def register(session: Session, partner: Principal) -> Principal:
    """Put a partner in the partner registry (a partner receives nothing before)."""
    if partners.profile_of(session, partner.id or 0) is None:
        details = partners.PartnerDetails(f"{partner.name} Ltd", "1 Partner Way, Springfield", "US", "DSA-1")
        partners.register_partner(session, None, partner, details)
        session.commit()
    return partner


def erase(
    session: Session, salt: bytes, blobs: BlobStore, person: Person, **kwargs: Any
) -> rights.ErasureResult:
    result = rights.erase(session, email=person.email, actor=None, salt=salt, blobs=blobs, **kwargs)
    session.commit()
    return result


def assert_no_personal_data(text_: str, person: Person) -> None:
    assert not [n for n in person.needles() if n.decode() in text_]
