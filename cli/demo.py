"""``cards demo``: one demo principal per role, with a fresh API key each, for ``make run``.

Keys are shown once and only their hash is stored, so a re-run cannot show the old keys
again: it gives the same principals (same ids, so the demo uploader keeps its imported
cards) new keys, and the earlier demo keys stop working. Idempotent otherwise; it only
touches principals named ``demo-<role>``.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer

from cli.common import reported_errors
from cli.context import services_context
from core.errors import BadArgumentsError
from models.enums import Role
from services.partners import PartnerDetails, profile_of, register_partner
from services.principals import create_principal, principal_by_name, rotate_key

# The demo partner's registry entry (a partner receives nothing until it is registered).
DEMO_PARTNER = PartnerDetails(
    legal_name="Demo Partner Ltd",
    postal_address="1 Example Street, Springfield, CA 90000, USA",
    country="US",
    contract_ref="DEMO-DSA-1",
)


def demo_name(role: Role) -> str:
    return f"demo-{role.value.replace('_', '-')}"


def demo(
    ensure_only: Annotated[
        bool, typer.Option("--ensure-only", help="Only create missing demo principals; print no keys.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print {role: {name, key}} as JSON.")] = False,
    base_url: Annotated[str, typer.Option(help="Where the API will listen (for the examples).")] = (
        "http://127.0.0.1:8000"
    ),
) -> None:
    """Create or re-key the demo principals (demo-uploader, …) and print one API key per role."""
    keys: dict[str, dict[str, str]] = {}
    with reported_errors(), services_context().session() as session:
        for role in Role:
            name = demo_name(role)
            principal = principal_by_name(session, name)
            if principal is None:
                principal, key = create_principal(session, name, role)
            elif ensure_only:
                continue
            else:
                if Role(principal.role) is not role:
                    raise BadArgumentsError(f"{name!r} exists with the role {Role(principal.role).value}.")
                key = rotate_key(session, principal)
            keys[role.value] = {"name": name, "key": key}
            if role is Role.partner and profile_of(session, principal.id or 0) is None:
                register_partner(session, None, principal, DEMO_PARTNER)
    if ensure_only:
        return
    if as_json:
        print(json.dumps(keys, indent=2))
        return
    print("Demo API keys (new on every run: the previous demo keys no longer work):")
    for role_name, entry in keys.items():
        print(f"  {role_name:<16} {entry['name']:<22} {entry['key']}")
    print(f"\nWeb app: {base_url}/app/   (sign in with one of the keys above)")
    print(f"API docs: {base_url}/docs   e.g.:")
    for role_name, path in (("catalog_builder", "/v1/catalog/companies"), ("uploader", "/v1/cards")):
        print(f'  curl -H "Authorization: Bearer {keys[role_name]["key"]}" {base_url}{path}')


def register(app: typer.Typer) -> None:
    app.command(help=demo.__doc__)(demo)
