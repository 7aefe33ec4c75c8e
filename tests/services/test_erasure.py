"""Erasure, as a specification: every copy, every trace, nothing left in the files.

Every test runs on SQLite and on PostgreSQL, on synthetic cards whose image blobs carry the
person's data, so a byte search of the database files and the blob folder finds any residue.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest
from people import (
    ADA,
    BEN,
    Person,
    Upload,
    card_image,
    count,
    erase,
    invite,
    qualifying_ids,
)
from sqlalchemy import text
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session, SQLModel, col, select

from models.blobs import BlobStore
from models.enums import Channel, SuppressionReason
from models.policy import qualifying_records
from models.tables import (
    Attestation,
    AuditEvent,
    ContactRecord,
    Disclosure,
    ExtractionRun,
    FieldCorrection,
    FieldValue,
    Invite,
    PermittedUse,
    Principal,
    Source,
    Subject,
    SubjectKey,
    Suppression,
)
from services import disclosures, rights
from services.records import correct_field
from services.values import record_values

pytestmark = pytest.mark.usefixtures("settings_salt_forbidden")


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
        ("name_org", SuppressionReason.erased),
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
    correct_field(session, uploader, first, name_value.id, "Dr Ada Q.", salt=salt)  # type: ignore[arg-type]
    disclosures.partner_contacts(session, partner)
    invite(session, privacy_admin, first.subject_id, salt)
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
    disclosures.partner_contacts(session, partner)
    invite(session, privacy_admin, ada.subject_id, salt)
    session.commit()

    result = erase(session, salt, blobs, ADA)

    assert result.disclosures == 1 and result.invites == 1
    assert [d.record_id for d in session.exec(select(Disclosure)).all()] == [ben.id]
    assert count(session, Invite) == 0


# --- searching storage for a person ----------------------------------------------------------


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
