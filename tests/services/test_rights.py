"""Opt-out and a child's flag, as a specification.

Every test runs on SQLite and on PostgreSQL, on synthetic cards stored through
``store_extraction`` (no OCR); the people are invented (``tests/people.py``).
"""

from __future__ import annotations

import json

import pytest
from people import ADA, BEN, Upload, assert_no_personal_data, candidate_subjects, count, qualifying_ids
from sqlmodel import Session, select

from core.errors import BadArgumentsError
from models.blobs import BlobStore
from models.enums import SuppressionReason
from models.tables import (
    AuditEvent,
    ContactRecord,
    FieldValue,
    Principal,
    Suppression,
)
from services import rights, subjects
from services.errors import SubjectSuppressedError

pytestmark = pytest.mark.usefixtures("settings_salt_forbidden")


# --- finding a person --------------------------------------------------------------------------


def test_a_person_is_found_by_email_or_phone_in_any_spelling(
    session: Session, salt: bytes, upload: Upload, uploader: Principal
) -> None:
    record = upload(uploader, ADA)
    by_email = subjects.find_subject(session, email="  ADA.Quillfeather@Example.org ", salt=salt)
    by_phone = subjects.find_subject(session, phone="(415) 555-0134", salt=salt, region="US")
    assert by_email is not None and by_phone is not None
    assert by_email.id == by_phone.id == record.subject_id
    assert subjects.find_subject(session, email=BEN.email, salt=salt) is None


def test_a_request_without_a_usable_contact_is_refused(session: Session, salt: bytes) -> None:
    with pytest.raises(BadArgumentsError):
        subjects.find_subject(session, salt=salt)
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
        ("name_org", SuppressionReason.opt_out_invites),  # name + company, name + e-mail domain
    }
    assert result.keys_suppressed == 4


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
