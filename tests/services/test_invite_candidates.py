"""Invites, as a specification: one per person, through the policy, re-checked when logged."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from people import ADA, BEN, CARA, COOLDOWN, Upload, candidate_subjects
from sqlmodel import Session, select

from models.enums import Use
from models.tables import (
    AuditEvent,
    Invite,
    Principal,
    Subject,
)
from services import invites, rights
from services.errors import NotEligibleError

pytestmark = pytest.mark.usefixtures("settings_salt_forbidden")


# --- invites ---------------------------------------------------------------------------------


def test_invite_candidates_are_one_per_person_across_uploaders(
    session: Session, upload: Upload, uploader: Principal, other_uploader: Principal
) -> None:
    ada_mine, ada_theirs, ben = upload(uploader, ADA), upload(other_uploader, ADA), upload(uploader, BEN)
    found = invites.invite_candidates(session, cooldown_days=30)
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
    assert [c.email for c in invites.invite_candidates(session, cooldown_days=30)] == [ADA.email]


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
    (candidate,) = invites.invite_candidates(session, cooldown_days=30)
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
    assert len(invites.invite_candidates(session, cooldown_days=30, limit=2)) == 2


def test_recording_an_invite_logs_it_with_an_audit_event(
    session: Session, upload: Upload, uploader: Principal, privacy_admin: Principal
) -> None:
    ada = upload(uploader, ADA)
    assert ada.subject_id is not None
    invite = invites.record_invite(
        session, subject_id=ada.subject_id, actor=privacy_admin, cooldown_days=COOLDOWN
    )
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
        invites.record_invite(session, subject_id=ada.subject_id, actor=privacy_admin, cooldown_days=COOLDOWN)  # type: ignore[arg-type]


def test_recording_a_second_invite_within_the_cooldown_is_refused(
    session: Session, upload: Upload, uploader: Principal, privacy_admin: Principal
) -> None:
    ada = upload(uploader, ADA)
    invites.record_invite(session, subject_id=ada.subject_id, actor=privacy_admin, cooldown_days=30)  # type: ignore[arg-type]
    session.commit()
    with pytest.raises(NotEligibleError):
        invites.record_invite(session, subject_id=ada.subject_id, actor=privacy_admin, cooldown_days=30)  # type: ignore[arg-type]
