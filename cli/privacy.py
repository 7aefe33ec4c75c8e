"""``cards notices``, ``cards partners``, ``cards retention`` and ``cards register``: running privacy.

Thin over :mod:`services.notices`, :mod:`services.partners`, :mod:`services.retention` and
:mod:`services.register`; JSON on stdout once the transaction has committed.
"""

from __future__ import annotations

import sys
from dataclasses import asdict
from enum import StrEnum
from typing import Annotated

import typer

from cli.common import print_json, reported_errors
from cli.context import services_context
from services import notices, partners, retention
from services.errors import NotFoundError
from services.principals import principal_by_name
from services.register import register as build_register
from services.register import register_markdown

notices_app = typer.Typer(
    help="Notices owed to the people on the cards (GDPR Art. 14).", no_args_is_help=True
)
partners_app = typer.Typer(help="The partner registry.", no_args_is_help=True)
retention_app = typer.Typer(help="Retention periods, enforced.", no_args_is_help=True)


class RegisterFormat(StrEnum):
    json = "json"
    markdown = "markdown"


@notices_app.command("due")
def due(limit: Annotated[int, typer.Option("--limit", min=1)] = 100) -> None:
    """Notices to send now, with the text each must carry (oldest deadline first)."""
    with reported_errors():
        ctx = services_context()
        with ctx.session() as session:
            print_json([asdict(n) for n in notices.due_notices(session, ctx.settings, limit=limit)])


@notices_app.command("sent")
def notice_sent(
    notice_id: Annotated[int, typer.Argument(help="The notice id from `cards notices due`.")],
    channel: Annotated[str, typer.Option("--channel", help="email, post, invite or other.")] = "email",
) -> None:
    """Record that a notice was sent."""
    with reported_errors(), services_context().session() as session:
        notice = notices.mark_sent(session, notice_id, None, channel=channel)
        print_json({"id": notice.id, "sent": True})


@partners_app.command("register")
def register_partner(
    name: Annotated[
        str, typer.Argument(help="The partner principal's name (`cards principals create --role partner`).")
    ],
    legal_name: Annotated[str, typer.Option("--legal-name")],
    address: Annotated[
        str, typer.Option("--address", help="Postal address, as Shine-the-Light answers give it.")
    ],
    country: Annotated[str, typer.Option("--country", help="ISO 3166 alpha-2.")],
    contract: Annotated[str, typer.Option("--contract", help="The data-sharing contract's reference.")],
) -> None:
    """Add a partner to the registry (or update it); until then it receives nothing."""
    with reported_errors():
        with services_context().session() as session:
            principal = principal_by_name(session, name)
            if principal is None:
                raise NotFoundError(f"No principal named {name!r}.")
            details = partners.PartnerDetails(legal_name, address, country, contract)
            partners.register_partner(session, None, principal, details)
            assert principal.id is not None
            out = partners.get_partner(session, principal.id)
        print_json(out)


@partners_app.command("list")
def list_partners() -> None:
    """Every registered partner."""
    with reported_errors(), services_context().session() as session:
        print_json(partners.list_partners(session))


@retention_app.command("sweep")
def sweep(
    apply: Annotated[
        bool, typer.Option("--apply", help="Remove what is past its period (default: report only).")
    ] = False,
) -> None:
    """Find (and with --apply remove) everything kept longer than its retention period."""
    with reported_errors():
        ctx = services_context()
        with ctx.session() as session:
            report = retention.sweep(session, ctx.settings, ctx.blobs, apply=apply)
        print_json(report.to_dict())


def processing_register(
    format: Annotated[RegisterFormat, typer.Option("--format", "-f")] = RegisterFormat.markdown,
) -> None:
    """The record of processing activities (GDPR Art. 30), made from the policy, registry and settings."""
    with reported_errors():
        ctx = services_context()
        with ctx.session() as session:
            data = build_register(session, ctx.settings)
        if format is RegisterFormat.json:
            print_json(data)
        else:
            sys.stdout.write(register_markdown(data))


def register(app: typer.Typer) -> None:
    app.add_typer(notices_app, name="notices")
    app.add_typer(partners_app, name="partners")
    app.add_typer(retention_app, name="retention")
    app.command("register", help=processing_register.__doc__)(processing_register)
