"""The opt-out's per-client limit, shared by every server process (:mod:`services.ratelimit`).

Tests may set ``app.state.opt_out_limiter`` to a :class:`RateLimiter` with another limit.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from services import ratelimit
from services.context import ServiceContext


@dataclass(frozen=True)
class RateLimiter:
    """At most ``per_minute`` calls per client in any 60 s window, counted in the database."""

    per_minute: int
    name: str = "opt_out"

    def retry_after(self, services: ServiceContext, client: str) -> int:
        """0 and the call is counted, or the seconds to wait (the call is not counted)."""
        return ratelimit.retry_after(services.engine, self.name, client, self.per_minute)


def limiter_of(request: Request) -> RateLimiter:
    """The app's limiter; made from ``CARDS_OPT_OUT_PER_MINUTE`` on first use."""
    limiter = getattr(request.app.state, "opt_out_limiter", None)
    if limiter is None:
        limiter = RateLimiter(request.app.state.services.settings.opt_out_per_minute)
        request.app.state.opt_out_limiter = limiter
    return limiter


def opt_out_wait(request: Request) -> int:
    """Seconds the caller must wait before another opt-out (0: go ahead, counted); call from a thread."""
    client = request.client.host if request.client else "unknown"
    return limiter_of(request).retry_after(request.app.state.services, client)
