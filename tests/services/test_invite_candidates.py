"""Invites, as a specification: one per person, through the policy, claimed before sending, capped for life.

Every test runs on SQLite and on PostgreSQL, on synthetic cards (``tests/people.py``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from people import ADA, BEN, CARA, Upload, candidate_subjects, invite
from sqlmodel import Session, select

from core.errors import BadArgumentsError
from core.settings import load_settings
from models.enums import SuppressionReason, Use
from models.tables import AuditEvent, Invite, InviteClaim, Notice, Principal, Subject, Suppression
from services import invites, rights
from services.errors import NotEligibleError

pytestmark = pytest.mark.usefixtures("settings_salt_forbidden")

SETTINGS = load_settings()


def rules(**overrides: int) -> invites.InviteRules:
    return invites.InviteRules(**{"cooldown_days": 30, **overrides})


# --- candidates ----------------------------------------------------------------------------


def test_invite_candidates_are_one_per_person_across_uploaders(
    session: Session, upload: Upload, uploader: Principal, other_uploader: Principal
) -> None:
    ada_mine, ada_theirs, ben = upload(uploader, ADA), upload(other_uploader, ADA), upload(uploader, BEN)
    found = invites.invite_candidates(session, rules=rules())
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
    assert [c.email for c in invites.invite_candidates(session, rules=rules())] == [ADA.email]


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
    upload(uploader, BEN, email=None, phone=None)  # a subject by name + company only
    assert candidate_subjects(session) == []


def test_invite_candidates_use_another_copy_when_one_has_no_valid_email(
    session: Session, upload: Upload, uploader: Principal, other_uploader: Principal
) -> None:
    good = upload(uploader, ADA)
    upload(other_uploader, ADA, email="ada at orrery")  # newer, same person by phone
    (candidate,) = invites.invite_candidates(session, rules=rules())
    assert candidate.record_id == good.id and candidate.email == ADA.email


def test_invite_candidates_skip_people_invited_within_the_cooldown(
    session: Session, upload: Upload, uploader: Principal, privacy_admin: Principal
) -> None:
    ada, ben = upload(uploader, ADA), upload(uploader, BEN)
    now = datetime.now(UTC)
    session.add(Invite(subject_id=ada.subject_id, sent_by=privacy_admin.id, sent_at=now - timedelta(days=10)))  # type: ignore[arg-type]
    session.add(Invite(subject_id=ben.subject_id, sent_by=privacy_admin.id, sent_at=now - timedelta(days=40)))  # type: ignore[arg-type]
    session.commit()
    assert candidate_subjects(session, cooldown_days=30, lifetime_cap=2) == [ben.subject_id]
    assert candidate_subjects(session, cooldown_days=5, lifetime_cap=2) == [ada.subject_id, ben.subject_id]


def test_nobody_is_invited_more_often_than_the_lifetime_cap_however_long_ago(
    session: Session, upload: Upload, uploader: Principal, privacy_admin: Principal
) -> None:
    ada = upload(uploader, ADA)
    long_ago = datetime.now(UTC) - timedelta(days=3650)
    session.add(Invite(subject_id=ada.subject_id, sent_by=privacy_admin.id, sent_at=long_ago))  # type: ignore[arg-type]
    session.commit()
    assert candidate_subjects(session, cooldown_days=1, lifetime_cap=1) == []
    assert candidate_subjects(session, cooldown_days=1, lifetime_cap=2) == [ada.subject_id]


def test_invite_candidates_respect_the_limit(
    session: Session, upload: Upload, uploader: Principal, other_uploader: Principal
) -> None:
    for person in (ADA, BEN, CARA):
        upload(uploader, person), upload(other_uploader, person)
    assert len(invites.invite_candidates(session, rules=rules(), limit=2)) == 2


@pytest.mark.parametrize("bad", [{"cooldown_days": 0}, {"lifetime_cap": 0}])
def test_a_cooldown_or_cap_below_one_is_refused(session: Session, bad: dict[str, int]) -> None:
    with pytest.raises(BadArgumentsError):
        invites.invite_candidates(session, rules=rules(**bad))


# --- claims and confirmation ------------------------------------------------------------------


def test_a_claim_reserves_the_person_and_carries_the_notice_and_an_unsubscribe_link(
    session: Session, salt: bytes, upload: Upload, uploader: Principal, privacy_admin: Principal
) -> None:
    ada = upload(uploader, ADA, notice_sent=False)
    (claim,) = invites.claim_candidates(session, privacy_admin, SETTINGS, salt=salt)
    session.commit()
    assert (claim.subject_id, claim.email) == (ada.subject_id, ADA.email)
    assert claim.notice is not None and claim.notice["opt_out_url"].endswith("/opt-out")
    assert "token=" in claim.unsubscribe_url and ADA.email not in claim.unsubscribe_url
    assert candidate_subjects(session) == [], "a claimed person is nobody else's candidate"


def test_two_mailers_never_claim_the_same_person(
    session: Session,
    engine: object,
    salt: bytes,
    upload: Upload,
    uploader: Principal,
    privacy_admin: Principal,
) -> None:
    upload(uploader, ADA), upload(uploader, BEN)
    first = invites.claim_candidates(session, privacy_admin, SETTINGS, salt=salt, limit=1)
    second = invites.claim_candidates(session, privacy_admin, SETTINGS, salt=salt, limit=5)
    session.commit()
    assert {c.subject_id for c in first}.isdisjoint({c.subject_id for c in second})
    assert len(first) + len(second) == 2


def test_confirming_a_claim_logs_the_invite_marks_the_notice_sent_and_audits(
    session: Session, salt: bytes, upload: Upload, uploader: Principal, privacy_admin: Principal
) -> None:
    ada = upload(uploader, ADA, notice_sent=False)
    sent = invite(session, privacy_admin, ada.subject_id, salt)
    assert (sent.subject_id, sent.record_id, sent.sent_by) == (ada.subject_id, ada.id, privacy_admin.id)
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "invited")).one()
    assert (event.subject_id, event.record_id, event.actor_id) == (ada.subject_id, ada.id, privacy_admin.id)
    notice = session.exec(select(Notice).where(Notice.subject_id == ada.subject_id)).one()
    assert notice.sent_at is not None, "the invitation carried the notice"
    assert candidate_subjects(session) == []


def test_an_opt_out_after_the_claim_releases_it_and_the_confirmation_is_refused(
    session: Session, salt: bytes, upload: Upload, uploader: Principal, privacy_admin: Principal
) -> None:
    upload(uploader, ADA)
    (claim,) = invites.claim_candidates(session, privacy_admin, SETTINGS, salt=salt)
    rights.opt_out(session, email=ADA.email, scopes={"invites"}, actor=None, salt=salt)
    session.commit()
    with pytest.raises(NotEligibleError):
        invites.confirm_sent(session, claim.claim_id, privacy_admin)
    assert session.exec(select(Invite)).all() == []


def test_a_released_claim_makes_the_person_a_candidate_again(
    session: Session, salt: bytes, upload: Upload, uploader: Principal, privacy_admin: Principal
) -> None:
    ada = upload(uploader, ADA)
    (claim,) = invites.claim_candidates(session, privacy_admin, SETTINGS, salt=salt)
    invites.release(session, claim.claim_id, privacy_admin)
    session.commit()
    assert candidate_subjects(session) == [ada.subject_id]
    with pytest.raises(NotEligibleError):
        invites.confirm_sent(session, claim.claim_id, privacy_admin)


def test_an_expired_claim_frees_the_person(
    session: Session, salt: bytes, upload: Upload, uploader: Principal, privacy_admin: Principal
) -> None:
    ada = upload(uploader, ADA)
    (claim,) = invites.claim_candidates(session, privacy_admin, SETTINGS, salt=salt)
    row = session.get(InviteClaim, claim.claim_id)
    assert row is not None
    row.expires_at = datetime.now(UTC) - timedelta(minutes=1)
    session.commit()
    (again,) = invites.claim_candidates(session, privacy_admin, SETTINGS, salt=salt)
    assert again.subject_id == ada.subject_id and again.claim_id != claim.claim_id


# --- users and unsubscribe links --------------------------------------------------------------


def test_a_person_marked_as_a_user_is_never_a_candidate_even_on_a_later_card(
    session: Session, salt: bytes, upload: Upload, uploader: Principal, other_uploader: Principal
) -> None:
    upload(uploader, ADA)
    invites.mark_users(session, email=ADA.email, actor=None, salt=salt)
    session.commit()
    upload(other_uploader, ADA, phone="+14155550100")
    assert candidate_subjects(session) == []


def test_marking_someone_with_no_card_yet_keeps_their_future_cards_out(
    session: Session, salt: bytes, upload: Upload, uploader: Principal
) -> None:
    result = invites.mark_users(session, email=BEN.email, actor=None, salt=salt)
    session.commit()
    upload(uploader, BEN)
    assert result["found"] is False and candidate_subjects(session) == []
    reasons = {s.reason for s in session.exec(select(Suppression)).all()}
    assert reasons == {SuppressionReason.user}


def test_the_unsubscribe_token_opts_the_person_out_in_one_request(
    session: Session, salt: bytes, upload: Upload, uploader: Principal
) -> None:
    upload(uploader, ADA)
    token = invites.unsubscribe_token(ADA.email, salt)
    invites.unsubscribe(session, token, salt=salt)
    session.commit()
    assert candidate_subjects(session) == []


@pytest.mark.parametrize("token", ["0" * 64 + ".deadbeef", "garbage", ""])
def test_a_forged_unsubscribe_token_is_refused(session: Session, salt: bytes, token: str) -> None:
    with pytest.raises(BadArgumentsError):
        invites.unsubscribe(session, token, salt=salt)
