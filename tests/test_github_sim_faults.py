"""Injected faults of the GitHub simulator: what each kind does to a request and to the state."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from btp_release.testing import Fault, GitHubSimulator

from .github_sim_support import REPO, api, create, upload


@pytest.fixture
def sim(github_sim: GitHubSimulator) -> GitHubSimulator:
    return github_sim


@pytest.fixture
def gh(sim: GitHubSimulator) -> Iterator[httpx.Client]:
    with api(sim) as client:
        yield client


@pytest.mark.parametrize("kind", ["status", "status_after", "reset", "reset_after"])
def test_fault_fails_before_or_after_acting(sim: GitHubSimulator, gh: httpx.Client, kind: Any) -> None:
    sim.add_fault(Fault(method="POST", path=r"/releases$", kind=kind, status=503))
    if kind.startswith("reset"):
        with pytest.raises(httpx.TransportError):
            gh.post(f"{REPO}/releases", json={"tag_name": "1.0.0"})
        assert sim.requests[-1].status == 0
    else:
        assert gh.post(f"{REPO}/releases", json={"tag_name": "1.0.0"}).status_code == 503
    assert len(sim.releases()) == (1 if kind.endswith("_after") else 0)


def test_fault_affects_times_matching_requests(sim: GitHubSimulator, gh: httpx.Client) -> None:
    sim.add_fault(Fault(method="POST", path=r"/releases$", kind="status", status=500, times=2))
    assert gh.post(f"{REPO}/releases", json={"tag_name": "1.0.0"}).status_code == 500
    assert gh.get(f"{REPO}/releases").status_code == 200  # other methods unaffected
    assert gh.post(f"{REPO}/releases", json={"tag_name": "1.0.0"}).status_code == 500
    assert gh.post(f"{REPO}/releases", json={"tag_name": "1.0.0"}).status_code == 201
    assert sim.pending_faults() == []


@pytest.mark.parametrize("status", [403, 429])
def test_fault_rate_limit(sim: GitHubSimulator, gh: httpx.Client, status: int) -> None:
    sim.add_fault(Fault(method="GET", path=".*", kind="rate_limit", status=status, retry_after=7))
    before = int(time.time())
    response = gh.get(REPO)
    assert response.status_code == status
    assert response.headers["x-ratelimit-remaining"] == "0"
    assert before + 7 <= int(response.headers["x-ratelimit-reset"]) <= int(time.time()) + 7
    assert "rate limit exceeded" in response.json()["message"]
    assert gh.get(REPO).status_code == 200


def test_fault_secondary_rate_limit(sim: GitHubSimulator, gh: httpx.Client) -> None:
    sim.add_fault(Fault(method="POST", path="releases", kind="secondary", retry_after=3))
    response = gh.post(f"{REPO}/releases", json={"tag_name": "1.0.0"})
    assert response.status_code == 403
    assert response.headers["retry-after"] == "3"
    assert response.json()["message"].startswith("You have exceeded a secondary rate limit")
    assert sim.releases() == []


def test_fault_reset_during_upload_leaves_open_asset(sim: GitHubSimulator, gh: httpx.Client) -> None:
    release = create(gh, "1.0.0", draft=True)
    sim.add_fault(Fault(method="POST", path=r"/assets$", kind="reset"))
    with pytest.raises(httpx.TransportError):
        upload(gh, release, "a.bin", b"z" * 200_000)
    [asset] = sim.assets(release["id"])
    assert asset.state == "open" and asset.size == 0


def test_fault_latency(sim: GitHubSimulator, gh: httpx.Client) -> None:
    sim.add_fault(Fault(method="*", path=r"^/repos/[^/]+/[^/]+$", kind="latency", delay=0.2))
    started = time.monotonic()
    assert gh.get(REPO).status_code == 200
    assert time.monotonic() - started >= 0.2


def test_fault_on_storage_host(sim: GitHubSimulator, gh: httpx.Client) -> None:
    release = create(gh, "1.0.0")
    asset = upload(gh, release, "a.txt", b"data").json()
    sim.add_fault(Fault(method="GET", path="^/github-production-release-asset/", status=500))
    redirect = gh.get(asset["url"], headers={"Accept": "application/octet-stream"})
    location = redirect.headers["Location"]
    assert httpx.get(location).status_code == 500
    assert httpx.get(location).content == b"data"


def test_fault_validation() -> None:
    with pytest.raises(ValueError, match="unknown fault kind"):
        Fault(method="GET", path=".*", kind="explode")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="times"):
        Fault(method="GET", path=".*", times=0)


@pytest.mark.parametrize("status", [500, 502, 503])
def test_upload_answered_5xx_leaves_an_empty_starter_asset(
    sim: GitHubSimulator, gh: httpx.Client, status: int
) -> None:
    """github-api.md: a failed upload can leave an asset in state ``starter`` that holds the name
    and must be deleted before the upload is repeated."""
    release = create(gh, "1.0.0", draft=True)
    sim.add_fault(Fault(method="POST", path=r"/assets$", kind="status", status=status))
    assert upload(gh, release, "module.yaml", b"z" * 200_000).status_code == status
    [asset] = sim.assets(release["id"])
    assert (asset.name, asset.state, asset.size, asset.digest) == ("module.yaml", "starter", 0, None)
    listed = gh.get(f"{REPO}/releases/{release['id']}/assets").json()
    assert [(a["name"], a["state"], a["size"]) for a in listed] == [("module.yaml", "starter", 0)]
    url = f"{REPO}/releases/assets/{asset.id}"
    assert gh.get(url, headers={"Accept": "application/octet-stream"}).status_code == 404
    blocked = upload(gh, release, "module.yaml", b"retry")
    assert blocked.status_code == 422 and blocked.json()["errors"][0]["code"] == "already_exists"
    assert gh.delete(url).status_code == 204
    assert upload(gh, release, "module.yaml", b"retry").status_code == 201
    assert [(a.name, a.state) for a in sim.assets(release["id"])] == [("module.yaml", "uploaded")]


def test_upload_answered_4xx_leaves_nothing(sim: GitHubSimulator, gh: httpx.Client) -> None:
    release = create(gh, "1.0.0", draft=True)
    sim.add_fault(Fault(method="POST", path=r"/assets$", kind="status", status=422))
    assert upload(gh, release, "module.yaml", b"z").status_code == 422
    sim.add_fault(Fault(method="POST", path=r"/assets$", kind="status", status=502))
    assert upload(gh, release, "", b"z").status_code == 502  # no name: nothing could start
    assert sim.assets(release["id"]) == []


# -- faults on the git data and pull request routes --------------------------------------------

MANIFESTS = "/repos/kyma/module-manifests"


@pytest.mark.parametrize("ghes", [False, True])
def test_502_on_tree_creation_then_a_retry(make_github_sim: Any, ghes: bool) -> None:
    """A 502 answered before GitHub acted leaves nothing; one answered after it acted
    (``status_after``) leaves the tree, and the retry gets the same content-addressed sha. The
    fault path is the route's in every layout (no ``/api/v3``)."""
    sim = make_github_sim(ghes=ghes)
    sim.add_repository("kyma/module-manifests", files={"README.md": "# Manifests\n"})
    entry = {"path": "modules/a.yaml", "mode": "100644", "type": "blob", "content": "a: 1\n"}
    with api(sim) as gh:
        base = gh.get(f"{MANIFESTS}/git/trees/main").json()["sha"]
        body = {"base_tree": base, "tree": [entry]}
        sim.add_fault(Fault(method="POST", path=r"/git/trees$", kind="status", status=502))
        failed = gh.post(f"{MANIFESTS}/git/trees", json=body)
        assert failed.status_code == 502 and failed.json()["message"] == "Bad Gateway"
        sim.add_fault(Fault(method="POST", path=r"/git/trees$", kind="status_after", status=502))
        assert gh.post(f"{MANIFESTS}/git/trees", json=body).status_code == 502
        retried = gh.post(f"{MANIFESTS}/git/trees", json=body)
        assert retried.status_code == 201
        assert gh.get(f"{MANIFESTS}/git/trees/{retried.json()['sha']}").status_code == 200
    assert [r.status for r in sim.requests if r.path.endswith("/git/trees")] == [502, 502, 201]
    assert sim.files("kyma/module-manifests") == {"README.md": b"# Manifests\n"}  # no branch moved


def test_reset_after_a_ref_update_then_a_retry(sim: GitHubSimulator, gh: httpx.Client) -> None:
    """The connection breaks after the ref moved: the client cannot tell, and a retry of the same
    update succeeds (a ref at the same commit is a fast-forward); a retried branch creation
    finds it exists (422), and a retried pull request finds one open (422)."""
    sim.add_repository("kyma/module-manifests", files={"README.md": "# Manifests\n"})
    root = sim.branch_sha("kyma/module-manifests")
    sim.add_fault(Fault(method="POST", path=r"/git/refs$", kind="reset_after"))
    with pytest.raises(httpx.TransportError):
        gh.post(f"{MANIFESTS}/git/refs", json={"ref": "refs/heads/submit", "sha": root})
    again = gh.post(f"{MANIFESTS}/git/refs", json={"ref": "refs/heads/submit", "sha": root})
    assert (again.status_code, again.json()["message"]) == (422, "Reference already exists")

    commit = sim.add_commit("Submit", repo="kyma/module-manifests", branch="submit", files={"a.yaml": "a"})
    sim.add_fault(Fault(method="PATCH", path=r"/git/refs/heads/submit$", kind="reset_after"))
    with pytest.raises(httpx.TransportError):
        gh.patch(f"{MANIFESTS}/git/refs/heads/submit", json={"sha": commit})
    assert sim.branch_sha("kyma/module-manifests", "submit") == commit  # it happened
    retried = gh.patch(f"{MANIFESTS}/git/refs/heads/submit", json={"sha": commit})
    assert retried.status_code == 200 and retried.json()["object"]["sha"] == commit

    sim.add_fault(Fault(method="POST", path=r"/pulls$", kind="reset_after"))
    pull = {"title": "Submit", "head": "submit", "base": "main"}
    with pytest.raises(httpx.TransportError):
        gh.post(f"{MANIFESTS}/pulls", json=pull)
    duplicate = gh.post(f"{MANIFESTS}/pulls", json=pull)
    assert duplicate.status_code == 422 and "already exists" in duplicate.json()["errors"][0]["message"]
    found = gh.get(f"{MANIFESTS}/pulls", params={"head": "kyma:submit"}).json()
    assert [p["number"] for p in found] == [1]


def test_reset_before_a_contents_write_changes_nothing(sim: GitHubSimulator, gh: httpx.Client) -> None:
    sim.add_repository("kyma/module-manifests", files={"README.md": "# Manifests\n"})
    head = sim.branch_sha("kyma/module-manifests")
    sim.add_fault(Fault(method="PUT", path=r"/contents/", kind="reset"))
    with pytest.raises(httpx.TransportError):
        gh.put(f"{MANIFESTS}/contents/a.yaml", json={"message": "Add", "content": "YQ=="})
    assert sim.branch_sha("kyma/module-manifests") == head
    assert (
        gh.put(f"{MANIFESTS}/contents/a.yaml", json={"message": "Add", "content": "YQ=="}).status_code == 201
    )
