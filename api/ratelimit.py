"""A per-client sliding-window limit for the public endpoints (the opt-out)."""

from __future__ import annotations

import threading
import time
from collections import deque

from fastapi import Request


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


def limiter_of(request: Request) -> RateLimiter:
    """The app's limiter (tests may set ``app.state.opt_out_limiter``); made on first use."""
    limiter = getattr(request.app.state, "opt_out_limiter", None)
    if limiter is None:
        limiter = RateLimiter(request.app.state.services.settings.opt_out_per_minute)
        request.app.state.opt_out_limiter = limiter
    return limiter
