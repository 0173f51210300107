"""Git data (blobs, trees, commits, refs, branches, tags) and the contents API of the GitHub
simulator, over real HTTP. Object names are checked against real git where it is installed."""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from btp_release.testing import GitHubSimulator

from .github_sim_support import Clock, MakeSim, api

MANIFESTS = "kyma/module-manifests"
MREPO = f"/repos/{MANIFESTS}"
CONFIG = "modules/btp-operator/1.0.0/module-config.yaml"
FILES = {"README.md": "# Module manifests\n", CONFIG: "name: kyma-project.io/module/btp-operator\n"}


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sim(make_github_sim: MakeSim, clock: Clock) -> GitHubSimulator:
    sim = make_github_sim(clock=clock)
    sim.add_repository(MANIFESTS, files=FILES)
    return sim


@pytest.fixture
def gh(sim: GitHubSimulator) -> Iterator[httpx.Client]:
    with api(sim) as client:
        yield client


def b64(text: str | bytes) -> str:
    return base64.b64encode(text.encode() if isinstance(text, str) else text).decode()


def git(repo: Path, *args: str, stdin: str | None = None, date: float = 0) -> str:
    stamp = f"{int(date)} +0000"
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(repo),
        "GIT_AUTHOR_NAME": "Kyma Bot",
        "GIT_AUTHOR_EMAIL": "bot@example.com",
        "GIT_AUTHOR_DATE": stamp,
        "GIT_COMMITTER_NAME": "Kyma Bot",
        "GIT_COMMITTER_EMAIL": "bot@example.com",
        "GIT_COMMITTER_DATE": stamp,
    }
    done = subprocess.run(
        ["git", *args], cwd=repo, env=env, input=stdin, capture_output=True, text=True, check=True, timeout=30
    )
    return done.stdout.strip()


# -- git objects ---------------------------------------------------------------------------


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_objects_have_the_names_real_git_gives_them(
    sim: GitHubSimulator, gh: httpx.Client, clock: Clock, tmp_path: Path
) -> None:
    local = tmp_path / "checkout"
    (local / CONFIG).parent.mkdir(parents=True)
    for path, text in FILES.items():
        (local / path).write_text(text)
    git(local, "init", "-q")
    git(local, "add", ".")
    root_tree = git(local, "write-tree")
    root = git(local, "commit-tree", root_tree, stdin="Initial commit", date=clock.now)
    assert sim.branch_sha(MANIFESTS) == root  # the initial commit of add_repository, byte for byte
    assert gh.get(f"{MREPO}/git/commits/{root}").json()["tree"]["sha"] == root_tree

    # One commit of several changes through the git data API: add, change, delete.
    config2 = "modules/btp-operator/1.1.0/module-config.yaml"
    made = gh.post(f"{MREPO}/git/blobs", json={"content": b64("version: 1.1.0\n"), "encoding": "base64"})
    assert made.status_code == 201
    assert made.json()["sha"] == git(local, "hash-object", "--stdin", stdin="version: 1.1.0\n")
    tree = gh.post(
        f"{MREPO}/git/trees",
        json={
            "base_tree": root_tree,
            "tree": [
                {"path": config2, "mode": "100644", "type": "blob", "sha": made.json()["sha"]},
                {"path": "README.md", "mode": "100644", "type": "blob", "content": "# Manifests\n"},
                {"path": CONFIG, "mode": "100644", "type": "blob", "sha": None},
            ],
        },
    )
    assert tree.status_code == 201, tree.text
    when = "2024-05-01T10:00:00Z"
    commit = gh.post(
        f"{MREPO}/git/commits",
        json={
            "message": "Submit 1.1.0",
            "tree": tree.json()["sha"],
            "parents": [root],
            "author": {"name": "Kyma Bot", "email": "bot@example.com", "date": when},
            "committer": {"name": "Kyma Bot", "email": "bot@example.com", "date": when},
        },
    )
    assert commit.status_code == 201, commit.text

    (local / config2).parent.mkdir(parents=True)
    (local / config2).write_text("version: 1.1.0\n")
    (local / "README.md").write_text("# Manifests\n")
    git(local, "rm", "-qf", CONFIG)
    git(local, "add", ".")
    assert git(local, "write-tree") == tree.json()["sha"]
    expected = git(
        local, "commit-tree", tree.json()["sha"], "-p", root, stdin="Submit 1.1.0", date=1714557600
    )
    assert commit.json()["sha"] == expected
    assert commit.json()["author"]["date"] == when


def test_commit_several_changes_on_a_new_branch(sim: GitHubSimulator, gh: httpx.Client, clock: Clock) -> None:
    base = gh.get(f"{MREPO}/branches/main").json()
    assert base["name"] == "main" and base["protected"] is False
    head = base["commit"]["sha"]
    base_tree = base["commit"]["commit"]["tree"]["sha"]
    clock.now += 60
    blob = gh.post(f"{MREPO}/git/blobs", json={"content": "channels: []\n"}).json()
    assert gh.get(f"{MREPO}/git/blobs/{blob['sha']}").json()["content"] == b64("channels: []\n") + "\n"
    tree = gh.post(
        f"{MREPO}/git/trees",
        json={
            "base_tree": base_tree,
            "tree": [
                {
                    "path": "modules/btp-operator/module-releases.yaml",
                    "mode": "100644",
                    "type": "blob",
                    "sha": blob["sha"],
                }
            ],
        },
    ).json()
    assert [e["path"] for e in tree["tree"]] == ["README.md", "modules"]  # not recursive
    commit = gh.post(
        f"{MREPO}/git/commits", json={"message": "Promote", "tree": tree["sha"], "parents": [head]}
    )
    assert commit.json()["author"]["date"] == "2023-11-14T22:14:20Z"  # the clock, 60 s on
    assert [p["sha"] for p in commit.json()["parents"]] == [head]
    made = gh.post(f"{MREPO}/git/refs", json={"ref": "refs/heads/promote", "sha": commit.json()["sha"]})
    assert made.status_code == 201
    assert sim.files(MANIFESTS, "main") == {p: t.encode() for p, t in FILES.items()}  # main untouched
    assert sim.files(MANIFESTS, "promote")["modules/btp-operator/module-releases.yaml"] == b"channels: []\n"

    full = gh.get(f"{MREPO}/git/trees/promote", params={"recursive": "1"}).json()
    assert [e["path"] for e in full["tree"]] == [
        "README.md",
        "modules",
        "modules/btp-operator",
        "modules/btp-operator/1.0.0",
        CONFIG,
        "modules/btp-operator/module-releases.yaml",
    ]
    assert {e["type"] for e in full["tree"]} == {"blob", "tree"}
    assert full["sha"] == tree["sha"] and full["truncated"] is False
    changed = gh.get(f"{MREPO}/commits/promote").json()
    assert [(f["filename"], f["status"], f["additions"]) for f in changed["files"]] == [
        ("modules/btp-operator/module-releases.yaml", "added", 1)
    ]
    assert changed["stats"]["total"] == 1
    assert gh.get(f"{MREPO}/branches/promote").json()["commit"]["sha"] == commit.json()["sha"]
    assert gh.get(f"{MREPO}/branches/nope").status_code == 404


def test_ref_updates_must_fast_forward_unless_forced(sim: GitHubSimulator, gh: httpx.Client) -> None:
    root = sim.branch_sha(MANIFESTS)
    sim.create_branch(MANIFESTS, "submit")
    ahead = sim.add_commit("ahead", repo=MANIFESTS, branch="submit", files={"a.txt": "a"})
    other = sim.add_commit("other", repo=MANIFESTS, files={"b.txt": "b"})  # main moves on
    assert gh.patch(f"{MREPO}/git/refs/heads/main", json={"sha": root}).status_code == 422
    refused = gh.patch(f"{MREPO}/git/refs/heads/submit", json={"sha": other})
    assert (refused.status_code, refused.json()["message"]) == (422, "Update is not a fast forward")
    forced = gh.patch(f"{MREPO}/git/refs/heads/submit", json={"sha": other, "force": True})
    assert forced.status_code == 200 and forced.json()["object"]["sha"] == other
    assert sim.branch_sha(MANIFESTS, "submit") == other != ahead
    assert gh.delete(f"{MREPO}/git/refs/heads/submit").status_code == 204
    assert sim.branch_sha(MANIFESTS, "submit") is None


def test_git_data_errors_as_github_answers_them(sim: GitHubSimulator, gh: httpx.Client) -> None:
    base = gh.get(f"{MREPO}/git/trees/main").json()["sha"]
    unknown = "0" * 40

    def tree(*entries: dict[str, object], base_tree: str | None = base) -> httpx.Response:
        body: dict[str, object] = {"tree": list(entries)}
        if base_tree is not None:
            body["base_tree"] = base_tree
        return gh.post(f"{MREPO}/git/trees", json=body)

    assert tree({"path": "gone.txt", "mode": "100644", "type": "blob", "sha": None}).status_code == 422
    assert tree({"path": "a", "mode": "100644", "type": "blob", "sha": unknown}).status_code == 422
    assert tree({"path": "a", "mode": "040000", "type": "blob", "content": "x"}).status_code == 422
    assert tree({"path": "a", "mode": "100644", "type": "blob"}).status_code == 422
    assert (
        tree({"path": "a", "mode": "100644", "type": "blob", "content": "x"}, base_tree=unknown).status_code
        == 422
    )
    assert gh.post(f"{MREPO}/git/trees", json={}).status_code == 422
    directory = tree({"path": "modules", "mode": "040000", "type": "tree", "sha": None})
    assert directory.status_code == 201 and [e["path"] for e in directory.json()["tree"]] == ["README.md"]

    no_tree = gh.post(f"{MREPO}/git/commits", json={"message": "m", "tree": unknown})
    assert (no_tree.status_code, no_tree.json()["message"]) == (422, "Tree SHA does not exist")
    no_parent = gh.post(f"{MREPO}/git/commits", json={"message": "m", "tree": base, "parents": [unknown]})
    assert no_parent.json()["message"] == "Parent SHA does not exist or is not a commit object"
    for path in (
        f"git/commits/{unknown}",
        f"git/blobs/{unknown}",
        f"git/trees/{unknown}",
        f"git/commits/{base}",
    ):
        assert gh.get(f"{MREPO}/{path}").status_code == 404, path
    assert gh.post(f"{MREPO}/git/blobs", json={"content": "%%", "encoding": "base64"}).status_code == 422


def test_tags_are_listed_newest_name_first_and_peeled(sim: GitHubSimulator, gh: httpx.Client) -> None:
    first = sim.head_sha
    sim.create_tag("1.0.0")
    second = sim.add_commit("two")
    sim.create_tag("1.1.0", message="Release 1.1.0")  # annotated
    tags = gh.get("/repos/kyma-project/btp-manager/tags").json()
    assert [(t["name"], t["commit"]["sha"]) for t in tags] == [("1.1.0", second), ("1.0.0", first)]
    assert gh.get(f"{MREPO}/tags").json() == []


# -- contents API --------------------------------------------------------------------------


def test_contents_reads_files_and_directories(sim: GitHubSimulator, gh: httpx.Client) -> None:
    text = FILES[CONFIG] * 3
    sim.add_commit("longer", repo=MANIFESTS, files={CONFIG: text})
    file = gh.get(f"{MREPO}/contents/{CONFIG}").json()
    assert (file["type"], file["encoding"], file["path"], file["name"]) == (
        "file",
        "base64",
        CONFIG,
        "module-config.yaml",
    )
    lines = file["content"].split("\n")
    assert lines[-1] == "" and all(len(line) == 60 for line in lines[:-2])  # as GitHub wraps it
    assert base64.b64decode(file["content"]) == text.encode()
    blob = gh.get(file["git_url"]).json()
    assert blob["sha"] == file["sha"] and base64.b64decode(blob["content"]) == text.encode()
    raw = gh.get(f"{MREPO}/contents/{CONFIG}", headers={"Accept": "application/vnd.github.raw+json"})
    assert raw.content == text.encode()

    listing = gh.get(f"{MREPO}/contents/modules/btp-operator").json()
    assert [(e["name"], e["type"], e["download_url"]) for e in listing] == [("1.0.0", "dir", None)]
    root = gh.get(f"{MREPO}/contents").json()
    assert [(e["name"], e["type"]) for e in root] == [("README.md", "file"), ("modules", "dir")]
    old = gh.get(f"{MREPO}/contents/{CONFIG}", params={"ref": str(sim.branch_sha(MANIFESTS))}).json()
    assert base64.b64decode(old["content"]) == text.encode()
    first = gh.get(f"{MREPO}/commits/main").json()["parents"][0]["sha"]
    at_first = gh.get(f"{MREPO}/contents/{CONFIG}", params={"ref": first}).json()
    assert base64.b64decode(at_first["content"]) == FILES[CONFIG].encode()
    missing = gh.get(f"{MREPO}/contents/modules/btp-operator/9.9.9/module-config.yaml")
    assert (missing.status_code, missing.json()["message"]) == (404, "Not Found")
    no_ref = gh.get(f"{MREPO}/contents/{CONFIG}", params={"ref": "nope"})
    assert (no_ref.status_code, no_ref.json()["message"]) == (404, "No commit found for the ref nope")
    big = b"x" * (1024 * 1024 + 1)
    sim.add_commit("big", repo=MANIFESTS, files={"big.bin": big})
    large = gh.get(f"{MREPO}/contents/big.bin").json()
    assert (large["encoding"], large["content"], large["size"]) == ("none", "", len(big))


def test_contents_writes_need_the_current_blob_sha(
    sim: GitHubSimulator, gh: httpx.Client, clock: Clock
) -> None:
    url = f"{MREPO}/contents/modules/btp-operator/module-releases.yaml"
    head = sim.branch_sha(MANIFESTS)
    created = gh.put(url, json={"message": "Add channels", "content": b64("a\n"), "sha": "f" * 40})
    assert created.status_code == 201, created.text  # a sha for a new file is ignored
    body = created.json()
    assert body["content"]["sha"] == gh.get(url).json()["sha"]
    assert [p["sha"] for p in body["commit"]["parents"]] == [head]
    assert body["commit"]["sha"] == sim.branch_sha(MANIFESTS)

    missing = gh.put(url, json={"message": "Update", "content": b64("b\n")})
    assert (missing.status_code, missing.json()["message"]) == (
        422,
        'Invalid request.\n\n"sha" wasn\'t supplied.',
    )
    stale = gh.put(url, json={"message": "Update", "content": b64("b\n"), "sha": head})
    assert stale.status_code == 409
    assert stale.json()["message"] == f"modules/btp-operator/module-releases.yaml does not match {head}"
    clock.now += 5
    updated = gh.put(url, json={"message": "Update", "content": b64("b\n"), "sha": body["content"]["sha"]})
    assert updated.status_code == 200
    assert updated.json()["commit"]["committer"]["date"] == "2023-11-14T22:13:25Z"
    assert sim.files(MANIFESTS)["modules/btp-operator/module-releases.yaml"] == b"b\n"

    no_branch = gh.put(url, json={"message": "x", "content": b64("c"), "branch": "nope", "sha": "0" * 40})
    assert no_branch.status_code == 404
    assert gh.put(url, json={"message": "x", "content": "%%"}).status_code == 422
    assert gh.put(url, json={"content": b64("c")}).status_code == 422

    sim.create_branch(MANIFESTS, "submit")
    on_branch = gh.put(
        f"{MREPO}/contents/new.txt", json={"message": "On a branch", "content": b64("n"), "branch": "submit"}
    )
    assert on_branch.status_code == 201
    assert "new.txt" in sim.files(MANIFESTS, "submit") and "new.txt" not in sim.files(MANIFESTS)


def test_contents_delete(sim: GitHubSimulator, gh: httpx.Client) -> None:
    url = f"{MREPO}/contents/{CONFIG}"
    sha = gh.get(url).json()["sha"]
    assert gh.request("DELETE", url, json={"message": "Remove"}).status_code == 422
    stale = gh.request("DELETE", url, json={"message": "Remove", "sha": "0" * 40})
    assert stale.status_code == 409
    gone = gh.request("DELETE", f"{MREPO}/contents/none.yaml", json={"message": "Remove", "sha": sha})
    assert gone.status_code == 404
    deleted = gh.request("DELETE", url, json={"message": "Remove 1.0.0", "sha": sha})
    assert deleted.status_code == 200 and deleted.json()["content"] is None
    assert deleted.json()["commit"]["message"] == "Remove 1.0.0"
    assert sim.files(MANIFESTS) == {"README.md": FILES["README.md"].encode()}  # empty directories vanish
    assert gh.get(url).status_code == 404
