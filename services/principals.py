"""Principals and their API keys: created here, checked here, by the CLI and the HTTP API alike.

A key is shown once, when made, and only its SHA-256 is stored (:func:`models.keys.hash_api_key`):
a copy of the database (or a backup) never holds a usable key. A plain, unsalted SHA-256 is
enough because the key itself is 256 random bits, not a password a person chose; it also
lets :func:`authenticate` find the principal with one indexed lookup. The ``cv_`` prefix
makes a leaked key easy to recognise (secret scanners, logs) and lets a malformed header be
refused without a query.
"""

from __future__ import annotations

import secrets

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from core.errors import BadArgumentsError
from core.times import iso_utc
from models.enums import Role
from models.keys import hash_api_key
from models.tables import AuditEvent, utcnow
from models.tables import Principal as Principal  # re-exported: the caller type the fronts annotate with
from services.errors import ForbiddenError, NotFoundError

API_KEY_PREFIX = "cv_"
_KEY_BYTES = 32


def generate_api_key() -> str:
    """A new random key: ``cv_`` and 43 URL-safe characters."""
    return API_KEY_PREFIX + secrets.token_urlsafe(_KEY_BYTES)


def create_principal(session: Session, name: str, role: Role | str) -> tuple[Principal, str]:
    """Add a principal with a fresh API key; returns it and the key (the only time the key exists)."""
    name = name.strip()
    if not name:
        raise BadArgumentsError("A principal needs a name.", hint="Pass --name NAME.")
    try:
        role = Role(role)
    except ValueError as exc:
        raise BadArgumentsError(
            f"Unknown role {role!r}.", hint=f"Roles are {', '.join(r.value for r in Role)}."
        ) from exc
    if session.exec(select(Principal.id).where(Principal.name == name)).first() is not None:
        raise BadArgumentsError(f"A principal named {name!r} exists.", hint="Choose another name.")
    key = generate_api_key()
    principal = Principal(name=name, role=role, api_key_hash=hash_api_key(key))
    session.add(principal)
    try:
        session.flush()
    except IntegrityError as exc:  # a concurrent create of the same name
        raise BadArgumentsError(f"A principal named {name!r} exists.", hint="Choose another name.") from exc
    details = {"principal_id": principal.id, "role": role.value}
    session.add(AuditEvent(action="principal_created", details=details))
    return principal, key


def list_principals(session: Session) -> list[Principal]:
    return list(session.exec(select(Principal).order_by(col(Principal.id))).all())


def revoke_principal(session: Session, principal_id: int) -> Principal:
    """Revoke a principal's key from now on; revoking twice keeps the first time."""
    principal = session.get(Principal, principal_id)
    if principal is None:
        raise NotFoundError(f"No principal {principal_id}.", hint="`cards principals list` shows the ids.")
    if principal.revoked_at is None:
        principal.revoked_at = utcnow()
        session.add(principal)
        session.add(AuditEvent(action="principal_revoked", details={"principal_id": principal.id}))
        session.flush()
    return principal


def authenticate(session: Session, key: str | None) -> Principal | None:
    """The principal holding this key, or None (unknown, malformed or revoked key)."""
    if not key or not key.startswith(API_KEY_PREFIX) or len(key) > 200:
        return None
    principal = session.exec(select(Principal).where(Principal.api_key_hash == hash_api_key(key))).first()
    if principal is None or principal.revoked_at is not None:
        return None
    return principal


def principal_dict(principal: Principal) -> dict[str, object]:
    """The public view of a principal (never the key hash)."""
    return {
        "id": principal.id,
        "name": principal.name,
        "role": Role(principal.role).value,
        "created_at": iso_utc(principal.created_at),
        "revoked_at": iso_utc(principal.revoked_at),
    }


def resolve_principal(session: Session, ref: str) -> Principal:
    """A principal by id (digits) or by name; NotFound names the command that creates one."""
    ref = ref.strip()
    principal = session.get(Principal, int(ref)) if ref.isdigit() else None
    if principal is None:
        principal = session.exec(select(Principal).where(Principal.name == ref)).first()
    if principal is None:
        raise NotFoundError(
            f"No principal {ref!r}.", hint="Create it first: `cards principals create NAME --role uploader`."
        )
    return principal


def check_can_upload(principal: Principal) -> None:
    """Only an active uploader stores cards."""
    if principal.revoked_at is not None:
        raise ForbiddenError(f"Principal {principal.name!r} is revoked.")
    if principal.role != Role.uploader:
        role = Role(principal.role).value
        raise ForbiddenError(f"Principal {principal.name!r} is a {role}, not an uploader.")


def rotate_key(session: Session, principal: Principal) -> str:
    """Give a principal a new API key (the old one stops working); returns the key, shown once."""
    key = generate_api_key()
    principal.api_key_hash, principal.revoked_at = hash_api_key(key), None
    session.add(principal)
    session.add(AuditEvent(action="principal_key_rotated", details={"principal_id": principal.id}))
    session.flush()
    return key


def principal_by_id(session: Session, principal_id: int) -> Principal | None:
    return session.get(Principal, principal_id)


def principal_by_name(session: Session, name: str) -> Principal | None:
    return session.exec(select(Principal).where(Principal.name == name)).first()
