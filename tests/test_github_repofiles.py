"""Files, commits and branches of another repository (RepoFileOperations) against the GitHub
simulator over real HTTP: what submitting a module version to a module-manifests repository does."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import httpx
import pytest

from btp_release.errors import InvalidInput, NotFound, PermissionDenied
from btp_release.github import GitHubClient, RepoFile
from btp_release.github.repofiles import git_blob_sha, quote_path
from btp_release.testing import FakeClock, GitHubSimulator

from .github_sim_support import MANIFESTS, connect

CONFIG = "modules/btp-operator/1.0.0/module-config.yaml"
CR = "modules/btp-operator/1.0.0/default-cr.yaml"
MAPPING = "modules/btp-operator/module-releases.yaml"
FILES = {
    "README.md": "# Module manifests\n",
    CONFIG: "name: kyma-project.io/module/btp-operator\nversion: 1.0.0\n",
    CR: "kind: BtpOperator\n",
    MAPPING: "channels: []\n",
    "modules/other/2.0.0/module-config.yaml": "name: other\n",
}


@pytest.fixture
def sim() -> Iterator[GitHubSimulator]:
    with GitHubSimulator() as simulator:
        simulator.add_repository(MANIFESTS, files=FILES)
        yield simulator


@pytest.fixture
def client(sim: GitHubSimulator, clock: FakeClock) -> Iterator[GitHubClient]:
    with connect(sim, clock) as github:
        yield github


def requests_of(sim: GitHubSimulator, method: str, since: int = 0) -> list[str]:
    return [r.path for r in sim.requests[since:] if r.method == method]


def parents(sim: GitHubSimulator, sha: str) -> list[str]:
    headers = {"Authorization": f"Bearer {sim.token}", "Accept": "application/vnd.github+json"}
    body = httpx.get(f"{sim.api_url}/repos/{MANIFESTS}/git/commits/{sha}", headers=headers).json()
    return [p["sha"] for p in body["parents"]]


class TruncatingTrees(httpx.BaseTransport):
    """GitHub truncates a recursive tree listing over 100,000 entries or 7 MB ("truncated": true,
    entries missing); the simulator never does, so this cuts its answers in half on the way."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.truncated = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if "/git/trees/" not in request.url.path or "recursive" not in request.url.params:
            return response
        response.read()
        body = json.loads(response.content)
        body["tree"], body["truncated"] = body["tree"][: len(body["tree"]) // 2], True
        self.truncated += 1
        headers = {k: v for k, v in response.headers.items() if k.lower() != "content-length"}
        return httpx.Response(response.status_code, headers=headers, json=body)

    def close(self) -> None:
        self.inner.close()


# -- reading -------------------------------------------------------------------------------


def test_get_file_at_a_branch_and_at_a_commit(sim: GitHubSimulator, client: GitHubClient) -> None:
    base = sim.branch_sha(MANIFESTS, "main")
    assert base is not None
    sim.add_commit("Bump", repo=MANIFESTS, files={CONFIG: "version: 1.0.1\n"})
    now = client.get_file(CONFIG, ref="main")
    before = client.get_file(CONFIG, ref=base)
    assert now == RepoFile(CONFIG, git_blob_sha(b"version: 1.0.1\n"), b"version: 1.0.1\n")
    assert before is not None and before.content == FILES[CONFIG].encode()
    assert before.text.startswith("name: kyma-project.io/module/btp-operator")


def test_get_file_absent_directory_and_unknown_ref(client: GitHubClient) -> None:
    assert client.get_file("modules/btp-operator/9.9.9/module-config.yaml", ref="main") is None
    with pytest.raises(InvalidInput, match="is a directory, not a file"):
        client.get_file("modules/btp-operator", ref="main")
    with pytest.raises(NotFound, match="no branch, tag or commit 'no-such-branch'"):
        client.get_file(CONFIG, ref="no-such-branch")
    with pytest.raises(InvalidInput, match="no ref"):
        client.get_file(CONFIG, ref="")


def test_get_file_over_one_megabyte_is_read_as_a_blob(sim: GitHubSimulator, client: GitHubClient) -> None:
    big = bytes(range(256)) * 6000  # ~1.5 MB, not text
    sim.add_commit("Big", repo=MANIFESTS, files={"modules/btp-operator/1.0.0/big.bin": big})
    before = len(sim.requests)
    found = client.get_file("modules/btp-operator/1.0.0/big.bin", ref="main")
    assert found is not None and found.content == big and found.sha == git_blob_sha(big)
    assert any("/git/blobs/" in path for path in requests_of(sim, "GET", before))


def test_paths_are_quoted_per_element(sim: GitHubSimulator, client: GitHubClient) -> None:
    odd = "docs/release notes/#1 100%.md"
    assert quote_path(odd) == "docs/release%20notes/%231%20100%25.md"
    sim.add_commit("Odd", repo=MANIFESTS, files={odd: "hello\n"})
    found = client.get_file(odd, ref="main")
    assert found is not None and found.content == b"hello\n"
    assert client.list_files("docs/release notes", ref="main") == [odd]


@pytest.mark.parametrize("path", ["", "/README.md", "modules/../README.md", "modules//x", "a/./b", "dir/"])
def test_bad_paths_are_refused(client: GitHubClient, path: str) -> None:
    with pytest.raises(InvalidInput, match="invalid path"):
        client.get_file(path, ref="main")


def test_list_files_recursive_sorted(sim: GitHubSimulator, client: GitHubClient) -> None:
    assert client.list_files("modules/btp-operator", ref="main") == [CR, CONFIG, MAPPING]
    assert client.list_files("modules/btp-operator/1.0.0/", ref="main") == [CR, CONFIG]
    assert client.list_files("", ref="main") == sorted(FILES)
    assert client.list_files("modules/nothing", ref="main") == []
    base = sim.branch_sha(MANIFESTS, "main")
    assert base is not None
    sim.add_commit("Withdraw", repo=MANIFESTS, files={CR: None, CONFIG: None})
    assert client.list_files("modules/btp-operator/1.0.0", ref="main") == []
    assert client.list_files("modules/btp-operator/1.0.0", ref=base) == [CR, CONFIG]
    with pytest.raises(InvalidInput, match="is a file, not a directory"):
        client.list_files(MAPPING, ref="main")
    with pytest.raises(NotFound, match="no branch, tag or commit"):
        client.list_files("modules", ref="no-such-branch")
    with pytest.raises(InvalidInput, match="invalid directory"):
        client.list_files("/modules", ref="main")


def test_list_files_on_a_branch_with_a_slash(sim: GitHubSimulator, client: GitHubClient) -> None:
    sim.create_branch(MANIFESTS, "release/1.0")
    sim.add_commit("On the branch", repo=MANIFESTS, branch="release/1.0", files={"modules/x/a.yaml": "a\n"})
    assert client.list_files("modules/x", ref="release/1.0") == ["modules/x/a.yaml"]
    assert client.list_files("modules/x", ref="main") == []


def test_truncated_trees_are_walked(sim: GitHubSimulator, clock: FakeClock) -> None:
    many = {f"modules/big/{i // 10}/file-{i}.yaml": f"n: {i}\n" for i in range(60)}
    sim.add_commit("Many", repo=MANIFESTS, files=many)
    expected = sorted([CR, CONFIG, MAPPING, *many])
    truncating = TruncatingTrees()
    with connect(sim, clock, transport=truncating) as client:
        assert client.list_files("modules/btp-operator", ref="main") == [CR, CONFIG, MAPPING]
        assert client.list_files("modules", ref="main") == sorted(
            [*expected, "modules/other/2.0.0/module-config.yaml"]
        )
        assert client.list_files("", ref="main") == sorted([*FILES, *many])
        assert client.list_files("modules/none", ref="main") == []
        # deletions of missing paths are still skipped, present ones still deleted
        base = client.branch_head("main")
        assert base is not None
        sha = client.create_commit(
            base, [("modules/big/0/file-0.yaml", None), ("nope.yaml", None)], message="rm"
        )
        assert "modules/big/0/file-0.yaml" not in sim.files(MANIFESTS, sha)
    assert truncating.truncated > 0


def test_branch_head(sim: GitHubSimulator, client: GitHubClient) -> None:
    assert client.branch_head("main") == sim.branch_sha(MANIFESTS, "main")
    assert client.branch_head("btp-manager-1.0.0") is None
    sim.create_branch(MANIFESTS, "feature/submit")
    assert client.branch_head("feature/submit") == sim.branch_sha(MANIFESTS, "main")
    assert client.branch_head("feature") is None  # a prefix of a branch is no branch
    for bad in ("", "/main", "a..b", "main/", "has space", "x:y"):
        with pytest.raises(InvalidInput, match="invalid branch name"):
            client.branch_head(bad)


# -- writing -------------------------------------------------------------------------------


def test_one_commit_adds_updates_and_deletes(sim: GitHubSimulator, client: GitHubClient) -> None:
    base = client.branch_head("main")
    assert base is not None
    before = len(sim.requests)
    sha = client.create_commit(
        base,
        [
            ("modules/btp-operator/1.1.0/module-config.yaml", b"version: 1.1.0\n"),  # add
            (MAPPING, b"channels:\n- channel: fast\n  version: 1.1.0\n"),  # update
            (CR, None),  # delete
            ("modules/btp-operator/0.9.0/module-config.yaml", None),  # delete of a missing path: skipped
        ],
        message="Submit btp-operator 1.1.0",
    )
    assert requests_of(sim, "POST", before).count(f"/repos/{MANIFESTS}/git/commits") == 1
    assert parents(sim, sha) == [base]
    assert sim.branch_sha(MANIFESTS, "main") == base  # no branch moved
    client.set_branch("btp-operator-1.1.0", sha)
    files = sim.files(MANIFESTS, "btp-operator-1.1.0")
    expected = {path: text.encode() for path, text in FILES.items() if path != CR}
    expected["modules/btp-operator/1.1.0/module-config.yaml"] = b"version: 1.1.0\n"
    expected[MAPPING] = b"channels:\n- channel: fast\n  version: 1.1.0\n"
    assert files == expected


def test_commit_that_changes_nothing_returns_the_parent(sim: GitHubSimulator, client: GitHubClient) -> None:
    base = client.branch_head("main")
    assert base is not None
    before = len(sim.requests)
    same = client.create_commit(
        base, [(MAPPING, FILES[MAPPING].encode()), ("no/such/file.yaml", None)], message="nothing"
    )
    assert same == base
    assert requests_of(sim, "POST", before) == []  # not even a blob


def test_create_commit_refuses_bad_changes(sim: GitHubSimulator, client: GitHubClient) -> None:
    base = client.branch_head("main")
    assert base is not None
    with pytest.raises(InvalidInput, match="no changes"):
        client.create_commit(base, [], message="empty")
    with pytest.raises(InvalidInput, match="changed twice"):
        client.create_commit(base, [(CONFIG, b"a"), (CONFIG, None)], message="twice")
    with pytest.raises(InvalidInput, match="invalid path"):
        client.create_commit(base, [("../escape", b"x")], message="bad")
    with pytest.raises(InvalidInput, match=r"is a tree .* not a file"):
        client.create_commit(base, [("modules/btp-operator", None)], message="dir")
    with pytest.raises(InvalidInput, match="invalid parent commit"):
        client.create_commit("main", [(CONFIG, b"x")], message="ref")
    with pytest.raises(NotFound, match="has no commit"):
        client.create_commit("0" * 40, [(CONFIG, b"x")], message="unknown")
    assert sim.branch_sha(MANIFESTS, "main") == base


def test_set_branch_creates_then_force_moves(sim: GitHubSimulator, client: GitHubClient) -> None:
    base = client.branch_head("main")
    assert base is not None
    first = client.create_commit(base, [(CONFIG, b"version: 1.0.0-a\n")], message="a")
    second = client.create_commit(base, [(CONFIG, b"version: 1.0.0-b\n")], message="b")  # a sibling
    client.set_branch("btp-operator-1.0.0", first)
    assert sim.branch_sha(MANIFESTS, "btp-operator-1.0.0") == first
    client.set_branch("btp-operator-1.0.0", second)  # not a fast-forward: forced
    assert sim.branch_sha(MANIFESTS, "btp-operator-1.0.0") == second
    before = len(sim.requests)
    client.set_branch("btp-operator-1.0.0", second)  # already there: only looks
    assert [r.method for r in sim.requests[before:]] == ["GET"]
    assert sim.files(MANIFESTS, "btp-operator-1.0.0")[CONFIG] == b"version: 1.0.0-b\n"


def test_delete_branch(sim: GitHubSimulator, client: GitHubClient) -> None:
    sim.create_branch(MANIFESTS, "btp-operator-1.0.0")
    assert client.delete_branch("btp-operator-1.0.0") is True
    assert sim.branch_sha(MANIFESTS, "btp-operator-1.0.0") is None
    assert client.delete_branch("btp-operator-1.0.0") is False


@pytest.mark.parametrize(
    "token_of",
    [
        pytest.param(lambda s: s.readonly_token, id="read-only-token"),
        pytest.param(
            lambda s: s.add_token({MANIFESTS: "read"}, others="write"), id="read-on-this-repository"
        ),
    ],
)
def test_a_read_only_token_cannot_write(
    sim: GitHubSimulator, clock: FakeClock, token_of: Callable[[GitHubSimulator], str]
) -> None:
    sim.create_branch(MANIFESTS, "existing")
    with connect(sim, clock, token=token_of(sim)) as reader:
        base = reader.branch_head("main")
        assert base is not None
        assert reader.get_file(CONFIG, ref=base) is not None
        with pytest.raises(PermissionDenied):
            reader.create_commit(base, [(CONFIG, b"x")], message="no")
        with pytest.raises(PermissionDenied):
            reader.set_branch("new-branch", base)
        with pytest.raises(PermissionDenied):
            reader.delete_branch("existing")
    assert sim.branch_sha(MANIFESTS, "new-branch") is None
    assert sim.branch_sha(MANIFESTS, "existing") is not None


def test_a_token_without_access_sees_no_repository(sim: GitHubSimulator, clock: FakeClock) -> None:
    with connect(sim, clock, token=sim.add_token(others="none")) as stranger:
        with pytest.raises(NotFound):
            stranger.list_files("modules", ref="main")
        with pytest.raises(NotFound):
            stranger.set_branch("x", "0" * 40)


def test_ghes_layout(clock: FakeClock) -> None:
    with GitHubSimulator(ghes=True) as sim:
        sim.add_repository(MANIFESTS, files=FILES)
        assert sim.api_url.endswith("/api/v3")
        with connect(sim, clock) as client:
            base = client.branch_head("main")
            assert base is not None
            sha = client.create_commit(base, [(CR, None), ("modules/x/a.yaml", b"a\n")], message="x")
            client.set_branch("x", sha)
            assert client.list_files("modules/x", ref="x") == ["modules/x/a.yaml"]
            found = client.get_file("modules/x/a.yaml", ref="x")
            assert found is not None and found.content == b"a\n"
            assert client.delete_branch("x") is True
        assert all(r.sent_path.startswith("/api/v3/") for r in sim.requests)
