"""Who a card is about, as a specification: one person across uploaders, merged when a card proves it,
and a child's card refused at the door. Every test runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlmodel import Session, select
from storing import Build, StoreCard, audit_events, store_directly, value_of

from models.enums import SuppressionReason
from models.tables import (
    AuditEvent,
    ContactRecord,
    Disclosure,
    FieldValue,
    Invite,
    Principal,
    Source,
    Subject,
    SubjectKey,
    Suppression,
)
from services.errors import SubjectSuppressedError
from services.records import (
    correct_field,
)
from services.subjects import resolve_subject

pytestmark = pytest.mark.usefixtures("settings_salt_forbidden")


def test_subjects_resolve_across_uploaders_by_email_whatever_its_case(
    store_card: StoreCard, uploader: Principal, other_uploader: Principal
) -> None:
    first = store_card(uploader, email="Dana.Reyes@Example.com")
    second = store_card(other_uploader, email="  dana.reyes@EXAMPLE.COM ")
    assert first.subject_id is not None and second.subject_id == first.subject_id


def test_subjects_resolve_across_uploaders_by_e164_phone(
    store_card: StoreCard, uploader: Principal, other_uploader: Principal
) -> None:
    first = store_card(uploader, phone="+14155550134")
    second = store_card(other_uploader, mobile="+1 415 555 0134")
    assert first.subject_id is not None and second.subject_id == first.subject_id


def test_different_emails_and_phones_are_different_subjects(
    store_card: StoreCard, uploader: Principal
) -> None:
    first = store_card(uploader, email="dana@example.com", phone="+14155550134")
    second = store_card(uploader, email="lee@example.com", phone="+14155550135")
    assert first.subject_id != second.subject_id


def test_a_card_linking_two_subjects_merges_them(
    session: Session, store_card: StoreCard, uploader: Principal, other_uploader: Principal
) -> None:
    by_email = store_card(uploader, email="dana@example.com")
    by_phone = store_card(uploader, phone="+14155550134")
    assert by_email.subject_id != by_phone.subject_id
    linking = store_card(other_uploader, email="dana@example.com", phone="+14155550134")
    session.expire_all()
    ids = {session.get(ContactRecord, r.id).subject_id for r in (by_email, by_phone, linking)}  # type: ignore[union-attr]
    assert len(ids) == 1 and None not in ids
    assert {s.id for s in session.exec(select(Subject)).all()} == ids
    assert {k.subject_id for k in session.exec(select(SubjectKey)).all()} == ids


def test_a_merge_is_audited_with_both_subject_ids(
    session: Session, store_card: StoreCard, uploader: Principal
) -> None:
    kept = store_card(uploader, email="dana@example.com").subject_id
    merged = store_card(uploader, phone="+14155550134").subject_id
    store_card(uploader, email="dana@example.com", phone="+14155550134")
    [event] = audit_events(session, "subjects_merged")
    assert (event.subject_id, event.details) == (kept, {"merged_subject_id": merged})


def test_a_merge_keeps_already_a_user_from_either_subject(
    session: Session, store_card: StoreCard, uploader: Principal
) -> None:
    """Merging must never turn a user back into someone to invite."""
    by_email = store_card(uploader, email="dana@example.com")
    by_phone = store_card(uploader, phone="+14155550134")
    session.get(Subject, by_phone.subject_id).is_user = True  # type: ignore[union-attr]
    session.commit()
    store_card(uploader, email="dana@example.com", phone="+14155550134")
    session.expire_all()
    assert session.get(Subject, by_email.subject_id).is_user is True  # type: ignore[union-attr]


def test_a_merge_keeps_the_persons_invites_and_disclosures(
    session: Session, store_card: StoreCard, uploader: Principal, partner: Principal
) -> None:
    """The invite cooldown and the disclosure log follow the person into the merged subject."""
    by_email = store_card(uploader, email="dana@example.com")
    by_phone = store_card(uploader, phone="+14155550134")
    session.add(Invite(subject_id=by_phone.subject_id, record_id=by_phone.id, sent_by=uploader.id))  # type: ignore[arg-type]
    session.add(
        Disclosure(partner_id=partner.id, record_id=by_phone.id, subject_id=by_phone.subject_id, purpose="p")  # type: ignore[arg-type]
    )
    session.commit()
    store_card(uploader, email="dana@example.com", phone="+14155550134")
    session.expire_all()
    assert [i.subject_id for i in session.exec(select(Invite)).all()] == [by_email.subject_id]
    assert [d.subject_id for d in session.exec(select(Disclosure)).all()] == [by_email.subject_id]


def test_resolve_subject_without_keys_answers_none(session: Session) -> None:
    assert resolve_subject(session, set()) is None


def test_a_card_of_a_child_is_refused_and_nothing_is_stored(
    session: Session,
    build_extraction: Build,
    suppress: Callable[..., Suppression],
    uploader: Principal,
    salt: bytes,
) -> None:
    suppress(SuppressionReason.child, email="kid@example.com")
    with pytest.raises(SubjectSuppressedError):
        store_directly(session, uploader, build_extraction(name="Kid", email="KID@example.com"), salt)
    session.rollback()
    for table in (Source, ContactRecord, FieldValue, Subject, AuditEvent):
        assert session.exec(select(table)).all() == [], table.__name__


def test_a_card_of_a_child_is_refused_when_the_suppression_names_another_of_their_keys(
    session: Session,
    build_extraction: Build,
    store_card: StoreCard,
    suppress: Callable[..., Suppression],
    uploader: Principal,
    other_uploader: Principal,
    salt: bytes,
) -> None:
    """The phone is suppressed; this card shows only the e-mail, known to be the same person."""
    store_card(other_uploader, email="kid@example.com", phone="+14155550134")
    suppress(SuppressionReason.child, phone="+14155550134")
    with pytest.raises(SubjectSuppressedError):
        store_directly(session, uploader, build_extraction(email="kid@example.com"), salt)


@pytest.mark.parametrize(
    "reason", [r for r in SuppressionReason if r is not SuppressionReason.child], ids=lambda r: r.value
)
def test_other_suppressions_do_not_stop_an_uploader_keeping_a_card(
    session: Session,
    build_extraction: Build,
    suppress: Callable[..., Suppression],
    uploader: Principal,
    salt: bytes,
    reason: SuppressionReason,
) -> None:
    suppress(reason, email="dana@example.com")
    assert store_directly(session, uploader, build_extraction(email="dana@example.com"), salt).id is not None


def test_correcting_an_email_re_resolves_the_subject(
    session: Session, store_card: StoreCard, uploader: Principal, other_uploader: Principal, salt: bytes
) -> None:
    dana = store_card(other_uploader, email="dana.reyes@example.com")
    misread = store_card(uploader, email="dana.reyes@exarnple.com")
    assert misread.subject_id != dana.subject_id
    email = value_of(session, misread, "emails")
    correct_field(session, uploader, misread, email.id, "Dana.Reyes@example.com", salt=salt)  # type: ignore[arg-type]
    assert misread.subject_id == dana.subject_id


def test_a_corrected_misreading_no_longer_identifies_the_person(
    session: Session, store_card: StoreCard, uploader: Principal, other_uploader: Principal, salt: bytes
) -> None:
    """Else a stranger whose real address is the misreading would be merged into this person."""
    misread = store_card(uploader, email="dana@exarnple.com", phone="+14155550134")
    email = value_of(session, misread, "emails")
    correct_field(session, uploader, misread, email.id, "dana@example.com", salt=salt)  # type: ignore[arg-type]
    session.commit()
    stranger = store_card(other_uploader, email="dana@exarnple.com")
    assert stranger.subject_id != misread.subject_id


def test_a_misreading_another_card_still_shows_keeps_identifying_the_person(
    session: Session, store_card: StoreCard, uploader: Principal, salt: bytes
) -> None:
    first = store_card(uploader, email="dana@exarnple.com", phone="+14155550134")
    second = store_card(uploader, email="dana@exarnple.com")
    email = value_of(session, first, "emails")
    correct_field(session, uploader, first, email.id, "dana@example.com", salt=salt)  # type: ignore[arg-type]
    session.commit()
    assert store_card(uploader, email="dana@exarnple.com").subject_id == second.subject_id == first.subject_id
