"""Independent GitHub clients (PyGithub, ghapi) drive a whole release against the simulator.

Each client is used the way its documentation shows, pointed at ``sim.api_url`` with ``sim.token``
and nothing else: no proxy, no host names, no patching. What they assume about GitHub (which hosts
and ports a link may point at, what a redirect to storage carries, how ``Link`` pages look) is a
cross-check of the simulator that its author did not write.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from btp_release.testing import GitHubSimulator

OWNER, NAME = "kyma-project", "btp-manager"
FULL = f"{OWNER}/{NAME}"
TAG = "1.0.0"


def release_files(tmp_path: Path) -> dict[str, bytes]:
    """Four assets as a release has them; one of several MiB (many chunks on every hop)."""
    files = {
        "btp-manager.yaml": b"apiVersion: v1\nkind: ConfigMap\n" * 200,
        "btp-operator.yaml": b"kind: CustomResourceDefinition\n" * 50,
        "template.yaml": b"kind: ModuleTemplate\n",
        "module.tar.gz": os.urandom(6 * 1024 * 1024 + 17),
    }
    for name, content in files.items():
        (tmp_path / name).write_bytes(content)
    return files


def assert_released(sim: GitHubSimulator, files: dict[str, bytes]) -> int:
    """The simulator holds one published release of TAG with exactly these assets; its id."""
    [release] = sim.releases()
    assert (release.tag_name, release.draft) == (TAG, False)
    assets = sim.assets(release.id)
    assert {a.name: sim.uploaded_bytes(a.id) for a in assets} == files
    assert {a.state for a in assets} == {"uploaded"}
    assert [r.sha for r in sim.refs() if r.ref == f"refs/tags/{TAG}"] == [sim.head_sha]
    return release.id


def assert_hosts_used(sim: GitHubSimulator, uploads: int, downloads: int) -> None:
    """Uploads and downloads went to the uploads and storage services the links named."""
    uploaded = [r for r in sim.requests if r.service == "uploads"]
    assert len(uploaded) == uploads and {r.status for r in uploaded} == {201}
    assert all(r.sent_path.startswith("/api/uploads/repos/") for r in uploaded)
    stored = [r for r in sim.requests if r.service == "storage"]
    assert len(stored) == downloads and {r.status for r in stored} == {200}


# -- PyGithub ---------------------------------------------------------------------------------


def pygithub_client(sim: GitHubSimulator, **options: Any) -> Any:
    github = pytest.importorskip("github", reason="PyGithub is in the test extra")
    # PyGithub paces itself by sleeping (1 s between writes by default): no waiting in tests.
    return github.Github(
        base_url=sim.api_url,
        auth=github.Auth.Token(sim.token),
        seconds_between_requests=None,
        seconds_between_writes=None,
        **options,
    )


@pytest.fixture
def pygithub(github_sim: GitHubSimulator) -> Any:
    with pygithub_client(github_sim) as client:
        yield client


def test_pygithub_release_lifecycle(github_sim: GitHubSimulator, pygithub: Any, tmp_path: Path) -> None:
    sim = github_sim
    sim.add_commit("Add the module")
    files = release_files(tmp_path)
    repo = pygithub.get_repo(FULL)
    draft = repo.create_git_release(TAG, draft=True, generate_release_notes=True, target_commitish="main")
    assert draft.draft and "Add the module" in draft.body
    assert not [r for r in sim.refs() if r.ref == f"refs/tags/{TAG}"]  # a draft has no tag yet

    for name in files:
        uploaded = draft.upload_asset(str(tmp_path / name))
        assert (uploaded.name, uploaded.size, uploaded.state) == (name, len(files[name]), "uploaded")
    listed = {asset.name: asset for asset in draft.get_assets()}
    assert set(listed) == set(files)
    for name, asset in listed.items():
        target = tmp_path / "download" / name
        target.parent.mkdir(exist_ok=True)
        asset.download_asset(str(target), chunk_size=64 * 1024)
        assert target.read_bytes() == files[name], name

    published = draft.update_release(draft.name, draft.body, draft=False)
    assert not published.draft and published.tag_name == TAG
    release_id = assert_released(sim, files)
    assert repo.get_latest_release().id == release_id
    assert repo.get_release(TAG).id == release_id

    listed["template.yaml"].delete_asset()
    assert sorted(a.name for a in sim.assets(release_id)) == sorted(set(files) - {"template.yaml"})
    published.delete_release()
    assert sim.releases() == []
    repo.get_git_ref(f"tags/{TAG}").delete()
    assert not [r for r in sim.refs() if r.ref.startswith("refs/tags/")]
    assert_hosts_used(sim, uploads=len(files), downloads=len(files))


def test_pygithub_follows_link_pages(github_sim: GitHubSimulator) -> None:
    sim = github_sim
    with pygithub_client(sim, per_page=2) as client:
        repo = client.get_repo(FULL)
        for number in range(5):
            repo.create_git_release(f"0.{number}.0", name=f"0.{number}.0", message="")
        tags = [release.tag_name for release in repo.get_releases()]
    assert sorted(tags) == [f"0.{n}.0" for n in range(5)]
    pages = [r.sent_path for r in sim.requests if r.path.endswith("/releases") and r.method == "GET"]
    assert pages == [f"/repos/{FULL}/releases", *["/repositories/1296269/releases"] * 2]


# -- ghapi ------------------------------------------------------------------------------------


@pytest.fixture
def ghapi(github_sim: GitHubSimulator) -> Any:
    module = pytest.importorskip("ghapi.all", reason="ghapi is in the test extra")
    return module.GhApi(owner=OWNER, repo=NAME, token=github_sim.token, gh_host=github_sim.api_url)


def test_ghapi_release_lifecycle(github_sim: GitHubSimulator, ghapi: Any, tmp_path: Path) -> None:
    sim = github_sim
    sim.add_commit("Add the module")
    files = release_files(tmp_path)
    draft = ghapi.repos.create_release(
        tag_name=TAG, name=TAG, draft=True, generate_release_notes=True, target_commitish="main"
    )
    assert draft.draft and "Add the module" in draft.body

    for name in files:
        uploaded = ghapi.upload_file(draft, tmp_path / name)
        assert (uploaded.name, uploaded.size, uploaded.state) == (name, len(files[name]), "uploaded")
    listed = {asset.name: asset for asset in ghapi.repos.list_release_assets(draft.id, per_page=100)}
    assert set(listed) == set(files)
    for name, asset in listed.items():
        content = ghapi.repos.get_release_asset(asset.id, headers={"Accept": "application/octet-stream"})
        assert content == files[name], name

    published = ghapi.repos.update_release(draft.id, draft=False)
    assert not published.draft and published.tag_name == TAG
    release_id = assert_released(sim, files)
    assert ghapi.repos.get_latest_release().id == release_id
    assert ghapi.repos.get_release_by_tag(TAG).id == release_id

    ghapi.repos.delete_release_asset(listed["template.yaml"].id)
    assert sorted(a.name for a in sim.assets(release_id)) == sorted(set(files) - {"template.yaml"})
    ghapi.delete_release(published)  # ghapi's helper: the release, then its tag
    assert sim.releases() == []
    assert not [r for r in sim.refs() if r.ref.startswith("refs/tags/")]
    assert_hosts_used(sim, uploads=len(files), downloads=len(files))
