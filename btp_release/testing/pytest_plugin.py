"""pytest fixtures for btp_release's local servers (registered as the ``btp_release`` plugin).

pytest loads this plugin into every test run of any project where btp-release is installed, so
importing it must be cheap and must not fail: it imports only pytest and the standard library.
Each fixture imports its server when it is used, and skips the test with the reason when the
server cannot run here (a program or a Python package missing, not root), never errors.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from btp_release.localservices.docker_daemon import DockerDaemon

    from .github_sim import GitHubSimulator
    from .kube_sim import KubeSimulator


def _import_or_skip(module: str, what: str) -> ModuleType:
    """Import ``module`` (relative: ``btp_release.testing<module>``); skip the test when a package
    it needs is missing.

    Only a missing third-party package skips: a missing module of btp_release itself is a broken
    installation or a bug, and errors as usual.
    """
    try:
        return importlib.import_module(module, __package__)
    except ModuleNotFoundError as exc:
        missing = (exc.name or "").partition(".")[0]
        if not missing or missing == "btp_release":
            raise
        pytest.skip(
            f"{what} needs the Python package {missing!r}, which is not installed here "
            f"(reinstall btp-release: pip install btp-release)"
        )


@pytest.fixture
def github_sim() -> Iterator[GitHubSimulator]:
    """A started GitHub simulator with default options, stopped after the test."""
    simulator: type[GitHubSimulator] = _import_or_skip(".github_sim", "the GitHub simulator").GitHubSimulator
    with simulator() as sim:
        yield sim


@pytest.fixture
def make_github_sim() -> Iterator[Callable[..., GitHubSimulator]]:
    """Factory for started simulators with custom options; all are stopped after the test."""
    simulator: type[GitHubSimulator] = _import_or_skip(".github_sim", "the GitHub simulator").GitHubSimulator
    started: list[GitHubSimulator] = []

    def make(**options: Any) -> GitHubSimulator:
        sim = simulator(**options).start()
        started.append(sim)
        return sim

    yield make
    for sim in started:
        sim.stop()


@pytest.fixture(scope="session")
def docker_daemon() -> Iterator[DockerDaemon]:
    """A private ``dockerd`` (:class:`~btp_release.localservices.DockerDaemon`) for the session.

    Session-scoped because starting one takes seconds; skips with the reason (no dockerd, not root)
    where it cannot run. Tests share it: tag images with unique names and clean up what they make.
    """
    daemon_class: type[DockerDaemon] = _import_or_skip(
        "btp_release.localservices.docker_daemon", "the private Docker daemon"
    ).DockerDaemon
    availability = daemon_class.available()
    if not availability:
        pytest.skip(f"no private Docker daemon: {availability.reason}")
    with daemon_class() as daemon:
        yield daemon


@pytest.fixture
def kube_sim() -> Iterator[KubeSimulator]:
    """A started Kubernetes simulator (:class:`~btp_release.testing.kube_sim.KubeSimulator`).

    Default options: HTTPS with its own CA (written into ``sim.kubeconfig(path)``), the btp-manager
    model with default delays and no failure modes. Stopped after the test.
    """
    simulator: type[KubeSimulator] = _import_or_skip(".kube_sim", "the Kubernetes simulator").KubeSimulator
    _import_or_skip(".kube_sim.tls", "the Kubernetes simulator's HTTPS")  # imported by start() otherwise
    with simulator() as sim:
        yield sim
