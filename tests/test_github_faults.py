"""Fault matrix: every client operation x {5xx, 429, secondary limit, connection reset, slow}.

Idempotent operations must recover; creating ones must never duplicate (exactly one release,
tag, asset or status afterwards), also when the fault hits *after* GitHub did the work
(``status_after`` / ``reset_after``: a POST that timed out but succeeded).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from btp_release.github import GitHubClient
from btp_release.testing import Fault, GitHubSimulator

from .github_sim_support import AFTER_FAULTS, FAULTS, Ctx, Op, survives_fault

REPO = "kyma-project/btp-manager"


def _draft(c: GitHubClient, s: GitHubSimulator, x: Ctx) -> None:
    x["draft"] = c.create_draft_release("1.0.0", target_commitish=s.head_sha)


def _draft_with_asset(c: GitHubClient, s: GitHubSimulator, x: Ctx) -> None:
    _draft(c, s, x)
    path = x["tmp"] / "template.yaml"
    path.write_bytes(b"kind: ModuleTemplate\n" * 5000)
    x["asset"] = c.upload_asset(x["draft"], path)
    x["content"] = path.read_bytes()


def _published(c: GitHubClient, s: GitHubSimulator, x: Ctx) -> None:
    _draft(c, s, x)
    x["draft"] = c.publish_release(x["draft"])


def _tagged(c: GitHubClient, s: GitHubSimulator, x: Ctx) -> None:
    c.create_tag("1.0.0", s.head_sha)


def _statuses(c: GitHubClient, s: GitHubSimulator, x: Ctx) -> None:
    s.set_status(s.head_sha, "build", "success")
    s.set_check_run(s.head_sha, "e2e", "completed", "success")


def _upload(c: GitHubClient, s: GitHubSimulator, x: Ctx) -> Any:
    path = x["tmp"] / "btp-manager.yaml"
    path.write_bytes(b"apiVersion: v1\nkind: ConfigMap\n" * 20000)  # ~640 KiB
    x["content"] = path.read_bytes()
    return c.upload_asset(x["draft"], path)


def _starters_deleted_first(s: GitHubSimulator) -> bool:
    """After every upload answered 5xx (which may leave a ``starter`` asset holding the name) the
    leftover was deleted before the next upload was sent."""
    uploads = [i for i, r in enumerate(s.requests) if r.service == "uploads"]
    failed = [i for i in uploads if s.requests[i].status >= 500]
    for i in failed:
        following = next((j for j in uploads if j > i), None)
        if following is None:  # nothing uploaded again (the failed one had succeeded)
            continue
        between = s.requests[i + 1 : following]
        if not any(r.method == "DELETE" and r.path.endswith(tuple("0123456789")) for r in between):
            return False
    return not any(a.state == "starter" for rel in s.releases() for a in s.assets(rel.id))


def _combined(s: GitHubSimulator) -> tuple[str, list[str]]:
    headers = {"User-Agent": "test", "Authorization": f"Bearer {s.token}"}
    body = httpx.get(f"{s.api_url}/repos/{REPO}/commits/{s.head_sha}/status", headers=headers).json()
    return body["state"], [status["context"] for status in body["statuses"]]


def _tags(s: GitHubSimulator) -> list[str]:
    return [r.ref for r in s.refs() if r.ref.startswith("refs/tags/")]


OPS = [
    Op(
        "get_repository",
        "GET",
        r"^/repos/[^/]+/[^/]+$",
        lambda c, s, x: c.get_repository(),
        lambda s, x, r: r.can_push is True,
    ),
    Op(
        "resolve_commit",
        "GET",
        r"/commits/main$",
        lambda c, s, x: c.resolve_commit("main"),
        lambda s, x, r: r == s.head_sha,
    ),
    Op(
        "list_releases",
        "GET",
        r"/releases$",
        lambda c, s, x: c.list_releases(),
        lambda s, x, r: [rel.id for rel in r] == [x["draft"].id],
        setup=_draft,
    ),
    Op(
        "find_release_by_tag",
        "GET",
        r"/releases$",
        lambda c, s, x: c.find_release_by_tag("1.0.0"),
        lambda s, x, r: r.id == x["draft"].id,
        setup=_draft,
    ),
    Op(
        "latest_release",
        "GET",
        r"/releases$",
        lambda c, s, x: c.latest_release(),
        lambda s, x, r: r.id == x["draft"].id,
        setup=_published,
    ),
    Op(
        "get_release",
        "GET",
        r"/releases/\d+$",
        lambda c, s, x: c.get_release(x["draft"].id),
        lambda s, x, r: r.id == x["draft"].id,
        setup=_draft,
    ),
    Op(
        "create_draft_release",
        "POST",
        r"/releases$",
        lambda c, s, x: c.create_draft_release("1.0.0", target_commitish=s.head_sha),
        lambda s, x, r: (
            [(rel.id, rel.tag_name, rel.draft) for rel in s.releases()] == [(r.id, "1.0.0", True)]
        ),
        mutating=True,
    ),
    Op(
        "publish_release",
        "PATCH",
        r"/releases/\d+$",
        lambda c, s, x: c.publish_release(x["draft"].id),
        lambda s, x, r: [rel.draft for rel in s.releases()] == [False] and _tags(s) == ["refs/tags/1.0.0"],
        setup=_draft,
        mutating=True,
    ),
    Op(
        "delete_release",
        "DELETE",
        r"/releases/\d+$",
        lambda c, s, x: c.delete_release(x["draft"].id),
        lambda s, x, r: s.releases() == [],
        setup=_draft,
        mutating=True,
    ),
    Op(
        "generate_release_notes",
        "POST",
        r"/generate-notes$",
        lambda c, s, x: c.generate_release_notes("1.0.0", target_commitish=s.head_sha),
        lambda s, x, r: bool(r.body) and s.releases() == [],
    ),
    Op(
        "create_tag",
        "POST",
        r"/git/refs$",
        lambda c, s, x: c.create_tag("1.0.0", s.head_sha),
        lambda s, x, r: _tags(s) == ["refs/tags/1.0.0"] and r.sha == s.head_sha,
        mutating=True,
    ),
    Op(
        "get_tag",
        "GET",
        r"/git/ref/tags/1\.0\.0$",
        lambda c, s, x: c.get_tag("1.0.0"),
        lambda s, x, r: r is not None and r.sha == s.head_sha,
        setup=_tagged,
    ),
    Op(
        "delete_tag",
        "DELETE",
        r"/git/refs/tags/1\.0\.0$",
        lambda c, s, x: c.delete_tag("1.0.0"),
        lambda s, x, r: _tags(s) == [],
        setup=_tagged,
        mutating=True,
    ),
    Op(
        "list_assets",
        "GET",
        r"/releases/\d+/assets$",
        lambda c, s, x: c.list_assets(x["draft"]),
        lambda s, x, r: [a.id for a in r] == [x["asset"].id],
        setup=_draft_with_asset,
    ),
    Op(
        "upload_asset",
        "POST",
        r"/releases/\d+/assets$",
        _upload,
        lambda s, x, r: (
            [(a.name, a.state) for a in s.assets(x["draft"].id)] == [("btp-manager.yaml", "uploaded")]
            and s.uploaded_bytes(r.id) == x["content"]
            and _starters_deleted_first(s)
        ),
        setup=_draft,
        mutating=True,
        own_faults={
            # GitHub may leave an empty "starter" asset after a 5xx: two in a row, each cleaned up
            "502-leaves-starter-twice": Fault(method="*", path="", kind="status", status=502, times=2),
        },
    ),
    Op(
        "download_asset",
        "GET",
        r"/releases/assets/\d+$",
        lambda c, s, x: c.download_asset(x["asset"], x["tmp"] / "out.yaml"),
        lambda s, x, r: r.read_bytes() == x["content"],
        setup=_draft_with_asset,
    ),
    Op(
        "delete_asset",
        "DELETE",
        r"/releases/assets/\d+$",
        lambda c, s, x: c.delete_asset(x["asset"].id),
        lambda s, x, r: s.assets(x["draft"].id) == [],
        setup=_draft_with_asset,
        mutating=True,
    ),
    Op(
        "rename_asset",
        "PATCH",
        r"/releases/assets/\d+$",
        lambda c, s, x: c.rename_asset(x["asset"].id, "renamed.yaml"),
        lambda s, x, r: [a.name for a in s.assets(x["draft"].id)] == ["renamed.yaml"],
        setup=_draft_with_asset,
        mutating=True,
    ),
    Op(
        "wait_for_assets",
        "GET",
        r"/releases/\d+/assets$",
        lambda c, s, x: c.wait_for_assets(x["draft"], ["template.yaml"]),
        lambda s, x, r: list(r) == ["template.yaml"],
        setup=_draft_with_asset,
    ),
    Op(
        "combined_status",
        "GET",
        r"/status$",
        lambda c, s, x: c.combined_status(s.head_sha),
        lambda s, x, r: r.state == "success",
        setup=_statuses,
    ),
    Op(
        "list_check_runs",
        "GET",
        r"/check-runs$",
        lambda c, s, x: c.list_check_runs(s.head_sha),
        lambda s, x, r: [(run.name, run.conclusion) for run in r] == [("e2e", "success")],
        setup=_statuses,
    ),
    Op(
        "wait_for_checks",
        "GET",
        r"/status$",
        lambda c, s, x: c.wait_for_checks(s.head_sha, ["build", "e2e"]),
        lambda s, x, r: r == {"build": "success", "e2e": "success"},
        setup=_statuses,
    ),
    Op(
        "create_commit_status",
        "POST",
        r"/statuses/[0-9a-f]+$",
        lambda c, s, x: c.create_commit_status(s.head_sha, "build", "success"),
        lambda s, x, r: len(s.requests) > 0,
        mutating=True,
    ),
]


CASES = [
    pytest.param(op, name, fault, id=f"{op.name}-{name}")
    for op in OPS
    for name, fault in {**FAULTS, **(AFTER_FAULTS if op.mutating else {}), **op.own_faults}.items()
]


@pytest.mark.parametrize(("op", "fault_name", "fault"), CASES)
def test_operation_survives_fault(op: Op, fault_name: str, fault: Fault, tmp_path: Path) -> None:
    with GitHubSimulator(owner="kyma-project", repo="btp-manager") as sim:
        survives_fault(sim, REPO, op, fault_name, fault, tmp_path)
