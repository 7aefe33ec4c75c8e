"""The database's schema for the fronts: migrate it, and say whether it is up to date."""

from __future__ import annotations

from dataclasses import dataclass

from models import migrate


@dataclass(frozen=True)
class SchemaState:
    current: str | None
    head: str | None

    @property
    def up_to_date(self) -> bool:
        return self.current == self.head


def upgrade(url: str, revision: str = "head") -> dict[str, str | None]:
    """Apply the migrations up to ``revision``; a no-op when already there."""
    return migrate.upgrade(url, revision=revision)


def schema_state(url: str) -> SchemaState:
    """The database's revision and the newest one this version ships."""
    return SchemaState(current=migrate.current(url), head=migrate.head())
