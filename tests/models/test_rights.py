"""Subject rights, partner disclosure and invites, as a specification.

Every test runs on SQLite and on PostgreSQL, on synthetic cards stored through
``store_extraction`` (no OCR). The people are invented; their image blobs contain their
e-mail so that a blob left behind by an erasure is caught by a byte search.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, text
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session, SQLModel, col, select

from ingest.errors import (
    BadArgumentsError,
    ExitCode,
    ForbiddenError,
    NotEligibleError,
    SubjectSuppressedError,
)
from ingest.schema import Extraction
from models import rights
from models.blobs import BlobStore
from models.policy import qualifying_records
from models.records import AttestationInput, correct_field, record_values, store_extraction
from models.tables import (
    Attestation,
    AuditEvent,
    Basis,
    Channel,
    ContactRecord,
    Disclosure,
    ExtractionRun,
    FieldCorrection,
    FieldValue,
    Invite,
    PermittedUse,
    Principal,
    Role,
    Source,
    Subject,
    SubjectKey,
    Suppression,
    SuppressionReason,
    Use,
)

pytestmark = pytest.mark.usefixtures("settings_salt_forbidden")

TEST_SALT = b"test-salt-not-secret"  # the conftest's salt, for the CLI's environment
ATTESTED = AttestationInput(basis=Basis.received_in_person, text_version="test-1")
ALL_USES = frozenset(Use)


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


def candidate_subjects(session: Session, cooldown_days: int = 30) -> list[int]:
    return [c.subject_id for c in rights.invite_candidates(session, cooldown_days=cooldown_days)]


def erase(
    session: Session, salt: bytes, blobs: BlobStore, person: Person, **kwargs: Any
) -> rights.ErasureResult:
    result = rights.erase(session, email=person.email, actor=None, salt=salt, blobs=blobs, **kwargs)
    session.commit()
    return result


# --- finding a person --------------------------------------------------------------------------


def test_a_person_is_found_by_email_or_phone_in_any_spelling(
    session: Session, salt: bytes, upload: Upload, uploader: Principal
) -> None:
    record = upload(uploader, ADA)
    by_email = rights.find_subject(session, email="  ADA.Quillfeather@Example.org ", salt=salt)
    by_phone = rights.find_subject(session, phone="(415) 555-0134", salt=salt, region="US")
    assert by_email is not None and by_phone is not None
    assert by_email.id == by_phone.id == record.subject_id
    assert rights.find_subject(session, email=BEN.email, salt=salt) is None


def test_a_request_without_a_usable_contact_is_refused(session: Session, salt: bytes) -> None:
    with pytest.raises(BadArgumentsError):
        rights.find_subject(session, salt=salt)
    with pytest.raises(BadArgumentsError):
        rights.opt_out(session, email="not an address", scopes={"invites"}, actor=None, salt=salt)


# --- opt-out -----------------------------------------------------------------------------------


def test_opt_out_of_invites_covers_every_uploaders_copy(
    session: Session, salt: bytes, upload: Upload, uploader: Principal, other_uploader: Principal
) -> None:
    copies = {upload(uploader, ADA).id, upload(other_uploader, ADA).id}
    assert copies <= qualifying_ids(session, "invites")

    rights.opt_out(session, email=ADA.email, scopes={"invites"}, actor=None, salt=salt)
    session.commit()

    assert not copies & qualifying_ids(session, "invites")
    assert candidate_subjects(session) == []


def test_opt_out_before_any_upload_keeps_future_cards_out(
    session: Session, salt: bytes, upload: Upload, uploader: Principal
) -> None:
    result = rights.opt_out(session, email=ADA.email, scopes={"invites", "partners"}, actor=None, salt=salt)
    session.commit()
    assert not result.found

    later = upload(uploader, ADA)
    assert later.id not in qualifying_ids(session, "invites")
    assert later.id not in qualifying_ids(session, "partner_sharing")


def test_opt_out_keeps_a_later_card_of_a_known_person_out(
    session: Session, salt: bytes, upload: Upload, uploader: Principal, other_uploader: Principal
) -> None:
    upload(uploader, ADA)
    rights.opt_out(session, email=ADA.email, scopes={"invites"}, actor=None, salt=salt)
    session.commit()
    later = upload(other_uploader, ADA, email=None)  # only the phone links it to Ada
    assert later.id not in qualifying_ids(session, "invites")


def test_opt_out_of_invites_does_not_stop_partner_sharing(
    session: Session, salt: bytes, upload: Upload, uploader: Principal
) -> None:
    record = upload(uploader, ADA)
    rights.opt_out(session, email=ADA.email, scopes={"invites"}, actor=None, salt=salt)
    session.commit()
    assert record.id not in qualifying_ids(session, "invites")
    assert record.id in qualifying_ids(session, "partner_sharing")


def test_opt_out_of_partners_does_not_stop_invites(
    session: Session, salt: bytes, upload: Upload, uploader: Principal
) -> None:
    record = upload(uploader, ADA)
    rights.opt_out(session, phone=ADA.phone, scopes={"partners"}, actor=None, salt=salt)
    session.commit()
    assert record.id not in qualifying_ids(session, "partner_sharing")
    assert record.id in qualifying_ids(session, "invites")


def test_opt_out_by_phone_also_suppresses_the_persons_email(
    session: Session, salt: bytes, upload: Upload, uploader: Principal
) -> None:
    upload(uploader, ADA)
    result = rights.opt_out(session, phone=ADA.phone, scopes={"invites"}, actor=None, salt=salt)
    session.commit()
    rows = session.exec(select(Suppression)).all()
    assert {(r.kind, r.reason) for r in rows} == {
        ("email", SuppressionReason.opt_out_invites),
        ("phone", SuppressionReason.opt_out_invites),
    }
    assert result.keys_suppressed == 2


def test_opt_out_twice_adds_no_duplicate_rows(session: Session, salt: bytes) -> None:
    rights.opt_out(session, email=ADA.email, scopes={"partners"}, actor=None, salt=salt)
    session.commit()
    again = rights.opt_out(session, email=ADA.email, scopes={"partners"}, actor=None, salt=salt)
    session.commit()
    assert again.rows_added == 0
    assert count(session, Suppression) == 1


def test_opt_out_is_audited_without_personal_data(
    session: Session, salt: bytes, upload: Upload, uploader: Principal, privacy_admin: Principal
) -> None:
    record = upload(uploader, ADA)
    rights.opt_out(session, email=ADA.email, scopes={"invites", "partners"}, actor=privacy_admin, salt=salt)
    session.commit()
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "opted_out")).one()
    assert event.actor_id == privacy_admin.id and event.subject_id == record.subject_id
    assert event.details["scopes"] == ["invites", "partners"]
    assert_no_personal_data(json.dumps(event.details), ADA)


def test_opt_out_refuses_an_unknown_scope(session: Session, salt: bytes) -> None:
    with pytest.raises(BadArgumentsError):
        rights.opt_out(session, email=ADA.email, scopes={"newsletters"}, actor=None, salt=salt)


# --- erasure ----------------------------------------------------------------------------------


def test_erasure_deletes_every_uploaders_copy_with_its_values_runs_sources_and_shared_image(
    session: Session,
    salt: bytes,
    blobs: BlobStore,
    upload: Upload,
    uploader: Principal,
    other_uploader: Principal,
) -> None:
    image = card_image(ADA)  # both uploaders photographed the same card: one blob, two sources
    mine, theirs = upload(uploader, ADA, image=image), upload(other_uploader, ADA, image=image)
    ben = upload(other_uploader, BEN)
    ada_records = [mine.id, theirs.id]
    key = hashlib.sha256(image).hexdigest()

    result = erase(session, salt, blobs, ADA)

    assert result.records == 2 and result.sources == 2 and result.extraction_runs == 2
    assert count(session, ContactRecord, col(ContactRecord.id).in_(ada_records)) == 0
    for table in (FieldValue, Attestation, PermittedUse):
        assert count(session, table, col(table.record_id).in_(ada_records)) == 0  # type: ignore[attr-defined]
    assert count(session, Source, Source.blob_key == key) == 0
    assert count(session, ExtractionRun) == 1  # Ben's
    assert (
        count(session, Subject) == 1
        and count(session, SubjectKey, SubjectKey.subject_id != ben.subject_id) == 0
    )
    assert not blobs.exists(key)
    assert result.blobs_deleted == [key]
    assert [v.value for v in record_values(session, ben.id) if v.field == "names"] == [BEN.name]  # type: ignore[arg-type]


def test_erasure_keeps_an_image_another_persons_record_still_uses(
    session: Session, salt: bytes, blobs: BlobStore, upload: Upload, uploader: Principal
) -> None:
    group_photo = card_image(ADA) + card_image(BEN)
    upload(uploader, ADA, image=group_photo)
    ben = upload(uploader, BEN, image=group_photo + b" ")  # a second source of Ben...
    ben_source = session.get(Source, ben.source_id)
    assert ben_source is not None
    ben_source.blob_key = hashlib.sha256(group_photo).hexdigest()  # ...whose image is the same blob
    session.commit()

    result = erase(session, salt, blobs, ADA)

    assert result.blob_keys == [] and blobs.exists(ben_source.blob_key)


def test_erasure_leaves_suppression_hashes_and_a_counts_only_audit_entry(
    session: Session,
    salt: bytes,
    blobs: BlobStore,
    upload: Upload,
    uploader: Principal,
    privacy_admin: Principal,
) -> None:
    upload(uploader, ADA)
    rights.erase(session, phone=ADA.phone, actor=privacy_admin, salt=salt, blobs=blobs)
    session.commit()

    rows = session.exec(select(Suppression)).all()
    assert {(r.kind, r.reason) for r in rows} == {
        ("email", SuppressionReason.erased),
        ("phone", SuppressionReason.erased),
    }
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "erased")).one()
    assert event.actor_id == privacy_admin.id and event.subject_id is None and event.record_id is None
    assert event.details["records"] == 1 and event.details["reason"] == "erased"
    assert all(isinstance(v, int) for k, v in event.details.items() if k != "reason")


def test_erased_person_leaves_no_trace_in_the_database_or_the_blob_store(
    session: Session,
    engine: Engine,
    salt: bytes,
    blobs: BlobStore,
    upload: Upload,
    uploader: Principal,
    other_uploader: Principal,
    partner: Principal,
    privacy_admin: Principal,
) -> None:
    image = card_image(ADA)
    notes = {"notes": f"met {ADA.name} at the fair, call {ADA.phone}", "device": "test-phone"}
    first = upload(uploader, ADA, image=image, client=notes, address="12 Harbour Rd")
    upload(other_uploader, ADA, image=image, channel=Channel.batch)
    upload(other_uploader, BEN)
    name_value = next(v for v in record_values(session, first.id) if v.field == "names")  # type: ignore[arg-type]
    correct_field(session, uploader, first, name_value.id, "Dr Ada Q.")  # type: ignore[arg-type]
    rights.partner_contacts(session, partner)
    rights.record_invite(session, subject_id=first.subject_id, actor=privacy_admin, cooldown_days=0)  # type: ignore[arg-type]
    session.commit()
    assert found_in_storage(engine, session, blobs, ADA), "the search must see Ada before the erasure"

    erase(session, salt, blobs, ADA)

    assert found_in_storage(engine, session, blobs, ADA) == []
    assert found_in_storage(engine, session, blobs, BEN), "Ben's data is untouched"
    assert count(session, FieldCorrection) == 0 and count(session, Invite) == 0


def test_a_rolled_back_erasure_deletes_nothing_not_even_images(
    session: Session, salt: bytes, blobs: BlobStore, upload: Upload, uploader: Principal
) -> None:
    record = upload(uploader, ADA)
    source = session.get(Source, record.source_id)
    assert source is not None and source.blob_key is not None
    key = source.blob_key

    rights.erase(session, email=ADA.email, actor=None, salt=salt, blobs=blobs)
    session.rollback()
    session.commit()  # a later, unrelated commit must not run the abandoned erasure's clean-up

    assert count(session, ContactRecord) == 1 and count(session, Suppression) == 0
    assert blobs.exists(key)


def test_a_card_uploaded_again_after_erasure_is_kept_out_of_every_purpose(
    session: Session,
    salt: bytes,
    blobs: BlobStore,
    upload: Upload,
    uploader: Principal,
    other_uploader: Principal,
) -> None:
    upload(uploader, ADA)
    erase(session, salt, blobs, ADA)

    again = upload(other_uploader, ADA)

    for purpose in ("invites", "catalog", "partner_sharing"):
        assert again.id not in qualifying_ids(session, purpose), purpose
    own = session.exec(qualifying_records("own", principal=other_uploader)).all()
    assert [r.id for r in own] == [again.id]  # still in the uploader's own address book


def test_erasure_of_an_unknown_person_still_suppresses_their_future_cards(
    session: Session, salt: bytes, blobs: BlobStore, upload: Upload, uploader: Principal
) -> None:
    result = erase(session, salt, blobs, ADA)
    assert not result.found and result.records == 0

    later = upload(uploader, ADA)
    assert later.id not in qualifying_ids(session, "catalog")


def test_erasure_removes_the_persons_disclosures_and_invites(
    session: Session,
    salt: bytes,
    blobs: BlobStore,
    upload: Upload,
    uploader: Principal,
    partner: Principal,
    privacy_admin: Principal,
) -> None:
    ada, ben = upload(uploader, ADA), upload(uploader, BEN)
    rights.partner_contacts(session, partner)
    rights.record_invite(session, subject_id=ada.subject_id, actor=privacy_admin)  # type: ignore[arg-type]
    session.commit()

    result = erase(session, salt, blobs, ADA)

    assert result.disclosures == 1 and result.invites == 1
    assert [d.record_id for d in session.exec(select(Disclosure)).all()] == [ben.id]
    assert count(session, Invite) == 0


# --- children --------------------------------------------------------------------------------


def test_flagging_a_child_erases_them(
    session: Session,
    salt: bytes,
    blobs: BlobStore,
    upload: Upload,
    uploader: Principal,
    other_uploader: Principal,
) -> None:
    upload(uploader, ADA), upload(other_uploader, ADA)
    result = rights.flag_child(session, email=ADA.email, actor=None, salt=salt, blobs=blobs)
    session.commit()
    assert result.reason == "child" and result.records == 2
    assert count(session, ContactRecord) == 0 and count(session, FieldValue) == 0
    assert {r.reason for r in session.exec(select(Suppression)).all()} == {SuppressionReason.child}


def test_a_childs_card_is_refused_after_the_flag(
    session: Session, salt: bytes, blobs: BlobStore, upload: Upload, uploader: Principal
) -> None:
    upload(uploader, ADA)
    rights.flag_child(session, phone=ADA.phone, actor=None, salt=salt, blobs=blobs)
    session.commit()
    with pytest.raises(SubjectSuppressedError):
        upload(uploader, ADA, phone=None)  # the e-mail alone is enough to recognise them
    session.rollback()
    assert count(session, ContactRecord) == 0


# --- access report ---------------------------------------------------------------------------


def test_access_report_lists_each_copy_with_its_uploader_channel_and_time(
    session: Session, salt: bytes, upload: Upload, uploader: Principal, other_uploader: Principal
) -> None:
    upload(uploader, ADA, channel=Channel.mobile, client={"device": "Pixel 9"})
    upload(other_uploader, ADA, channel=Channel.batch, client={"batch": "fair-2026"})
    upload(other_uploader, BEN)

    report = rights.access_report(session, email=ADA.email, salt=salt)

    assert report["found"] and len(report["records"]) == 2
    sources = [
        (r["source"]["uploader"], r["source"]["channel"], r["source"]["client"]) for r in report["records"]
    ]
    assert sources == [
        ("alice-uploader", "mobile", {"device": "Pixel 9"}),
        ("bob-uploader", "batch", {"batch": "fair-2026"}),
    ]
    assert all(r["source"]["received_at"].endswith("+00:00") for r in report["records"])
    assert BEN.email not in json.dumps(report)


def test_access_report_shows_each_value_with_its_evidence_and_corrections(
    session: Session, salt: bytes, upload: Upload, uploader: Principal
) -> None:
    record = upload(uploader, ADA)
    name_value = next(v for v in record_values(session, record.id) if v.field == "names")  # type: ignore[arg-type]
    correct_field(session, uploader, record, name_value.id, "Ada R. Quillfeather")  # type: ignore[arg-type]
    session.commit()

    report = rights.access_report(session, phone=ADA.phone, salt=salt)

    (name,) = report["records"][0]["fields"]["names"]
    assert name["value"] == "Ada R. Quillfeather" and name["ocr_value"] == ADA.name
    assert name["raw"] == ADA.name and name["method"] == "test" and name["confidence"] == pytest.approx(0.9)
    assert name["corrections"][0]["previous_value"] == ADA.name
    assert name["corrections"][0]["corrected_by"] == "alice-uploader"
    assert report["records"][0]["attestations"][0]["basis"] == "received_in_person"
    assert {u["use"] for u in report["records"][0]["uses"]} == {u.value for u in Use}
    assert ADA.email in report["records"][0]["extraction"]["text"]


def test_access_report_lists_disclosures_invites_and_suppressions_as_json(
    session: Session,
    salt: bytes,
    upload: Upload,
    uploader: Principal,
    partner: Principal,
    privacy_admin: Principal,
) -> None:
    record = upload(uploader, ADA)
    rights.partner_contacts(session, partner)
    rights.record_invite(session, subject_id=record.subject_id, actor=privacy_admin)  # type: ignore[arg-type]
    rights.opt_out(session, email=ADA.email, scopes={"partners"}, actor=None, salt=salt)
    session.commit()

    report = json.loads(json.dumps(rights.access_report(session, email=ADA.email, salt=salt)))

    (disclosure,) = report["disclosures"]
    assert disclosure["partner"] == "acme-partner" and disclosure["purpose"] == "partner_sharing"
    assert "email_address" in disclosure["categories"]
    assert [i["sent_by"] for i in report["invites"]] == ["dpo"]
    assert {(s["kind"], s["reason"]) for s in report["suppressions"]} == {
        ("email", "opt_out_partners"),
        ("phone", "opt_out_partners"),
    }
    assert [e["action"] for e in report["history"]] == ["created", "disclosed", "invited", "opted_out"]


def test_access_report_for_an_unknown_person_is_empty(session: Session, salt: bytes) -> None:
    report = rights.access_report(session, email=ADA.email, salt=salt)
    assert not report["found"] and report["records"] == [] and report["disclosures"] == []


# --- partners ---------------------------------------------------------------------------------


def test_partners_see_only_the_fields_partners_may_see(
    session: Session, upload: Upload, uploader: Principal, partner: Principal
) -> None:
    upload(uploader, ADA, mobile="+14155550199", website="orrery.example.org")

    (contact,) = rights.partner_contacts(session, partner)

    assert set(contact["fields"]) == {"names", "emails", "phones", "companies", "job_titles", "websites"}
    assert contact["fields"]["phones"] == [{"value": ADA.phone, "type": "work", "extension": None}]


def test_partners_see_only_records_shared_with_partners(
    session: Session, salt: bytes, upload: Upload, uploader: Principal, partner: Principal
) -> None:
    shared = upload(uploader, ADA)
    upload(uploader, BEN, uses={Use.invites, Use.catalog})
    upload(uploader, CARA, attested=False)

    assert [c["id"] for c in rights.partner_contacts(session, partner)] == [shared.id]


def test_each_contact_a_partner_reads_is_logged_as_one_disclosure(
    session: Session, upload: Upload, uploader: Principal, partner: Principal
) -> None:
    ada, ben = upload(uploader, ADA), upload(uploader, BEN, email=None)

    contacts = rights.partner_contacts(session, partner)
    session.commit()

    rows = session.exec(select(Disclosure).order_by(col(Disclosure.record_id))).all()
    assert [(r.record_id, r.subject_id, r.partner_id) for r in rows] == [
        (ada.id, ada.subject_id, partner.id),
        (ben.id, ben.subject_id, partner.id),
    ]
    assert [c["id"] for c in contacts] == [ada.id, ben.id]
    assert all(r.purpose == "partner_sharing" and r.direct_marketing for r in rows)
    assert rows[0].categories == ["email_address", "name", "occupation", "telephone_number"]
    assert rows[1].categories == ["name", "occupation", "telephone_number"]  # no e-mail was sent
    assert count(session, AuditEvent, AuditEvent.action == "disclosed") == 2


def test_a_partner_read_and_its_disclosure_log_commit_together(
    session: Session, engine: Engine, upload: Upload, uploader: Principal, partner: Principal
) -> None:
    upload(uploader, ADA)
    contacts = rights.partner_contacts(session, partner)
    with Session(engine) as other:
        assert count(other, Disclosure) == 0  # not visible before the read's transaction commits
    session.rollback()
    assert len(contacts) == 1 and count(session, Disclosure) == 0

    rights.partner_contacts(session, partner)
    session.commit()
    with Session(engine) as other:
        assert count(other, Disclosure) == 1


def test_partners_page_through_contacts_with_after_id(
    session: Session, upload: Upload, uploader: Principal, partner: Principal
) -> None:
    ids = [upload(uploader, p).id for p in (ADA, BEN, CARA)]
    first = rights.partner_contacts(session, partner, limit=2)
    rest = rights.partner_contacts(session, partner, limit=2, after_id=first[-1]["id"])
    assert [c["id"] for c in first + rest] == ids


def test_only_an_active_partner_reads_shared_contacts(session: Session, uploader: Principal) -> None:
    with pytest.raises(ForbiddenError):
        rights.partner_contacts(session, uploader)


# --- Shine the Light -------------------------------------------------------------------------


def disclose(session: Session, partner: Principal, record: ContactRecord, when: datetime, *cats: str) -> None:
    session.add(
        Disclosure(
            partner_id=partner.id,  # type: ignore[arg-type]
            record_id=record.id,
            subject_id=record.subject_id,
            categories=list(cats),
            purpose="partner_sharing",
            disclosed_at=when,
        )
    )
    session.commit()


def test_shine_the_light_lists_the_partners_and_categories_of_that_year_only(
    session: Session, salt: bytes, upload: Upload, uploader: Principal, partner: Principal
) -> None:
    other_partner = make_principal(session, "zenith-partner", Role.partner)
    ada, ben = upload(uploader, ADA), upload(uploader, BEN)
    disclose(session, partner, ada, datetime(2024, 12, 31, 23, 59, tzinfo=UTC), "name", "telephone_number")
    disclose(session, partner, ada, datetime(2025, 1, 1, 0, 0, tzinfo=UTC), "name", "email_address")
    disclose(session, other_partner, ada, datetime(2025, 7, 4, tzinfo=UTC), "occupation")
    disclose(session, other_partner, ada, datetime(2025, 12, 31, 23, 59, tzinfo=UTC), "name")
    disclose(session, other_partner, ben, datetime(2025, 3, 1, tzinfo=UTC), "address")
    disclose(session, other_partner, ada, datetime(2026, 1, 1, 0, 0, tzinfo=UTC), "address")

    report = rights.shine_the_light(session, email=ADA.email, year=2025, salt=salt)

    assert report["partners"] == [
        {"partner": "acme-partner", "categories": ["email_address", "name"], "disclosures": 1},
        {"partner": "zenith-partner", "categories": ["name", "occupation"], "disclosures": 2},
    ]


def test_shine_the_light_leaves_out_disclosures_not_for_direct_marketing(
    session: Session, salt: bytes, upload: Upload, uploader: Principal, partner: Principal
) -> None:
    ada = upload(uploader, ADA)
    disclose(session, partner, ada, datetime(2025, 5, 1, tzinfo=UTC), "name")
    row = session.exec(select(Disclosure)).one()
    row.direct_marketing = False
    session.commit()
    assert rights.shine_the_light(session, email=ADA.email, year=2025, salt=salt)["partners"] == []


def test_shine_the_light_reports_disclosures_logged_by_the_partner_read_path(
    session: Session, salt: bytes, upload: Upload, uploader: Principal, partner: Principal
) -> None:
    upload(uploader, ADA)
    rights.partner_contacts(session, partner)
    session.commit()
    year = datetime.now(UTC).year
    (entry,) = rights.shine_the_light(session, phone=ADA.phone, year=year, salt=salt)["partners"]
    assert entry["partner"] == "acme-partner" and "telephone_number" in entry["categories"]


# --- invites ---------------------------------------------------------------------------------


def test_invite_candidates_are_one_per_person_across_uploaders(
    session: Session, upload: Upload, uploader: Principal, other_uploader: Principal
) -> None:
    ada_mine, ada_theirs, ben = upload(uploader, ADA), upload(other_uploader, ADA), upload(uploader, BEN)
    found = rights.invite_candidates(session, cooldown_days=30)
    assert [(c.subject_id, c.email, c.name) for c in found] == [
        (ada_mine.subject_id, ADA.email, ADA.name),
        (ben.subject_id, BEN.email, BEN.name),
    ]
    assert found[0].record_id in (ada_mine.id, ada_theirs.id)


def test_invite_candidates_leave_out_people_who_opted_out(
    session: Session, salt: bytes, upload: Upload, uploader: Principal
) -> None:
    upload(uploader, ADA), upload(uploader, BEN)
    rights.opt_out(session, email=BEN.email, scopes={"invites"}, actor=None, salt=salt)
    session.commit()
    assert [c.email for c in rights.invite_candidates(session, cooldown_days=30)] == [ADA.email]


def test_invite_candidates_need_an_attested_record_with_the_invites_use(
    session: Session, upload: Upload, uploader: Principal
) -> None:
    upload(uploader, ADA, attested=False)
    upload(uploader, BEN, uses={Use.catalog, Use.partner_sharing})
    assert candidate_subjects(session) == []


def test_invite_candidates_leave_out_people_who_are_already_users(
    session: Session, upload: Upload, uploader: Principal
) -> None:
    ada = upload(uploader, ADA)
    subject = session.get(Subject, ada.subject_id)
    assert subject is not None
    subject.is_user = True
    session.commit()
    assert candidate_subjects(session) == []


def test_invite_candidates_need_a_valid_email(session: Session, upload: Upload, uploader: Principal) -> None:
    upload(uploader, ADA, email="ada at orrery dot example")  # a subject through the phone, no address
    upload(uploader, BEN, email=None, phone=None)  # no subject at all
    assert candidate_subjects(session) == []


def test_invite_candidates_use_another_copy_when_one_has_no_valid_email(
    session: Session, upload: Upload, uploader: Principal, other_uploader: Principal
) -> None:
    good = upload(uploader, ADA)
    upload(other_uploader, ADA, email="ada at orrery")  # newer, same person by phone
    (candidate,) = rights.invite_candidates(session, cooldown_days=30)
    assert candidate.record_id == good.id and candidate.email == ADA.email


def test_invite_candidates_skip_people_invited_within_the_cooldown(
    session: Session, upload: Upload, uploader: Principal, privacy_admin: Principal
) -> None:
    ada, ben = upload(uploader, ADA), upload(uploader, BEN)
    now = datetime.now(UTC)
    session.add(Invite(subject_id=ada.subject_id, sent_by=privacy_admin.id, sent_at=now - timedelta(days=10)))  # type: ignore[arg-type]
    session.add(Invite(subject_id=ben.subject_id, sent_by=privacy_admin.id, sent_at=now - timedelta(days=40)))  # type: ignore[arg-type]
    session.commit()
    assert candidate_subjects(session, cooldown_days=30) == [ben.subject_id]
    assert candidate_subjects(session, cooldown_days=5) == [ada.subject_id, ben.subject_id]


def test_invite_candidates_respect_the_limit(
    session: Session, upload: Upload, uploader: Principal, other_uploader: Principal
) -> None:
    for person in (ADA, BEN, CARA):
        upload(uploader, person), upload(other_uploader, person)
    assert len(rights.invite_candidates(session, cooldown_days=30, limit=2)) == 2


def test_recording_an_invite_logs_it_with_an_audit_event(
    session: Session, upload: Upload, uploader: Principal, privacy_admin: Principal
) -> None:
    ada = upload(uploader, ADA)
    invite = rights.record_invite(session, subject_id=ada.subject_id, actor=privacy_admin)  # type: ignore[arg-type]
    session.commit()
    assert (invite.subject_id, invite.record_id, invite.sent_by) == (ada.subject_id, ada.id, privacy_admin.id)
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "invited")).one()
    assert (event.subject_id, event.record_id, event.actor_id) == (ada.subject_id, ada.id, privacy_admin.id)
    assert candidate_subjects(session) == []


def test_recording_an_invite_for_someone_who_opted_out_is_refused(
    session: Session, salt: bytes, upload: Upload, uploader: Principal, privacy_admin: Principal
) -> None:
    ada = upload(uploader, ADA)
    rights.opt_out(session, email=ADA.email, scopes={"invites"}, actor=None, salt=salt)
    session.commit()
    with pytest.raises(NotEligibleError):
        rights.record_invite(session, subject_id=ada.subject_id, actor=privacy_admin)  # type: ignore[arg-type]


def test_recording_a_second_invite_within_the_cooldown_is_refused(
    session: Session, upload: Upload, uploader: Principal, privacy_admin: Principal
) -> None:
    ada = upload(uploader, ADA)
    rights.record_invite(session, subject_id=ada.subject_id, actor=privacy_admin, cooldown_days=30)  # type: ignore[arg-type]
    session.commit()
    with pytest.raises(NotEligibleError):
        rights.record_invite(session, subject_id=ada.subject_id, actor=privacy_admin, cooldown_days=30)  # type: ignore[arg-type]


# --- the command line -------------------------------------------------------------------------


@pytest.fixture
def cli_env(db_url_and_engine: tuple[str, Engine], blobs: BlobStore) -> dict[str, str]:
    """The CLI pointed at this test's database and blob store, with the tests' salt."""
    return {
        "DATABASE_URL": db_url_and_engine[0],
        "CARDS_SUPPRESSION_SALT": TEST_SALT.decode(),
        "CARDS_BLOB_DIR": str(blobs.root),
    }


def test_cli_erases_a_person_and_then_finds_nothing(
    session: Session,
    upload: Upload,
    uploader: Principal,
    blobs: BlobStore,
    run_cards: Callable[..., subprocess.CompletedProcess[str]],
    cli_env: dict[str, str],
) -> None:
    record = upload(uploader, ADA)
    key = session.get(Source, record.source_id).blob_key  # type: ignore[union-attr]

    erased = run_cards("subjects", "erase", "--email", ADA.email, env=cli_env)
    access = run_cards("subjects", "access", "--phone", ADA.phone, env=cli_env)

    assert erased.returncode == 0, erased.stderr
    result = json.loads(erased.stdout)
    assert (result["records"], result["blobs_deleted"], result["reason"]) == (1, 1, "erased")
    assert not blobs.exists(key)  # type: ignore[arg-type]
    assert access.returncode == 0 and json.loads(access.stdout)["records"] == []


def test_cli_lists_invite_candidates_and_refuses_a_second_invite(
    session: Session,
    upload: Upload,
    uploader: Principal,
    privacy_admin: Principal,
    run_cards: Callable[..., subprocess.CompletedProcess[str]],
    cli_env: dict[str, str],
) -> None:
    ada = upload(uploader, ADA)

    listed = run_cards("invites", "candidates", "--limit", "5", env=cli_env)
    first = run_cards("invites", "sent", str(ada.subject_id), "--by", "dpo", env=cli_env)
    second = run_cards("invites", "sent", str(ada.subject_id), "--by", "dpo", env=cli_env)

    assert listed.returncode == 0, listed.stderr
    assert [c["subject_id"] for c in json.loads(listed.stdout)] == [ada.subject_id]
    assert first.returncode == 0, first.stderr
    assert second.returncode == ExitCode.forbidden
    assert json.loads(second.stderr)["error"]["code"] == "not_eligible"


def test_cli_opt_out_without_a_contact_is_a_usage_error(
    run_cards: Callable[..., subprocess.CompletedProcess[str]], cli_env: dict[str, str]
) -> None:
    done = run_cards("subjects", "opt-out", "--scope", "invites", env=cli_env)
    assert done.returncode == ExitCode.bad_args
    assert json.loads(done.stderr)["error"]["code"] == "bad_arguments"


# --- searching storage for a person ----------------------------------------------------------


def assert_no_personal_data(text_: str, person: Person) -> None:
    assert not [n for n in person.needles() if n.decode() in text_]


def found_in_storage(engine: Engine, session: Session, blobs: BlobStore, person: Person) -> list[str]:
    """Where any of the person's name, e-mail or phone still is: raw database bytes and every blob file."""
    places: dict[str, bytes] = {}
    if engine.dialect.name == "sqlite":
        database = Path(str(engine.url.database))
        for path in (database, *database.parent.glob(database.name + "-*")):  # -wal, -shm
            places[path.name] = path.read_bytes()
    else:
        places["pg_dump"] = postgres_dump(session)
    for path in blobs.root.rglob("*"):
        if path.is_file():
            places[f"blob {path.name}"] = path.read_bytes()
    return sorted(
        f"{where}: {n.decode()}" for where, data in places.items() for n in person.needles() if n in data
    )


def postgres_dump(session: Session) -> bytes:
    """This test's schema as pg_dump prints it (every row of every table), or a SELECT of each table."""
    schema = session.exec(text("select current_schema()")).one()[0]  # type: ignore[call-overload]
    url = make_url(str(session.get_bind().engine.url))  # type: ignore[union-attr]
    if shutil.which("pg_dump"):
        command = [
            "pg_dump",
            "--data-only",
            f"--schema={schema}",
            "-h",
            str(url.host),
            "-p",
            str(url.port or 5432),
        ]
        command += ["-U", str(url.username), str(url.database)]
        return subprocess.run(command, check=True, capture_output=True, timeout=60).stdout
    rows = [
        repr(row) for table in SQLModel.metadata.sorted_tables for row in session.exec(table.select()).all()
    ]  # type: ignore[call-overload]
    return "\n".join(rows).encode()
