"""Partner disclosures and Shine-the-Light, as a specification: each disclosure logged first."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from people import ADA, BEN, CARA, Upload, count, make_principal
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from models.enums import Role, Use
from models.tables import (
    AuditEvent,
    ContactRecord,
    Disclosure,
    Principal,
)
from services import disclosures
from services.errors import ForbiddenError

pytestmark = pytest.mark.usefixtures("settings_salt_forbidden")


# --- partners ---------------------------------------------------------------------------------


def test_partners_see_only_the_fields_partners_may_see(
    session: Session, upload: Upload, uploader: Principal, partner: Principal
) -> None:
    upload(uploader, ADA, mobile="+14155550199", website="orrery.example.org")

    (contact,) = disclosures.partner_contacts(session, partner)

    assert set(contact["fields"]) == {"names", "emails", "phones", "companies", "job_titles", "websites"}
    assert contact["fields"]["phones"] == [{"value": ADA.phone, "type": "work", "extension": None}]


def test_partners_see_only_records_shared_with_partners(
    session: Session, salt: bytes, upload: Upload, uploader: Principal, partner: Principal
) -> None:
    shared = upload(uploader, ADA)
    upload(uploader, BEN, uses={Use.invites, Use.catalog})
    upload(uploader, CARA, attested=False)

    assert [c["id"] for c in disclosures.partner_contacts(session, partner)] == [shared.id]


def test_each_contact_a_partner_reads_is_logged_as_one_disclosure(
    session: Session, upload: Upload, uploader: Principal, partner: Principal
) -> None:
    ada, ben = upload(uploader, ADA), upload(uploader, BEN, email=None)

    contacts = disclosures.partner_contacts(session, partner)
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
    contacts = disclosures.partner_contacts(session, partner)
    with Session(engine) as other:
        assert count(other, Disclosure) == 0  # not visible before the read's transaction commits
    session.rollback()
    assert len(contacts) == 1 and count(session, Disclosure) == 0

    disclosures.partner_contacts(session, partner)
    session.commit()
    with Session(engine) as other:
        assert count(other, Disclosure) == 1


def test_partners_page_through_contacts_with_after_id(
    session: Session, upload: Upload, uploader: Principal, partner: Principal
) -> None:
    ids = [upload(uploader, p).id for p in (ADA, BEN, CARA)]
    first = disclosures.partner_contacts(session, partner, limit=2)
    rest = disclosures.partner_contacts(session, partner, limit=2, after_id=first[-1]["id"])
    assert [c["id"] for c in first + rest] == ids


def test_only_an_active_partner_reads_shared_contacts(session: Session, uploader: Principal) -> None:
    with pytest.raises(ForbiddenError):
        disclosures.partner_contacts(session, uploader)


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

    report = disclosures.shine_the_light(session, email=ADA.email, year=2025, salt=salt)

    assert [(p["partner"], p["categories"], p["disclosures"]) for p in report["partners"]] == [
        ("acme-partner", ["email_address", "name"], 1),
        ("zenith-partner", ["name", "occupation"], 2),
    ]
    # The fixture's partner is in the registry: its name and address, as § 1798.83(a) asks.
    registered = report["partners"][0]
    assert (registered["legal_name"], registered["postal_address"]) == (
        "Acme Partner Ltd",
        "1 Partner Way, Springfield, CA 90000",
    )


def test_shine_the_light_leaves_out_disclosures_not_for_direct_marketing(
    session: Session, salt: bytes, upload: Upload, uploader: Principal, partner: Principal
) -> None:
    ada = upload(uploader, ADA)
    disclose(session, partner, ada, datetime(2025, 5, 1, tzinfo=UTC), "name")
    row = session.exec(select(Disclosure)).one()
    row.direct_marketing = False
    session.commit()
    assert disclosures.shine_the_light(session, email=ADA.email, year=2025, salt=salt)["partners"] == []


def test_shine_the_light_reports_disclosures_logged_by_the_partner_read_path(
    session: Session, salt: bytes, upload: Upload, uploader: Principal, partner: Principal
) -> None:
    upload(uploader, ADA)
    disclosures.partner_contacts(session, partner)
    session.commit()
    year = datetime.now(UTC).year
    (entry,) = disclosures.shine_the_light(session, phone=ADA.phone, year=year, salt=salt)["partners"]
    assert entry["partner"] == "acme-partner" and "telephone_number" in entry["categories"]
