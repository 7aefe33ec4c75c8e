"""The database blob store (``CARDS_BLOB_STORE=database``): the same interface as the folder, and
erasure, retention and the orphan sweep reach it. Every test runs on SQLite and PostgreSQL (the
setting itself accepts only PostgreSQL: the last test)."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from people import ADA, Upload, card_image, erase
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session

from core.errors import InvalidConfigError
from core.settings import load_settings
from models.blobs import BlobMissingError, BlobStore, DatabaseBlobStore
from models.db import make_engine
from models.tables import Blob, Principal, Source, utcnow
from services import retention
from services.context import blob_store

pytestmark = pytest.mark.usefixtures("settings_salt_forbidden")


@pytest.fixture
def blobs(engine: Engine) -> BlobStore:
    """Every image of these tests goes to the database's blob table."""
    return DatabaseBlobStore(engine)


def test_the_database_store_keeps_each_image_once_under_its_sha256(blobs: BlobStore) -> None:
    data = b"card bytes \x00\xff"
    key = blobs.put(data)
    assert key == hashlib.sha256(data).hexdigest()
    assert blobs.put(data) == key and list(blobs.keys()) == [key]
    assert blobs.get(key) == data and blobs.exists(key)
    assert blobs.delete(key) is True
    assert blobs.delete(key) is False and not blobs.exists(key)
    with pytest.raises(BlobMissingError):
        blobs.get(key)


def test_keys_older_than_a_time_leave_out_the_newer_images(blobs: BlobStore, engine: Engine) -> None:
    old, new = blobs.put(b"old card"), blobs.put(b"new card")
    with engine.begin() as conn:
        conn.execute(update(Blob).where(Blob.key == old).values(created_at=utcnow() - timedelta(days=3)))
    assert list(blobs.keys(older_than=utcnow() - timedelta(days=1))) == [old]
    assert set(blobs.keys()) == {old, new}


def test_erasure_deletes_the_image_from_the_database_store(
    session: Session, salt: bytes, blobs: BlobStore, upload: Upload, uploader: Principal
) -> None:
    image = card_image(ADA)
    upload(uploader, ADA, image=image)
    key = hashlib.sha256(image).hexdigest()
    assert blobs.exists(key)
    result = erase(session, salt, blobs, ADA)
    assert result.blobs_deleted == [key]
    assert not blobs.exists(key)


def test_retention_deletes_old_images_and_orphans_from_the_database_store(
    session: Session, blobs: BlobStore, upload: Upload, uploader: Principal, engine: Engine
) -> None:
    record = upload(uploader, ADA)
    source = session.get(Source, record.source_id)
    assert source is not None and source.blob_key
    old_key = source.blob_key
    source.received_at = utcnow() - timedelta(days=400)
    session.add(source)
    session.commit()
    orphan = blobs.put(b"an image whose card was never committed")
    young_orphan = blobs.put(b"an image whose card may still be committing")
    with engine.begin() as conn:
        conn.execute(update(Blob).where(Blob.key == orphan).values(created_at=utcnow() - timedelta(days=2)))
    settings = load_settings(_env_file=None, CARDS_SUPPRESSION_SALT="x")
    found = retention.sweep(session, settings, blobs, apply=False)
    assert found.counts["images"] == 1 and found.counts["orphan_images"] == 1
    applied = retention.sweep(session, settings, blobs, apply=True)
    session.commit()
    assert applied.counts["orphan_images"] == 1
    assert not blobs.exists(old_key) and not blobs.exists(orphan)
    assert blobs.exists(young_orphan), "an image younger than a day may belong to a card being stored"


def test_the_database_store_needs_postgresql(tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = load_settings(_env_file=None, CARDS_BLOB_STORE="database")
    sqlite = make_engine(f"sqlite:///{tmp_path}/cards.db")
    with pytest.raises(InvalidConfigError, match="CARDS_BLOB_STORE"):
        blob_store(settings, sqlite)
