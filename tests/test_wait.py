"""wait_until: bounded polling with an injected clock and sleeper, so nothing here really waits."""

from __future__ import annotations

import logging
import math

import pytest

from btp_release.errors import CheckFailed, Timeout, Transient
from btp_release.testing import FakeClock
from btp_release.wait import Poll, WaitPolicy, wait_until


class FakeTime(FakeClock):
    """The shared fake clock, plus a ``clock`` method (a probe may also move ``now`` itself)."""

    def clock(self) -> float:
        return self.now


class Probe:
    """Returns the scripted observations in turn (the last one repeats); records when it was called."""

    def __init__(self, time: FakeTime, *results: Poll[str] | BaseException, cost: float = 0.0) -> None:
        self.time = time
        self.results = list(results)
        self.cost = cost
        self.calls: list[float] = []

    def __call__(self) -> Poll[str]:
        self.calls.append(self.time.now)
        self.time.now += self.cost
        result = self.results.pop(0) if len(self.results) > 1 else self.results[0]
        if isinstance(result, BaseException):
            raise result
        return result


def pending(state: str = "pending") -> Poll[str]:
    return Poll(False, "", state)


def run(time: FakeTime, probe: Probe, policy: WaitPolicy, **kwargs: object) -> str:
    return wait_until(
        probe,
        what="assets of release 1.2.0",
        policy=policy,
        clock=time.clock,
        sleeper=time.sleep,
        **kwargs,  # type: ignore[arg-type]
    )


def test_returns_the_value_once_done() -> None:
    time = FakeTime()
    probe = Probe(time, pending(), pending(), Poll(True, "sha-abc", "success"))
    value = run(time, probe, WaitPolicy(timeout=60, interval=2, backoff=1.5, max_interval=30))
    assert value == "sha-abc"
    assert len(probe.calls) == 3
    assert time.sleeps == [2.0, 3.0]


def test_done_at_first_poll_does_not_sleep() -> None:
    time = FakeTime()
    probe = Probe(time, Poll(True, "ready"))
    assert run(time, probe, WaitPolicy(timeout=60)) == "ready"
    assert time.sleeps == []


def test_timeout_names_what_the_limit_and_the_last_state() -> None:
    time = FakeTime()
    probe = Probe(time, pending("state=queued"), pending("state=in_progress"))
    with pytest.raises(Timeout) as info:
        run(time, probe, WaitPolicy(timeout=10, interval=2, backoff=1, max_interval=30))
    message = str(info.value)
    assert "assets of release 1.2.0" in message
    assert "10s" in message
    assert "state=in_progress" in message
    assert "state=queued" not in message
    assert info.value.__cause__ is None


def test_empty_state_keeps_the_previous_one() -> None:
    time = FakeTime()
    probe = Probe(time, pending("2 of 3 assets"), pending(""))
    with pytest.raises(Timeout, match="2 of 3 assets"):
        run(time, probe, WaitPolicy(timeout=5, interval=1, backoff=1))


@pytest.mark.parametrize(
    ("timeout", "interval", "backoff", "max_interval"),
    [(10, 3, 1, 30), (10, 2, 1.5, 30), (7.5, 1, 2, 4), (100, 1, 3, 17), (1, 5, 1, 30)],
)
def test_never_sleeps_past_the_deadline(
    timeout: float, interval: float, backoff: float, max_interval: float
) -> None:
    time = FakeTime()
    start = time.now
    probe = Probe(time, pending())
    with pytest.raises(Timeout):
        run(
            time,
            probe,
            WaitPolicy(timeout=timeout, interval=interval, backoff=backoff, max_interval=max_interval),
        )
    assert sum(time.sleeps) <= timeout + 1e-9
    # ... and still polls once more right at the deadline before giving up.
    assert probe.calls[-1] == pytest.approx(start + timeout)
    assert time.now == pytest.approx(start + timeout)


def test_sleep_is_trimmed_to_the_time_left() -> None:
    time = FakeTime()
    probe = Probe(time, pending())
    with pytest.raises(Timeout):
        run(time, probe, WaitPolicy(timeout=10, interval=3, backoff=1, max_interval=30))
    assert time.sleeps == [3, 3, 3, 1]


def test_slow_probe_counts_against_the_deadline() -> None:
    time = FakeTime()
    start = time.now
    probe = Probe(time, pending(), cost=4.0)
    with pytest.raises(Timeout):
        run(time, probe, WaitPolicy(timeout=10, interval=2, backoff=1, max_interval=30))
    # probe 0→4, sleep 2, probe 6→10: deadline reached, no further sleep
    assert time.sleeps == [2.0]
    assert probe.calls == [start, start + 6.0]


def test_zero_timeout_polls_once() -> None:
    time = FakeTime()
    probe = Probe(time, pending())
    with pytest.raises(Timeout):
        run(time, probe, WaitPolicy(timeout=0))
    assert len(probe.calls) == 1
    assert time.sleeps == []


def test_backoff_grows_and_is_capped_at_max_interval() -> None:
    time = FakeTime()
    probe = Probe(time, pending())
    with pytest.raises(Timeout):
        run(time, probe, WaitPolicy(timeout=40, interval=1, backoff=2, max_interval=5))
    assert time.sleeps[:6] == [1, 2, 4, 5, 5, 5]
    assert max(time.sleeps) == 5
    assert sum(time.sleeps) == pytest.approx(40)


def test_transient_errors_are_not_yet_and_recover() -> None:
    time = FakeTime()
    probe = Probe(time, Transient("HTTP 502"), Transient("HTTP 503"), Poll(True, "done"))
    assert run(time, probe, WaitPolicy(timeout=60, interval=1, backoff=1)) == "done"
    assert len(probe.calls) == 3


def test_transient_error_is_chained_on_timeout() -> None:
    time = FakeTime()
    first, last = Transient("HTTP 502 first"), Transient("HTTP 503 last")
    probe = Probe(time, first, last)
    with pytest.raises(Timeout) as info:
        run(time, probe, WaitPolicy(timeout=5, interval=1, backoff=1))
    assert info.value.__cause__ is last
    assert "HTTP 503 last" in str(info.value)


def test_a_later_observation_clears_the_chained_error() -> None:
    time = FakeTime()
    probe = Probe(time, Transient("HTTP 502"), pending("state=queued"))
    with pytest.raises(Timeout) as info:
        run(time, probe, WaitPolicy(timeout=5, interval=1, backoff=1))
    assert info.value.__cause__ is None
    assert "state=queued" in str(info.value)


@pytest.mark.parametrize("error", [CheckFailed("status failure"), ValueError("bug"), KeyError("x")])
def test_other_exceptions_propagate_at_once(error: BaseException) -> None:
    time = FakeTime()
    probe = Probe(time, pending(), error)
    with pytest.raises(type(error)) as info:
        run(time, probe, WaitPolicy(timeout=600, interval=1, backoff=1))
    assert info.value is error
    assert len(probe.calls) == 2
    assert time.sleeps == [1]


def test_on_progress_gets_each_unfinished_poll_and_the_time_left() -> None:
    time = FakeTime()
    seen: list[tuple[str, float]] = []
    probe = Probe(time, pending("a"), Transient("HTTP 502"), pending("b"), Poll(True, "v", "done"))
    run(
        time,
        probe,
        WaitPolicy(timeout=30, interval=2, backoff=1),
        on_progress=lambda poll, left: seen.append((poll.state, left)),
    )
    # not called for the transient error, nor for the final (done) poll
    assert seen == [("a", 30.0), ("b", 26.0)]


def test_logs_progress(caplog: pytest.LogCaptureFixture) -> None:
    time = FakeTime()
    probe = Probe(time, pending("state=queued"), Poll(True, "v"))
    with caplog.at_level(logging.INFO, logger="btp_release.wait"):
        run(time, probe, WaitPolicy(timeout=30, interval=2, backoff=1))
    assert any(
        "assets of release 1.2.0" in r.getMessage() and "state=queued" in r.getMessage()
        for r in caplog.records
    )


@pytest.mark.parametrize(
    "kwargs",
    [
        {"timeout": -1},
        {"timeout": math.nan},
        {"timeout": math.inf},
        {"interval": 0},
        {"interval": -1},
        {"interval": math.nan},
        {"backoff": 0.5},
        {"backoff": math.nan},
        {"max_interval": 0},
        {"max_interval": math.nan},
    ],
)
def test_invalid_policy_raises(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="invalid wait policy"):
        WaitPolicy(**kwargs)


def test_boundary_policies_are_valid() -> None:
    policy = WaitPolicy(timeout=0, interval=0.01, backoff=1, max_interval=0.01)
    assert policy.timeout == 0
    assert WaitPolicy().timeout > 0
