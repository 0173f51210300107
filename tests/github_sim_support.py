"""Helpers shared by the GitHub simulator's own tests (plain functions; fixtures stay per module)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
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


Ctx = dict[str, Any]


@attrs.frozen
class Op:
    """One client operation of a fault matrix: ``setup`` the state, ``action`` under the fault (on requests
    with ``method`` whose path matches ``path``), ``check`` the state and result afterwards."""

    name: str
    method: str
    path: str
    action: Callable[[GitHubClient, GitHubSimulator, Ctx], Any]
    check: Callable[[GitHubSimulator, Ctx, Any], bool]
    setup: Callable[[GitHubClient, GitHubSimulator, Ctx], None] = lambda c, s, x: None
    mutating: bool = False
    # Faults only this operation can meet, as name -> fault.
    own_faults: dict[str, Fault] = attrs.field(factory=dict)


def survives_fault(
    sim: GitHubSimulator, repo: str, op: Op, fault_name: str, fault: Fault, tmp_path: Path
) -> None:
    """Run ``op`` with ``fault`` armed and assert the fault fired, was seen, and left the right state."""
    clock = FakeClock()
    slow = fault.kind == "latency"
    # "slow" exceeds the read timeout; the real sleeper then lets the late request finish on the
    # server before the client looks again, as backoff does against GitHub.
    with GitHubClient(
        repo,
        token=sim.token,
        api_url=sim.api_url,
        retry=RetryPolicy(jitter=0, initial=1.0),
        timeout=httpx.Timeout(0.3 if slow else 5.0, connect=5.0),
        clock=time.monotonic if slow else clock,
        sleeper=time.sleep if slow else clock.sleep,
        environ={},
    ) as client:
        ctx: Ctx = {"tmp": tmp_path}
        op.setup(client, sim, ctx)
        sim.add_fault(attrs.evolve(fault, method=op.method, path=op.path))
        before = len(sim.requests)
        result = op.action(client, sim, ctx)
        assert sim.pending_faults() == [], f"the fault {fault_name} never fired for {op.name}"
        if fault.kind != "latency":
            failed = [r for r in sim.requests[before:] if r.method == op.method and r.status >= 300]
            assert failed or fault.kind.startswith("reset"), (
                f"no failed {op.method} recorded for {fault_name}"
            )
        assert op.check(sim, ctx, result), f"{op.name} left the wrong state after {fault_name}"
        if fault.kind in ("rate_limit", "secondary"):
            assert clock.sleeps and clock.sleeps[0] >= fault.retry_after  # honoured the server's wait
