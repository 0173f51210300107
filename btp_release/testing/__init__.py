"""Real local servers and fixtures for testing btp_release (and projects that use it).

The GitHub simulator, a real OCI registry (``docker-registry``) with optional basic or token
auth, a private Docker daemon, and a fake clock. Server classes need their programs installed
(see each module); the pytest fixtures skip with the reason when they are not.

Names are imported on first use (PEP 562): ``import btp_release.testing`` (as the ``btp-release
rehearse`` command and the pytest plugin do) loads none of the servers, so using one never pays
for the others.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .clock import FakeClock
    from .docker_daemon import DockerDaemon
    from .github_sim import Fault, GitHubSimulator, RecordedRequest
    from .registry import LocalRegistry
    from .token_server import TokenServer, TokenUser

_LAZY = {
    "DockerDaemon": ".docker_daemon",
    "FakeClock": ".clock",
    "Fault": ".github_sim",
    "GitHubSimulator": ".github_sim",
    "LocalRegistry": ".registry",
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
