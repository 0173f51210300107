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


@pytest.fixture(scope="session")
def docker_daemon() -> Iterator[Any]:
    """A private ``dockerd`` (:class:`~btp_release.testing.docker_daemon.DockerDaemon`) for the session.

    Session-scoped because starting one takes seconds; skips with the reason (no dockerd, not root)
    where it cannot run. Tests share it: tag images with unique names and clean up what they make.
    """
    from .docker_daemon import DockerDaemon

    availability = DockerDaemon.available()
    if not availability:
        pytest.skip(f"no private Docker daemon: {availability.reason}")
    with DockerDaemon() as daemon:
        yield daemon


@pytest.fixture
def kube_sim() -> Iterator[Any]:
    """A started Kubernetes simulator (:class:`~btp_release.testing.kube_sim.KubeSimulator`).

    Default options: HTTPS with its own CA (written into ``sim.kubeconfig(path)``), the btp-manager
    model with default delays and no failure modes. Stopped after the test.
    """
    from .kube_sim import KubeSimulator

    with KubeSimulator() as sim:
        yield sim
