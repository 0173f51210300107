"""Several repositories on one GitHub simulator, tokens scoped per repository, and GitHub
Enterprise Server's ``/api/v3`` layout."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest

from btp_release.testing import GitHubSimulator

from .github_sim_support import REPO, MakeSim, api, create, upload

MANIFESTS = "kyma/module-manifests"
MREPO = f"/repos/{MANIFESTS}"


@pytest.fixture
def sim(github_sim: GitHubSimulator) -> GitHubSimulator:
    github_sim.add_repository(MANIFESTS, files={"README.md": "# Module manifests\n"})
    return github_sim


@pytest.fixture
def gh(sim: GitHubSimulator) -> Iterator[httpx.Client]:
    with api(sim) as client:
        yield client


def test_each_repository_has_its_own_id_refs_and_releases(sim: GitHubSimulator, gh: httpx.Client) -> None:
    own, manifests = gh.get(REPO).json(), gh.get(MREPO).json()
    assert own["id"] != manifests["id"]
    assert (manifests["full_name"], manifests["default_branch"]) == (MANIFESTS, "main")
    assert gh.get("/repos/KYMA/Module-Manifests").json()["id"] == manifests["id"]  # case-insensitive
    assert gh.get("/repos/kyma/nothing").status_code == 404
    assert sim.repositories() == ["kyma-project/btp-manager", MANIFESTS]

    create(gh, "1.0.0")
    assert gh.get(f"{MREPO}/releases").json() == []
    assert gh.get(f"{MREPO}/releases/tags/1.0.0").status_code == 404
    assert [r.tag_name for r in sim.releases()] == ["1.0.0"] and sim.releases(MANIFESTS) == []
    assert "refs/tags/1.0.0" not in {r.ref for r in sim.refs(MANIFESTS)}
    assert sim.branch_sha(MANIFESTS) != sim.head_sha
    assert sim.files(MANIFESTS) == {"README.md": b"# Module manifests\n"}
    assert sim.files() == {}


def test_links_and_repository_id_paths_name_the_right_repository(
    sim: GitHubSimulator, gh: httpx.Client
) -> None:
    for n in range(3):
        sim.create_tag(f"0.{n}.0")
        gh.post(f"{MREPO}/git/refs", json={"ref": f"refs/tags/m{n}", "sha": sim.branch_sha(MANIFESTS)})
    repo_id = gh.get(MREPO).json()["id"]
    page = gh.get(f"{MREPO}/git/matching-refs/tags/", params={"per_page": 2})
    next_url = page.links["next"]["url"]
    assert urlsplit(next_url).path == f"/repositories/{repo_id}/git/matching-refs/tags/"
    rest = gh.get(next_url)
    assert [r["ref"] for r in page.json() + rest.json()] == ["refs/tags/m0", "refs/tags/m1", "refs/tags/m2"]
    assert gh.get(f"/repositories/{repo_id}").json()["full_name"] == MANIFESTS
    assert gh.get("/repositories/999").status_code == 404


def test_a_token_scoped_to_one_repository(sim: GitHubSimulator) -> None:
    token = sim.add_token({MANIFESTS: "write"})
    head = sim.branch_sha(MANIFESTS)
    with api(sim, token) as scoped:
        assert scoped.get(MREPO).json()["permissions"]["push"] is True
        assert scoped.get(REPO).json()["permissions"]["push"] is False
        made = scoped.post(f"{MREPO}/git/refs", json={"ref": "refs/heads/submit", "sha": head})
        assert made.status_code == 201
        refused = scoped.post(f"{REPO}/releases", json={"tag_name": "1.0.0"})
        assert refused.status_code == 403
        assert refused.json()["message"] == "Resource not accessible by integration"
        assert scoped.get(f"{REPO}/releases").status_code == 200
    assert sim.releases() == []
    assert sim.branch_sha(MANIFESTS, "submit") == head


def test_a_token_that_cannot_see_the_other_repositories(sim: GitHubSimulator) -> None:
    token = sim.add_token({MANIFESTS: "read"}, others="none")
    with api(sim, token) as hidden:
        assert hidden.get(MREPO).json()["permissions"]["push"] is False
        assert (
            hidden.post(f"{MREPO}/git/refs", json={"ref": "refs/heads/x", "sha": "0" * 40}).status_code == 403
        )
        assert hidden.get(REPO).status_code == 404  # as a private repository it may not see
        assert hidden.get(f"{REPO}/releases").status_code == 404
        assert hidden.post(f"{REPO}/releases", json={"tag_name": "1.0.0"}).status_code == 404
        assert hidden.get("/rate_limit").status_code == 200


def test_the_simulators_tokens_reach_every_repository(sim: GitHubSimulator) -> None:
    with api(sim) as push, api(sim, "read") as read:
        assert push.get(MREPO).json()["permissions"]["push"] is True
        assert read.get(MREPO).json()["permissions"]["push"] is False
        ref = {"ref": "refs/heads/x", "sha": sim.branch_sha(MANIFESTS)}
        assert read.post(f"{MREPO}/git/refs", json=ref).status_code == 403
        assert push.post(f"{MREPO}/git/refs", json=ref).status_code == 201


def test_add_repository_and_add_token_validate_their_arguments(sim: GitHubSimulator) -> None:
    with pytest.raises(ValueError, match="already exists"):
        sim.add_repository("Kyma/Module-Manifests")
    with pytest.raises(ValueError, match="owner/name"):
        sim.add_repository("module-manifests")
    with pytest.raises(ValueError, match="'read' or 'write'"):
        sim.add_token({MANIFESTS: "none"})  # type: ignore[dict-item]
    with pytest.raises(KeyError, match="add_repository"):
        sim.files("kyma/unknown")


# -- GitHub Enterprise Server -----------------------------------------------------------------


def test_ghes_layout_serves_the_api_under_api_v3(make_github_sim: MakeSim) -> None:
    sim = make_github_sim(ghes=True)
    origin = sim.web_url
    assert sim.api_url == origin + "/api/v3"
    assert sim.uploads_url == origin + "/api/uploads"
    with api(sim) as gh:
        repo = gh.get(REPO).json()
        assert repo["url"] == f"{origin}/api/v3{REPO}"
        assert repo["html_url"] == f"{origin}/kyma-project/btp-manager"
        assert gh.get(f"{origin}{REPO}").status_code == 404  # the web host has no /repos
        release = create(gh, "1.0.0")
        assert release["upload_url"].startswith(f"{origin}/api/uploads/repos/")
        asset = upload(gh, release, "module.yaml", b"kind: Module\n").json()
        assert asset["url"].startswith(origin + "/api/v3/")
        download = gh.get(asset["url"], headers={"Accept": "application/octet-stream"}, follow_redirects=True)
        assert download.content == b"kind: Module\n"
        web = gh.get(asset["browser_download_url"], follow_redirects=True)
        assert web.status_code == 200 and web.content == b"kind: Module\n"
        for n in range(2):
            create(gh, f"2.{n}.0")
        listed = gh.get(f"{REPO}/releases", params={"per_page": 1})
        assert listed.links["next"]["url"].startswith(f"{origin}/api/v3/repositories/{repo['id']}/releases?")
        assert gh.get(listed.links["next"]["url"]).status_code == 200
        graphql = gh.post(
            f"{origin}/api/graphql",
            json={
                "query": "query RepositoryReleaseByTag { repository { release { tagName } } }",
                "variables": {"owner": "kyma-project", "name": "btp-manager", "tagName": "1.0.0"},
            },
        )
        assert graphql.json()["data"]["repository"]["release"] == {"tagName": "1.0.0"}
    assert [r.path for r in sim.requests][:2] == [REPO, REPO]  # faults and records see /repos/…
    assert [r.sent_path for r in sim.requests][:2] == [f"/api/v3{REPO}", REPO]


def test_ghes_excludes_separate_hosts() -> None:
    with pytest.raises(ValueError, match="one host"):
        GitHubSimulator(ghes=True, separate_hosts=True)
