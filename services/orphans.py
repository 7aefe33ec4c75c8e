"""The orphan sweep: image blobs no row refers to, left by a crash between the blob and its commit.

An upload writes its image before the transaction that stores its source (so no row ever
points at a missing image); a ``kill -9``, a power cut or an OOM kill in between leaves an
image no source and no pending job names. Nobody would ever find it again — an erasure of
that person answers ``found: false`` and the image stays — so the sweep deletes such blobs.

It is written against the blob store's interface alone (``listing``, ``delete``), so any
store works. A blob younger than the grace period is left alone: its upload may still be in
flight (the blob is written, the commit is coming); a store refreshes a blob's time when the
same bytes are stored again, and each writer checks its blob after its commit, so the sweep
never removes an image a committed row needs. Run at the start of ``cards serve``, every
``CARDS_ORPHAN_SWEEP_SECONDS`` by the server, and by ``cards db sweep-blobs``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.engine import Engine
from sqlmodel import Session

from models.blobs import BlobStore
from models.tables import utcnow
from services.audit import audit
from services.deletion import blobs_in_use

log = logging.getLogger(__name__)

CHUNK = 500  # keys per "which of these are in use" query


@dataclass
class OrphanSweep:
    """What one sweep saw and did: counts, and the keys it deleted (or would, on a dry run)."""

    checked: int = 0
    young: int = 0  # unreferenced but within the grace period: maybe an upload in flight
    orphans: list[str] = field(default_factory=list)
    deleted: int = 0
    partial_writes: int = 0  # temporaries of writes a crash cut off (no key: nothing refers to them)
    applied: bool = True

    def summary(self) -> dict[str, int | bool]:
        """Counts only (keys are image hashes: kept out of logs and audit details)."""
        return {
            "checked": self.checked,
            "young": self.young,
            "orphans": len(self.orphans),
            "deleted": self.deleted,
            "partial_writes": self.partial_writes,
            "applied": self.applied,
        }


def sweep_orphan_blobs(
    engine: Engine,
    blobs: BlobStore,
    *,
    grace: timedelta,
    apply: bool = True,
    now: datetime | None = None,
) -> OrphanSweep:
    """Delete blobs that no source and no queued or running job refers to, older than ``grace``."""
    now = now or utcnow()
    result = OrphanSweep(applied=apply)
    batch: list[tuple[str, datetime]] = []
    for blob in blobs.listing():
        result.checked += 1
        batch.append((blob.key, blob.stored_at))
        if len(batch) >= CHUNK:
            _sweep_chunk(engine, blobs, batch, now - grace, result)
            batch = []
    if batch:
        _sweep_chunk(engine, blobs, batch, now - grace, result)
    if apply:
        result.partial_writes = blobs.drop_partial_writes(now - grace)
    if result.deleted or result.partial_writes:
        with Session(engine) as session:
            audit(session, "orphan_blobs_swept", None, **result.summary())
            session.commit()
        log.info("orphan sweep: deleted %d image blobs no row referred to", result.deleted)
    return result


def _sweep_chunk(
    engine: Engine,
    blobs: BlobStore,
    batch: list[tuple[str, datetime]],
    cutoff: datetime,
    result: OrphanSweep,
) -> None:
    with Session(engine) as session:
        used = blobs_in_use(session, [key for key, _ in batch])
    for key, stored_at in batch:
        if key in used:
            continue
        if stored_at > cutoff:
            result.young += 1
            continue
        result.orphans.append(key)
        if apply_delete(engine, blobs, key, result.applied):
            result.deleted += 1


def apply_delete(engine: Engine, blobs: BlobStore, key: str, apply: bool) -> bool:
    """Delete one orphan, asking the database once more right before (a commit may have just landed)."""
    if not apply:
        return False
    with Session(engine) as session:
        if blobs_in_use(session, [key]):
            return False
    return blobs.delete(key)
