"""The import's only writer: batches of cards, one savepoint per card, blobs before commit."""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlmodel import Session

from core.errors import CardError, error_from_exception
from ingest.errors import UnreadableFileError
from ingest.schema import Extraction
from models.blobs import BlobStore
from models.enums import Channel, Use
from models.errors import StorageError
from models.tables import Principal
from services.importer.files import Candidate
from services.importer.report import CardResult, Outcome
from services.records import AttestationInput, find_source, store_extraction

log = logging.getLogger("cards.import")

RETRY_DELAYS_S = (0.2, 0.5, 1.0, 2.0)  # a card that lost a race with another writer is tried again


@dataclass
class Ready:
    """A card read successfully, waiting for the next batch write."""

    candidate: Candidate
    extraction: Extraction
    attestation: AttestationInput
    uses: frozenset[Use]
    client: dict[str, Any]


class Writer:
    """The only code that writes: batches of cards, one savepoint per card, blobs before commit."""

    def __init__(
        self,
        engine: Engine,
        blobs: BlobStore,
        uploader: Principal,
        salt: bytes,
        on_result: Callable[[CardResult], None],
    ) -> None:
        self.engine, self.blobs, self.uploader, self.salt = engine, blobs, uploader, salt
        self.on_result = on_result
        self.seconds = 0.0
        self.sqlite = engine.dialect.name == "sqlite"

    def _begin(self, session: Session) -> None:
        """SQLite: take the write lock first (BEGIN IMMEDIATE), so a read inside the batch can never
        meet a concurrent writer's commit and fail at once with "database is locked"; a busy lock is
        waited for (busy_timeout) instead."""
        connection = session.connection()
        if self.sqlite:
            dbapi = connection.connection.dbapi_connection
            if dbapi is not None and not getattr(dbapi, "in_transaction", False):
                connection.exec_driver_sql("BEGIN IMMEDIATE")

    def write(self, cards: list[Ready]) -> None:
        """Store a batch in one transaction; cards that lost a race with another writer go again alone."""
        if not cards:
            return
        started = time.perf_counter()
        last_error: Exception | None = None
        for delay in (0.0, *RETRY_DELAYS_S):
            time.sleep(delay)
            try:
                with Session(self.engine, expire_on_commit=False) as session:
                    self._begin(session)
                    outcomes = [(card, self._store(session, card)) for card in cards]
                    session.commit()
                break
            except (OperationalError, DBAPIError) as exc:  # the whole batch: lock timeout, lost connection
                last_error = exc
                log.warning("batch of %d cards not stored (%s); trying again", len(cards), type(exc).__name__)
        else:
            raise StorageError(f"The database refused a batch of {len(cards)} cards: {last_error}.")
        self._recheck_blobs(outcomes)
        self.seconds += time.perf_counter() - started
        for card, result in outcomes:
            self.on_result(result if result is not None else self._store_alone(card))

    def _recheck_blobs(self, outcomes: list[tuple[Ready, CardResult | None]]) -> None:
        """After the commit, put back any image a concurrent erasure removed while our source was not
        yet visible to it (its "no source uses this blob" check ran between our blob and our commit)."""
        for card, result in outcomes:
            if result is None or result.outcome is not Outcome.imported or result.sha256 is None:
                continue
            if not self.blobs.exists(result.sha256):
                try:
                    data = card.candidate.path.read_bytes()
                    if hashlib.sha256(data).hexdigest() == result.sha256:
                        self.blobs.put(data)
                        log.warning("image of %s was removed during the import: written again", result.path)
                        continue
                except (OSError, StorageError):  # the file is gone, or the blob folder refuses it
                    pass
                log.error("image of %s was removed during the import and cannot be read again", result.path)

    def _store_alone(self, card: Ready) -> CardResult:
        started = time.perf_counter()
        try:
            for delay in RETRY_DELAYS_S:
                time.sleep(delay)
                try:
                    with Session(self.engine, expire_on_commit=False) as session:
                        self._begin(session)
                        result = self._store(session, card)
                        if result is not None:
                            session.commit()
                            self._recheck_blobs([(card, result)])
                            return result
                except (OperationalError, DBAPIError):
                    continue
            error = StorageError("Other writers kept conflicting with this card; run the import again.")
            return failed(card.candidate, error, card.extraction.sha256)
        finally:
            self.seconds += time.perf_counter() - started

    def _store(self, session: Session, card: Ready) -> CardResult | None:
        """Store one card inside a savepoint: the result, or None when it must be tried again after commit."""
        candidate, extraction = card.candidate, card.extraction
        sha = extraction.sha256
        assert sha is not None and self.uploader.id is not None
        if find_source(session, self.uploader.id, sha) is not None:
            return CardResult(candidate.rel, Outcome.skipped, code="already_imported", sha256=sha)
        try:
            data = candidate.path.read_bytes()
        except OSError as exc:
            return failed(candidate, UnreadableFileError(f"Cannot read the file again: {exc}."), sha)
        if hashlib.sha256(data).hexdigest() != sha:
            changed = UnreadableFileError("The file changed while it was being imported.", hint="Run again.")
            return failed(candidate, changed, sha)
        savepoint = session.begin_nested()
        try:
            record = store_extraction(
                session,
                uploader=self.uploader,
                channel=Channel.batch,
                extraction=extraction,
                byte_size=len(data),
                blob_key=sha,
                client=card.client,
                attestation=card.attestation,
                uses=set(card.uses),
                salt=self.salt,
            )
            if self.blobs.put(data) != sha:  # content-addressed: the key is the SHA-256
                raise StorageError("The blob store returned another key than the image's SHA-256.")
            savepoint.commit()
        except (IntegrityError, OperationalError) as exc:
            savepoint.rollback()
            if isinstance(exc, IntegrityError) and find_source(session, self.uploader.id, sha) is not None:
                # another import committed the same image first
                return CardResult(candidate.rel, Outcome.skipped, code="already_imported", sha256=sha)
            return None  # a race on a shared row (subject key, lock): again, after this batch commits
        except CardError as exc:  # subject_suppressed, invalid_attestation, ...
            savepoint.rollback()
            return failed(candidate, exc, sha)
        except OSError as exc:  # the blob could not be written
            savepoint.rollback()
            return failed(candidate, StorageError(f"Cannot write the image to the blob store: {exc}."), sha)
        except Exception as exc:  # a bug with one card must not stop the batch
            savepoint.rollback()
            return failed(candidate, error_from_exception(exc), sha)
        return CardResult(candidate.rel, Outcome.imported, sha256=sha, record_id=record.id)


def failed(candidate: Candidate, error: CardError, sha: str | None) -> CardResult:
    return CardResult(candidate.rel, Outcome.failed, code=error.code, message=error.full_message, sha256=sha)
