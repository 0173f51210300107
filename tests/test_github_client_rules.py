"""GitHubClient against GitHub rules that change what a client must do: the ``starter`` asset an
upload answered 5xx leaves behind, annotated tags, and the secondary limit's ``Retry-After``.
All against the simulator over real HTTP; waits run on the injected fake clock.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from btp_release.errors import AlreadyExists, Transient
from btp_release.github import GitHubClient
from btp_release.retry import RetryPolicy
from btp_release.testing import FakeClock, Fault, GitHubSimulator
from btp_release.testing.github_sim import SecondaryLimits

from .conftest import make_client

REPO = "kyma-project/btp-manager"
_ID = re.compile(r"/\d+")


def calls(sim: GitHubSimulator, since: int = 0) -> list[str]:
    """``METHOD path status`` of the requests since ``since``, asset ids as ``N``."""
    return [f"{r.method} {_ID.sub('/N', r.path)} {r.status}" for r in sim.requests[since:]]


# -- starter assets -----------------------------------------------------------------------------


def test_a_starter_left_by_a_failed_upload_is_deleted_before_uploading_again(
    sim: GitHubSimulator, client: GitHubClient, tmp_path: Path
) -> None:
    draft = client.create_draft_release("1.0.0", target_commitish=sim.head_sha)
    path = tmp_path / "btp-manager.yaml"
    path.write_bytes(b"kind: ConfigMap\n" * 10_000)
    attempts = client.retry.attempts
    sim.add_fault(Fault(method="POST", path=r"/assets$", kind="status", status=502, times=attempts))
    with pytest.raises(Transient):  # every attempt answered 502
        client.upload_asset(draft, path)
    assert [(a.name, a.state) for a in sim.assets(draft.id)] == [("btp-manager.yaml", "starter")]

    before = len(sim.requests)
    asset = client.upload_asset(draft, path)  # the next run
    assert asset.complete and sim.uploaded_bytes(asset.id) == path.read_bytes()
    assert [(a.name, a.state) for a in sim.assets(draft.id)] == [("btp-manager.yaml", "uploaded")]
    assert calls(sim, before) == [
        "GET /repos/kyma-project/btp-manager/releases/N/assets 200",
        "DELETE /repos/kyma-project/btp-manager/releases/assets/N 204",  # the starter, first
        "POST /repos/kyma-project/btp-manager/releases/N/assets 201",
    ]


def test_within_one_call_each_starter_is_deleted_before_the_retry(
    sim: GitHubSimulator, client: GitHubClient, tmp_path: Path
) -> None:
    draft = client.create_draft_release("1.0.0", target_commitish=sim.head_sha)
    path = tmp_path / "template.yaml"
    path.write_text("kind: ModuleTemplate\n")
    sim.add_fault(Fault(method="POST", path=r"/assets$", kind="status", status=502, times=2))
    before = len(sim.requests)
    asset = client.upload_asset(draft, path)
    assert asset.complete and [a.state for a in sim.assets(draft.id)] == ["uploaded"]
    upload = "POST /repos/kyma-project/btp-manager/releases/N/assets"
    retry = [
        "GET /repos/kyma-project/btp-manager/releases/N/assets 200",
        "DELETE /repos/kyma-project/btp-manager/releases/assets/N 204",
    ]
    assert calls(sim, before)[1:] == [f"{upload} 502", *retry, f"{upload} 502", *retry, f"{upload} 201"]


# -- annotated tags -------------------------------------------------------------------------------


def test_create_tag_accepts_an_annotated_tag_of_the_same_commit(
    sim: GitHubSimulator, client: GitHubClient
) -> None:
    existing = sim.create_tag("1.0.0", message="Release 1.0.0")
    ref = client.create_tag("1.0.0", sim.head_sha)
    assert (ref.object_type, ref.sha) == ("tag", existing.sha)
    assert client.tagged_commit(ref) == sim.head_sha
    assert [r.ref for r in sim.refs() if r.ref.startswith("refs/tags/")] == ["refs/tags/1.0.0"]


def test_create_tag_refuses_an_annotated_tag_of_another_commit(
    sim: GitHubSimulator, client: GitHubClient
) -> None:
    old = sim.head_sha
    sim.create_tag("1.0.0", old, message="Release 1.0.0")
    new = sim.add_commit("later")
    with pytest.raises(AlreadyExists, match=f"already points at {old}, not {new}"):
        client.create_tag("1.0.0", new)


# -- secondary rate limit -------------------------------------------------------------------------


def test_the_secondary_limit_is_waited_out_as_retry_after_says(tmp_path: Path) -> None:
    clock = FakeClock(start=1_700_000_000.0)
    limits = SecondaryLimits(per_minute=2, per_hour=100)
    with (
        GitHubSimulator(clock=clock, secondary_limits=limits) as sim,
        GitHubClient(
            REPO,
            token=sim.token,
            api_url=sim.api_url,
            retry=RetryPolicy(jitter=0),
            clock=clock,
            wall_clock=clock,
            sleeper=clock.sleep,
            environ={},
        ) as client,
    ):
        draft = client.create_draft_release("1.0.0", target_commitish=sim.head_sha)  # 1st at t=0
        names = ["a.yaml", "b.yaml", "c.yaml"]
        for name in names:
            (tmp_path / name).write_text(f"name: {name}\n")
            client.upload_asset(draft, tmp_path / name)
        client.create_commit_status(sim.head_sha, "release", "success")
    refused = [r for r in sim.requests if r.status == 403]
    # a.yaml goes with the draft in the first minute; b.yaml waits for the next, c.yaml and the
    # status for the one after: each wait exactly what retry-after said, no request sent early
    assert clock.sleeps == [60.0, 60.0] and len(refused) == 2
    assert sorted(a.name for a in sim.assets(draft.id)) == names
    assert {a.state for a in sim.assets(draft.id)} == {"uploaded"}


def test_make_client_default_sim_has_no_secondary_limit(sim: GitHubSimulator, clock: FakeClock) -> None:
    with make_client(sim, clock) as client:
        for number in range(90):
            client.create_commit_status(sim.head_sha, f"ctx-{number}", "success")
    assert clock.sleeps == []
