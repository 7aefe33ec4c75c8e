"""Dependencies shared by the routes: the database session and the calling principal.

As in the FastAPI full-stack template: routes declare ``SessionDep`` and a role
dependency; authentication and role checks live here and nowhere else.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.engine import Engine
from sqlmodel import Session

from ingest.errors import ForbiddenError, UnauthorizedError
from models.principals import authenticate
from models.tables import Principal, Role

bearer = HTTPBearer(auto_error=False, description="An API key from `cards principals create`.")


def get_engine(request: Request) -> Engine:
    return request.app.state.engine


def get_session(engine: Annotated[Engine, Depends(get_engine)]) -> Iterator[Session]:
    """One session per request, committed when the route returns normally."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


SessionDep = Annotated[Session, Depends(get_session)]


def current_principal(
    session: SessionDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> Principal:
    principal = authenticate(session, credentials.credentials if credentials else None)
    if principal is None:
        raise UnauthorizedError("Missing or invalid API key.")
    return principal


def require(*roles: Role) -> Callable[..., Principal]:
    """A dependency admitting only these roles (403 for others: the endpoint exists for them)."""

    def check(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        if Role(principal.role) not in roles:
            raise ForbiddenError(f"This endpoint is for {', '.join(r.value for r in roles)}.")
        return principal

    return check


Uploader = Annotated[Principal, Depends(require(Role.uploader))]
CatalogBuilder = Annotated[Principal, Depends(require(Role.catalog_builder))]
Partner = Annotated[Principal, Depends(require(Role.partner))]
PrivacyAdmin = Annotated[Principal, Depends(require(Role.privacy_admin))]


def brief_principal(
    engine: Annotated[Engine, Depends(get_engine)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    """The caller, authenticated in a session closed at once (the principal comes back detached).

    For long routes such as uploads: ``SessionDep`` keeps a pooled connection for the whole
    request, and twenty uploads waiting on OCR or on an idempotency key would exhaust the pool.
    """
    with Session(engine, expire_on_commit=False) as session:
        principal = authenticate(session, credentials.credentials if credentials else None)
    if principal is None:
        raise UnauthorizedError("Missing or invalid API key.")
    return principal


def require_brief(*roles: Role) -> Callable[..., Principal]:
    """:func:`require` on :func:`brief_principal`: the same 401/403 rules, no session held."""

    def check(principal: Annotated[Principal, Depends(brief_principal)]) -> Principal:
        if Role(principal.role) not in roles:
            raise ForbiddenError(f"This endpoint is for {', '.join(r.value for r in roles)}.")
        return principal

    return check


BriefUploader = Annotated[Principal, Depends(require_brief(Role.uploader))]
