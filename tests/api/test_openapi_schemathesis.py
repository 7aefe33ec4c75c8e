"""Property-based run of schemathesis against the app's own OpenAPI schema: no answer may be a 5xx.

Every operation of ``/openapi.json`` is called in-process (ASGI) with generated parameters
and bodies, as the role its tag belongs to (so the requests get past authentication and
reach the code), on a database holding a few cards permitted for every use. Each answer
must not be a server error, and every error must be a problem+json document. Examples are
bounded (:data:`EXAMPLES` per operation, derandomized, no shrinking) to keep a run well under
a minute per database; an operation whose tag has no role here fails the test rather than
being skipped.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.python.asgi import shutdown_lifespans

from api.ratelimit import RateLimiter
from models.enums import Role, Use
from models.tables import ContactRecord, Principal

EXAMPLES = 25
ROLE_BY_TAG: dict[str, Role | None] = {
    "health": None,
    "subjects": Role.privacy_admin,  # the public opt-out ignores the key
    "cards": Role.uploader,
    "jobs": Role.uploader,
    "catalog": Role.catalog_builder,
    "partner": Role.partner,
    "invites": Role.privacy_admin,  # the unsubscribe link ignores the key
    "notices": Role.privacy_admin,
    "partners": Role.privacy_admin,
    "register": Role.privacy_admin,
    "opt-out": None,
}


def problem_shape(ctx: Any, response: Any, case: Any) -> bool | None:
    """Every 4xx/5xx answer is RFC 9457 problem+json with the status repeated in the body."""
    if response.status_code < 400:
        return None
    content_type = response.headers.get("content-type", [""])
    content_type = content_type[0] if isinstance(content_type, list) else content_type
    assert content_type.startswith("application/problem+json"), f"{response.status_code} as {content_type}"
    body = response.json()
    assert body["status"] == response.status_code and body["type"] == f"/problems/{body['code']}"
    return None


def fuzz(operation: Any, auth: dict[str, str], statuses: Counter[int]) -> None:
    """Call one operation with :data:`EXAMPLES` generated requests; raises on the first failed check."""

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy())
    def call(case: Any) -> None:
        response = case.call(headers=auth)
        statuses[response.status_code] += 1
        case.validate_response(response, checks=[not_a_server_error, problem_shape])

    call()


def test_no_operation_answers_a_server_error(
    app: Any,
    make_caller: Callable[[Role, str], Any],
    store_card: Callable[..., ContactRecord],
    uploader: Principal,
) -> None:
    app.state.opt_out_limiter = RateLimiter(per_minute=1_000_000)
    for n in range(3):
        store_card(
            uploader,
            name=f"Person {n}",
            email=f"person{n}@example.com",
            company=f"Company {n % 2} GmbH",
            website=f"https://company{n % 2}.example",
            phone=f"+1415555010{n}",
            uses=[Use.catalog, Use.partner_sharing, Use.invites],
        )
    keys = {role: make_caller(role, f"fuzz-{role.value}").key for role in Role}
    headers = {role: {"Authorization": f"Bearer {key}"} for role, key in keys.items()}
    failures: list[str] = []
    seen: dict[str, Counter[int]] = {}
    try:
        schema = schemathesis.openapi.from_asgi("/openapi.json", app)
        operations = [result.ok() for result in schema.get_all_operations()]
        assert len(operations) >= 10
        for operation in operations:
            tags = operation.tags or []
            assert tags and tags[0] in ROLE_BY_TAG, f"{operation.label}: no role for tags {tags}"
            role = ROLE_BY_TAG[tags[0]]
            auth = headers[role] if role is not None else {}

            try:
                statuses: Counter[int] = Counter()
                seen[operation.label] = statuses
                fuzz(operation, auth, statuses)
            except Exception as exc:  # collect every operation's failure, then fail once
                failures.append(f"{operation.label}: {type(exc).__name__}: {str(exc)[:2000]}")
    finally:
        shutdown_lifespans()  # the app's OCR pool and job worker, started by schemathesis' client
    assert failures == [], "\n\n".join(failures)
    never_called = [label for label, statuses in seen.items() if not statuses]
    assert never_called == []
