"""Sign-in for the web app: an API key once, then a server-side session behind a cookie.

The cookie holds a random token; the database holds only its SHA-256, so a copy of the
database signs nobody in, and signing out (or revoking the principal) ends the session at
once. CSRF tokens are HMACs of the session token (or, before sign-in, of a random nonce
kept in a cookie) with ``CARDS_SESSION_SECRET``: nothing to store, and a token from one
session is worthless in another.

The secret is handled like the suppression key, minus the danger: set it for any database
that is not the embedded default; the embedded SQLite database may keep a generated one in
``session.secret`` beside its file. Losing it only invalidates the forms open in browsers.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import delete
from sqlalchemy.engine import make_url
from sqlmodel import Session, col, select

from core.errors import InvalidConfigError
from core.settings import Settings
from models.tables import Principal, WebSession, utcnow
from services.audit import audit
from services.principals import authenticate

SECRET_FILE = "session.secret"
TOKEN_BYTES = 32


def resolve_session_secret(settings: Settings) -> bytes:
    """``CARDS_SESSION_SECRET``, else (embedded SQLite only) the generated key beside the database file."""
    if settings.session_secret:
        return settings.session_secret.encode()
    url = make_url(settings.database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        raise InvalidConfigError(
            "CARDS_SESSION_SECRET is not set for a database other than the embedded SQLite file.",
            hint="Set CARDS_SESSION_SECRET to a long random string, the same for every server process.",
        )
    path = Path(url.database).parent / SECRET_FILE
    try:
        existing = path.read_text().strip()
        if existing:
            return existing.encode()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first
        return path.read_text().strip().encode()
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    return key.encode()


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def sign_in(session: Session, api_key: str, *, hours: int) -> tuple[str, WebSession] | None:
    """A new session for the key's principal and the cookie token (shown once), or None for a bad key."""
    principal = authenticate(session, api_key.strip())
    if principal is None or principal.id is None:
        return None
    now = utcnow()
    session.execute(delete(WebSession).where(col(WebSession.expires_at) < now))
    token = secrets.token_urlsafe(TOKEN_BYTES)
    row = WebSession(
        token_hash=_hash(token),
        principal_id=principal.id,
        created_at=now,
        expires_at=now + timedelta(hours=hours),
    )
    session.add(row)
    audit(session, "signed_in", principal, channel="web")
    session.flush()
    return token, row


def principal_for(session: Session, token: str | None) -> Principal | None:
    """The principal of a live session (not signed out, not expired, principal not revoked), or None."""
    if not token or len(token) > 200:
        return None
    row = session.exec(select(WebSession).where(WebSession.token_hash == _hash(token))).first()
    if row is None or row.ended_at is not None or _aware(row.expires_at) <= utcnow():
        return None
    principal = session.get(Principal, row.principal_id)
    if principal is None or principal.revoked_at is not None:
        return None
    return principal


def sign_out(session: Session, token: str | None) -> None:
    """End the session of this token (a no-op for an unknown or ended one); audited."""
    if not token:
        return
    row = session.exec(select(WebSession).where(WebSession.token_hash == _hash(token))).first()
    if row is None or row.ended_at is not None:
        return
    row.ended_at = utcnow()
    session.add(row)
    audit(session, "signed_out", session.get(Principal, row.principal_id), channel="web")
    session.flush()


def csrf_token(secret: bytes, bound_to: str) -> str:
    """The CSRF token of a session (or of a pre-sign-in nonce): an HMAC, so nothing is stored."""
    return hmac.new(secret, b"csrf:" + bound_to.encode(), hashlib.sha256).hexdigest()


def csrf_valid(secret: bytes, bound_to: str | None, given: str | None) -> bool:
    """Whether a form's token belongs to this session (constant-time comparison)."""
    if not bound_to or not given:
        return False
    return hmac.compare_digest(csrf_token(secret, bound_to), given)


def _aware(moment: datetime) -> datetime:
    """SQLite hands back naive UTC times: make them comparable with aware ones."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
