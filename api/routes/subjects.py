"""A person's rights over HTTP, for a privacy admin: ``POST /v1/subject-requests``.

It runs one request of :mod:`services.rights`, :mod:`services.access` or
:mod:`services.disclosures` and answers with its result or report. It commits before
answering: an erasure reported as done is done (and its after-commit work — deleting
images, checkpointing SQLite's log — has run), and a failed commit is an error, not a
success. The public opt-out (page and JSON, no key) is :mod:`api.routes.opt_out`.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.deps import PrivacyAdmin, ServicesDep, SessionDep
from api.schemas import SubjectRequest, SubjectRequestResult, problem_responses
from services import access, disclosures, rights

router = APIRouter(tags=["subjects"])


@router.post(
    "/v1/subject-requests",
    response_model=SubjectRequestResult,
    responses=problem_responses(400, 401, 403, 422),
)
def subject_request(
    body: SubjectRequest, session: SessionDep, admin: PrivacyAdmin, services: ServicesDep
) -> SubjectRequestResult:
    """Run an opt-out, restriction (or its lifting), erasure, child flag, access or Shine-the-Light report."""
    who: dict[str, Any] = {
        "email": body.email,
        "phone": body.phone,
        "name": body.name,
        "company": body.company,
        "salt": services.salt,
        "region": services.settings.default_region,
    }
    if body.type == "opt_out":
        outcome: Any = rights.opt_out(session, **who, scopes=set(body.scopes), actor=admin)
    elif body.type == "restrict":
        outcome = rights.restrict(session, **who, actor=admin)
    elif body.type == "lift_restriction":
        outcome = rights.lift_restriction(session, **who, actor=admin)
    elif body.type in ("erasure", "child"):
        action = rights.erase if body.type == "erasure" else rights.flag_child
        outcome = action(session, **who, actor=admin, blobs=services.blobs)
    elif body.type == "access":
        outcome = access.access_report(session, **who)
    else:
        assert body.year is not None  # the schema requires it for shine_the_light
        outcome = disclosures.shine_the_light(session, **who, year=body.year)
    session.commit()  # done before it is reported done (and the erasure's after-commit work has run)
    result = outcome if isinstance(outcome, dict) else outcome.to_dict()
    return SubjectRequestResult(type=body.type, result=result)
