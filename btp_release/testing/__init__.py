"""Real local servers and fixtures for testing btp_release (and projects that use it).

The GitHub simulator, a real OCI registry (``docker-registry``) with optional basic or token
auth, a private Docker daemon, and a fake clock. Server classes need their programs installed
(see each module); the pytest fixtures skip with the reason when they are not.
"""

from __future__ import annotations

from .clock import FakeClock
from .docker_daemon import DockerDaemon
from .github_sim import Fault, GitHubSimulator, RecordedRequest
from .registry import LocalRegistry
from .token_server import TokenServer, TokenUser

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
