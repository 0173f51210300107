"""Bounded polling: every wait has a deadline, says what it awaits and what it last saw.

The clock and the sleeper are injected so tests run instantly and deterministically; production
uses :func:`time.monotonic` and :func:`time.sleep`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Generic, TypeVar

import attrs

from btp_release.errors import Timeout, Transient
from btp_release.redaction import get_logger

__all__ = ["Clock", "Poll", "Sleeper", "WaitPolicy", "wait_until"]

T = TypeVar("T")
Clock = Callable[[], float]
Sleeper = Callable[[float], None]

log = get_logger(__name__)


@attrs.frozen
class Poll(Generic[T]):
    """One observation: whether the awaited condition holds, the value, and a readable state."""

    done: bool
    value: T
    state: str = ""


@attrs.frozen
class WaitPolicy:
    """Deadline and poll cadence (seconds): start at ``interval``, multiply by ``backoff``."""

    timeout: float = 300.0
    interval: float = 2.0
    backoff: float = 1.5
    max_interval: float = 30.0

    def __attrs_post_init__(self) -> None:
        # Written as "not (valid)" so that NaN, which fails every comparison, is refused too; an
        # infinite timeout would be a wait without a deadline.
        valid = (
            0 <= self.timeout < math.inf and self.interval > 0 and self.backoff >= 1 and self.max_interval > 0
        )
        if not valid:
            raise ValueError(f"invalid wait policy {self!r}")


def wait_until(
    probe: Callable[[], Poll[T]],
    *,
    what: str,
    policy: WaitPolicy = WaitPolicy(),
    clock: Clock = time.monotonic,
    sleeper: Sleeper = time.sleep,
    on_progress: Callable[[Poll[T], float], None] | None = None,
) -> T:
    """Call ``probe`` until it reports ``done``; return its value.

    A :class:`Transient` error from the probe counts as "not yet" (it is already retried inside the
    clients) and is kept as the last state. Any other exception propagates at once, which is how a
    probe fails fast (e.g. a commit status turned ``failure``). Raises :class:`Timeout` naming
    ``what``, the limit and the last observed state when the deadline passes; the last poll happens
    at the deadline at the latest, never after it.
    """
    start = clock()
    deadline = start + policy.timeout
    interval = policy.interval
    last_state = "nothing observed yet"
    last_error: Transient | None = None
    polls = 0
    while True:
        polls += 1
        try:
            poll = probe()
        except Transient as exc:
            last_error = exc
            last_state = f"error: {exc}"
        else:
            last_error = None
            last_state = poll.state or last_state
            if poll.done:
                log.debug("%s: done after %d poll(s)", what, polls)
                return poll.value
            if on_progress is not None:
                on_progress(poll, deadline - clock())
        now = clock()
        remaining = deadline - now
        if remaining <= 0:
            raise Timeout(
                f"timed out after {policy.timeout:g}s ({polls} poll(s)) waiting for {what}; "
                f"last observed: {last_state}",
                hint="check the producer of what is awaited, or raise the timeout",
            ) from last_error
        log.info("waiting for %s (%.0fs left): %s", what, remaining, last_state)
        sleeper(min(interval, remaining))
        interval = min(interval * policy.backoff, policy.max_interval)
