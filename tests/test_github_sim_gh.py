"""Cross-check the simulator with the real ``gh`` CLI, GitHub's own client.

gh reaches the simulator as documented in github-api.md ("Using gh as a reference client"):
``GH_HOST=github.localhost`` and ``HTTP_PROXY`` pointing at the simulator's API port, so every
request arrives in absolute form for ``api.``/``uploads.github.localhost`` and the storage host.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from btp_release.testing import GitHubSimulator

pytestmark = pytest.mark.skipif(shutil.which("gh") is None, reason="the gh CLI is not on PATH")

OWNER, NAME = "kyma-project", "btp-manager"
REPO_FLAG = ["-R", f"github.localhost/{OWNER}/{NAME}"]
GhRunner = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def sim(github_sim: GitHubSimulator) -> GitHubSimulator:
    return github_sim


def runner(sim: GitHubSimulator, tmp_path: Path, token: str | None = None) -> GhRunner:
    """Run gh against the simulator with a clean environment (no inherited tokens/config)."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(home)}
    env.update(sim.gh_env(tmp_path / "gh-config", token=token))

    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            ["gh", *args],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if check:
            assert done.returncode == 0, (args, done.stdout, done.stderr)
        return done

    return run


@pytest.fixture
def gh(sim: GitHubSimulator, tmp_path: Path) -> GhRunner:
    return runner(sim, tmp_path)


def test_release_lifecycle_with_gh(sim: GitHubSimulator, gh: GhRunner, tmp_path: Path) -> None:
    created = gh("release", "create", "1.0.0", "--draft", "--title", "Release 1.0.0",
                 "--notes", "First notes", *REPO_FLAG)  # fmt: skip
    [draft] = sim.releases()
    assert draft.draft and draft.name == "Release 1.0.0" and draft.body == "First notes"
    assert "/releases/tag/untagged-" in created.stdout  # as github.com links a draft
    assert not [r for r in sim.refs() if r.ref == "refs/tags/1.0.0"]  # drafts have no tag

    # gh finds the draft through GraphQL (release(tagName:)), then uses REST by id.
    module = tmp_path / "module.yaml"
    module.write_bytes(b"kind: Module\n" * 1000)
    crd = tmp_path / "crd.yaml"
    crd.write_text("kind: CustomResourceDefinition\n")
    gh("release", "upload", "1.0.0", str(module), str(crd), *REPO_FLAG)
    assets = {a.name: a for a in sim.assets(draft.id)}
    assert set(assets) == {"module.yaml", "crd.yaml"}
    assert all(a.state == "uploaded" for a in assets.values())
    assert sim.uploaded_bytes(assets["module.yaml"].id) == module.read_bytes()
    uploads = [r for r in sim.requests if r.service == "uploads"]
    assert {r.host for r in uploads} == {"uploads.github.localhost"}

    refused = gh("release", "upload", "1.0.0", str(crd), *REPO_FLAG, check=False)
    assert refused.returncode != 0 and "already exists" in refused.stderr
    crd.write_text("kind: CustomResourceDefinition # v2\n")
    gh("release", "upload", "1.0.0", str(crd), "--clobber", *REPO_FLAG)  # DELETE + upload
    new_crd = next(a for a in sim.assets(draft.id) if a.name == "crd.yaml")
    assert new_crd.id != assets["crd.yaml"].id
    assert sim.uploaded_bytes(new_crd.id) == crd.read_bytes()

    viewed = json.loads(
        gh("release", "view", "1.0.0", "--json", "tagName,isDraft,name,assets", *REPO_FLAG).stdout
    )
    assert viewed["tagName"] == "1.0.0" and viewed["isDraft"] is True
    assert sorted(a["name"] for a in viewed["assets"]) == ["crd.yaml", "module.yaml"]

    out = tmp_path / "out"
    gh("release", "download", "1.0.0", "-D", str(out), *REPO_FLAG)
    assert (out / "module.yaml").read_bytes() == module.read_bytes()
    assert (out / "crd.yaml").read_bytes() == crd.read_bytes()
    storage = [r for r in sim.requests if r.service == "storage"]
    assert len(storage) == 2 and all(r.status == 200 for r in storage)
    assert not any(r.authorized for r in storage)  # gh does not forward the token to storage

    head = sim.head_sha
    edited = gh("release", "edit", "1.0.0", "--draft=false", *REPO_FLAG)
    assert edited.stdout.strip().endswith("/releases/tag/1.0.0")
    [published] = sim.releases()
    assert not published.draft and published.published_at is not None
    assert [r.sha for r in sim.refs() if r.ref == "refs/tags/1.0.0"] == [head]
    text = gh("release", "view", "1.0.0", *REPO_FLAG).stdout
    assert "draft:\tfalse" in text and "First notes" in text

    listed = gh("release", "list", *REPO_FLAG).stdout
    assert "1.0.0" in listed and "Latest" in listed

    gh("release", "delete", "1.0.0", "--yes", *REPO_FLAG)
    assert sim.releases() == []
    assert [r.sha for r in sim.refs() if r.ref == "refs/tags/1.0.0"] == [head]  # tag is kept


def test_gh_api_paginate_follows_link_headers(sim: GitHubSimulator, gh: GhRunner) -> None:
    for number in range(5):
        gh("api", f"repos/{OWNER}/{NAME}/releases", "-f", f"tag_name=0.{number}.0")
    assert len(sim.releases()) == 5
    sim.clear_requests()
    tags = gh("api", "--paginate", f"repos/{OWNER}/{NAME}/releases?per_page=2",
              "--jq", ".[].tag_name").stdout.split()  # fmt: skip
    assert sorted(tags) == [f"0.{n}.0" for n in range(5)]
    pages = [r.query for r in sim.requests if r.path.endswith("/releases")]
    assert pages == ["per_page=2", "per_page=2&page=2", "per_page=2&page=3"]


def test_gh_with_a_read_only_token_is_refused(sim: GitHubSimulator, tmp_path: Path) -> None:
    gh = runner(sim, tmp_path, token=sim.readonly_token)
    refused = gh("release", "create", "1.0.0", "--notes", "x", *REPO_FLAG, check=False)
    assert refused.returncode != 0
    assert "Resource not accessible by integration" in refused.stderr
    assert sim.releases() == []


def test_gh_sees_published_releases_only_as_a_reader(sim: GitHubSimulator, tmp_path: Path) -> None:
    writer = runner(sim, tmp_path)
    writer("release", "create", "1.0.0", "--draft", "--notes", "draft", *REPO_FLAG)
    writer("release", "create", "1.1.0", "--notes", "published", *REPO_FLAG)
    reader = runner(sim, tmp_path, token=sim.readonly_token)
    assert reader("release", "view", "1.0.0", *REPO_FLAG, check=False).returncode != 0
    assert "published" in reader("release", "view", "1.1.0", *REPO_FLAG).stdout
    listed = reader("release", "list", *REPO_FLAG).stdout
    assert "1.1.0" in listed and "1.0.0" not in listed


# -- contents and pull requests (the module-manifests submission) ------------------------------

MANIFESTS = "kyma/module-manifests"
MANIFESTS_FLAG = ["-R", f"github.localhost/{MANIFESTS}"]
CONFIG = "modules/btp-operator/1.0.0/module-config.yaml"


def test_gh_api_reads_and_writes_contents(sim: GitHubSimulator, gh: GhRunner) -> None:
    sim.add_repository(MANIFESTS, files={CONFIG: "name: kyma-project.io/module/btp-operator\n"})
    file = json.loads(gh("api", f"repos/{MANIFESTS}/contents/{CONFIG}").stdout)
    assert (file["type"], file["path"]) == ("file", CONFIG)
    assert base64.b64decode(file["content"]) == b"name: kyma-project.io/module/btp-operator\n"
    raw = gh("api", "-H", "Accept: application/vnd.github.raw", f"repos/{MANIFESTS}/contents/{CONFIG}").stdout
    assert raw == "name: kyma-project.io/module/btp-operator\n"
    listing = json.loads(gh("api", f"repos/{MANIFESTS}/contents/modules/btp-operator").stdout)
    assert [(e["name"], e["type"]) for e in listing] == [("1.0.0", "dir")]
    missing = gh("api", f"repos/{MANIFESTS}/contents/modules/none.yaml", check=False)
    assert missing.returncode != 0 and "Not Found (HTTP 404)" in missing.stderr

    releases = "modules/btp-operator/module-releases.yaml"
    content = base64.b64encode(b"channels:\n  - channel: fast\n    version: 1.0.0\n").decode()
    gh("api", "--method", "PUT", f"repos/{MANIFESTS}/contents/{releases}",
       "-f", "message=Promote 1.0.0 to fast", "-f", f"content={content}")  # fmt: skip
    assert sim.files(MANIFESTS)[releases] == b"channels:\n  - channel: fast\n    version: 1.0.0\n"
    stale = gh("api", "--method", "PUT", f"repos/{MANIFESTS}/contents/{releases}",
               "-f", "message=Again", "-f", f"content={content}", check=False)  # fmt: skip
    assert stale.returncode != 0 and '"sha" wasn\'t supplied' in stale.stderr


def test_gh_pr_create_list_and_view(sim: GitHubSimulator, gh: GhRunner, tmp_path: Path) -> None:
    sim.add_repository(MANIFESTS, files={"README.md": "# Module manifests\n"})
    sim.create_branch(MANIFESTS, "btp-manager-1.0.0")
    sim.add_commit(
        "Submit 1.0.0", repo=MANIFESTS, branch="btp-manager-1.0.0", files={CONFIG: "version: 1.0.0\n"}
    )
    title = "Submit BTP Manager version 1.0.0"
    created = gh("pr", "create", "--head", "btp-manager-1.0.0", "--base", "main",
                 "--title", title, "--body", "Automated", *MANIFESTS_FLAG)  # fmt: skip
    assert created.stdout.strip() == f"http://github.localhost/{MANIFESTS}/pull/1"
    [pr] = sim.pull_requests(MANIFESTS)
    assert (pr.number, pr.head, pr.base, pr.title, pr.body) == (
        1,
        "btp-manager-1.0.0",
        "main",
        "Submit BTP Manager version 1.0.0",
        "Automated",
    )
    again = gh("pr", "create", "--head", "btp-manager-1.0.0", "--base", "main",
               "--title", "Again", "--body", "x", *MANIFESTS_FLAG, check=False)  # fmt: skip
    assert again.returncode != 0 and "already exists" in again.stderr
    assert len(sim.pull_requests(MANIFESTS)) == 1

    listed = json.loads(
        gh("pr", "list", "--head", "btp-manager-1.0.0", "--json", "number,state", *MANIFESTS_FLAG).stdout
    )
    assert listed == [{"number": 1, "state": "OPEN"}]
    assert json.loads(gh("pr", "list", "--head", "other", "--json", "number", *MANIFESTS_FLAG).stdout) == []
    sim.add_labels(MANIFESTS, 1, "module-submission")
    fields = "number,state,title,headRefName,baseRefName,labels,isDraft,additions,changedFiles"
    viewed = json.loads(gh("pr", "view", "1", "--json", fields, *MANIFESTS_FLAG).stdout)
    assert viewed == {
        "number": 1,
        "state": "OPEN",
        "title": "Submit BTP Manager version 1.0.0",
        "headRefName": "btp-manager-1.0.0",
        "baseRefName": "main",
        "labels": [viewed["labels"][0]],
        "isDraft": False,
        "additions": 1,
        "changedFiles": 1,
    }
    assert viewed["labels"][0]["name"] == "module-submission"

    sim.merge_pull_request(MANIFESTS, 1)
    merged = json.loads(gh("pr", "view", "1", "--json", "state,mergedAt", *MANIFESTS_FLAG).stdout)
    assert merged["state"] == "MERGED" and merged["mergedAt"]
    assert (
        json.loads(
            gh("pr", "list", "--head", "btp-manager-1.0.0", "--json", "number", *MANIFESTS_FLAG).stdout
        )
        == []
    )
    everything = gh("pr", "list", "--state", "all", "--json", "number,state", *MANIFESTS_FLAG).stdout
    assert json.loads(everything) == [{"number": 1, "state": "MERGED"}]
    assert gh("pr", "view", "7", *MANIFESTS_FLAG, check=False).returncode != 0


def test_gh_pr_create_needs_write_access(sim: GitHubSimulator, tmp_path: Path) -> None:
    sim.add_repository(MANIFESTS, files={"README.md": "# Module manifests\n"})
    sim.create_branch(MANIFESTS, "b")
    sim.add_commit("change", repo=MANIFESTS, branch="b", files={"a.txt": "a"})
    reader = runner(sim, tmp_path, token=sim.add_token({MANIFESTS: "read"}))
    refused = reader("pr", "create", "--head", "b", "--base", "main", "--title", "t", "--body", "b",
                     *MANIFESTS_FLAG, check=False)  # fmt: skip
    assert refused.returncode != 0 and "Resource not accessible by integration" in refused.stderr
    assert sim.pull_requests(MANIFESTS) == []
