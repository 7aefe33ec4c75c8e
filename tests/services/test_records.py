"""The records service, as a specification: storing cards with provenance and changing them with an
audit trail. Every test runs on SQLite and on PostgreSQL, on synthetic extractions.
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select
from storing import ATTESTED, CARD, Build, StoreCard, audit_events, store_directly, value_of

from models.enums import Basis, Channel, Use
from models.keys import key_hash, normalise_email
from models.tables import (
    Attestation,
    ExtractionRun,
    FieldCorrection,
    FieldValue,
    PermittedUse,
    Principal,
    Source,
    Subject,
    SubjectKey,
)
from services.errors import ForbiddenError, InvalidAttestationError, NotFoundError
from services.records import (
    AttestationInput,
    correct_field,
    current_attestation,
    find_source,
    get_own_record,
    parse_uses,
    record_uses,
    set_attestation,
    set_uses,
)
from services.values import record_values

pytestmark = pytest.mark.usefixtures("settings_salt_forbidden")


def test_store_keeps_the_source_with_uploader_channel_sha_and_blob(
    session: Session, build_extraction: Build, uploader: Principal, salt: bytes
) -> None:
    extraction = build_extraction(**CARD)
    record = store_directly(session, uploader, extraction, salt)
    source = session.get(Source, record.source_id)
    assert source is not None
    assert (source.uploader_id, source.channel, source.sha256) == (
        uploader.id,
        Channel.mobile,
        extraction.sha256,
    )
    assert (source.byte_size, source.blob_key, source.client) == (2048, "b" * 64, {"app": "ios-3.1"})
    assert source.status == "extracted"


def test_store_keeps_the_extraction_run_with_engine_text_and_timings(
    session: Session, build_extraction: Build, uploader: Principal, salt: bytes
) -> None:
    extraction = build_extraction(**CARD)
    record = store_directly(session, uploader, extraction, salt)
    run = session.get(ExtractionRun, record.extraction_run_id)
    assert run is not None and run.source_id == record.source_id
    assert (run.engine, run.engine_version, run.pipeline_version) == ("tesseract", "5.3.0", "test")
    assert run.params["psm"] == 3
    assert (run.text, run.timings_ms) == (extraction.text, {"ocr": 1.0})


def test_store_keeps_every_value_with_its_ocr_evidence(
    session: Session, build_extraction: Build, uploader: Principal, salt: bytes
) -> None:
    extraction = build_extraction(**CARD)
    record = store_directly(session, uploader, extraction, salt)
    stored = {(v.field, v.position, v.value, v.type) for v in record_values(session, record.id)}
    expected = {
        (name, position, v.value, v.type)
        for name, values in extraction.fields.items()
        for position, v in enumerate(values)
    }
    assert stored == expected
    for value in record_values(session, record.id):
        assert value.ocr_value == value.value and value.raw == value.value
        assert (value.confidence, value.bbox, value.method) == (0.9, [10, 10, 200, 24], "test")
        assert value.corrected_by is None and value.corrected_at is None


def test_store_records_the_uploaders_attestation(
    session: Session, build_extraction: Build, uploader: Principal, salt: bytes
) -> None:
    attestation = AttestationInput(Basis.subject_consented, "2026-11", details={"screen": "upload"})
    record = store_directly(session, uploader, build_extraction(**CARD), salt, attestation=attestation)
    row = current_attestation(session, record.id)
    assert row is not None
    assert (row.basis, row.text_version, row.attested_by) == (Basis.subject_consented, "2026-11", uploader.id)
    assert (row.channel, row.details, row.revoked_at) == (Channel.mobile, {"screen": "upload"}, None)


def test_store_without_attestation_records_none(
    session: Session, build_extraction: Build, uploader: Principal, salt: bytes
) -> None:
    record = store_directly(session, uploader, build_extraction(**CARD), salt)
    assert session.exec(select(Attestation).where(Attestation.record_id == record.id)).all() == []


def test_store_sets_the_permitted_uses_by_the_uploader(
    session: Session, build_extraction: Build, uploader: Principal, salt: bytes
) -> None:
    uses = {Use.catalog, Use.partner_sharing}
    record = store_directly(session, uploader, build_extraction(**CARD), salt, uses=uses)
    rows = session.exec(select(PermittedUse).where(PermittedUse.record_id == record.id)).all()
    assert {r.use for r in rows} == uses and {r.set_by for r in rows} == {uploader.id}
    assert record_uses(session, record.id) == uses


def test_store_links_the_record_to_a_subject_keyed_by_email_and_phones(
    session: Session, build_extraction: Build, uploader: Principal, salt: bytes
) -> None:
    record = store_directly(session, uploader, build_extraction(**CARD), salt)
    assert record.subject_id is not None and session.get(Subject, record.subject_id) is not None
    keys = session.exec(select(SubjectKey).where(SubjectKey.subject_id == record.subject_id)).all()
    # name + company, and name + the e-mail's domain (example.com)
    assert sorted(k.kind for k in keys) == ["email", "name_org", "name_org", "phone", "phone"]


def test_store_links_a_card_without_email_or_phone_to_its_person_by_name_and_company(
    session: Session, build_extraction: Build, uploader: Principal, salt: bytes
) -> None:
    record = store_directly(
        session, uploader, build_extraction(name="Dana Reyes", company="Example Ltd"), salt
    )
    keys = session.exec(select(SubjectKey).where(SubjectKey.subject_id == record.subject_id)).all()
    assert record.subject_id is not None and [k.kind for k in keys] == ["name_org"]


def test_store_keeps_a_card_naming_no_person_without_a_subject(
    session: Session, build_extraction: Build, uploader: Principal, salt: bytes
) -> None:
    record = store_directly(
        session, uploader, build_extraction(company="Example Ltd", website="example.com"), salt
    )
    assert record.subject_id is None
    assert session.exec(select(Subject)).all() == []


def test_a_single_given_name_links_nobody(
    session: Session, build_extraction: Build, uploader: Principal, salt: bytes
) -> None:
    record = store_directly(session, uploader, build_extraction(name="Dana", company="Example Ltd"), salt)
    assert record.subject_id is None


def test_store_does_not_key_phones_that_are_not_e164(
    session: Session, build_extraction: Build, uploader: Principal, salt: bytes
) -> None:
    """A digit run OCR could not place in a country is no evidence of who the person is."""
    record = store_directly(session, uploader, build_extraction(phone="4155550134", region=None), salt)
    assert record.subject_id is None


def test_store_writes_one_created_audit_event(
    session: Session, build_extraction: Build, uploader: Principal, salt: bytes
) -> None:
    record = store_directly(
        session, uploader, build_extraction(**CARD), salt, attestation=ATTESTED, uses={Use.catalog}
    )
    [event] = audit_events(session)
    assert (event.action, event.actor_id) == ("created", uploader.id)
    assert (event.record_id, event.subject_id) == (record.id, record.subject_id)
    assert event.details == {
        "channel": "mobile",
        "uses": ["catalog"],
        "attested": True,
        "fields": ["addresses", "companies", "emails", "job_titles", "names", "phones"],
    }


def test_the_same_image_twice_from_one_uploader_violates_the_unique_constraint(
    session: Session, build_extraction: Build, uploader: Principal, salt: bytes
) -> None:
    store_directly(session, uploader, build_extraction(sha="a" * 64, **CARD), salt)
    session.commit()
    with pytest.raises(IntegrityError):
        store_directly(session, uploader, build_extraction(sha="a" * 64, **CARD), salt)
    session.rollback()
    assert len(session.exec(select(Source)).all()) == 1


def test_two_uploaders_can_store_the_same_image(
    session: Session, build_extraction: Build, uploader: Principal, other_uploader: Principal, salt: bytes
) -> None:
    mine = store_directly(session, uploader, build_extraction(sha="a" * 64, **CARD), salt)
    theirs = store_directly(session, other_uploader, build_extraction(sha="a" * 64, **CARD), salt)
    session.commit()
    assert mine.source_id != theirs.source_id
    assert find_source(session, uploader.id, "a" * 64).id == mine.source_id  # type: ignore[union-attr, arg-type]
    assert find_source(session, other_uploader.id, "a" * 64).id == theirs.source_id  # type: ignore[union-attr, arg-type]


def test_find_source_answers_none_for_an_image_not_stored_by_that_uploader(
    session: Session, build_extraction: Build, uploader: Principal, other_uploader: Principal, salt: bytes
) -> None:
    store_directly(session, uploader, build_extraction(sha="a" * 64, **CARD), salt)
    assert find_source(session, other_uploader.id, "a" * 64) is None  # type: ignore[arg-type]


def test_a_correction_changes_the_value_and_keeps_the_ocr_value(
    session: Session, store_card: StoreCard, uploader: Principal, salt: bytes
) -> None:
    record = store_card(uploader, **CARD)
    name = value_of(session, record, "names")
    correct_field(session, uploader, record, name.id, "Dana Reyes-Ortiz", salt=salt)  # type: ignore[arg-type]
    session.commit()
    session.expire_all()
    stored = session.get(FieldValue, name.id)
    assert stored is not None
    assert (stored.value, stored.ocr_value, stored.corrected_by) == (
        "Dana Reyes-Ortiz",
        "Dana Reyes",
        uploader.id,
    )
    assert stored.corrected_at is not None


def test_a_correction_records_the_earlier_value_who_and_when(
    session: Session, store_card: StoreCard, uploader: Principal, salt: bytes
) -> None:
    record = store_card(uploader, **CARD)
    name = value_of(session, record, "names")
    correct_field(session, uploader, record, name.id, "Dana Reyes-Ortiz", salt=salt)  # type: ignore[arg-type]
    [row] = session.exec(select(FieldCorrection)).all()
    assert (row.field_value_id, row.previous_value, row.new_value) == (
        name.id,
        "Dana Reyes",
        "Dana Reyes-Ortiz",
    )
    assert row.corrected_by == uploader.id and row.corrected_at is not None


def test_a_second_correction_keeps_both_earlier_values(
    session: Session, store_card: StoreCard, uploader: Principal, salt: bytes
) -> None:
    record = store_card(uploader, **CARD)
    name = value_of(session, record, "names")
    correct_field(session, uploader, record, name.id, "Dana Reyes-Ortiz", salt=salt)  # type: ignore[arg-type]
    correct_field(session, uploader, record, name.id, "Dana R. Ortiz", salt=salt)  # type: ignore[arg-type]
    rows = session.exec(select(FieldCorrection).order_by(col(FieldCorrection.id))).all()
    assert [(r.previous_value, r.new_value) for r in rows] == [
        ("Dana Reyes", "Dana Reyes-Ortiz"),
        ("Dana Reyes-Ortiz", "Dana R. Ortiz"),
    ]
    assert session.get(FieldValue, name.id).ocr_value == "Dana Reyes"  # type: ignore[union-attr]


def test_a_correction_is_audited_by_field_name(
    session: Session, store_card: StoreCard, uploader: Principal, salt: bytes
) -> None:
    record = store_card(uploader, **CARD)
    name = value_of(session, record, "names")
    correct_field(session, uploader, record, name.id, "Dana Reyes-Ortiz", salt=salt)  # type: ignore[arg-type]
    [event] = audit_events(session, "corrected")
    assert (event.actor_id, event.record_id) == (uploader.id, record.id)
    assert event.details == {"field": "names", "value_id": name.id}


def test_a_correction_of_another_records_value_is_not_found(
    session: Session, store_card: StoreCard, uploader: Principal, salt: bytes
) -> None:
    mine = store_card(uploader, **CARD)
    other = store_card(uploader, name="Lee Chan")
    lee = value_of(session, other, "names")
    with pytest.raises(NotFoundError):
        correct_field(session, uploader, mine, lee.id, "Lee Chen", salt=salt)  # type: ignore[arg-type]


def test_a_correction_with_an_explicit_salt_never_reads_the_settings_salt(
    session: Session, store_card: StoreCard, uploader: Principal, salt: bytes
) -> None:
    """The module's ``settings_salt_forbidden`` makes reading ./var/suppression.salt fail this test."""
    record = store_card(uploader, **CARD)
    email = value_of(session, record, "emails")
    correct_field(session, uploader, record, email.id, "dana@example.org", salt=salt)  # type: ignore[arg-type]
    keys = {k.key_hash for k in session.exec(select(SubjectKey)).all()}
    assert key_hash("email", normalise_email("dana@example.org"), salt) in keys  # type: ignore[arg-type]


def test_set_uses_replaces_the_permitted_uses(
    session: Session, store_card: StoreCard, uploader: Principal
) -> None:
    record = store_card(uploader, **CARD, uses={Use.invites, Use.catalog})
    set_uses(session, uploader, record, {Use.catalog, Use.partner_sharing})
    assert record_uses(session, record.id) == {Use.catalog, Use.partner_sharing}  # type: ignore[arg-type]


def test_set_uses_is_audited_with_before_and_after(
    session: Session, store_card: StoreCard, uploader: Principal
) -> None:
    record = store_card(uploader, **CARD, uses={Use.invites, Use.catalog})
    set_uses(session, uploader, record, {Use.partner_sharing})
    [event] = audit_events(session, "uses_changed")
    assert (event.actor_id, event.record_id, event.subject_id) == (uploader.id, record.id, record.subject_id)
    assert event.details == {"before": ["catalog", "invites"], "after": ["partner_sharing"]}


def test_parse_uses_reads_a_comma_list_and_refuses_unknown_uses() -> None:
    assert parse_uses("catalog, invites,") == {Use.catalog, Use.invites}
    with pytest.raises(InvalidAttestationError):
        parse_uses("catalog,marketing")


def test_set_attestation_revokes_the_previous_one(
    session: Session, store_card: StoreCard, uploader: Principal
) -> None:
    record = store_card(uploader, **CARD)
    first = current_attestation(session, record.id)  # type: ignore[arg-type]
    set_attestation(session, uploader, record, AttestationInput(Basis.public_business_information, "2026-12"))
    rows = session.exec(select(Attestation).order_by(col(Attestation.id))).all()
    assert rows[0].id == first.id and rows[0].revoked_at is not None  # type: ignore[union-attr]
    current = current_attestation(session, record.id)  # type: ignore[arg-type]
    assert current is not None and current.id == rows[1].id
    assert (current.basis, current.text_version) == (Basis.public_business_information, "2026-12")


def test_set_attestation_to_none_revokes_without_replacing(
    session: Session, store_card: StoreCard, uploader: Principal
) -> None:
    record = store_card(uploader, **CARD)
    set_attestation(session, uploader, record, None)
    assert current_attestation(session, record.id) is None  # type: ignore[arg-type]
    [event] = audit_events(session, "attestation_revoked")
    assert event.details == {"basis": None}


def test_set_attestation_is_audited_with_the_basis(
    session: Session, store_card: StoreCard, uploader: Principal
) -> None:
    record = store_card(uploader, **CARD)
    set_attestation(session, uploader, record, AttestationInput(Basis.subject_consented, "2026-12"))
    [event] = audit_events(session, "attestation_changed")
    assert event.details == {"basis": "subject_consented"}


@pytest.mark.parametrize("text", [None, "", "   "], ids=["none", "empty", "blank"])
def test_basis_other_without_text_is_refused_at_store(
    session: Session, build_extraction: Build, uploader: Principal, salt: bytes, text: str | None
) -> None:
    with pytest.raises(InvalidAttestationError):
        store_directly(
            session,
            uploader,
            build_extraction(**CARD),
            salt,
            attestation=AttestationInput(Basis.other, "v", text),
        )
    session.rollback()
    assert session.exec(select(Source)).all() == []


def test_basis_other_without_text_is_refused_and_the_current_attestation_kept(
    session: Session, store_card: StoreCard, uploader: Principal
) -> None:
    record = store_card(uploader, **CARD)
    before = current_attestation(session, record.id)  # type: ignore[arg-type]
    with pytest.raises(InvalidAttestationError):
        set_attestation(session, uploader, record, AttestationInput(Basis.other, "v"))
    assert current_attestation(session, record.id) == before  # type: ignore[arg-type]


def test_basis_other_with_text_is_accepted(
    session: Session, store_card: StoreCard, uploader: Principal
) -> None:
    attestation = AttestationInput(Basis.other, "v", "Handed over at the trade fair's lead desk")
    record = store_card(uploader, **CARD, attestation=attestation)
    assert current_attestation(session, record.id).basis_text == attestation.basis_text  # type: ignore[union-attr, arg-type]


def test_get_own_record_returns_the_uploaders_record(
    session: Session, store_card: StoreCard, uploader: Principal
) -> None:
    record = store_card(uploader, **CARD)
    assert get_own_record(session, uploader, record.id).id == record.id  # type: ignore[arg-type]


def test_get_own_record_answers_not_found_for_another_uploaders_record(
    session: Session, store_card: StoreCard, uploader: Principal, other_uploader: Principal
) -> None:
    theirs = store_card(other_uploader, **CARD)
    with pytest.raises(NotFoundError) as caught:
        get_own_record(session, uploader, theirs.id)  # type: ignore[arg-type]
    assert not isinstance(caught.value, ForbiddenError)
    with pytest.raises(NotFoundError) as missing:
        get_own_record(session, uploader, 999_999)
    assert str(caught.value).replace(str(theirs.id), "N") == str(missing.value).replace("999999", "N")


def test_no_audit_event_holds_a_value_from_the_cards(
    session: Session, store_card: StoreCard, uploader: Principal, other_uploader: Principal, salt: bytes
) -> None:
    """Store, merge, correct, change uses and attestation: every event's details are ids, codes, names."""
    first = store_card(uploader, **CARD, uses={Use.catalog})
    store_card(other_uploader, name="D. Reyes", phone="+14155550177", email="dreyes@example.net")
    store_card(other_uploader, email="dreyes@example.net", phone="+14155550134")  # merges the two
    email = value_of(session, first, "emails")
    correct_field(session, uploader, first, email.id, "dana.reyes@example.org", salt=salt)  # type: ignore[arg-type]
    set_uses(session, uploader, first, {Use.partner_sharing})
    set_attestation(
        session, uploader, first, AttestationInput(Basis.other, "v", "Met at Example Ltd's booth")
    )
    session.commit()
    personal = {v.value for v in session.exec(select(FieldValue)).all()} | {"dana.reyes@example.org"}
    personal |= {p.casefold() for p in personal} | {"Met at Example Ltd's booth"}
    personal |= {token for p in list(personal) for token in p.split() if len(token) > 3}
    events = audit_events(session)
    assert {e.action for e in events} >= {"created", "subjects_merged", "corrected", "uses_changed"}
    for event in events:
        text = json.dumps(event.details).casefold()
        leaked = sorted(p for p in personal if p.casefold() in text)
        assert not leaked, (event.action, leaked)
