"""Pull requests, reviewers, labels and comments (PullRequestOperations) against the GitHub
simulator over real HTTP, on github.com's layout and GitHub Enterprise Server's."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from btp_release.errors import Conflict, InvalidInput, PermissionDenied
from btp_release.github import GitHubClient, IssueComment, PullRequest
from btp_release.testing import FakeClock, GitHubSimulator

from .github_sim_support import MANIFESTS, connect

CONFIG = "modules/btp-operator/1.0.0/module-config.yaml"
BRANCH = "btp-operator-1.0.0"


@pytest.fixture
def sim() -> Iterator[GitHubSimulator]:
    with GitHubSimulator() as simulator:
        simulator.add_repository(MANIFESTS, files={"README.md": "# Module manifests\n"})
        yield simulator


class Recording(httpx.BaseTransport):
    """Passes every request through and keeps its method, path and JSON body (the simulator
    records no bodies)."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.sent: list[tuple[str, str, Any]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else None
        self.sent.append((request.method, request.url.path, body))
        return self.refuse(request, body) or self.inner.handle_request(request)

    def refuse(self, request: httpx.Request, body: Any) -> httpx.Response | None:
        return None

    def close(self) -> None:
        self.inner.close()


class AuthorCannotReview(Recording):
    """GitHub answers 422 when a pull request's author is asked to review it; the simulator does
    not model authors, so this answers as GitHub does for the simulator's bot author."""

    author = "github-actions[bot]"

    def refuse(self, request: httpx.Request, body: Any) -> httpx.Response | None:
        if request.url.path.endswith("/requested_reviewers") and self.author in body.get("reviewers", []):
            message = {"message": "Review cannot be requested from pull request author.", "status": "422"}
            return httpx.Response(422, json=message)
        return None


@pytest.fixture
def client(sim: GitHubSimulator, clock: FakeClock) -> Iterator[GitHubClient]:
    with connect(sim, clock) as github:
        yield github


def propose(client: GitHubClient, branch: str = BRANCH, text: str = "version: 1.0.0\n") -> str:
    """A branch holding one commit on main, as the submit stage writes it."""
    base = client.branch_head("main")
    assert base is not None
    sha = client.create_commit(base, [(CONFIG, text.encode())], message=f"Submit {branch}")
    client.set_branch(branch, sha)
    return sha


def posts(sim: GitHubSimulator, suffix: str, since: int = 0) -> int:
    return sum(1 for r in sim.requests[since:] if r.method == "POST" and r.path.endswith(suffix))


# -- a whole submission --------------------------------------------------------------------


@pytest.mark.parametrize("ghes", [False, True], ids=["github.com", "ghes"])
def test_a_submission_from_branch_to_merged_pull_request(clock: FakeClock, ghes: bool) -> None:
    with GitHubSimulator(ghes=ghes) as sim:
        sim.add_repository(MANIFESTS, files={"README.md": "# Module manifests\n"})
        recording = Recording()
        with connect(sim, clock, transport=recording) as client:
            head = propose(client)
            assert client.find_pull_requests(BRANCH) == []
            pr = client.create_pull_request(head=BRANCH, base="main", title="Submit 1.0.0", body="Automated")
            assert (pr.number, pr.state, pr.merged, pr.head_ref, pr.head_sha, pr.base_ref) == (
                1,
                "open",
                False,
                BRANCH,
                head,
                "main",
            )
            assert (pr.title, pr.body) == ("Submit 1.0.0", "Automated")
            assert pr.html_url.startswith(sim.web_url) and pr.html_url.endswith(f"/{MANIFESTS}/pull/1")

            again = client.create_pull_request(head=BRANCH, base="main", title="Other title", body="x")
            assert again == pr  # the open one, as it is
            assert [p.number for p in sim.pull_requests(MANIFESTS)] == [1]

            client.request_reviewers(pr.number, ["alice", "kyma/btp-team"])
            assert ("POST", f"/repos/{MANIFESTS}/pulls/1/requested_reviewers") in [
                (m, p.removeprefix("/api/v3")) for m, p, _ in recording.sent
            ]
            sent = next(b for m, p, b in recording.sent if p.endswith("/requested_reviewers"))
            assert sent == {"reviewers": ["alice"], "team_reviewers": ["btp-team"]}
            client.add_labels(pr.number, ["kind/submission", "module/btp-operator"])
            note = client.comment(pr.number, "Checks passed")
            assert client.comment(pr.number, "Checks passed") == note
            assert [c.body for c in client.issue_comments(pr.number)] == ["Checks passed"]

            updated = client.update_pull_request(
                pr.number, title="Submit btp-operator 1.0.0", body="New body"
            )
            assert (updated.title, updated.body) == ("Submit btp-operator 1.0.0", "New body")
            current = client.find_pull_requests(BRANCH, base="main", state="open")
            assert len(current) == 1
            assert current[0].labels == ("kind/submission", "module/btp-operator")
            assert current[0].requested_reviewers == ("alice", "kyma/btp-team")

            merged_at = sim.merge_pull_request(MANIFESTS, pr.number, delete_branch=True)
            assert sim.files(MANIFESTS, "main")[CONFIG] == b"version: 1.0.0\n"
            [done] = client.find_pull_requests(BRANCH)
            assert (done.state, done.merged, done.merge_commit_sha) == ("closed", True, merged_at)
            assert client.branch_head(BRANCH) is None
        assert all(r.sent_path.startswith("/api/v3/") == ghes for r in sim.requests)


# -- finding -------------------------------------------------------------------------------


def test_find_by_head_branch_newest_first(sim: GitHubSimulator, client: GitHubClient) -> None:
    propose(client)
    first = client.create_pull_request(head=BRANCH, base="main", title="First", body="")
    client.update_pull_request(first.number, state="closed")
    propose(client, "other-branch", "other\n")
    other = client.create_pull_request(head="other-branch", base="main", title="Other", body="")
    second = client.create_pull_request(head=BRANCH, base="main", title="Second", body="")
    assert second.number != first.number

    assert [p.number for p in client.find_pull_requests(BRANCH)] == [second.number, first.number]
    assert [p.number for p in client.find_pull_requests(BRANCH, state="open")] == [second.number]
    assert [p.number for p in client.find_pull_requests(BRANCH, state="closed")] == [first.number]
    assert [p.state for p in client.find_pull_requests(BRANCH)] == ["open", "closed"]
    assert client.find_pull_requests(BRANCH, base="release") == []
    assert [p.number for p in client.find_pull_requests("other-branch")] == [other.number]
    assert client.find_pull_requests("no-such-branch") == []
    with pytest.raises(InvalidInput, match="invalid pull request state"):
        client.find_pull_requests(BRANCH, state="merged")
    with pytest.raises(InvalidInput, match="invalid branch name"):
        client.find_pull_requests("kyma:" + BRANCH)


def test_find_reads_every_page(sim: GitHubSimulator, client: GitHubClient) -> None:
    propose(client)
    for i in range(103):  # open and close: GitHub keeps one open per head and base only
        pr = client.create_pull_request(head=BRANCH, base="main", title=f"Try {i}", body="")
        client.update_pull_request(pr.number, state="closed")
    found = client.find_pull_requests(BRANCH)
    assert len(found) == 103 and found[0].title == "Try 102"


# -- creating ------------------------------------------------------------------------------


def test_create_without_commits_or_branch(sim: GitHubSimulator, client: GitHubClient) -> None:
    sim.create_branch(MANIFESTS, BRANCH)  # at main: nothing to propose
    with pytest.raises(Conflict, match=f"{BRANCH} has no commits that main lacks"):
        client.create_pull_request(head=BRANCH, base="main", title="Nothing", body="")
    with pytest.raises(InvalidInput, match="rejects the head branch 'missing'"):
        client.create_pull_request(head="missing", base="main", title="Missing", body="")
    with pytest.raises(InvalidInput, match="needs a title"):
        client.create_pull_request(head=BRANCH, base="main", title=" ", body="")
    assert sim.pull_requests(MANIFESTS) == []


def test_a_new_pull_request_after_one_was_closed(sim: GitHubSimulator, client: GitHubClient) -> None:
    propose(client)
    closed = client.create_pull_request(head=BRANCH, base="main", title="One", body="")
    client.update_pull_request(closed.number, state="closed")
    fresh = client.create_pull_request(head=BRANCH, base="main", title="Two", body="")
    assert fresh.number != closed.number and fresh.state == "open"
    assert [p.state for p in sim.pull_requests(MANIFESTS)] == ["closed", "open"]


def test_update_fields_state_and_base(sim: GitHubSimulator, client: GitHubClient) -> None:
    sim.create_branch(MANIFESTS, "release")
    propose(client)
    pr = client.create_pull_request(head=BRANCH, base="main", title="T", body="B")
    assert client.update_pull_request(pr.number) == pr
    assert client.update_pull_request(pr.number, body="").body == ""
    moved = client.update_pull_request(pr.number, base="release")
    assert moved.base_ref == "release"
    assert client.update_pull_request(pr.number, state="closed").state == "closed"
    assert client.update_pull_request(pr.number, state="open").state == "open"
    with pytest.raises(InvalidInput, match="invalid pull request state"):
        client.update_pull_request(pr.number, state="merged")


# -- reviewers, labels, comments -----------------------------------------------------------


def test_reviewers_skip_empty_and_repeat_harmlessly(sim: GitHubSimulator, client: GitHubClient) -> None:
    propose(client)
    pr = client.create_pull_request(head=BRANCH, base="main", title="T", body="")
    before = len(sim.requests)
    client.request_reviewers(pr.number, [])
    assert len(sim.requests) == before
    client.request_reviewers(pr.number, ["alice", "bob", "alice"])
    client.request_reviewers(pr.number, ["bob"])
    assert client.get_pull_request(pr.number).requested_reviewers == ("alice", "bob")
    for bad in ("", "kyma/", "/team", "kyma/b/c", "two words"):
        with pytest.raises(InvalidInput, match="invalid reviewer"):
            client.request_reviewers(pr.number, [bad])
    with pytest.raises(InvalidInput, match="team kyma-project/btp-team is not of kyma"):
        client.request_reviewers(pr.number, ["alice", "kyma-project/btp-team"])
    client.request_reviewers(pr.number, ["KYMA/btp-team"])
    assert client.get_pull_request(pr.number).requested_reviewers == ("alice", "bob", "kyma/btp-team")


def test_the_author_asked_to_review_is_a_warning(
    sim: GitHubSimulator, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    refusing = AuthorCannotReview()
    with connect(sim, clock, transport=refusing) as client:
        propose(client)
        pr = client.create_pull_request(head=BRANCH, base="main", title="T", body="")
        assert pr.user == refusing.author
        with caplog.at_level(logging.WARNING, logger="btp_release.github"):
            client.request_reviewers(pr.number, [refusing.author, "alice"])
        assert "cannot review it" in caplog.text
        assert client.get_pull_request(pr.number).requested_reviewers == ("alice",)
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="btp_release.github"):
            client.request_reviewers(pr.number, [refusing.author])  # nobody left to ask
        assert "cannot review it" in caplog.text


def test_labels(sim: GitHubSimulator, client: GitHubClient) -> None:
    propose(client)
    pr = client.create_pull_request(head=BRANCH, base="main", title="T", body="")
    before = len(sim.requests)
    client.add_labels(pr.number, [])
    assert len(sim.requests) == before
    client.add_labels(pr.number, ["kind/submission"])
    client.add_labels(pr.number, ["kind/submission", "module/btp-operator"])
    assert client.get_pull_request(pr.number).labels == ("kind/submission", "module/btp-operator")
    issue = sim.add_issue(MANIFESTS, "Release tracking")
    client.add_labels(issue, ["tracking"])


def test_comment_looks_first(sim: GitHubSimulator, client: GitHubClient) -> None:
    propose(client)
    pr = client.create_pull_request(head=BRANCH, base="main", title="T", body="")
    first = client.comment(pr.number, "Rewrote the branch (abc)")
    assert isinstance(first, IssueComment) and first.html_url.endswith(f"#issuecomment-{first.id}")
    before = len(sim.requests)
    assert client.comment(pr.number, "Rewrote the branch (abc)\n") == first
    assert posts(sim, "/comments", before) == 0
    client.comment(pr.number, "Rewrote the branch (def)")
    assert [c.body for c in sim.issue_comments(MANIFESTS, pr.number)] == [
        "Rewrote the branch (abc)",
        "Rewrote the branch (def)",
    ]
    with pytest.raises(InvalidInput, match="empty comment"):
        client.comment(pr.number, "  ")
    issue = sim.add_issue(MANIFESTS, "Release tracking")
    assert client.comment(issue, "btp-operator 1.0.0 submitted").body == "btp-operator 1.0.0 submitted"


def test_issue_comments_every_page(sim: GitHubSimulator, client: GitHubClient) -> None:
    issue = sim.add_issue(MANIFESTS, "Many comments")
    headers = {"Authorization": f"Bearer {sim.token}", "Accept": "application/vnd.github+json"}
    with httpx.Client(base_url=f"{sim.api_url}/repos/{MANIFESTS}", headers=headers) as http:
        for i in range(105):
            assert http.post(f"/issues/{issue}/comments", json={"body": f"c{i}"}).status_code == 201
    assert [c.body for c in client.issue_comments(issue)] == [f"c{i}" for i in range(105)]
    assert client.issue_comments(sim.add_issue(MANIFESTS, "None")) == []


# -- permissions ---------------------------------------------------------------------------


def test_a_read_only_token_cannot_write(sim: GitHubSimulator, client: GitHubClient, clock: FakeClock) -> None:
    propose(client)
    pr = client.create_pull_request(head=BRANCH, base="main", title="T", body="")
    propose(client, "second", "second\n")
    with connect(sim, clock, token=sim.add_token({MANIFESTS: "read"}, others="write")) as reader:
        assert reader.find_pull_requests(BRANCH)[0].number == pr.number
        with pytest.raises(PermissionDenied, match="pull-requests: write"):
            reader.create_pull_request(head="second", base="main", title="T", body="")
        with pytest.raises(PermissionDenied, match="pull-requests: write"):
            reader.update_pull_request(pr.number, title="changed")
        with pytest.raises(PermissionDenied):
            reader.comment(pr.number, "hello")
        with pytest.raises(PermissionDenied):
            reader.add_labels(pr.number, ["x"])
        with pytest.raises(PermissionDenied):
            reader.request_reviewers(pr.number, ["alice"])
    assert [(p.number, p.title) for p in sim.pull_requests(MANIFESTS)] == [(pr.number, "T")]
    assert sim.issue_comments(MANIFESTS, pr.number) == []


# -- the model -----------------------------------------------------------------------------


def test_pull_request_from_github_json() -> None:
    data = {
        "number": 7,
        "state": "closed",
        "merged_at": "2024-01-01T00:00:00Z",
        "title": "Submit",
        "body": None,
        "head": {"ref": "b", "sha": "1" * 40},
        "base": {"ref": "main", "sha": "2" * 40},
        "html_url": "https://github.com/kyma/module-manifests/pull/7",
        "labels": [{"name": "kind/submission"}],
        "requested_reviewers": [{"login": "alice"}],
        "requested_teams": [
            {"slug": "btp-team", "html_url": "https://github.com/orgs/kyma-project/teams/btp-team"},
            {"slug": "bare"},
        ],
        "user": {"login": "kyma-bot"},
        "merge_commit_sha": "3" * 40,
    }
    pr = PullRequest.from_json(data)
    assert (pr.merged, pr.body, pr.user, pr.open) == (True, "", "kyma-bot", False)
    assert pr.requested_reviewers == ("alice", "kyma-project/btp-team", "bare")
    assert pr.labels == ("kind/submission",)
    assert not PullRequest.from_json({**data, "merged_at": None, "state": "open"}).merged
