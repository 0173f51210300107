"""RetryPolicy: only Transient errors are retried, server-chosen waits are honoured, no real sleeping."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable

import pytest

from btp_release.errors import (
    AlreadyExists,
    AuthenticationFailed,
    CheckFailed,
    Conflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
    RateLimited,
    Timeout,
    Transient,
)
from btp_release.retry import RetryPolicy


@pytest.fixture(autouse=True)
def _no_real_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(seconds: float) -> None:
        raise AssertionError(f"real time.sleep({seconds}) called")

    monkeypatch.setattr(time, "sleep", refuse)


class Failing:
    """Raises the given errors in turn, then returns ``value``; counts calls."""

    def __init__(self, *errors: BaseException, value: str = "ok") -> None:
        self.errors = list(errors)
        self.value = value
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return self.value


def call(policy: RetryPolicy, fn: Callable[[], str], sleeps: list[float]) -> str:
    return policy.call(fn, what="get release 1.2.0", sleeper=sleeps.append)


def test_success_needs_no_retry() -> None:
    sleeps: list[float] = []
    fn = Failing()
    assert call(RetryPolicy(jitter=0), fn, sleeps) == "ok"
    assert fn.calls == 1
    assert sleeps == []


def test_transient_errors_are_retried_until_success() -> None:
    sleeps: list[float] = []
    fn = Failing(Transient("HTTP 502"), Transient("HTTP 503"), value="release")
    assert call(RetryPolicy(attempts=5, jitter=0), fn, sleeps) == "release"
    assert fn.calls == 3
    assert len(sleeps) == 2


def test_retries_up_to_attempts_then_reraises_the_last() -> None:
    sleeps: list[float] = []
    errors = [Transient(f"HTTP 502 #{n}") for n in range(1, 4)]
    fn = Failing(*errors, Transient("never reached"))
    with pytest.raises(Transient) as info:
        call(RetryPolicy(attempts=3, jitter=0), fn, sleeps)
    assert info.value is errors[-1]
    assert fn.calls == 3
    assert len(sleeps) == 2


def test_single_attempt_means_no_retry() -> None:
    sleeps: list[float] = []
    fn = Failing(Transient("HTTP 502"))
    with pytest.raises(Transient):
        call(RetryPolicy(attempts=1, jitter=0), fn, sleeps)
    assert fn.calls == 1
    assert sleeps == []


@pytest.mark.parametrize(
    "error",
    [
        AuthenticationFailed("HTTP 401"),
        PermissionDenied("HTTP 403 Resource not accessible by integration"),
        NotFound("HTTP 404"),
        InvalidInput("HTTP 422"),
        AlreadyExists("HTTP 422 already_exists"),
        Conflict("HTTP 409"),
        CheckFailed("status failure"),
        Timeout("timed out"),
        ValueError("a bug"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_non_transient_errors_are_never_retried(error: BaseException) -> None:
    sleeps: list[float] = []
    fn = Failing(error)
    with pytest.raises(type(error)) as info:
        call(RetryPolicy(attempts=5, jitter=0), fn, sleeps)
    assert info.value is error
    assert fn.calls == 1
    assert sleeps == []


@pytest.mark.parametrize(("retry_after", "expected"), [(7.5, 7.5), (0.0, 0.0), (-3.0, 0.0), (900.0, 900.0)])
def test_rate_limit_retry_after_is_the_exact_wait(retry_after: float, expected: float) -> None:
    sleeps: list[float] = []
    # jitter would make any computed backoff non-exact; retry_after must bypass it
    policy = RetryPolicy(attempts=3, jitter=0.5, max_retry_after=900, rng=random.Random(1))
    fn = Failing(RateLimited("HTTP 429", retry_after=retry_after))
    assert call(policy, fn, sleeps) == "ok"
    assert sleeps == [expected]


def test_retry_after_above_the_maximum_raises_at_once() -> None:
    sleeps: list[float] = []
    error = RateLimited("HTTP 403 API rate limit exceeded", retry_after=3600.0)
    fn = Failing(error)
    with pytest.raises(RateLimited) as info:
        call(RetryPolicy(attempts=5, max_retry_after=900), fn, sleeps)
    assert info.value is error
    assert fn.calls == 1
    assert sleeps == []


def test_rate_limit_without_retry_after_uses_backoff() -> None:
    sleeps: list[float] = []
    fn = Failing(RateLimited("HTTP 429"), RateLimited("HTTP 429"))
    call(RetryPolicy(attempts=3, initial=2, multiplier=3, jitter=0), fn, sleeps)
    assert sleeps == [2, 6]


def test_exponential_backoff_without_jitter_is_capped() -> None:
    sleeps: list[float] = []
    fn = Failing(*[Transient("HTTP 502") for _ in range(7)])
    with pytest.raises(Transient):
        call(RetryPolicy(attempts=7, initial=1, multiplier=2, max_backoff=10, jitter=0), fn, sleeps)
    assert sleeps == [1, 2, 4, 8, 10, 10]


@pytest.mark.parametrize("attempt", range(1, 8))
def test_backoff_formula(attempt: int) -> None:
    policy = RetryPolicy(initial=0.5, multiplier=3, max_backoff=20, jitter=0)
    assert policy.backoff(attempt, Transient("x")) == min(20, 0.5 * 3 ** (attempt - 1))


def test_jitter_stays_within_bounds_and_varies() -> None:
    policy = RetryPolicy(initial=1, multiplier=2, max_backoff=30, jitter=0.5, rng=random.Random(42))
    waits = [policy.backoff(3, Transient("x")) for _ in range(50)]
    assert all(4.0 <= w <= 4.5 for w in waits)
    assert len(set(waits)) > 1


def test_should_retry() -> None:
    policy = RetryPolicy(max_retry_after=60)
    assert policy.should_retry(Transient("x"))
    assert policy.should_retry(RateLimited("x"))
    assert policy.should_retry(RateLimited("x", retry_after=60))
    assert not policy.should_retry(RateLimited("x", retry_after=61))
    assert not policy.should_retry(NotFound("x"))
    assert not policy.should_retry(OSError("x"))


def test_attempts_must_be_positive() -> None:
    with pytest.raises(ValueError, match="attempts"):
        RetryPolicy(attempts=0)


def test_each_retry_is_logged_with_what_and_the_wait(caplog: pytest.LogCaptureFixture) -> None:
    sleeps: list[float] = []
    fn = Failing(Transient("HTTP 502 Bad Gateway"))
    with caplog.at_level(logging.WARNING, logger="btp_release.retry"):
        call(RetryPolicy(attempts=3, initial=1.5, jitter=0), fn, sleeps)
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 1
    assert "get release 1.2.0" in messages[0]
    assert "HTTP 502 Bad Gateway" in messages[0]
    assert "attempt 1/3" in messages[0]
    assert "1.5s" in messages[0]
