"""GitHub's rate limits: the primary one (a fixed hourly window per token or anonymous client) and
the secondary limit on content-creating requests (sliding windows of a minute and an hour).
"""

from __future__ import annotations

import collections
import math
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


@attrs.frozen
class SecondaryLimits:
    """GitHub's secondary limit on content-creating requests, per token.

    GitHub documents "no more than 80 content-generating requests per minute and no more than 500
    content-generating requests per hour"; beyond that it answers 403 (or 429: ``status``) with
    ``retry-after``. The defaults are those numbers; tests pass smaller ones.
    """

    per_minute: int = attrs.field(default=80, validator=attrs.validators.ge(1))
    per_hour: int = attrs.field(default=500, validator=attrs.validators.ge(1))
    status: int = attrs.field(default=403, validator=attrs.validators.in_((403, 429)))


class ContentWindows:
    """Times of each caller's accepted content-creating requests over the last hour."""

    def __init__(self, limits: SecondaryLimits, clock: Callable[[], float]) -> None:
        self.limits = limits
        self._clock = clock
        self._lock = threading.Lock()
        self._seen: dict[str, collections.deque[float]] = {}

    def admit(self, key: str) -> int | None:
        """Record one request and return ``None``, or the seconds to wait (``retry-after``)
        when it would exceed a window (a refused request is not recorded)."""
        now = self._clock()
        with self._lock:
            seen = self._seen.setdefault(key, collections.deque())
            while seen and seen[0] <= now - WINDOW_SECONDS:
                seen.popleft()
            last_minute = [t for t in seen if t > now - 60]
            waits = []
            if len(last_minute) >= self.limits.per_minute:
                waits.append(last_minute[-self.limits.per_minute] + 60 - now)
            if len(seen) >= self.limits.per_hour:
                waits.append(seen[-self.limits.per_hour] + WINDOW_SECONDS - now)
            if waits:
                return max(1, math.ceil(max(waits)))
            seen.append(now)
            return None
