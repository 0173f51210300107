"""The one retry policy for GitHub, registries and Docker.

Built on tenacity rather than stamina because each call needs an injected sleeper (tests run
without waiting, no global testing switch) and a server-chosen wait (``Retry-After``,
``x-ratelimit-reset``), both of which tenacity takes per call.

Only :class:`~btp_release.errors.Transient` errors (network, 5xx, rate limits) are retried;
authentication, permission, not-found and validation errors never are. Callers wrap only
idempotent operations; creations look first and create after (see ``github.client``).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

import attrs

from btp_release.errors import RateLimited, Transient
from btp_release.redaction import get_logger
from btp_release.wait import Sleeper

if TYPE_CHECKING:
    import tenacity

__all__ = ["RetryPolicy"]

T = TypeVar("T")
log = get_logger(__name__)


@attrs.frozen
class RetryPolicy:
    """Attempts and exponential backoff in seconds; server-requested waits up to ``max_retry_after``.

    A rate limit that asks for a longer wait than ``max_retry_after`` is not waited out: the
    :class:`RateLimited` error is raised at once so the user learns when to come back.
    """

    attempts: int = 5
    initial: float = 1.0
    multiplier: float = 2.0
    max_backoff: float = 30.0
    jitter: float = 0.5
    max_retry_after: float = 900.0
    rng: random.Random = attrs.field(factory=random.Random, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("attempts must be at least 1")

    def backoff(self, attempt: int, error: BaseException | None) -> float:
        """Seconds to wait before retry number ``attempt`` (1-based) after ``error``."""
        if isinstance(error, RateLimited) and error.retry_after is not None:
            return max(0.0, error.retry_after)
        base = min(self.max_backoff, self.initial * self.multiplier ** (attempt - 1))
        return base + (self.rng.uniform(0, self.jitter) if self.jitter else 0.0)

    def should_retry(self, error: BaseException) -> bool:
        if not isinstance(error, Transient):
            return False
        return not (
            isinstance(error, RateLimited)
            and error.retry_after is not None
            and error.retry_after > self.max_retry_after
        )

    def _log_retry(self, what: str, attempt: int, error: BaseException | None, delay: float) -> None:
        log.warning(
            "%s failed (attempt %d/%d): %s; retrying in %.1fs", what, attempt, self.attempts, error, delay
        )

    def call(
        self,
        fn: Callable[[], T],
        *,
        what: str,
        sleeper: Sleeper = time.sleep,
    ) -> T:
        """Run ``fn``, retrying transient failures; re-raise the last error when attempts run out."""
        try:
            return fn()
        except Exception as exc:
            if self.attempts == 1 or not self.should_retry(exc):
                raise
            delay = self.backoff(1, exc)
            self._log_retry(what, 1, exc, delay)
        sleeper(delay)
        # tenacity is imported only once a retry is needed: most calls succeed at once, and a
        # short-lived process (one push, one pull) then does not pay for importing it.
        import tenacity

        def attempt_of(state: tenacity.RetryCallState) -> int:
            return state.attempt_number + 1  # the first attempt ran above

        def wait(state: tenacity.RetryCallState) -> float:
            error = state.outcome.exception() if state.outcome else None
            return self.backoff(attempt_of(state), error)

        def before_sleep(state: tenacity.RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome else None
            self._log_retry(
                what, attempt_of(state), error, state.next_action.sleep if state.next_action else 0.0
            )

        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.attempts - 1),
            wait=wait,
            retry=tenacity.retry_if_exception(self.should_retry),
            sleep=sleeper,
            before_sleep=before_sleep,
            reraise=True,
        )
        return retrying(fn)
