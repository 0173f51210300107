"""Shared fixtures: a fake clock/sleeper and a GitHub client wired to the simulator."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from btp_release.github import GitHubClient
from btp_release.retry import RetryPolicy
from btp_release.testing import FakeClock, GitHubSimulator


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sim() -> Iterator[GitHubSimulator]:
    with GitHubSimulator(owner="kyma-project", repo="btp-manager") as simulator:
        yield simulator


def make_client(
    sim: GitHubSimulator, clock: FakeClock, *, token: str | None = None, read_timeout: float = 5.0
) -> GitHubClient:
    return GitHubClient(
        "kyma-project/btp-manager",
        token=sim.token if token is None else token,
        api_url=sim.api_url,
        retry=RetryPolicy(jitter=0),
        timeout=httpx.Timeout(read_timeout, connect=5.0),
        clock=clock,
        sleeper=clock.sleep,
        environ={},
    )


@pytest.fixture
def client(sim: GitHubSimulator, clock: FakeClock) -> Iterator[GitHubClient]:
    with make_client(sim, clock) as github:
        yield github
