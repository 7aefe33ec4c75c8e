"""Content-addressed stores for original images: the SHA-256 of the bytes is the key.

One interface (:class:`BlobStore`: put, get, exists, delete, listing, probe) and two stores: a folder
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
import re
import sys
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Engine

from models.errors import blob_error
from models.tables import Blob

_KEY = re.compile(r"^[0-9a-f]{64}$")


class BlobMissingError(FileNotFoundError, KeyError):
    """No blob under this key (never stored, or deleted): a missing file, whichever store."""


@contextmanager
def _faults(what: str) -> Iterator[None]:
    """The blob folder's OSErrors (read-only, disk full, a file in the way) as ``storage_error``."""
    try:
        yield
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise blob_error(exc, what) from exc


@dataclass(frozen=True)
class StoredBlob:
    """One blob as a listing sees it: its key and when it was last written (for the orphan sweep)."""

    key: str
    stored_at: datetime


class BlobStore(ABC):
    """What every store does; keys are the SHA-256 hex of the bytes, so a put is idempotent.

    ``put`` of bytes already stored refreshes their time: an orphan left by a crash before its
    commit has an upload in flight again, and the orphan sweep's grace period must protect it.
    The orphan sweep (:mod:`services.orphans`) is written against ``listing`` and ``delete``.
    """

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
    def listing(self) -> Iterator[StoredBlob]:
        """Every stored blob with the time it was last written."""

    @abstractmethod
    def probe(self) -> None:
        """Prove the store takes a write (for /healthz); raises ``storage_error`` when it cannot."""

    def keys(self, older_than: datetime | None = None) -> Iterator[str]:
        """Every key (written before ``older_than`` when given)."""
        for blob in self.listing():
            if older_than is None or blob.stored_at < older_than:
                yield blob.key

    def drop_partial_writes(self, before: datetime) -> int:
        """Delete what writes cut off by a crash left under no key; a store with none drops nothing."""
        return 0


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
        with _faults("store an image"):
            if target.exists():
                # Refresh its time: an orphan (a crash before its commit) now has an upload in flight
                # again, and the sweep's grace period must protect it like a fresh write.
                try:
                    os.utime(target)
                    return key
                except FileNotFoundError:  # swept meanwhile: write it again below
                    pass
                except OSError:  # not ours to touch (read-only, another owner): the bytes are there
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
        with _faults("read an image"):
            try:
                return self.path(key).read_bytes()
            except FileNotFoundError as exc:
                raise BlobMissingError(key) from exc

    def probe(self) -> None:
        """Prove the folder takes a write: a one-byte unnamed file, written and dropped (for /healthz)."""
        with _faults("take a write"):
            self.root.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=self.root, prefix=".probe-") as fh:
                fh.write(b"\0")
                fh.flush()
                os.fsync(fh.fileno())

    def exists(self, key: str) -> bool:
        return self.path(key).exists()

    def delete(self, key: str) -> bool:
        try:
            with _faults("delete an image"):
                self.path(key).unlink()
            return True
        except FileNotFoundError:
            return False

    def drop_partial_writes(self, before: datetime) -> int:
        """Delete temporaries of writes cut off by a crash (the fallback path's ``.incoming-*``).

        They hold a card's bytes under no key, so no erasure would find them; a write still
        running is younger than ``before``. Returns how many were deleted.
        """
        dropped = 0
        for path in self.root.glob("??/??/.incoming-*") if self.root.is_dir() else ():
            try:
                if datetime.fromtimestamp(path.stat().st_mtime, UTC) < before:
                    path.unlink()
                    dropped += 1
            except FileNotFoundError:
                continue
        return dropped

    def listing(self) -> Iterator[StoredBlob]:
        """Every stored blob with the time it was written (files not named like a key are skipped)."""
        if not self.root.is_dir():
            return
        for path in self.root.glob("??/??/*"):
            if not _KEY.match(path.name) or path.parent.parent.name + path.parent.name != path.name[:4]:
                continue
            try:
                moment = path.stat().st_mtime
            except FileNotFoundError:  # deleted meanwhile
                continue
            yield StoredBlob(path.name, datetime.fromtimestamp(moment, UTC))


class DatabaseBlobStore(BlobStore):
    """Rows of the ``blob`` table, each put committed on its own (like a file written before the
    card's transaction commits), so any worker on any machine can read it at once."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def put(self, data: bytes) -> str:
        key = hashlib.sha256(data).hexdigest()
        if self.exists(key):  # refresh its time, as a folder does (see BlobStore)
            with self.engine.begin() as conn:
                conn.execute(update(Blob).where(Blob.key == key).values(created_at=datetime.now(UTC)))  # type: ignore[arg-type]
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

    def listing(self) -> Iterator[StoredBlob]:
        query = select(Blob.key, Blob.created_at).order_by(Blob.key)  # type: ignore[call-overload]
        with self.engine.connect() as conn:
            found = [StoredBlob(key, moment if moment.tzinfo else moment.replace(tzinfo=UTC))
                     for key, moment in conn.execute(query)]  # fmt: skip
        yield from found

    def probe(self) -> None:
        """A one-row INSERT into the blob table, rolled back (nothing is kept)."""
        with self.engine.connect() as conn:
            transaction = conn.begin()
            try:
                probe = {"key": "0" * 64, "data": b"", "byte_size": 0, "created_at": datetime.now(UTC)}
                conn.execute(insert(Blob).values(**probe))
            finally:
                transaction.rollback()


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
