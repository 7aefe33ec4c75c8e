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
from sqlmodel import select

from cli.common import reported_errors
from cli.db import database_errors
from ingest.errors import BadArgumentsError
from models.principals import create_principal, generate_api_key, hash_api_key
from models.tables import AuditEvent, Principal, Role


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
    from models.db import session_scope

    keys: dict[str, dict[str, str]] = {}
    with reported_errors(), database_errors(), session_scope() as session:
        for role in Role:
            name = demo_name(role)
            principal = session.exec(select(Principal).where(Principal.name == name)).first()
            if principal is None:
                principal, key = create_principal(session, name, role)
            elif ensure_only:
                continue
            else:
                if Role(principal.role) is not role:
                    raise BadArgumentsError(f"{name!r} exists with the role {Role(principal.role).value}.")
                key = generate_api_key()
                principal.api_key_hash, principal.revoked_at = hash_api_key(key), None
                rotated = AuditEvent(action="principal_key_rotated", details={"principal_id": principal.id})
                session.add(rotated)
            keys[role.value] = {"name": name, "key": key}
    if ensure_only:
        return
    if as_json:
        print(json.dumps(keys, indent=2))
        return
    print("Demo API keys (new on every run: the previous demo keys no longer work):")
    for role, entry in keys.items():
        print(f"  {role:<16} {entry['name']:<22} {entry['key']}")
    print(f"\nAPI docs: {base_url}/docs   e.g.:")
    for role, path in (("catalog_builder", "/v1/catalog/companies"), ("uploader", "/v1/cards")):
        print(f'  curl -H "Authorization: Bearer {keys[role]["key"]}" {base_url}{path}')


def register(app: typer.Typer) -> None:
    app.command(help=demo.__doc__)(demo)
