"""Content-addressed stores for original images: the SHA-256 of the bytes is the key.

One interface (:class:`BlobStore`: put, get, exists, delete, keys) and two stores: a folder
(:class:`FolderBlobStore`, the default, also a shared mount for several machines) and a table
(:class:`DatabaseBlobStore`, ``CARDS_BLOB_STORE=database``, so workers on any machine read the
image from the PostgreSQL they already use). Every caller — uploads, the import, the queue's
workers, erasure, retention — goes through the interface, so a deletion reaches either store.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import hashlib
import os
import sys
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import delete, insert, select
from sqlalchemy.engine import Engine

from models.tables import Blob


class BlobMissingError(KeyError):
    """No blob under this key (never stored, or deleted)."""


class BlobStore(ABC):
    """What every store does; keys are the SHA-256 hex of the bytes, so a put is idempotent."""

    @abstractmethod
    def put(self, data: bytes) -> str:
        """Store the bytes (durably, before returning) and return their key."""

    @abstractmethod
    def get(self, key: str) -> bytes:
        """The bytes under ``key``; :class:`BlobMissingError` when there are none."""

    @abstractmethod
    def exists(self, key: str) -> bool: ...

    @abstractmethod
    def delete(self, key: str) -> bool:
        """Remove the blob; False when there was none."""

    @abstractmethod
    def keys(self, older_than: datetime | None = None) -> Iterator[str]:
        """Every key (stored before ``older_than`` when given): the orphan sweep walks these."""


class FolderBlobStore(BlobStore):
    """Files under ``root/ab/cd/<sha256>``, written atomically and fsynced."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path(self, key: str) -> Path:
        return self.root / key[:2] / key[2:4] / key

    def put(self, data: bytes) -> str:
        """Store bytes once: idempotent, and a crash at any moment leaves nothing behind.

        The bytes go into an unnamed file (Linux ``O_TMPFILE``) that is linked under its key
        only once complete and fsynced, so a ``kill -9`` leaves no half-written file and no
        stray temporary holding a person's card where no erasure would look; the folder is
        fsynced too, so the link survives a power cut before the commit that points at it.
        Elsewhere it falls back to a named temporary file and a rename.
        """
        key = hashlib.sha256(data).hexdigest()
        target = self.path(key)
        if target.exists():
            return key
        target.parent.mkdir(parents=True, exist_ok=True)
        if _put_unnamed(data, target):
            return key
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return key

    def get(self, key: str) -> bytes:
        try:
            return self.path(key).read_bytes()
        except FileNotFoundError as exc:
            raise BlobMissingError(key) from exc

    def exists(self, key: str) -> bool:
        return self.path(key).exists()

    def delete(self, key: str) -> bool:
        try:
            self.path(key).unlink()
            return True
        except FileNotFoundError:
            return False

    def keys(self, older_than: datetime | None = None) -> Iterator[str]:
        limit = older_than.timestamp() if older_than is not None else None
        for path in self.root.glob("??/??/*"):
            if len(path.name) != 64 or path.name.startswith("."):
                continue
            try:
                if limit is None or path.stat().st_mtime < limit:
                    yield path.name
            except FileNotFoundError:  # deleted meanwhile
                continue


class DatabaseBlobStore(BlobStore):
    """Rows of the ``blob`` table, each put committed on its own (like a file written before the
    card's transaction commits), so any worker on any machine can read it at once."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def put(self, data: bytes) -> str:
        key = hashlib.sha256(data).hexdigest()
        if self.exists(key):
            return key
        statement = insert(Blob).values(key=key, data=data, byte_size=len(data), created_at=datetime.now(UTC))
        if self.engine.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            statement = (
                pg_insert(Blob)
                .values(key=key, data=data, byte_size=len(data), created_at=datetime.now(UTC))
                .on_conflict_do_nothing(index_elements=["key"])
            )
        else:
            statement = statement.prefix_with("OR IGNORE")
        with self.engine.begin() as conn:
            conn.execute(statement)
        return key

    def get(self, key: str) -> bytes:
        with self.engine.connect() as conn:
            data = conn.execute(select(Blob.data).where(Blob.key == key)).scalar()  # type: ignore[call-overload]
        if data is None:
            raise BlobMissingError(key)
        return bytes(data)

    def exists(self, key: str) -> bool:
        with self.engine.connect() as conn:
            return conn.execute(select(Blob.key).where(Blob.key == key)).first() is not None  # type: ignore[call-overload]

    def delete(self, key: str) -> bool:
        with self.engine.begin() as conn:
            outcome = conn.execute(delete(Blob).where(Blob.key == key))  # type: ignore[arg-type]
        return bool(getattr(outcome, "rowcount", 0))

    def keys(self, older_than: datetime | None = None) -> Iterator[str]:
        query = select(Blob.key).order_by(Blob.key)  # type: ignore[call-overload]
        if older_than is not None:
            query = query.where(Blob.created_at < older_than)
        with self.engine.connect() as conn:
            found = list(conn.execute(query).scalars())
        yield from found


def _put_unnamed(data: bytes, target: Path) -> bool:
    """Write via O_TMPFILE + linkat; False when the platform or file system cannot."""
    flag = getattr(os, "O_TMPFILE", 0)
    if not flag or not sys.platform.startswith("linux"):
        return False
    try:
        fd = os.open(target.parent, flag | os.O_WRONLY, 0o600)
    except OSError:  # a file system without O_TMPFILE
        return False
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
        linked = _link_at(f"/proc/self/fd/{fd}", target)
    finally:
        os.close(fd)
    if linked not in (0, errno.EEXIST):  # EEXIST: another writer stored the same bytes meanwhile
        return False
    directory = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
    return True


def _link_at(source: str, target: Path) -> int:
    """``linkat(AT_FDCWD, source, AT_FDCWD, target, AT_SYMLINK_FOLLOW)``; 0 or the errno.

    ``os.link`` calls plain ``link()``, which will not give a name to an O_TMPFILE file.
    """
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        at_fdcwd, at_symlink_follow = -100, 0x400
        result = libc.linkat(at_fdcwd, source.encode(), at_fdcwd, os.fsencode(target), at_symlink_follow)
    except (OSError, AttributeError):
        return errno.ENOSYS
    return 0 if result == 0 else ctypes.get_errno()
