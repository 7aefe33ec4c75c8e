"""``cards subjects …`` and ``cards invites …``: a privacy operator's commands over the rights services.

Thin: each command opens one transaction (engine from DATABASE_URL), calls
:mod:`services.rights`, :mod:`services.access`, :mod:`services.disclosures` or
:mod:`services.invites`, and prints JSON once the transaction has committed. Subject
commands act as the operator at the terminal, so their audit events carry no actor
(``actor_id`` is null); ``invites sent`` names the principal that sent the invite, because
an invite row must say who sent it.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

import typer

from cli.common import print_json, reported_errors
from cli.context import services_context
from core.times import iso_utc
from services import access as access_reports
from services import disclosures, invites, rights
from services.errors import NotFoundError
from services.principals import principal_by_name

subjects_app = typer.Typer(
    help="A person's rights: opt-out, erasure, child flag, access and Shine-the-Light reports.",
    no_args_is_help=True,
)
invites_app = typer.Typer(help="Invite candidates, and logging the invites sent.", no_args_is_help=True)

Email = Annotated[str | None, typer.Option("--email", help="The person's e-mail address.")]
Phone = Annotated[str | None, typer.Option("--phone", help="The person's phone number (+<country><number>).")]
Region = Annotated[
    str | None,
    typer.Option("--region", help="Country for a phone without +prefix (default CARDS_DEFAULT_REGION)."),
]


def _region(region: str | None) -> str:
    return (region or services_context().settings.default_region).upper()


@subjects_app.command("opt-out")
def opt_out(
    email: Email = None,
    phone: Phone = None,
    scope: Annotated[
        str, typer.Option("--scope", help="What to stop, comma-separated: invites, partners.")
    ] = "invites,partners",
    region: Region = None,
) -> None:
    """Stop invites and/or partner sharing for a person, on every uploader's cards, now and later."""
    with reported_errors():
        scopes = {s.strip() for s in scope.split(",") if s.strip()}
        ctx = services_context()
        with ctx.session() as session:
            result = rights.opt_out(
                session,
                email=email,
                phone=phone,
                scopes=scopes,
                actor=None,
                salt=ctx.salt,
                region=_region(region),
            )
        print_json(result.to_dict())


def _erase(email: str | None, phone: str | None, region: str | None, *, child: bool) -> None:
    with reported_errors():
        action = rights.flag_child if child else rights.erase
        ctx = services_context()
        with ctx.session() as session:
            result = action(
                session,
                email=email,
                phone=phone,
                actor=None,
                salt=ctx.salt,
                blobs=ctx.blobs,
                region=_region(region),
            )
        print_json(result.to_dict())  # after the commit: blobs_deleted is final


@subjects_app.command("erase")
def erase(email: Email = None, phone: Phone = None, region: Region = None) -> None:
    """Delete everything stored about a person; keep only suppression hashes and a counts-only audit entry."""
    _erase(email, phone, region, child=False)


@subjects_app.command("child")
def child(email: Email = None, phone: Phone = None, region: Region = None) -> None:
    """Flag a person as under 13: erase them and refuse their cards from now on."""
    _erase(email, phone, region, child=True)


@subjects_app.command("access")
def access(email: Email = None, phone: Phone = None, region: Region = None) -> None:
    """Everything stored about a person: values, sources, uploaders, uses, disclosures, invites."""
    with reported_errors(), services_context().session() as session:
        report = access_reports.access_report(
            session, email=email, phone=phone, salt=services_context().salt, region=_region(region)
        )
        print_json(report)


@subjects_app.command("shine-the-light")
def shine_the_light(
    year: Annotated[int, typer.Option("--year", help="Calendar year (UTC), e.g. 2026.")],
    email: Email = None,
    phone: Phone = None,
    region: Region = None,
) -> None:
    """California Shine-the-Light: partners that got the person's data for direct marketing in a year."""
    with reported_errors(), services_context().session() as session:
        report = disclosures.shine_the_light(
            session, email=email, phone=phone, year=year, salt=services_context().salt, region=_region(region)
        )
        print_json(report)


@invites_app.command("candidates")
def candidates(
    limit: Annotated[int, typer.Option("--limit", help="At most this many people.")] = 100,
    cooldown_days: Annotated[
        int | None, typer.Option("--cooldown-days", help="Skip people invited this recently (default 90).")
    ] = None,
) -> None:
    """People who may be invited now: one per person across uploaders, with their e-mail."""
    with reported_errors(), services_context().session() as session:
        days = services_context().settings.invite_cooldown_days if cooldown_days is None else cooldown_days
        found = invites.invite_candidates(session, cooldown_days=days, limit=limit)
        print_json([asdict(c) for c in found])


@invites_app.command("sent")
def sent(
    subject_id: Annotated[int, typer.Argument(help="The subject id from `cards invites candidates`.")],
    by: Annotated[str, typer.Option("--by", help="Name of the principal that sent the invite.")],
    record_id: Annotated[int | None, typer.Option("--record-id", help="The record the invite used.")] = None,
) -> None:
    """Log an invite as sent; refused if the person no longer qualifies."""
    with reported_errors():
        ctx = services_context()
        with ctx.session() as session:
            actor = principal_by_name(session, by)
            if actor is None:
                raise NotFoundError(f"No principal named {by!r}.")
            invite = invites.record_invite(
                session,
                subject_id=subject_id,
                actor=actor,
                record_id=record_id,
                cooldown_days=ctx.settings.invite_cooldown_days,
            )
            out = {
                "id": invite.id,
                "subject_id": invite.subject_id,
                "record_id": invite.record_id,
                "sent_at": iso_utc(invite.sent_at),
            }
        print_json(out)


def register(app: typer.Typer) -> None:
    app.add_typer(subjects_app, name="subjects")
    app.add_typer(invites_app, name="invites")
