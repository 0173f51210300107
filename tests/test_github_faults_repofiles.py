"""Fault matrix for proposing a change to another repository: every file, branch and pull request
operation x {5xx, 429, secondary limit, connection reset, slow}, as tests/test_github_faults.py
does for releases.

Reads and retry-safe writes (blobs, trees, commits, a forced branch move, PATCHes, labels,
reviewers) must recover; creating ones (a branch, a pull request, a comment) must never
duplicate, also when the fault hits *after* GitHub did the work (``status_after`` /
``reset_after``): afterwards there is one pull request, one comment, the branch at the right commit.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from btp_release.github import GitHubClient
from btp_release.testing import Fault, GitHubSimulator

from .github_sim_support import AFTER_FAULTS, FAULTS, Ctx, Op, survives_fault

MANIFESTS = "kyma/module-manifests"
CONFIG = "modules/btp-operator/1.0.0/module-config.yaml"
MAPPING = "modules/btp-operator/module-releases.yaml"
NEW = "modules/btp-operator/1.1.0/module-config.yaml"
FILES = {"README.md": "# Module manifests\n", CONFIG: "version: 1.0.0\n", MAPPING: "channels: []\n"}
BRANCH = "btp-operator-1.1.0"


def _raw(s: GitHubSimulator, path: str) -> Any:
    headers = {"User-Agent": "test", "Authorization": f"Bearer {s.token}"}
    return httpx.get(f"{s.api_url}/repos/{MANIFESTS}{path}", headers=headers).json()


def _base(c: GitHubClient, s: GitHubSimulator, x: Ctx) -> None:
    x["base"] = s.branch_sha(MANIFESTS, "main")


def _commit(c: GitHubClient, s: GitHubSimulator, x: Ctx) -> Any:
    return c.create_commit(
        x["base"],
        [(NEW, b"version: 1.1.0\n"), (MAPPING, b"channels: [fast]\n"), (CONFIG, None)],
        message="Submit",
    )


def _committed(s: GitHubSimulator, x: Ctx, sha: str) -> bool:
    """One new commit on the base with exactly the changes, and no branch moved."""
    parents = [p["sha"] for p in _raw(s, f"/git/commits/{sha}")["parents"]]
    files = {"README.md": b"# Module manifests\n", NEW: b"version: 1.1.0\n", MAPPING: b"channels: [fast]\n"}
    return (
        parents == [x["base"]] and s.files(MANIFESTS, sha) == files and s.branch_sha(MANIFESTS) == x["base"]
    )


def _two_commits(c: GitHubClient, s: GitHubSimulator, x: Ctx) -> None:
    _base(c, s, x)
    x["first"] = c.create_commit(x["base"], [(NEW, b"a\n")], message="a")
    x["second"] = c.create_commit(x["base"], [(NEW, b"b\n")], message="b")  # a sibling: no fast-forward


def _branch_at_first(c: GitHubClient, s: GitHubSimulator, x: Ctx) -> None:
    _two_commits(c, s, x)
    c.set_branch(BRANCH, x["first"])


def _branches(s: GitHubSimulator) -> list[str]:
    return sorted(r.ref for r in s.refs(MANIFESTS) if r.ref.startswith("refs/heads/"))


def _proposed(c: GitHubClient, s: GitHubSimulator, x: Ctx) -> None:
    _two_commits(c, s, x)
    c.set_branch(BRANCH, x["first"])


def _opened(c: GitHubClient, s: GitHubSimulator, x: Ctx) -> None:
    _proposed(c, s, x)
    x["pr"] = c.create_pull_request(head=BRANCH, base="main", title="Submit 1.1.0", body="Automated")


def _commented(c: GitHubClient, s: GitHubSimulator, x: Ctx) -> None:
    _opened(c, s, x)
    x["comment"] = c.comment(x["pr"].number, "Checks passed")


def _reviewers(s: GitHubSimulator, number: int) -> tuple[list[str], list[str]]:
    pr = _raw(s, f"/pulls/{number}")
    return [u["login"] for u in pr["requested_reviewers"]], [t["slug"] for t in pr["requested_teams"]]


def _one_pr(s: GitHubSimulator) -> Any:
    prs = s.pull_requests(MANIFESTS)
    return prs[0] if len(prs) == 1 else None


OPS = [
    Op(
        "get_file",
        "GET",
        r"/contents/",
        lambda c, s, x: c.get_file(CONFIG, ref="main"),
        lambda s, x, r: r is not None and r.content == b"version: 1.0.0\n",
    ),
    Op(
        "list_files",
        "GET",
        r"/git/trees/",
        lambda c, s, x: c.list_files("modules", ref="main"),
        lambda s, x, r: r == sorted([CONFIG, MAPPING]),
    ),
    Op(
        "branch_head",
        "GET",
        r"/git/ref/heads/main$",
        lambda c, s, x: c.branch_head("main"),
        lambda s, x, r: r == s.branch_sha(MANIFESTS),
    ),
    Op(
        "create_commit-blob",
        "POST",
        r"/git/blobs$",
        _commit,
        _committed,
        setup=_base,
        mutating=True,
    ),
    Op(
        "create_commit-tree",
        "POST",
        r"/git/trees$",
        _commit,
        _committed,
        setup=_base,
        mutating=True,
    ),
    Op(
        "create_commit-commit",
        "POST",
        r"/git/commits$",
        _commit,
        _committed,
        setup=_base,
        mutating=True,
    ),
    Op(
        "set_branch-create",
        "POST",
        r"/git/refs$",
        lambda c, s, x: c.set_branch(BRANCH, x["second"]),
        lambda s, x, r: (
            s.branch_sha(MANIFESTS, BRANCH) == x["second"]
            and _branches(s) == [f"refs/heads/{BRANCH}", "refs/heads/main"]
        ),
        setup=_two_commits,
        mutating=True,
    ),
    Op(
        "set_branch-move",
        "PATCH",
        r"/git/refs/heads/",
        lambda c, s, x: c.set_branch(BRANCH, x["second"]),
        lambda s, x, r: s.branch_sha(MANIFESTS, BRANCH) == x["second"],
        setup=_branch_at_first,
        mutating=True,
    ),
    Op(
        "delete_branch",
        "DELETE",
        r"/git/refs/heads/",
        lambda c, s, x: c.delete_branch(BRANCH),
        lambda s, x, r: s.branch_sha(MANIFESTS, BRANCH) is None and _branches(s) == ["refs/heads/main"],
        setup=_branch_at_first,
        mutating=True,
    ),
    Op(
        "find_pull_requests",
        "GET",
        r"/pulls$",
        lambda c, s, x: c.find_pull_requests(BRANCH),
        lambda s, x, r: [p.number for p in r] == [x["pr"].number],
        setup=_opened,
    ),
    Op(
        "create_pull_request",
        "POST",
        r"/pulls$",
        lambda c, s, x: c.create_pull_request(
            head=BRANCH, base="main", title="Submit 1.1.0", body="Automated"
        ),
        lambda s, x, r: (
            (pr := _one_pr(s)) is not None
            and (pr.number, pr.state, pr.head, pr.title) == (r.number, "open", BRANCH, "Submit 1.1.0")
        ),
        setup=_proposed,
        mutating=True,
    ),
    Op(
        "update_pull_request",
        "PATCH",
        r"/pulls/\d+$",
        lambda c, s, x: c.update_pull_request(x["pr"].number, title="Submit btp-operator 1.1.0", body="New"),
        lambda s, x, r: (
            (pr := _one_pr(s)) is not None
            and (pr.title, pr.body, r.title)
            == ("Submit btp-operator 1.1.0", "New", "Submit btp-operator 1.1.0")
        ),
        setup=_opened,
        mutating=True,
    ),
    Op(
        "request_reviewers",
        "POST",
        r"/requested_reviewers$",
        lambda c, s, x: c.request_reviewers(x["pr"].number, ["alice", "kyma/btp-team"]),
        lambda s, x, r: _reviewers(s, x["pr"].number) == (["alice"], ["btp-team"]),
        setup=_opened,
        mutating=True,
    ),
    Op(
        "add_labels",
        "POST",
        r"/issues/\d+/labels$",
        lambda c, s, x: c.add_labels(x["pr"].number, ["kind/submission", "module/btp-operator"]),
        lambda s, x, r: (
            (pr := _one_pr(s)) is not None and pr.labels == ("kind/submission", "module/btp-operator")
        ),
        setup=_opened,
        mutating=True,
    ),
    Op(
        "issue_comments",
        "GET",
        r"/issues/\d+/comments$",
        lambda c, s, x: c.issue_comments(x["pr"].number),
        lambda s, x, r: r == [x["comment"]],
        setup=_commented,
    ),
    Op(
        "comment",
        "POST",
        r"/issues/\d+/comments$",
        lambda c, s, x: c.comment(x["pr"].number, "Checks passed"),
        lambda s, x, r: (
            [(c.id, c.body) for c in s.issue_comments(MANIFESTS, x["pr"].number)] == [(r.id, "Checks passed")]
        ),
        setup=_opened,
        mutating=True,
    ),
]


CASES = [
    pytest.param(op, name, fault, False, id=f"{op.name}-{name}")
    for op in OPS
    for name, fault in {**FAULTS, **(AFTER_FAULTS if op.mutating else {})}.items()
]
# The same operations on GitHub Enterprise Server's layout (REST under /api/v3): the writes
# whose retry depends on looking again.
GHES_CASES = [
    pytest.param(op, name, fault, True, id=f"ghes-{op.name}-{name}")
    for op in OPS
    if op.name in ("create_commit-tree", "set_branch-create", "create_pull_request", "comment")
    for name, fault in AFTER_FAULTS.items()
]


@pytest.mark.parametrize(("op", "fault_name", "fault", "ghes"), CASES + GHES_CASES)
def test_operation_survives_fault(op: Op, fault_name: str, fault: Fault, ghes: bool, tmp_path: Path) -> None:
    with GitHubSimulator(ghes=ghes) as sim:
        sim.add_repository(MANIFESTS, files=FILES)
        survives_fault(sim, MANIFESTS, op, fault_name, fault, tmp_path)
