"""Alice's and Bob's stored contacts (a full card, a formula-like name, a company only) for the exports."""

from __future__ import annotations

import subprocess
from collections.abc import Callable

import pytest
from sqlmodel import Session

from ingest.schema import Extraction, FieldValue
from models.enums import Use
from models.tables import ContactRecord, Principal

TEST_SALT = b"test-salt-not-secret"


RUN = Callable[..., subprocess.CompletedProcess[str]]


def value(text: str, *, type: str | None = None, extension: str | None = None) -> FieldValue:
    return FieldValue(
        value=text, raw=text, confidence=0.9, bbox=[1, 2, 3, 4], method="test", type=type, extension=extension
    )


def ada_card(build_extraction: Callable[..., Extraction]) -> Extraction:
    """A full card: two phones (one with an extension), a fax, a profile, a department."""
    extraction = build_extraction(
        name="Dr. Ada Maria Quillfeather",
        email=["ada@orrery.example", "ada.q@example.org"],
        phone="+14155550134",
        company="Orrery Works",
        job_title="Head of Research",
        website="orrery.example",
        address="1 Market St, San Francisco, CA 94105",
    )
    extraction.fields["phones"] = [
        value("+14155550134", type="work", extension="12"),
        value("+14155550199", type="mobile"),
        value("+14155550100", type="fax"),
    ]
    extraction.fields["departments"] = [value("R&D")]
    extraction.fields["social"] = [value("linkedin.com/in/adaq", type="linkedin"), value("@adaq", type="x")]
    return extraction


@pytest.fixture
def contacts(
    session: Session,
    store_card: Callable[..., ContactRecord],
    build_extraction: Callable[..., Extraction],
    uploader: Principal,
    other_uploader: Principal,
) -> dict[str, ContactRecord]:
    """Alice's three records (full, formula-looking name, company only) and Bob's one."""
    ada = store_card(uploader, ada_card(build_extraction), uses={Use.invites})
    ada.notes = "Met at the Lisbon fair; wants a demo"
    session.add(ada)
    session.commit()
    evil = store_card(uploader, name='=HYPERLINK("http://x")', email="evil@example.com")
    company_only = store_card(uploader, company="Tern Labs", phone="+442079460958")
    bob = store_card(other_uploader, name="Bob Secret", email="bob.secret@example.net")
    return {"ada": ada, "evil": evil, "company_only": company_only, "bob": bob}
