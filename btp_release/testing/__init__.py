"""Real local servers and fixtures for testing btp_release (and projects that use it)."""

from __future__ import annotations

from .clock import FakeClock
from .github_sim import Fault, GitHubSimulator, RecordedRequest

__all__ = ["FakeClock", "Fault", "GitHubSimulator", "RecordedRequest"]
