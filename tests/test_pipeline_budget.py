"""The GitHub API budget of a release: how many calls a full ``run`` costs besides polling.

What counts: every request the simulator answers on its **API** host and its **uploads** host (an
asset upload is an API call in GitHub's rate-limit sense). Not counted: requests to the **storage**
host, where asset downloads are redirected (objects.githubusercontent.com on github.com: no API
call, no rate limit; the API request that answers with the redirect *is* counted), and everything
the ``await`` stage sends, which is polling (its count depends on timing, not on the release).
The stages run one by one on one pipeline (one process), as ``run`` does, so the budget includes
what the in-process cache of the remote state saves.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from btp_release.localservices.registry import registry_binary
from btp_release.pipeline import STAGES, ReleasePipeline
from btp_release.testing import GitHubSimulator, LocalRegistry
from btp_release.testing.github_sim import RecordedRequest
from btp_release.testing.release import prepare_example_module

from .pipeline_support import EXAMPLE, VERSION, Rig

pytestmark = pytest.mark.skipif(registry_binary() is None, reason="docker-registry is not installed")

FRESH_RELEASE_BUDGET = 30
RERUN_BUDGET = 10
COUNTED_SERVICES = ("api", "uploads")
POLLING_STAGE = "await"


@pytest.fixture
def rig(tmp_path: Path, docker_daemon: Any) -> Iterator[Rig]:
    with GitHubSimulator(owner="kyma-project", repo="btp-manager") as sim, LocalRegistry() as registry:
        module_dir = prepare_example_module(EXAMPLE, tmp_path / "module")
        yield Rig(sim, registry, module_dir, tmp_path / "work", daemon=docker_daemon)


def run_stage_by_stage(
    rig: Rig, release: ReleasePipeline
) -> tuple[dict[str, str], dict[str, list[RecordedRequest]]]:
    """Run every stage in order: the status of each, and the requests each one sent (all hosts)."""
    statuses: dict[str, str] = {}
    sent: dict[str, list[RecordedRequest]] = {}
    for name in STAGES:
        before = len(rig.sim.requests)
        statuses[name] = release.stage(name).status
        sent[name] = rig.sim.requests[before:]
    return statuses, sent


def counted(requests: list[RecordedRequest]) -> list[RecordedRequest]:
    return [r for r in requests if r.service in COUNTED_SERVICES]


def breakdown(sent: dict[str, list[RecordedRequest]]) -> str:
    """Per stage: the count, then each counted request (method, host, path)."""
    lines = []
    for stage, requests in sent.items():
        calls = counted(requests)
        label = " (polling, not counted)" if stage == POLLING_STAGE else ""
        hosts = Counter(r.service for r in requests)
        lines.append(f"{stage}: {len(calls)}{label} {dict(hosts)}")
        lines += [f"    {r.method} [{r.service}] {r.path}{'?' + r.query if r.query else ''}" for r in calls]
    return "\n".join(lines)


def cost(sent: dict[str, list[RecordedRequest]]) -> int:
    return sum(len(counted(requests)) for stage, requests in sent.items() if stage != POLLING_STAGE)


def test_a_fresh_release_costs_at_most_30_github_calls_besides_polling(rig: Rig) -> None:
    with rig.pipeline() as release:
        statuses, sent = run_stage_by_stage(rig, release)

    (published,) = [r for r in rig.sim.releases() if r.tag_name == VERSION]
    assert not published.draft  # the calls bought a whole release
    assert statuses["draft"] == statuses["publish"] == "changed"
    total = cost(sent)
    report = f"{total} calls for a fresh release (budget {FRESH_RELEASE_BUDGET}):\n{breakdown(sent)}"
    assert total <= FRESH_RELEASE_BUDGET, report
    # Every stage that changes GitHub had to call it; a stage that "costs nothing" did nothing.
    for stage in ("validate", "draft", "build", "upload", "e2e", "publish"):
        assert counted(sent[stage]), report
    assert sum(r.service == "uploads" for r in rig.sim.requests) >= 5, report  # 4 assets + provenance


def test_a_rerun_of_a_finished_release_costs_at_most_10_github_calls_besides_polling(rig: Rig) -> None:
    with rig.pipeline() as release:
        release.run()
    rig.sim.clear_requests()

    with rig.pipeline() as again:  # a new process: nothing cached
        statuses, sent = run_stage_by_stage(rig, again)

    assert set(statuses.values()) == {"unchanged"}
    total = cost(sent)
    report = f"{total} calls to re-run a finished release (budget {RERUN_BUDGET}):\n{breakdown(sent)}"
    assert total <= RERUN_BUDGET, report
    assert not [r for r in rig.sim.requests if r.method in ("POST", "PATCH", "DELETE", "PUT")], report
    assert counted(sent["validate"]) and counted(sent["publish"]), report  # both really looked
