"""Helpers shared by the GitHub simulator's own tests (plain functions; fixtures stay per module)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from btp_release.github import GitHubClient
from btp_release.retry import RetryPolicy
from btp_release.testing import FakeClock, Fault, GitHubSimulator

OWNER, NAME = "kyma-project", "btp-manager"
REPO = f"/repos/{OWNER}/{NAME}"
MakeSim = Callable[..., GitHubSimulator]
MANIFESTS = "kyma/module-manifests"

# The client's fault matrix: what any request may meet, and what only a write may (the server acted).
FAULTS = {
    "502": Fault(method="*", path="", kind="status", status=502),
    "503-twice": Fault(method="*", path="", kind="status", status=503, times=2),
    "429": Fault(method="*", path="", kind="rate_limit", status=429, retry_after=1),
    "secondary": Fault(method="*", path="", kind="secondary", retry_after=2),
    "reset": Fault(method="*", path="", kind="reset"),
    "slow": Fault(method="*", path="", kind="latency", delay=0.6),
}
AFTER_FAULTS = {
    "502-after-success": Fault(method="*", path="", kind="status_after", status=502),
    "reset-after-success": Fault(method="*", path="", kind="reset_after"),
}


def connect(
    sim: GitHubSimulator,
    clock: FakeClock,
    *,
    repo: str = MANIFESTS,
    token: str | None = None,
    transport: httpx.BaseTransport | None = None,
) -> GitHubClient:
    """A client of ``repo`` on the simulator whose retries sleep on ``clock`` (no jitter)."""
    return GitHubClient(
        repo,
        token=sim.token if token is None else token,
        api_url=sim.api_url,
        transport=transport,
        retry=RetryPolicy(jitter=0),
        clock=clock,
        sleeper=clock.sleep,
        environ={},
    )


class Clock:
    """A settable clock for the simulator (rate-limit windows, timestamps)."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def api(sim: GitHubSimulator, role: str | None = "push", **kwargs: Any) -> httpx.Client:
    """A client for the API host; role "push"/"read" picks a simulator token, None sends none,
    anything else is sent as the token itself."""
    headers = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
    chosen = {"push": sim.token, "read": sim.readonly_token}.get(role or "", role)
    if chosen:
        headers["Authorization"] = f"Bearer {chosen}"
    return httpx.Client(base_url=sim.api_url, headers=headers, timeout=5.0, **kwargs)


def create(gh: httpx.Client, tag: str, **fields: Any) -> dict[str, Any]:
    response = gh.post(f"{REPO}/releases", json={"tag_name": tag, **fields})
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def upload(
    gh: httpx.Client, release: dict[str, Any], name: str, data: bytes, **kwargs: Any
) -> httpx.Response:
    url = release["upload_url"].split("{")[0]
    headers = {"Content-Type": "application/octet-stream"}
    return gh.post(url, params={"name": name}, content=data, headers=headers, **kwargs)


def tag_sha(sim: GitHubSimulator, tag: str) -> str | None:
    return next((r.sha for r in sim.refs() if r.ref == f"refs/tags/{tag}"), None)
