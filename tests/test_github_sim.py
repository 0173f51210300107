"""Behaviour of the GitHub simulator itself, over real HTTP with httpx (nothing mocked).

More in ``test_github_sim_rules.py`` (make_latest, tag objects, conditional requests, limits)
and ``test_github_sim_faults.py`` (injected faults).
"""

from __future__ import annotations

import hashlib
import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from btp_release.testing import GitHubSimulator

from .github_sim_support import NAME, OWNER, REPO, Clock, MakeSim, api, create, tag_sha, upload


@pytest.fixture
def sim(github_sim: GitHubSimulator) -> GitHubSimulator:
    return github_sim


@pytest.fixture
def gh(sim: GitHubSimulator) -> Iterator[httpx.Client]:
    with api(sim) as client:
        yield client


# -- auth and permissions ------------------------------------------------------------------


def test_repository_permissions_reflect_the_token(sim: GitHubSimulator) -> None:
    with api(sim) as push, api(sim, "read") as read, api(sim, None) as anonymous:
        assert push.get(REPO).json()["permissions"]["push"] is True
        permissions = read.get(REPO).json()["permissions"]
        assert permissions == dict(admin=False, maintain=False, push=False, triage=False, pull=True)
        assert "permissions" not in anonymous.get(REPO).json()
        assert push.get("/repos/kyma-project/other").status_code == 404


def test_bad_credentials_writes_need_push_and_a_user_agent_is_required(sim: GitHubSimulator) -> None:
    with api(sim, "ghs_unknown") as client:
        response = client.get(REPO)
    assert response.status_code == 401
    assert response.json()["message"] == "Bad credentials"
    assert response.json()["documentation_url"].startswith("https://docs.github.com")
    with api(sim, None) as anonymous, api(sim, "read") as read:
        assert anonymous.get(f"{REPO}/releases").status_code == 200
        denied = anonymous.post(f"{REPO}/releases", json={"tag_name": "1.0.0"})
        assert denied.status_code == 401
        assert denied.json()["message"] == "Requires authentication"
        forbidden = read.post(f"{REPO}/releases", json={"tag_name": "1.0.0"})
        assert forbidden.status_code == 403
        assert forbidden.json()["message"] == "Resource not accessible by integration"
        assert "documentation_url" in forbidden.json()
        del read.headers["User-Agent"]
        no_agent = read.get(REPO)
        assert no_agent.status_code == 403 and "User-Agent" in no_agent.text
    assert sim.releases() == []


# -- releases --------------------------------------------------------------------------------


def test_drafts_are_invisible_by_tag_latest_and_to_readers(sim: GitHubSimulator) -> None:
    with api(sim) as gh, api(sim, "read") as read, api(sim, None) as anonymous:
        draft = create(gh, "1.0.0", draft=True)
        assert draft["draft"] is True and draft["published_at"] is None
        assert draft["tarball_url"] is None and "untagged-" in draft["html_url"]
        assert gh.get(f"{REPO}/releases/tags/1.0.0").status_code == 404
        assert gh.get(f"{REPO}/releases/latest").status_code == 404
        assert gh.get(f"{REPO}/releases/{draft['id']}").status_code == 200
        assert read.get(f"{REPO}/releases/{draft['id']}").status_code == 404
        assert [r["id"] for r in gh.get(f"{REPO}/releases").json()] == [draft["id"]]
        assert read.get(f"{REPO}/releases").json() == []
        assert anonymous.get(f"{REPO}/releases").json() == []
    assert tag_sha(sim, "1.0.0") is None  # a draft has no tag


def test_duplicate_drafts_then_publish_creates_the_tag(sim: GitHubSimulator, gh: httpx.Client) -> None:
    first = create(gh, "1.0.0", draft=True, name="one", body="b")
    second = create(gh, "1.0.0", draft=True)
    assert first["id"] != second["id"] and len(sim.releases()) == 2
    sha = sim.head_sha
    sim.add_commit("later")
    published = gh.patch(f"{REPO}/releases/{first['id']}", json={"draft": False})
    assert published.status_code == 200
    assert published.json()["published_at"] is not None
    assert tag_sha(sim, "1.0.0") == sim.head_sha  # target_commitish "main" at publish time
    assert tag_sha(sim, "1.0.0") != sha
    clash = gh.patch(f"{REPO}/releases/{second['id']}", json={"draft": False})
    assert clash.status_code == 422
    assert clash.json()["errors"] == [{"resource": "Release", "code": "already_exists", "field": "tag_name"}]
    again = gh.post(f"{REPO}/releases", json={"tag_name": "1.0.0"})
    assert again.status_code == 422 and again.json()["message"] == "Validation Failed"
    assert gh.get(f"{REPO}/releases/tags/1.0.0").json()["id"] == first["id"]


def test_publishing_uses_an_existing_tag(sim: GitHubSimulator, gh: httpx.Client) -> None:
    old = sim.head_sha
    sim.create_tag("2.0.0", old)
    sim.add_commit()
    release = create(gh, "2.0.0", target_commitish=sim.head_sha)
    assert release["draft"] is False
    assert tag_sha(sim, "2.0.0") == old


def test_create_validates_input(gh: httpx.Client) -> None:
    missing = gh.post(f"{REPO}/releases", json={"name": "x"})
    assert missing.status_code == 422 and "tag_name" in missing.json()["message"]
    wrong_type = gh.post(f"{REPO}/releases", json={"tag_name": "1.0.0", "draft": "yes"})
    assert wrong_type.status_code == 422
    bad_target = gh.post(f"{REPO}/releases", json={"tag_name": "1.0.0", "target_commitish": "nope"})
    assert bad_target.json()["errors"][0]["field"] == "target_commitish"
    malformed = gh.post(f"{REPO}/releases", content=b"{", headers={"Content-Type": "application/json"})
    assert malformed.status_code == 400


def test_generated_notes_are_appended_to_the_body(sim: GitHubSimulator, gh: httpx.Client) -> None:
    create(gh, "1.0.0")
    sim.add_commit("Add the thing")
    release = create(gh, "1.1.0", draft=True, body="Intro", generate_release_notes=True)
    assert release["name"] == "1.1.0"
    assert release["body"].startswith("Intro\n\n## What's Changed\n* Add the thing")
    assert release["body"].endswith("/compare/1.0.0...1.1.0")
    notes = gh.post(f"{REPO}/releases/generate-notes", json={"tag_name": "1.1.0"})
    assert notes.status_code == 200
    assert notes.json()["name"] == "1.1.0" and "**Full Changelog**" in notes.json()["body"]


def test_latest_is_newest_published_non_prerelease_not_semver(
    make_github_sim: MakeSim,
) -> None:
    clock = Clock()
    sim = make_github_sim(clock=clock)
    with api(sim) as gh:
        create(gh, "2.0.0")
        clock.now += 10
        newer = create(gh, "1.5.0")
        clock.now += 10
        create(gh, "3.0.0-rc.1", prerelease=True)
        create(gh, "4.0.0", draft=True)
        assert gh.get(f"{REPO}/releases/latest").json()["id"] == newer["id"]
        listed = [r["tag_name"] for r in gh.get(f"{REPO}/releases").json()]
        assert listed == ["4.0.0", "3.0.0-rc.1", "1.5.0", "2.0.0"]


def test_update_and_delete_release_keeps_the_tag(sim: GitHubSimulator, gh: httpx.Client) -> None:
    release = create(gh, "1.0.0")
    edited = gh.patch(f"{REPO}/releases/{release['id']}", json={"name": "New", "body": None})
    assert edited.json()["name"] == "New" and edited.json()["body"] is None
    assert gh.delete(f"{REPO}/releases/{release['id']}").status_code == 204
    assert gh.get(f"{REPO}/releases/{release['id']}").status_code == 404
    assert gh.delete(f"{REPO}/releases/{release['id']}").status_code == 404
    assert tag_sha(sim, "1.0.0") == sim.head_sha


# -- pagination and conditional requests -----------------------------------------------------


def test_pagination_follows_link_headers(sim: GitHubSimulator, gh: httpx.Client) -> None:
    for number in range(35):
        create(gh, f"0.{number}.0", draft=number % 2 == 0)
    url: str | None = f"{sim.api_url}{REPO}/releases?per_page=10"
    sizes: list[int] = []
    seen: set[int] = set()
    for _ in range(10):
        if url is None:
            break
        response = gh.get(url)
        sizes.append(len(response.json()))
        seen.update(r["id"] for r in response.json())
        url = response.links.get("next", {}).get("url")
    assert sizes == [10, 10, 10, 5] and len(seen) == 35
    first = gh.get(f"{REPO}/releases", params={"per_page": 10})
    assert set(first.links) == {"next", "last"}
    # GitHub's links name the repository by id; those routes answer like /repos/{owner}/{repo}
    by_id = f"{sim.api_url}/repositories/1296269/releases?per_page=10&page=4"
    assert first.links["last"]["url"] == by_id
    assert [r["id"] for r in gh.get(by_id).json()] == [
        r["id"] for r in gh.get(f"{REPO}/releases?per_page=10&page=4").json()
    ]
    assert gh.get(f"{sim.api_url}/repositories/1/releases").status_code == 404
    followed = [r for r in sim.requests if r.sent_path.startswith("/repositories/1296269/")]
    assert followed and all(r.path == f"{REPO}/releases" for r in followed)
    middle = gh.get(f"{REPO}/releases", params={"per_page": 10, "page": 2})
    assert set(middle.links) == {"prev", "next", "last", "first"}
    assert "Link" not in gh.get(f"{REPO}/releases", params={"per_page": 100}).headers
    assert len(gh.get(f"{REPO}/releases").json()) == 30  # default per_page
    proxied = gh.get(f"{REPO}/releases", params={"per_page": 10}, headers={"Host": "api.github.localhost"})
    assert proxied.links["next"]["url"].startswith("http://api.github.localhost/repositories/1296269/")


def test_etag_gives_304_that_does_not_count(sim: GitHubSimulator, gh: httpx.Client) -> None:
    first = gh.get(REPO)
    etag = first.headers["ETag"]
    assert etag.startswith('"') and "Last-Modified" in first.headers
    used = int(first.headers["x-ratelimit-used"])
    again = gh.get(REPO, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert int(again.headers["x-ratelimit-used"]) == used
    assert sim.requests[-1].etag_hit is True
    create(gh, "1.0.0")
    listing = gh.get(f"{REPO}/releases")
    create(gh, "1.1.0")
    changed = gh.get(f"{REPO}/releases", headers={"If-None-Match": listing.headers["ETag"]})
    assert changed.status_code == 200 and len(changed.json()) == 2


# -- rate limit ------------------------------------------------------------------------------


def test_rate_limit_exhaustion_and_reset(make_github_sim: MakeSim) -> None:
    clock = Clock()
    sim = make_github_sim(rate_limit=3, clock=clock)
    with api(sim) as gh:
        remaining = [gh.get(REPO).headers["x-ratelimit-remaining"] for _ in range(3)]
        assert remaining == ["2", "1", "0"]
        blocked = gh.get(REPO)
        assert blocked.status_code == 403
        assert blocked.json()["message"].startswith("API rate limit exceeded for")
        assert blocked.headers["x-ratelimit-remaining"] == "0"
        reset = int(blocked.headers["x-ratelimit-reset"])
        assert reset == int(clock.now) + 3600
        overview = gh.get("/rate_limit")
        assert overview.status_code == 200
        assert overview.json()["resources"]["core"]["remaining"] == 0
        clock.now = reset + 1
        assert gh.get(REPO).headers["x-ratelimit-remaining"] == "2"
    with api(sim, None) as anonymous:
        assert anonymous.get(REPO).headers["x-ratelimit-limit"] == "60"


# -- immutable releases ----------------------------------------------------------------------


def test_immutable_release_freezes_assets_and_tag(make_github_sim: MakeSim) -> None:
    sim = make_github_sim(immutable_releases=True)
    with api(sim) as gh:
        draft = create(gh, "1.0.0", draft=True)
        asset = upload(gh, draft, "a.txt", b"a").json()
        assert draft["immutable"] is False
        published = gh.patch(f"{REPO}/releases/{draft['id']}", json={"draft": False}).json()
        assert published["immutable"] is True
        refused = upload(gh, published, "b.txt", b"b")
        assert refused.status_code == 422
        assert refused.json()["message"] == "Cannot upload assets to an immutable release."
        asset_url = f"{REPO}/releases/assets/{asset['id']}"
        assert gh.patch(asset_url, json={"name": "c.txt"}).status_code == 422
        assert gh.delete(asset_url).status_code == 422
        assert gh.delete(f"{REPO}/git/refs/tags/1.0.0").status_code == 422
        moved = gh.patch(f"{REPO}/git/refs/tags/1.0.0", json={"sha": sim.add_commit(), "force": True})
        assert moved.status_code == 422
        renamed = gh.patch(f"{REPO}/releases/{draft['id']}", json={"body": "fixed notes"})
        assert renamed.status_code == 200  # notes stay editable
        assert gh.delete(f"{REPO}/releases/{draft['id']}").status_code == 204
        reuse = gh.post(f"{REPO}/releases", json={"tag_name": "1.0.0", "draft": True})
        assert reuse.status_code == 422
        assert reuse.json()["errors"][0]["message"] == "tag_name was used by an immutable release"
        assert gh.delete(f"{REPO}/git/refs/tags/1.0.0").status_code == 204
        ref = {"ref": "refs/tags/1.0.0", "sha": sim.head_sha}
        assert gh.post(f"{REPO}/git/refs", json=ref).status_code == 422


def test_immutability_applies_to_releases_published_after_enabling(
    sim: GitHubSimulator, gh: httpx.Client
) -> None:
    before = create(gh, "1.0.0")
    sim.set_immutable(True)
    after = create(gh, "1.1.0")
    assert after["immutable"] is True and before["immutable"] is False
    assert upload(gh, before, "late.txt", b"x").status_code == 201
    assert upload(gh, after, "late.txt", b"x").status_code == 422
    assert gh.get(f"{REPO}/immutable-releases").json()["enabled"] is True
    sim.set_immutable(False)
    assert gh.get(f"{REPO}/immutable-releases").status_code == 404


# -- assets ----------------------------------------------------------------------------------


@pytest.mark.parametrize("separate_hosts", [False, True], ids=["one-origin", "separate-hosts"])
def test_asset_upload_rename_download_delete(make_github_sim: MakeSim, separate_hosts: bool) -> None:
    sim = make_github_sim(separate_hosts=separate_hosts)
    with api(sim) as gh:
        _asset_lifecycle(sim, gh, separate_hosts)


def _asset_lifecycle(sim: GitHubSimulator, gh: httpx.Client, separate_hosts: bool) -> None:
    release = create(gh, "1.0.0", draft=True)
    assert release["upload_url"].startswith(sim.uploads_url + REPO)
    data = bytes(range(256)) * 5000  # 1.28 MB: read in many chunks
    created = upload(gh, release, "module.yaml", data)
    assert created.status_code == 201
    asset = created.json()
    assert asset["state"] == "uploaded" and asset["size"] == len(data)
    assert asset["digest"] == "sha256:" + hashlib.sha256(data).hexdigest()
    assert asset["content_type"] == "application/octet-stream"
    assert sim.uploaded_bytes(asset["id"]) == data
    duplicate = upload(gh, release, "module.yaml", b"other")
    assert duplicate.status_code == 422
    assert duplicate.json()["errors"] == [
        {"resource": "ReleaseAsset", "code": "already_exists", "field": "name"}
    ]
    other = upload(gh, release, "other.yaml", b"other").json()
    url = f"{REPO}/releases/assets/{asset['id']}"
    taken = gh.patch(url, json={"name": "other.yaml"})
    assert taken.status_code == 422 and taken.json()["errors"][0]["code"] == "already_exists"
    renamed = gh.patch(url, json={"name": "module-old.yaml", "label": "old"})
    assert renamed.json()["name"] == "module-old.yaml" and renamed.json()["label"] == "old"
    redirect = gh.get(url, headers={"Accept": "application/octet-stream"})
    assert redirect.status_code == 302
    location = redirect.headers["Location"]
    assert location.startswith(sim.storage_url + "/github-production-release-asset/")
    with_credentials = httpx.get(location, headers={"Authorization": f"Bearer {sim.token}"})
    if separate_hosts:  # on a host of its own, storage rejects credentials as S3 does
        assert with_credentials.status_code == 400 and b"Only one auth mechanism" in with_credentials.content
    else:  # on the API's own origin every client rightly sends them along
        assert with_credentials.status_code == 200 and with_credentials.content == data
        assert sim.uploads_url == sim.api_url + "/api/uploads" and sim.storage_url == sim.api_url
    downloaded = httpx.get(location)
    assert downloaded.status_code == 200 and downloaded.content == data
    assert sim.requests[-1].service == "storage" and sim.requests[-1].authorized is False
    listed = gh.get(f"{REPO}/releases/{release['id']}/assets", params={"per_page": 1})
    assert len(listed.json()) == 1 and "next" in listed.links
    assert gh.delete(url).status_code == 204
    assert [a.id for a in sim.assets(release["id"])] == [other["id"]]
    assert gh.get(url).status_code == 404
    assert upload(gh, release, "my file (1).txt", b"x").json()["name"] == "my.file.1.txt"
    published = create(gh, "2.0.0")
    link = upload(gh, published, "a.txt", b"hello").json()["browser_download_url"]
    assert httpx.get(link, follow_redirects=True).content == b"hello"


def test_upload_needs_length_and_type(sim: GitHubSimulator, gh: httpx.Client) -> None:
    release = create(gh, "1.0.0", draft=True)
    url = release["upload_url"].split("{")[0]

    def chunks() -> Iterator[bytes]:
        yield b"part"

    chunked = gh.post(
        url,
        params={"name": "a"},
        content=chunks(),
        headers={"Content-Type": "application/octet-stream"},
    )
    assert chunked.status_code == 411
    untyped = gh.post(url, params={"name": "a"}, content=b"x", headers={"Content-Type": ""})
    assert untyped.status_code == 422
    assert sim.assets(release["id"]) == []


def test_broken_upload_leaves_an_open_asset(sim: GitHubSimulator, gh: httpx.Client) -> None:
    release = create(gh, "1.0.0", draft=True)
    target = urlsplit(release["upload_url"].split("{")[0])
    head = (
        f"POST {target.path}?name=big.bin HTTP/1.1\r\nHost: {target.netloc}\r\n"
        f"User-Agent: test\r\nAuthorization: token {sim.token}\r\n"
        "Content-Type: application/octet-stream\r\nContent-Length: 100000\r\n\r\n"
    )
    with socket.create_connection((target.hostname, target.port or 80), timeout=5) as raw:
        raw.sendall(head.encode() + b"x" * 1000)
        deadline = time.monotonic() + 5
        while not sim.assets(release["id"]) and time.monotonic() < deadline:
            time.sleep(0.01)
    deadline = time.monotonic() + 5
    while sim.requests[-1].service != "uploads" and time.monotonic() < deadline:
        time.sleep(0.01)
    [asset] = sim.assets(release["id"])
    assert asset.state == "open" and asset.name == "big.bin"
    listed = gh.get(f"{REPO}/releases/{release['id']}/assets").json()
    assert listed[0]["state"] == "open"
    assert upload(gh, release, "big.bin", b"retry").status_code == 422
    assert gh.delete(f"{REPO}/releases/assets/{asset.id}").status_code == 204
    assert upload(gh, release, "big.bin", b"retry").status_code == 201


# -- refs, commits, statuses, checks ---------------------------------------------------------


def test_refs_lifecycle(sim: GitHubSimulator, gh: httpx.Client) -> None:
    first = sim.head_sha
    ref = {"ref": "refs/tags/v1", "sha": first}
    created = gh.post(f"{REPO}/git/refs", json=ref)
    assert created.status_code == 201 and created.json()["object"]["sha"] == first
    exists = gh.post(f"{REPO}/git/refs", json=ref)
    assert exists.status_code == 422 and exists.json()["message"] == "Reference already exists"
    assert gh.get(f"{REPO}/git/ref/tags/v1").json()["ref"] == "refs/tags/v1"
    assert gh.get(f"{REPO}/git/ref/tags/v2").status_code == 404
    second = sim.add_commit()
    assert gh.patch(f"{REPO}/git/refs/tags/v1", json={"sha": second}).status_code == 200
    back = gh.patch(f"{REPO}/git/refs/tags/v1", json={"sha": first})
    assert back.status_code == 422  # not a fast forward
    assert gh.patch(f"{REPO}/git/refs/tags/v1", json={"sha": first, "force": True}).is_success
    gh.post(f"{REPO}/git/refs", json={"ref": "refs/tags/v1.1", "sha": first})
    gh.post(f"{REPO}/git/refs", json={"ref": "refs/tags/v2", "sha": first})
    matching = gh.get(f"{REPO}/git/matching-refs/tags/v1").json()
    assert [r["ref"] for r in matching] == ["refs/tags/v1", "refs/tags/v1.1"]
    assert gh.delete(f"{REPO}/git/refs/tags/v1").status_code == 204
    missing = gh.delete(f"{REPO}/git/refs/tags/v1")
    assert missing.status_code == 422 and missing.json()["message"] == "Reference does not exist"
    bad_sha = gh.post(f"{REPO}/git/refs", json={"ref": "refs/tags/v3", "sha": "0" * 40})
    assert bad_sha.status_code == 422


def test_deleted_ref_lingers_for_delete_ref_lag_gets(sim: GitHubSimulator, gh: httpx.Client) -> None:
    sim.create_tag("1.0.0")
    sim.delete_ref_lag = 2
    assert gh.delete(f"{REPO}/git/refs/tags/1.0.0").status_code == 204
    statuses = [gh.get(f"{REPO}/git/ref/tags/1.0.0").status_code for _ in range(3)]
    assert statuses == [200, 200, 404]
    assert tag_sha(sim, "1.0.0") is None


def test_commits_resolve_branches_tags_and_shas(sim: GitHubSimulator, gh: httpx.Client) -> None:
    old = sim.head_sha
    sim.create_tag("1.0.0")
    head = sim.add_commit("second")
    assert gh.get(f"{REPO}/commits/main").json()["sha"] == head
    assert gh.get(f"{REPO}/commits/1.0.0").json()["sha"] == old
    assert gh.get(f"{REPO}/commits/{head[:7]}").json()["parents"][0]["sha"] == old
    assert gh.get(f"{REPO}/commits/nope").status_code == 422


def test_combined_status_rules(sim: GitHubSimulator, gh: httpx.Client) -> None:
    sha = sim.head_sha

    def combined() -> str:
        state: str = gh.get(f"{REPO}/commits/main/status").json()["state"]
        return state

    assert combined() == "pending"  # no statuses at all
    posted = gh.post(f"{REPO}/statuses/{sha}", json={"state": "pending", "context": "build"})
    assert posted.status_code == 201 and posted.json()["context"] == "build"
    sim.set_status(sha, "lint", "success")
    assert combined() == "pending"
    sim.set_status(sha, "build", "success")  # latest per context wins
    assert combined() == "success"
    sim.set_status(sha, "lint", "error", description="boom")
    assert combined() == "failure"
    assert len(gh.get(f"{REPO}/commits/{sha}/statuses").json()) == 4
    invalid = gh.post(f"{REPO}/statuses/{sha}", json={"state": "great"})
    assert invalid.status_code == 422


def test_check_runs(sim: GitHubSimulator, gh: httpx.Client) -> None:
    sim.set_check_run(sim.head_sha, "build", "in_progress")
    sim.set_check_run(sim.head_sha, "lint", "completed", "failure")
    sim.set_check_run(sim.head_sha, "build", "completed", "success")
    runs = gh.get(f"{REPO}/commits/main/check-runs").json()
    assert runs["total_count"] == 2
    assert {(r["name"], r["status"], r["conclusion"]) for r in runs["check_runs"]} == {
        ("build", "completed", "success"),
        ("lint", "completed", "failure"),
    }
    with pytest.raises(ValueError, match="conclusion"):
        sim.set_check_run(sim.head_sha, "x", "completed")


# -- proxying (how gh reaches the simulator) -------------------------------------------------


def test_absolute_form_requests_through_the_proxy_port(sim: GitHubSimulator) -> None:
    headers = {"Authorization": f"token {sim.token}"}
    with httpx.Client(proxy=sim.api_url, headers=headers, timeout=5) as proxied:
        release = proxied.post(
            f"http://api.github.localhost{REPO}/releases", json={"tag_name": "1.0.0"}
        ).json()
        assert release["upload_url"].startswith("http://uploads.github.localhost/repos/")
        assert release["url"].startswith("http://api.github.localhost/repos/")
        asset = proxied.post(
            release["upload_url"].split("{")[0],
            params={"name": "a.txt"},
            content=b"via proxy",
            headers={"Content-Type": "text/plain"},
        )
        assert asset.status_code == 201
        redirect = proxied.get(asset.json()["url"], headers={"Accept": "application/octet-stream"})
        assert redirect.headers["Location"].startswith("http://objects.githubusercontent.localhost/")
    with httpx.Client(proxy=sim.api_url, timeout=5) as anonymous:
        assert anonymous.get(redirect.headers["Location"]).content == b"via proxy"
    services = [(r.service, r.host) for r in sim.requests]
    assert services == [
        ("api", "api.github.localhost"),
        ("uploads", "uploads.github.localhost"),
        ("api", "api.github.localhost"),
        ("storage", "objects.githubusercontent.localhost"),
    ]


def test_minimal_graphql_for_gh(sim: GitHubSimulator, gh: httpx.Client) -> None:
    draft = create(gh, "1.0.0", draft=True)
    query = (
        "query RepositoryReleaseByTag($name:String!$owner:String!$tagName:String!)"
        "{repository(owner: $owner, name: $name){release(tagName: $tagName){databaseId,isDraft}}}"
    )
    variables = {"owner": OWNER, "name": NAME, "tagName": "1.0.0"}
    found = gh.post("/graphql", json={"query": query, "variables": variables}).json()
    assert found == {"data": {"repository": {"release": {"databaseId": draft["id"], "isDraft": True}}}}
    with api(sim, None) as anonymous:
        assert anonymous.post("/graphql", json={"query": query}).status_code == 401
    unknown = gh.post("/graphql", json={"query": "query Other { viewer { login } }"}).json()
    assert "errors" in unknown


def test_documentation_example_runs(capsys: pytest.CaptureFixture[str]) -> None:
    doc = Path(__file__).resolve().parents[1] / "docs" / "github-simulator.md"
    example, *others = re.findall(r"```python\n(.*?)```", doc.read_text(), flags=re.DOTALL)
    names: dict[str, object] = {}
    exec(compile(example, str(doc), "exec"), names)  # noqa: S102 - our own documentation
    assert capsys.readouterr().out.strip() == "502 ['refs/heads/main', 'refs/tags/1.2.0'] False"
    for other in others:  # the later examples (a submission on the GHES layout) run too
        exec(compile(other, str(doc), "exec"), names)  # noqa: S102 - our own documentation
