"""``cards subjects …``, ``cards invites …`` and ``cards users``: a privacy operator's commands.

Thin: each command opens one transaction (engine from DATABASE_URL), calls
:mod:`services.rights`, :mod:`services.access`, :mod:`services.disclosures` or
:mod:`services.invites`, and prints JSON once the transaction has committed. Subject
commands act as the operator at the terminal, so their audit events carry no actor
(``actor_id`` is null); invite commands name the principal that claims and sends, because
an invite row must say who sent it.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

import typer

from cli.common import print_json, reported_errors
from cli.context import services_context
from core.times import iso_utc
from services import access as access_reports
from services import disclosures, invites, rights
from services.errors import NotFoundError
from services.principals import principal_by_name

subjects_app = typer.Typer(
    help="A person's rights: opt-out, restriction, erasure, child flag, access and Shine-the-Light reports.",
    no_args_is_help=True,
)
invites_app = typer.Typer(
    help="Invite candidates, claims before sending, and the invites sent.", no_args_is_help=True
)
users_app = typer.Typer(help="People who became users of the service: never invited.", no_args_is_help=True)

Email = Annotated[str | None, typer.Option("--email", help="The person's e-mail address.")]
Phone = Annotated[str | None, typer.Option("--phone", help="The person's phone number (+<country><number>).")]
Name = Annotated[str | None, typer.Option("--name", help="The person's full name (with --company).")]
Company = Annotated[
    str | None, typer.Option("--company", help="Their company or its web domain (with --name).")
]
Region = Annotated[
    str | None,
    typer.Option("--region", help="Country for a phone without +prefix (default CARDS_DEFAULT_REGION)."),
]
By = Annotated[str, typer.Option("--by", help="Name of the principal (a privacy admin) doing it.")]


def _who(
    email: str | None, phone: str | None, name: str | None, company: str | None, region: str | None
) -> dict[str, Any]:
    ctx = services_context()
    return {
        "email": email,
        "phone": phone,
        "name": name,
        "company": company,
        "salt": ctx.salt,
        "region": (region or ctx.settings.default_region).upper(),
    }


@subjects_app.command("opt-out")
def opt_out(
    email: Email = None,
    phone: Phone = None,
    name: Name = None,
    company: Company = None,
    scope: Annotated[
        str, typer.Option("--scope", help="What to stop, comma-separated: invites, partners.")
    ] = "invites,partners",
    region: Region = None,
) -> None:
    """Stop invites and/or partner sharing for a person, on every uploader's cards, now and later."""
    with reported_errors():
        scopes = {s.strip() for s in scope.split(",") if s.strip()}
        with services_context().session() as session:
            result = rights.opt_out(
                session, **_who(email, phone, name, company, region), scopes=scopes, actor=None
            )
        print_json(result.to_dict())


@subjects_app.command("restrict")
def restrict(
    email: Email = None,
    phone: Phone = None,
    name: Name = None,
    company: Company = None,
    region: Region = None,
) -> None:
    """Restrict a person (GDPR Art. 18): kept, visible to their uploaders, used for nothing else."""
    with reported_errors():
        with services_context().session() as session:
            result = rights.restrict(session, **_who(email, phone, name, company, region), actor=None)
        print_json(result.to_dict())


@subjects_app.command("unrestrict")
def unrestrict(
    email: Email = None,
    phone: Phone = None,
    name: Name = None,
    company: Company = None,
    region: Region = None,
) -> None:
    """Lift a person's restriction: their cards are used again as their uses and attestations say."""
    with reported_errors():
        with services_context().session() as session:
            result = rights.lift_restriction(session, **_who(email, phone, name, company, region), actor=None)
        print_json(result.to_dict())


def _erase(
    email: str | None,
    phone: str | None,
    name: str | None,
    company: str | None,
    region: str | None,
    *,
    child: bool,
) -> None:
    with reported_errors():
        action = rights.flag_child if child else rights.erase
        ctx = services_context()
        with ctx.session() as session:
            result = action(session, **_who(email, phone, name, company, region), actor=None, blobs=ctx.blobs)
        print_json(result.to_dict())  # after the commit: blobs_deleted is final


@subjects_app.command("erase")
def erase(
    email: Email = None,
    phone: Phone = None,
    name: Name = None,
    company: Company = None,
    region: Region = None,
) -> None:
    """Delete everything stored about a person; keep suppression hashes, the ledger, a counts-only entry."""
    _erase(email, phone, name, company, region, child=False)


@subjects_app.command("child")
def child(
    email: Email = None,
    phone: Phone = None,
    name: Name = None,
    company: Company = None,
    region: Region = None,
) -> None:
    """Flag a person as under 13: erase them and refuse their cards from now on."""
    _erase(email, phone, name, company, region, child=True)


@subjects_app.command("access")
def access(
    email: Email = None,
    phone: Phone = None,
    name: Name = None,
    company: Company = None,
    region: Region = None,
) -> None:
    """Everything stored about a person: values, sources, uploaders, uses, disclosures, invites, notices."""
    with reported_errors(), services_context().session() as session:
        print_json(access_reports.access_report(session, **_who(email, phone, name, company, region)))


@subjects_app.command("shine-the-light")
def shine_the_light(
    year: Annotated[int, typer.Option("--year", help="Calendar year (UTC), e.g. 2026.")],
    email: Email = None,
    phone: Phone = None,
    name: Name = None,
    company: Company = None,
    region: Region = None,
) -> None:
    """California Shine-the-Light: partners (names, addresses) that got the person's data in a year."""
    with reported_errors(), services_context().session() as session:
        print_json(
            disclosures.shine_the_light(session, **_who(email, phone, name, company, region), year=year)
        )


def _actor(session: Any, by: str) -> Any:
    actor = principal_by_name(session, by)
    if actor is None:
        raise NotFoundError(f"No principal named {by!r}.")
    return actor


@invites_app.command("candidates")
def candidates(
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many people.")] = 100,
) -> None:
    """People who may be invited now (read-only): one each, under the lifetime cap, outside the cooldown."""
    with reported_errors(), services_context().session() as session:
        rules = invites.InviteRules.from_settings(services_context().settings)
        print_json([asdict(c) for c in invites.invite_candidates(session, rules=rules, limit=limit)])


@invites_app.command("claim")
def claim(
    by: By, limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many people.")] = 10
) -> None:
    """Reserve people to invite; each comes with the notice to include and an unsubscribe link."""
    with reported_errors():
        ctx = services_context()
        with ctx.session() as session:
            claimed = invites.claim_candidates(
                session, _actor(session, by), ctx.settings, salt=ctx.salt, limit=limit
            )
        print_json([asdict(c) for c in claimed])


@invites_app.command("sent")
def sent(
    claim_id: Annotated[int, typer.Argument(help="The claim id from `cards invites claim`.")], by: By
) -> None:
    """Record the invitation sent under a claim; refused if the claim was released (the person opted out)."""
    with reported_errors():
        with services_context().session() as session:
            invite = invites.confirm_sent(session, claim_id, _actor(session, by))
            out = {
                "id": invite.id,
                "subject_id": invite.subject_id,
                "record_id": invite.record_id,
                "sent_at": iso_utc(invite.sent_at),
            }
        print_json(out)


@invites_app.command("release")
def release(claim_id: Annotated[int, typer.Argument(help="The claim id.")], by: By) -> None:
    """Give a claimed person back without sending."""
    with reported_errors():
        with services_context().session() as session:
            invites.release(session, claim_id, _actor(session, by))
        print_json({"status": "released", "claim_id": claim_id})


@users_app.command("mark")
def mark_user(email: Annotated[str, typer.Option("--email", help="The new user's e-mail address.")]) -> None:
    """Someone signed up: never invite them (only a hash of the e-mail is kept)."""
    with reported_errors():
        ctx = services_context()
        with ctx.session() as session:
            result = invites.mark_users(session, email=email, actor=None, salt=ctx.salt)
        print_json(result)


def register(app: typer.Typer) -> None:
    app.add_typer(subjects_app, name="subjects")
    app.add_typer(invites_app, name="invites")
    app.add_typer(users_app, name="users")
