"""Dependencies shared by the routes: the services, a database session and the calling principal.

As in the FastAPI full-stack template: routes declare ``SessionDep`` and a role
dependency; authentication and role checks live here and nowhere else. This module and
``api/main.py`` are the API's wiring: the only ones that touch engines and sessions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import Session

from api.errors import UnauthorizedError
from models.enums import Role
from models.tables import Principal
from services.context import ServiceContext
from services.errors import ForbiddenError
from services.principals import authenticate

Caller = Principal  # an authenticated caller's type, for the routes' helpers

bearer = HTTPBearer(auto_error=False, description="An API key from `cards principals create`.")


def get_services(request: Request) -> ServiceContext:
    services: ServiceContext = request.app.state.services
    return services


ServicesDep = Annotated[ServiceContext, Depends(get_services)]


def get_session(services: ServicesDep) -> Iterator[Session]:
    """One session per request, committed when the route returns normally."""
    with services.session() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


def current_principal(session: SessionDep, credentials: Credentials) -> Principal:
    principal = authenticate(session, credentials.credentials if credentials else None)
    if principal is None:
        raise UnauthorizedError("Missing or invalid API key.")
    return principal


def _check_role(principal: Principal, roles: tuple[Role, ...]) -> Principal:
    if Role(principal.role) not in roles:
        raise ForbiddenError(f"This endpoint is for {', '.join(r.value for r in roles)}.")
    return principal


def require(*roles: Role) -> Callable[..., Principal]:
    """A dependency admitting only these roles (403 for others: the endpoint exists for them)."""

    def check(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        return _check_role(principal, roles)

    return check


Uploader = Annotated[Principal, Depends(require(Role.uploader))]
CatalogBuilder = Annotated[Principal, Depends(require(Role.catalog_builder))]
Partner = Annotated[Principal, Depends(require(Role.partner))]
PrivacyAdmin = Annotated[Principal, Depends(require(Role.privacy_admin))]


def brief_principal(services: ServicesDep, credentials: Credentials) -> Principal:
    """The caller, authenticated in a session closed at once (the principal comes back detached).

    For long routes such as uploads: ``SessionDep`` keeps a pooled connection for the whole
    request, and twenty uploads waiting on OCR or on an idempotency key would exhaust the pool.
    """
    with Session(services.engine, expire_on_commit=False) as session:
        principal = authenticate(session, credentials.credentials if credentials else None)
    if principal is None:
        raise UnauthorizedError("Missing or invalid API key.")
    return principal


def require_brief(*roles: Role) -> Callable[..., Principal]:
    """:func:`require` on :func:`brief_principal`: the same 401/403 rules, no session held."""

    def check(principal: Annotated[Principal, Depends(brief_principal)]) -> Principal:
        return _check_role(principal, roles)

    return check


BriefUploader = Annotated[Principal, Depends(require_brief(Role.uploader))]
