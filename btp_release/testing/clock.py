"""A fake monotonic clock and sleeper for instant, deterministic tests of waits and retries."""

from __future__ import annotations

__all__ = ["FakeClock"]


class FakeClock:
    """Time that moves only when the code under test sleeps; every sleep is recorded.

    Pass the instance as ``clock=`` and its :meth:`sleep` as ``sleeper=``.
    """

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError(f"negative sleep {seconds}")
        self.sleeps.append(seconds)
        self.now += seconds
