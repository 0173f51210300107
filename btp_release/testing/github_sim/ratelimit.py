"""GitHub's primary rate limit: a fixed hourly window per token (or per anonymous client)."""

from __future__ import annotations

import threading
from collections.abc import Callable

import attrs

WINDOW_SECONDS = 3600
ANONYMOUS_LIMIT = 60


@attrs.frozen
class Quota:
    """The state of one caller's window, as the ``x-ratelimit-*`` headers report it."""

    limit: int
    used: int
    reset: int

    @property
    def remaining(self) -> int:
        return max(self.limit - self.used, 0)

    def headers(self, resource: str = "core") -> tuple[tuple[str, str], ...]:
        return (
            ("x-ratelimit-limit", str(self.limit)),
            ("x-ratelimit-remaining", str(self.remaining)),
            ("x-ratelimit-reset", str(self.reset)),
            ("x-ratelimit-used", str(self.used)),
            ("x-ratelimit-resource", resource),
        )

    def as_json(self) -> dict[str, int]:
        return {
            "limit": self.limit,
            "used": self.used,
            "remaining": self.remaining,
            "reset": self.reset,
        }


class RateLimiter:
    """Counts requests per key; the window restarts once the clock passes ``reset``."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._quotas: dict[str, Quota] = {}

    def _current(self, key: str, limit: int) -> Quota:
        now = self._clock()
        quota = self._quotas.get(key)
        if quota is None or now >= quota.reset:
            quota = Quota(limit, 0, int(now) + WINDOW_SECONDS)
            self._quotas[key] = quota
        return quota

    def peek(self, key: str, limit: int) -> Quota:
        with self._lock:
            return self._current(key, limit)

    def consume(self, key: str, limit: int) -> Quota:
        with self._lock:
            quota = self._current(key, limit)
            quota = attrs.evolve(quota, used=quota.used + 1)
            self._quotas[key] = quota
            return quota
