"""The privacy desk (privacy admins) and the catalog browser (catalog builders).

The desk finds a person by e-mail or phone, shows the access report (what is held, from
which cards and uploaders, uses, disclosures, invites, notices, suppressions) and runs the
person's requests: opt-out, restriction and its lifting, erasure, the child flag and
Shine-the-Light for a year. Each action shows a confirmation page first and runs only from
its "Confirm" button; every one lands in the audit log (the rights services write the
events; viewing a report is logged here, with counts only). Searches are POSTed, so a
person's contact never sits in a URL, a browser history or an access log.

The catalog browser lists the companies the catalog purpose may show, with only the
fields that purpose may see (:mod:`services.catalog`), searched by name and paged.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from starlette.datastructures import FormData

from core.errors import BadArgumentsError
from services import access, disclosures, rights
from services.audit import audit
from services.catalog import list_companies
from web.deps import PREFIX, CatalogBuilder, Csrf, FormDep, PrivacyAdmin, render, services_of

router = APIRouter(prefix=PREFIX, include_in_schema=False)

ACTIONS = {
    "opt_out": (
        "Opt out",
        "Stop the uses ticked for this person, on every uploader's cards, now and for cards uploaded later.",
    ),
    "restrict": (
        "Restrict",
        "Keep the data but use it for nothing but its uploader's address book (Art. 18).",
    ),
    "lift_restriction": ("Lift the restriction", "Allow the uses the cards permit again."),
    "erase": (
        "Erase",
        "Delete every card, image, OCR text, invite and notice about this person. Their "
        "hashes stay, so they stay suppressed. This cannot be undone.",
    ),
    "child": (
        "Flag as a child",
        "Erase everything about this person and refuse their cards from now on. This cannot be undone.",
    ),
    "shine_the_light": (
        "Shine-the-Light report",
        "Which partners received this person's data for direct "
        "marketing in the year given, and which categories.",
    ),
}


def _person(form: FormData) -> dict[str, str | None]:
    email = str(form.get("email") or "").strip() or None
    phone = str(form.get("phone") or "").strip() or None
    if not email and not phone:
        raise BadArgumentsError("Give the person's e-mail address or phone number.")
    if (email and len(email) > 320) or (phone and len(phone) > 64):
        raise BadArgumentsError("That e-mail address or phone number is too long.")
    return {"email": email, "phone": phone}


def _year(form: FormData) -> int:
    text = str(form.get("year") or "").strip()
    if not text.isdigit():
        raise BadArgumentsError("Give the calendar year as four digits, e.g. 2026.")
    return int(text)


@router.get("/privacy", response_class=HTMLResponse)
def desk(request: Request, principal: PrivacyAdmin) -> HTMLResponse:
    return render(
        request, "privacy.html", person=None, report=None, actions=ACTIONS, year=datetime.now(UTC).year - 1
    )


@router.post("/privacy", response_class=HTMLResponse, dependencies=[Csrf])
def find(request: Request, principal: PrivacyAdmin, form: FormDep) -> HTMLResponse:
    """The access report of the person with this e-mail or phone (the same report as the API's)."""
    person = _person(form)
    services = services_of(request)
    with services.session() as db:
        report = access.access_report(
            db, **person, salt=services.salt, region=services.settings.default_region
        )
        audit(
            db,
            "access_report_viewed",
            principal,
            channel="web",
            found=report["found"],
            records=len(report["records"]),
        )
    return render(
        request,
        "privacy.html",
        person=person,
        report=report,
        actions=ACTIONS,
        year=datetime.now(UTC).year - 1,
    )


@router.post("/privacy/confirm", response_class=HTMLResponse, dependencies=[Csrf])
def confirm(request: Request, principal: PrivacyAdmin, form: FormDep) -> HTMLResponse:
    """The confirmation step: what the action will do, and a "Confirm" button (nothing changes yet)."""
    action = str(form.get("action") or "")
    if action not in ACTIONS:
        raise BadArgumentsError(f"Unknown action {action!r}.")
    person = _person(form)
    scopes = sorted(str(s) for s in form.getlist("scopes") if s in rights.OPT_OUT_SCOPES)
    if action == "opt_out" and not scopes:
        raise BadArgumentsError("Tick what the person opts out of: invites, partner sharing or both.")
    year = _year(form) if action == "shine_the_light" else None
    return render(
        request,
        "privacy_confirm.html",
        action=action,
        title=ACTIONS[action][0],
        explain=ACTIONS[action][1],
        person=person,
        scopes=scopes,
        year=year,
    )


def _run(request: Request, principal: Any, action: str, form: FormData) -> dict[str, Any]:
    services = services_of(request)
    person = _person(form)
    who: dict[str, Any] = {**person, "salt": services.salt, "region": services.settings.default_region}
    with services.session() as db:
        if action == "opt_out":
            scopes = {str(s) for s in form.getlist("scopes")}
            outcome: Any = rights.opt_out(db, **who, scopes=scopes, actor=principal)
        elif action == "restrict":
            outcome = rights.restrict(db, **who, actor=principal)
        elif action == "lift_restriction":
            outcome = rights.lift_restriction(db, **who, actor=principal)
        elif action in ("erase", "child"):
            act = rights.erase if action == "erase" else rights.flag_child
            outcome = act(db, **who, actor=principal, blobs=services.blobs)
        else:
            outcome = disclosures.shine_the_light(db, **who, year=_year(form))
            audit(
                db,
                "shine_the_light_viewed",
                principal,
                channel="web",
                year=outcome["year"],
                partners=len(outcome["partners"]),
            )
    return outcome if isinstance(outcome, dict) else outcome.to_dict()


@router.post("/privacy/act", response_class=HTMLResponse, dependencies=[Csrf])
def act(request: Request, principal: PrivacyAdmin, form: FormDep) -> HTMLResponse:
    """Run the confirmed action (committed before the page says it is done)."""
    action = str(form.get("action") or "")
    if action not in ACTIONS or form.get("confirm") != "yes":
        raise BadArgumentsError("Confirm the action on its confirmation page.")
    result = _run(request, principal, action, form)
    return render(
        request,
        "privacy_done.html",
        action=action,
        title=ACTIONS[action][0],
        result=result,
        person=_person(form),
    )


@router.get("/catalog", response_class=HTMLResponse)
def catalog(
    request: Request,
    principal: CatalogBuilder,
    q: str | None = Query(None, max_length=200),
    cursor: str | None = Query(None, max_length=200),
) -> HTMLResponse:
    """Companies the catalog may show, with the catalog's fields only; search by name, page by cursor."""
    services = services_of(request)
    with services.session() as db:
        companies, next_cursor = list_companies(db, q=q or None, cursor=cursor, limit=20)
    return render(
        request,
        "catalog.html",
        companies=companies,
        q=q or "",
        next_cursor=next_cursor,
        first_page=cursor is None,
    )
