"""The audit trail: one event per change that matters to a person, in the change's transaction.

Events hold ids, codes, counts and field names, never a person's data, so the log can be
kept after an erasure.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from models.tables import AuditEvent, Principal


def audit(
    session: Session,
    action: str,
    actor: Principal | None,
    *,
    record_id: int | None = None,
    subject_id: int | None = None,
    **details: Any,
) -> None:
    """Add an audit event to the caller's transaction: it commits or rolls back with the change."""
    session.add(
        AuditEvent(
            action=action,
            actor_id=actor.id if actor else None,
            record_id=record_id,
            subject_id=subject_id,
            details=details,
        )
    )
