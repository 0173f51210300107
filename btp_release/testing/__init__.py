"""Test doubles and fixtures for testing btp_release (and projects that use it).

The GitHub simulator, the Kubernetes simulator, a registry token server, a fake clock, a scripted
E2E runner and the pytest plugin. The real local programs they run beside — a registry
(``docker-registry``) and a private Docker daemon — are part of the library
(:mod:`btp_release.localservices`) and re-exported here for the tests' convenience. Server classes
need their programs installed (see each module); the pytest fixtures skip with the reason when
they are not.

Library code never imports this package; only the ``btp-release rehearse`` command does, whose
job is to run a release against the simulator (tests/test_architecture.py keeps it so).

Names are imported on first use (PEP 562): ``import btp_release.testing`` (as the ``btp-release
rehearse`` command and the pytest plugin do) loads none of the servers, so using one never pays
for the others.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from btp_release.localservices.docker_daemon import DockerDaemon
    from btp_release.localservices.registry import LocalRegistry

    from .clock import FakeClock
    from .github_sim import Fault, GitHubSimulator, RecordedRequest
    from .token_server import TokenServer, TokenUser

_LAZY = {
    "DockerDaemon": "btp_release.localservices.docker_daemon",
    "FakeClock": ".clock",
    "Fault": ".github_sim",
    "GitHubSimulator": ".github_sim",
    "LocalRegistry": "btp_release.localservices.registry",
    "RecordedRequest": ".github_sim",
    "TokenServer": ".token_server",
    "TokenUser": ".token_server",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "DockerDaemon",
    "FakeClock",
    "Fault",
    "GitHubSimulator",
    "LocalRegistry",
    "RecordedRequest",
    "TokenServer",
    "TokenUser",
]
