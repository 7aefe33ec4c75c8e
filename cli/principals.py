"""``cards principals create|list|revoke``: who may call the service, with which role.

Thin: the logic is in :mod:`services.principals`, shared with the HTTP API. The API key is
printed once, by ``create``; nothing can show it again.
"""

from __future__ import annotations

from typing import Annotated

import typer

from cli.common import print_json, reported_errors
from cli.context import services_context
from models.enums import Role
from services.principals import create_principal, list_principals, principal_dict, revoke_principal

principals_app = typer.Typer(
    help="Principals (API clients and people) and their API keys.", no_args_is_help=True
)


@principals_app.command()
def create(
    role: Annotated[Role, typer.Option(help="What the principal may do.")],
    name: Annotated[str, typer.Option(help="A unique name, e.g. the partner's or person's.")],
) -> None:
    """Create a principal and print its API key, once: store it now, it cannot be shown again."""
    with reported_errors():
        with services_context().session() as session:
            principal, key = create_principal(session, name, role)
        print_json({**principal_dict(principal), "api_key": key})  # only once it is committed


@principals_app.command("list")
def list_() -> None:
    """List principals (never their keys)."""
    with reported_errors(), services_context().session() as session:
        print_json([principal_dict(p) for p in list_principals(session)])


@principals_app.command()
def revoke(principal_id: Annotated[int, typer.Argument(metavar="ID", help="The principal's id.")]) -> None:
    """Revoke a principal's API key from now on (the principal and its history stay)."""
    with reported_errors(), services_context().session() as session:
        print_json(principal_dict(revoke_principal(session, principal_id)))


def register(app: typer.Typer) -> None:
    app.add_typer(principals_app, name="principals")
