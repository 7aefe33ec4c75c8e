"""The access report (GDPR Art. 15): everything held about a person, as a specification."""

from __future__ import annotations

import json

import pytest
from people import ADA, BEN, Upload, invite
from sqlmodel import Session

from models.enums import Channel, Use
from models.tables import (
    Principal,
)
from services import access, disclosures, rights
from services.records import correct_field
from services.values import record_values

pytestmark = pytest.mark.usefixtures("settings_salt_forbidden")


# --- access report ---------------------------------------------------------------------------


def test_access_report_lists_each_copy_with_its_uploader_channel_and_time(
    session: Session, salt: bytes, upload: Upload, uploader: Principal, other_uploader: Principal
) -> None:
    upload(uploader, ADA, channel=Channel.mobile, client={"device": "Pixel 9"})
    upload(other_uploader, ADA, channel=Channel.batch, client={"batch": "fair-2026"})
    upload(other_uploader, BEN)

    report = access.access_report(session, email=ADA.email, salt=salt)

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
    correct_field(session, uploader, record, name_value.id, "Ada R. Quillfeather", salt=salt)  # type: ignore[arg-type]
    session.commit()

    report = access.access_report(session, phone=ADA.phone, salt=salt)

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
    disclosures.partner_contacts(session, partner)
    invite(session, privacy_admin, record.subject_id, salt)
    rights.opt_out(session, email=ADA.email, scopes={"partners"}, actor=None, salt=salt)
    session.commit()

    report = json.loads(json.dumps(access.access_report(session, email=ADA.email, salt=salt)))

    (disclosure,) = report["disclosures"]
    assert disclosure["partner"] == "acme-partner" and disclosure["purpose"] == "partner_sharing"
    assert "email_address" in disclosure["categories"]
    assert [i["sent_by"] for i in report["invites"]] == ["dpo"]
    assert {(s["kind"], s["reason"]) for s in report["suppressions"]} == {
        ("email", "opt_out_partners"),
        ("phone", "opt_out_partners"),
        ("name_org", "opt_out_partners"),
    }
    assert [n["sent_at"] is not None for n in report["notices"]] == [True]
    assert [e["action"] for e in report["history"]] == [
        "created",
        "disclosed",
        "invite_claimed",
        "invited",
        "opted_out",
    ]


def test_access_report_for_an_unknown_person_is_empty(session: Session, salt: bytes) -> None:
    report = access.access_report(session, email=ADA.email, salt=salt)
    assert not report["found"] and report["records"] == [] and report["disclosures"] == []
