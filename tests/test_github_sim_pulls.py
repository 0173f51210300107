"""Pull requests, issues, comments and labels of the GitHub simulator, as a module submission
uses them: a branch with a commit, a pull request found by its head branch, a comment on a
release-management issue, a maintainer's merge."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import httpx
import pytest

from btp_release.testing import GitHubSimulator

from .github_sim_support import api

MANIFESTS = "kyma/module-manifests"
MREPO = f"/repos/{MANIFESTS}"
CONFIG = "modules/btp-operator/1.0.0/module-config.yaml"


@pytest.fixture
def sim(github_sim: GitHubSimulator) -> GitHubSimulator:
    github_sim.add_repository(MANIFESTS, files={"README.md": "# Module manifests\n"})
    return github_sim


@pytest.fixture
def gh(sim: GitHubSimulator) -> Iterator[httpx.Client]:
    with api(sim) as client:
        yield client


def submit(gh: httpx.Client, sim: GitHubSimulator, branch: str, path: str, text: str) -> None:
    """A branch off main with one file written through the contents API."""
    sim.create_branch(MANIFESTS, branch)
    content = base64.b64encode(text.encode()).decode()
    written = gh.put(
        f"{MREPO}/contents/{path}", json={"message": f"Add {path}", "content": content, "branch": branch}
    )
    assert written.status_code == 201, written.text


def open_pull(
    gh: httpx.Client, branch: str, title: str = "Submit BTP Manager version 1.0.0"
) -> httpx.Response:
    return gh.post(
        f"{MREPO}/pulls", json={"title": title, "head": branch, "base": "main", "body": "Automated"}
    )


def test_a_submission_pull_request_from_open_to_merged(sim: GitHubSimulator, gh: httpx.Client) -> None:
    submit(gh, sim, "btp-manager-1.0.0", CONFIG, "version: 1.0.0\n")
    created = open_pull(gh, "btp-manager-1.0.0")
    assert created.status_code == 201, created.text
    pr = created.json()
    assert (pr["number"], pr["state"], pr["merged"], pr["draft"]) == (1, "open", False, False)
    assert (pr["head"]["label"], pr["head"]["ref"], pr["base"]["ref"]) == (
        "kyma:btp-manager-1.0.0",
        "btp-manager-1.0.0",
        "main",
    )
    assert pr["head"]["sha"] == sim.branch_sha(MANIFESTS, "btp-manager-1.0.0")
    assert (pr["mergeable"], pr["mergeable_state"], pr["commits"], pr["changed_files"], pr["additions"]) == (
        True,
        "clean",
        1,
        1,
        1,
    )
    assert created.headers["Location"] == pr["url"]
    assert pr["html_url"].endswith(f"/{MANIFESTS}/pull/1")

    found = gh.get(f"{MREPO}/pulls", params={"head": "kyma:btp-manager-1.0.0", "state": "all"}).json()
    assert [p["number"] for p in found] == [1]
    assert gh.get(f"{MREPO}/pulls", params={"head": "kyma:other"}).json() == []
    assert gh.get(f"{MREPO}/pulls", params={"state": "closed"}).json() == []
    assert gh.get(f"{MREPO}/pulls/1").json()["title"] == "Submit BTP Manager version 1.0.0"

    comment = gh.post(f"{MREPO}/issues/1/comments", json={"body": "Ready for review"})
    assert comment.status_code == 201
    assert comment.json()["html_url"].endswith(f"/pull/1#issuecomment-{comment.json()['id']}")
    assert [c.body for c in sim.issue_comments(MANIFESTS, 1)] == ["Ready for review"]
    sim.add_labels(MANIFESTS, 1, "module-submission", "btp-manager")
    labels = gh.get(f"{MREPO}/issues/1/labels").json()
    assert [label["name"] for label in labels] == ["module-submission", "btp-manager"]
    assert gh.get(f"{MREPO}/pulls/1").json()["comments"] == 1

    main_before = sim.branch_sha(MANIFESTS)
    merged_sha = sim.merge_pull_request(MANIFESTS, 1)
    assert sim.branch_sha(MANIFESTS) == merged_sha
    merge = gh.get(f"{MREPO}/git/commits/{merged_sha}").json()
    assert [p["sha"] for p in merge["parents"]] == [main_before, pr["head"]["sha"]]
    assert (
        merge["message"]
        == "Merge pull request #1 from kyma/btp-manager-1.0.0\n\nSubmit BTP Manager version 1.0.0"
    )
    assert sim.files(MANIFESTS)[CONFIG] == b"version: 1.0.0\n"
    after = gh.get(f"{MREPO}/pulls/1").json()
    assert (after["state"], after["merged"], after["merge_commit_sha"]) == ("closed", True, merged_sha)
    assert after["merged_at"] is not None and after["mergeable"] is None
    assert (after["commits"], after["changed_files"]) == (1, 1)  # still what it brought
    [snapshot] = sim.pull_requests(MANIFESTS)
    assert snapshot.merged and snapshot.head == "btp-manager-1.0.0"
    assert [p["number"] for p in gh.get(f"{MREPO}/pulls", params={"state": "closed"}).json()] == [1]


def test_pull_request_rules(sim: GitHubSimulator, gh: httpx.Client) -> None:
    submit(gh, sim, "btp-manager-1.0.0", CONFIG, "version: 1.0.0\n")
    assert open_pull(gh, "btp-manager-1.0.0").status_code == 201
    duplicate = open_pull(gh, "kyma:btp-manager-1.0.0", title="Again")
    assert duplicate.status_code == 422
    assert duplicate.json()["errors"] == [
        {
            "resource": "PullRequest",
            "code": "custom",
            "message": "A pull request already exists for kyma:btp-manager-1.0.0.",
        }
    ]
    sim.create_branch(MANIFESTS, "empty")
    empty = open_pull(gh, "empty")
    assert empty.status_code == 422
    assert empty.json()["errors"][0]["message"] == "No commits between main and empty"
    for head, base, field in (
        ("nope", "main", "head"),
        ("btp-manager-1.0.0", "nope", "base"),
        ("fork:x", "main", "head"),
    ):
        bad = gh.post(f"{MREPO}/pulls", json={"title": "t", "head": head, "base": base})
        assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == field, (head, base)
    untitled = gh.post(f"{MREPO}/pulls", json={"head": "btp-manager-1.0.0", "base": "main"})
    assert untitled.status_code == 422 and untitled.json()["errors"][0]["field"] == "title"

    closed = gh.patch(f"{MREPO}/pulls/1", json={"state": "closed", "title": "Withdrawn"})
    assert closed.status_code == 200
    assert (closed.json()["state"], closed.json()["title"], closed.json()["merged"]) == (
        "closed",
        "Withdrawn",
        False,
    )
    assert open_pull(gh, "btp-manager-1.0.0").json()["number"] == 2  # a new one once closed
    reopen = gh.patch(f"{MREPO}/pulls/1", json={"state": "open"})
    assert reopen.status_code == 422 and "already exists" in reopen.json()["errors"][0]["message"]
    assert gh.get(f"{MREPO}/pulls/99").status_code == 404


def test_head_filter_needs_the_owner_prefix(sim: GitHubSimulator, gh: httpx.Client) -> None:
    """A bare branch name in ``head`` is silently ignored, as GitHub does: every open pull
    request comes back, so a client must send ``owner:branch``."""
    submit(gh, sim, "btp-manager-1.0.0", CONFIG, "a\n")
    submit(gh, sim, "btp-manager-1.1.0", "modules/btp-operator/1.1.0/module-config.yaml", "b\n")
    open_pull(gh, "btp-manager-1.0.0")
    open_pull(gh, "btp-manager-1.1.0", title="Submit 1.1.0")
    bare = gh.get(f"{MREPO}/pulls", params={"head": "btp-manager-1.0.0"}).json()
    assert [p["number"] for p in bare] == [2, 1]  # newest first
    owned = gh.get(f"{MREPO}/pulls", params={"head": "kyma:btp-manager-1.0.0"}).json()
    assert [p["number"] for p in owned] == [1]
    assert [p["number"] for p in gh.get(f"{MREPO}/pulls", params={"direction": "asc"}).json()] == [1, 2]
    assert gh.get(f"{MREPO}/pulls", params={"base": "other"}).json() == []
    page = gh.get(f"{MREPO}/pulls", params={"per_page": 1})
    assert len(page.json()) == 1 and 'rel="next"' in page.headers["link"]


def test_issues_share_numbers_with_pull_requests(sim: GitHubSimulator, gh: httpx.Client) -> None:
    sim.add_repository("kyma/release-management")
    issue = sim.add_issue("kyma/release-management", "BTP Manager 1.0.1", labels=["patch"])
    assert issue == 1
    submit(gh, sim, "b", CONFIG, "x\n")
    sim.add_issue(MANIFESTS, "An issue first")
    assert open_pull(gh, "b").json()["number"] == 2
    posted = gh.post(
        "/repos/kyma/release-management/issues/1/comments", json={"body": "PR: https://…/pull/2"}
    )
    assert posted.status_code == 201
    assert posted.json()["html_url"].endswith(
        f"/kyma/release-management/issues/1#issuecomment-{posted.json()['id']}"
    )
    listed = gh.get("/repos/kyma/release-management/issues/1/comments").json()
    assert [c["body"] for c in listed] == ["PR: https://…/pull/2"]
    assert [label["name"] for label in gh.get("/repos/kyma/release-management/issues/1/labels").json()] == [
        "patch"
    ]
    assert gh.post(f"{MREPO}/issues/99/comments", json={"body": "x"}).status_code == 404
    assert gh.post(f"{MREPO}/issues/1/comments", json={}).status_code == 422
    added = gh.post(f"{MREPO}/issues/2/labels", json={"labels": ["submission"]})
    assert [label["name"] for label in added.json()] == ["submission"]


def test_merge_methods_and_conflicts(sim: GitHubSimulator, gh: httpx.Client) -> None:
    submit(gh, sim, "squash", "a.txt", "a\n")
    submit(gh, sim, "ff", "b.txt", "b\n")
    sim.create_branch(MANIFESTS, "conflict")
    sim.add_commit("theirs", repo=MANIFESTS, branch="conflict", files={"README.md": "# Theirs\n"})
    for branch in ("squash", "ff", "conflict"):
        open_pull(gh, branch, title=branch)
    squashed = sim.merge_pull_request(MANIFESTS, 1, method="squash")
    commit = gh.get(f"{MREPO}/git/commits/{squashed}").json()
    assert len(commit["parents"]) == 1 and commit["message"].startswith("squash (#1)")
    with pytest.raises(ValueError, match="not mergeable"):
        sim.merge_pull_request(MANIFESTS, 2, method="fast-forward")  # main moved past its base
    merged = gh.put(f"{MREPO}/pulls/2/merge", json={"merge_method": "merge", "sha": "0" * 40})
    assert merged.status_code == 409
    merged = gh.put(f"{MREPO}/pulls/2/merge", json={"merge_method": "merge"})
    assert merged.status_code == 200 and merged.json()["merged"] is True
    assert set(sim.files(MANIFESTS)) == {"README.md", "a.txt", "b.txt"}

    sim.add_commit("ours", repo=MANIFESTS, files={"README.md": "# Ours\n"})
    pr = gh.get(f"{MREPO}/pulls/3").json()
    assert (pr["mergeable"], pr["mergeable_state"]) == (False, "dirty")
    assert gh.put(f"{MREPO}/pulls/3/merge", json={}).status_code == 405
    with pytest.raises(ValueError, match="not mergeable"):
        sim.merge_pull_request(MANIFESTS, 3)
    assert gh.put(f"{MREPO}/pulls/1/merge", json={}).status_code == 405  # already merged

    submit(gh, sim, "forward", "c.txt", "c\n")
    open_pull(gh, "forward", title="forward")
    head = sim.branch_sha(MANIFESTS, "forward")
    assert sim.merge_pull_request(MANIFESTS, 4, method="fast-forward", delete_branch=True) == head
    assert sim.branch_sha(MANIFESTS) == head and sim.branch_sha(MANIFESTS, "forward") is None


def test_deleting_the_head_branch_closes_the_pull_request(sim: GitHubSimulator, gh: httpx.Client) -> None:
    submit(gh, sim, "withdrawn", CONFIG, "x\n")
    head = sim.branch_sha(MANIFESTS, "withdrawn")
    open_pull(gh, "withdrawn")
    assert gh.delete(f"{MREPO}/git/refs/heads/withdrawn").status_code == 204
    pr = gh.get(f"{MREPO}/pulls/1").json()
    assert (pr["state"], pr["merged"], pr["head"]["sha"]) == ("closed", False, head)
    reopened = gh.patch(f"{MREPO}/pulls/1", json={"state": "open"})
    assert reopened.status_code == 422


def test_a_token_scoped_to_the_manifests_repository_submits(sim: GitHubSimulator) -> None:
    sim.add_repository("kyma/release-management")
    sim.add_issue("kyma/release-management", "BTP Manager 1.0.1")
    token = sim.add_token({MANIFESTS: "write"})
    with api(sim, token) as scoped:
        submit(scoped, sim, "btp-manager-1.0.0", CONFIG, "x\n")
        assert open_pull(scoped, "btp-manager-1.0.0").status_code == 201
        refused = scoped.post("/repos/kyma/release-management/issues/1/comments", json={"body": "x"})
        assert refused.status_code == 403
    assert sim.issue_comments("kyma/release-management", 1) == []
