"""What every service call needs, built once by a front from the settings and passed down.

The HTTP app keeps one on ``app.state.services``; each ``cards`` command builds one. Tests
build one around their own engine, blob folder and salt.

The subject-index salt is the one secret the controls stand on: every suppression is a
hash made with it, so a process using another salt would not recognise an opted-out or
erased person. Hence :func:`resolve_salt` never makes a new one silently, and
:func:`verify_salt` refuses to start with a salt other than the one the database was
first used with (a fingerprint row, :class:`~models.tables.KeyCheck`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlmodel import Session

from core.errors import InvalidConfigError
from core.settings import Settings
from models.blobs import BlobStore, DatabaseBlobStore, FolderBlobStore
from models.db import engine_for
from models.errors import storage_fault
from models.keys import key_check, key_file_for, read_key_file, write_key_file
from models.tables import KeyCheck

KEY_CHECK = "suppression_salt"


@dataclass
class ServiceContext:
    """The settings and the stateful things built from them: engine, blob store, subject-index salt."""

    settings: Settings
    engine: Engine
    blobs: BlobStore
    salt: bytes

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        engine: Engine | None = None,
        blob_dir: Path | None = None,
        salt: bytes | None = None,
    ) -> ServiceContext:
        """Build the context; a salt other than the database's is ``invalid_config`` (see the module doc)."""
        engine = engine if engine is not None else engine_for(settings.database_url)
        salt = salt if salt is not None else resolve_salt(settings, engine)
        verify_salt(engine, salt)
        return cls(settings=settings, engine=engine, blobs=blob_store(settings, engine, blob_dir), salt=salt)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One transaction: committed when the block ends normally, rolled back otherwise."""
        with Session(self.engine, expire_on_commit=False) as session:
            try:
                yield session
                session.commit()
            except BaseException as exc:
                session.rollback()
                fault = storage_fault(exc)  # a read-only, full or unreachable database: 503, not a bug
                if fault is not None and fault is not exc:
                    raise fault from exc
                raise


def blob_store(settings: Settings, engine: Engine, blob_dir: Path | None = None) -> BlobStore:
    """The store ``CARDS_BLOB_STORE`` names; the database store needs PostgreSQL (SQLite has one
    writer: an image written on its own connection while a card's transaction holds the lock would
    wait for it, and a file on one machine shares nothing anyway)."""
    if settings.blob_store == "database":
        if engine.dialect.name != "postgresql":
            raise InvalidConfigError(
                "CARDS_BLOB_STORE=database needs a PostgreSQL DATABASE_URL.",
                hint="Use CARDS_BLOB_STORE=filesystem with SQLite, or point DATABASE_URL at PostgreSQL.",
            )
        return DatabaseBlobStore(engine)
    return FolderBlobStore(blob_dir or settings.blob_dir)


def resolve_salt(settings: Settings, engine: Engine) -> bytes:
    """``CARDS_SUPPRESSION_SALT``, else (embedded SQLite only) the key file beside the database file.

    The key file is created (mode 0600) only for a database whose hashes were never made
    with a key; a missing key file of a database in use, or an unset secret for PostgreSQL,
    stops the program instead of starting over with a new key.
    """
    if settings.suppression_salt:
        return settings.suppression_salt.encode()
    key_file = key_file_for(settings.database_url)
    if key_file is None:
        where = make_url(settings.database_url).render_as_string(hide_password=True)
        raise InvalidConfigError(
            f"CARDS_SUPPRESSION_SALT is not set for the database {where}.",
            hint="Set it to the secret this database's hashes are made with (only the embedded SQLite "
            "database may keep a generated key beside its file).",
        )
    key = read_key_file(key_file)
    if key is not None:
        return key
    if _fingerprint(engine) is not None:
        raise InvalidConfigError(
            f"The key file {key_file} is missing, but this database's hashes were made with a key.",
            hint="Restore the file from a backup, or set CARDS_SUPPRESSION_SALT to the same key.",
        )
    try:
        return write_key_file(key_file)
    except FileExistsError:  # another process made it first
        key = read_key_file(key_file)
        assert key is not None
        return key


def verify_salt(engine: Engine, salt: bytes) -> None:
    """Record the salt's fingerprint on first use; refuse a different salt afterwards."""
    stored = _fingerprint(engine)
    if stored is None:
        try:
            with Session(engine) as session:
                session.add(KeyCheck(name=KEY_CHECK, fingerprint=key_check(salt)))
                session.commit()
            return
        except IntegrityError:  # another process recorded it first: compare with theirs
            stored = _fingerprint(engine)
        except SQLAlchemyError:  # not migrated yet: checked once it is
            return
    if stored is not None and stored != key_check(salt):
        raise InvalidConfigError(
            "The suppression key is not the one this database's hashes were made with.",
            hint="Set CARDS_SUPPRESSION_SALT (or restore the key file) to the database's key; "
            "a new key would no longer recognise opted-out or erased people.",
        )


def _fingerprint(engine: Engine) -> str | None:
    try:
        with Session(engine) as session:
            row = session.get(KeyCheck, KEY_CHECK)
            return row.fingerprint if row else None
    except SQLAlchemyError:  # no such table yet (a database before `cards db upgrade`)
        return None
