"""Principal names by id: reports name uploaders and partners, not ids."""

from __future__ import annotations

from sqlmodel import Session

from models.tables import Principal


class PrincipalNames:
    """Principal names by id, loaded once each: reports name uploaders and partners, not ids."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.cache: dict[int, str | None] = {}

    def __call__(self, principal_id: int | None) -> str | None:
        if principal_id is None:
            return None
        if principal_id not in self.cache:
            principal = self.session.get(Principal, principal_id)
            self.cache[principal_id] = principal.name if principal else None
        return self.cache[principal_id]
