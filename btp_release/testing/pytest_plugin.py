"""pytest fixtures for btp_release's local servers (registered as the ``btp_release`` plugin)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from .github_sim import GitHubSimulator


@pytest.fixture
def github_sim() -> Iterator[GitHubSimulator]:
    """A started GitHub simulator with default options, stopped after the test."""
    with GitHubSimulator() as sim:
        yield sim


@pytest.fixture
def make_github_sim() -> Iterator[Callable[..., GitHubSimulator]]:
    """Factory for started simulators with custom options; all are stopped after the test."""
    started: list[GitHubSimulator] = []

    def make(**options: Any) -> GitHubSimulator:
        sim = GitHubSimulator(**options).start()
        started.append(sim)
        return sim

    yield make
    for sim in started:
        sim.stop()
