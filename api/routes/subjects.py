"""A person's rights over HTTP: the privacy admin's requests, and a public opt-out.

``POST /v1/subject-requests`` runs one :mod:`services.rights` request for a privacy admin and
answers with its result or report. It commits before answering: an erasure reported as
done is done (and its after-commit work — deleting images, checkpointing SQLite's log —
has run), and a failed commit is an error, not a success.

``POST /v1/opt-out`` needs no key: anyone may stop the use of their own e-mail address. It
only ever suppresses and always answers 202 with the same body, whether or not the address
is known, so it cannot be used to find out whom we hold. A per-address (client IP) sliding
window limit keeps it from being used to flood the suppression list; behind a proxy every
client shares the proxy's address, so put the limit there instead (``CARDS_OPT_OUT_PER_MINUTE``).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any

from fastapi import APIRouter, Request, status
from fastapi.responses import JSONResponse

from api.deps import PrivacyAdmin, ServicesDep, SessionDep
from api.problems import problem
from api.schemas import OptOutAccepted, PublicOptOut, SubjectRequest, SubjectRequestResult, problem_responses
from services import access, disclosures, rights

router = APIRouter(tags=["subjects"])


class RateLimiter:
    """At most ``per_minute`` calls per key in any 60 s window; thread-safe, memory bounded."""

    def __init__(self, per_minute: int, *, max_keys: int = 10_000) -> None:
        self.per_minute, self.max_keys = per_minute, max_keys
        self.calls: dict[str, deque[float]] = {}
        self.lock = threading.Lock()

    def retry_after(self, key: str, now: float | None = None) -> int:
        """0 and the call is counted, or the seconds to wait (the call is not counted)."""
        now = time.monotonic() if now is None else now
        with self.lock:
            if len(self.calls) >= self.max_keys:  # forget idle addresses before growing further
                for stale in [k for k, q in self.calls.items() if not q or q[-1] <= now - 60]:
                    del self.calls[stale]
                if len(self.calls) >= self.max_keys:
                    self.calls.pop(next(iter(self.calls)))
            window = self.calls.setdefault(key, deque())
            while window and window[0] <= now - 60:
                window.popleft()
            if len(window) >= self.per_minute:
                return max(1, int(window[0] + 60 - now) + 1)
            window.append(now)
            return 0


def _limiter(request: Request) -> RateLimiter:
    """The app's limiter (tests may set ``app.state.opt_out_limiter``); made on first use."""
    limiter = getattr(request.app.state, "opt_out_limiter", None)
    if limiter is None:
        limiter = RateLimiter(request.app.state.services.settings.opt_out_per_minute)
        request.app.state.opt_out_limiter = limiter
    return limiter


@router.post(
    "/v1/subject-requests",
    response_model=SubjectRequestResult,
    responses=problem_responses(400, 401, 403, 422),
)
def subject_request(
    body: SubjectRequest, session: SessionDep, admin: PrivacyAdmin, services: ServicesDep
) -> SubjectRequestResult:
    """Run an opt-out, erasure, child flag, access report or Shine-the-Light report (privacy admin)."""
    who: dict[str, Any] = {"email": body.email, "phone": body.phone, "salt": services.salt}
    who["region"] = services.settings.default_region
    if body.type == "opt_out":
        outcome: Any = rights.opt_out(session, **who, scopes=set(body.scopes), actor=admin)
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


@router.post(
    "/v1/opt-out",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=OptOutAccepted,
    responses=problem_responses(400, 422, 429),
)
def public_opt_out(
    body: PublicOptOut, session: SessionDep, services: ServicesDep, request: Request
) -> OptOutAccepted | JSONResponse:
    """Stop invites and/or partner sharing for your own e-mail address: no key, and no hint if we know it."""
    client = request.client.host if request.client else "unknown"
    wait = _limiter(request).retry_after(client)
    if wait:
        limited = problem(429, "too_many_requests", f"Too many opt-out requests: retry in {wait} s.")
        limited.headers["Retry-After"] = str(wait)
        return limited
    rights.opt_out(
        session,
        email=body.email,
        scopes=set(body.scopes),
        actor=None,
        salt=services.salt,
        region=services.settings.default_region,
    )
    session.commit()
    return OptOutAccepted()
