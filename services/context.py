"""What every service call needs, built once by a front from the settings and passed down.

The HTTP app keeps one on ``app.state.services``; each ``cards`` command builds one. Tests
build one around their own engine, blob folder and salt.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import Session

from core.settings import Settings
from models.blobs import BlobStore
from models.db import engine_for
from models.keys import suppression_salt


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
        return cls(
            settings=settings,
            engine=engine if engine is not None else engine_for(settings.database_url),
            blobs=BlobStore(blob_dir or settings.blob_dir),
            salt=salt if salt is not None else suppression_salt(settings.suppression_salt),
        )

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One transaction: committed when the block ends normally, rolled back otherwise."""
        with Session(self.engine, expire_on_commit=False) as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise
