"""Every response shape the GitHub simulator emits, checked against GitHub's OpenAPI description.

One scenario drives each routed operation into each status it can answer (successes, errors,
304, 302) and captures the exchanges; each is then validated with openapi-core against
``shared/schemas/github/api.github.com.releases.json``. Statuses the description does not
declare for an operation (401, 403, 429, 5xx… GitHub answers them everywhere) are checked
against GitHub's ``basic-error``/``validation-error`` schemas instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from btp_release.testing import Fault, GitHubSimulator
from btp_release.testing.github_sim import SecondaryLimits
from btp_release.testing.github_sim.routes import ROUTES

from .github_sim_openapi_support import (
    Exchange,
    R,
    Recorder,
    check_exchange,
    load_description,
    load_openapi,
    scenario,
)
from .test_github_sim_openapi_git import drive as drive_git
from .test_github_sim_openapi_pulls import drive as drive_pulls

REPO = "/repos/kyma-project/btp-manager"

# Every (operation, status[, variant]) the scenario must produce: the parametrisation below.
EXPECTED: tuple[str, ...] = (
    "GET /rate_limit 200",
    "GET /rate_limit 304",
    "GET /rate_limit 401 bad credentials",
    f"GET {R} 200",
    f"GET {R} 200 anonymous",
    f"GET {R} 304",
    f"GET {R} 304 if modified since",
    f"GET {R} 403 no user agent",
    f"GET {R} 403 exhausted",
    f"GET {R} 403 rate limit fault",
    f"GET {R} 404",
    f"GET {R}/releases 200",
    f"GET {R}/releases 404",
    f"POST {R}/releases 201",
    f"POST {R}/releases 201 draft",
    f"POST {R}/releases 400",
    f"POST {R}/releases 401",
    f"POST {R}/releases 403 read only",
    f"POST {R}/releases 403 secondary",
    f"POST {R}/releases 403 secondary limit",
    f"POST {R}/releases 422 already exists",
    f"POST {R}/releases 422 invalid request",
    f"POST {R}/releases 422 immutable tag",
    f"POST {R}/releases 429 rate limit fault",
    f"POST {R}/releases 502 fault",
    f"POST {R}/releases 503 fault",
    f"POST {R}/releases/generate-notes 200",
    f"POST {R}/releases/generate-notes 422",
    f"GET {R}/releases/latest 200",
    f"GET {R}/releases/latest 404",
    f"GET {R}/releases/tags/{{tag}} 200",
    f"GET {R}/releases/tags/{{tag}} 404",
    f"GET {R}/releases/{{release_id}} 200",
    f"GET {R}/releases/{{release_id}} 404",
    f"PATCH {R}/releases/{{release_id}} 200",
    f"PATCH {R}/releases/{{release_id}} 404",
    f"PATCH {R}/releases/{{release_id}} 422",
    f"DELETE {R}/releases/{{release_id}} 204",
    f"DELETE {R}/releases/{{release_id}} 404",
    f"GET {R}/releases/{{release_id}}/assets 200",
    f"GET {R}/releases/{{release_id}}/assets 404",
    f"POST {R}/releases/{{release_id}}/assets 201",
    f"POST {R}/releases/{{release_id}}/assets 404",
    f"POST {R}/releases/{{release_id}}/assets 411",
    f"POST {R}/releases/{{release_id}}/assets 422 already exists",
    f"POST {R}/releases/{{release_id}}/assets 422 immutable",
    f"POST {R}/releases/{{release_id}}/assets 422 missing name",
    f"POST {R}/releases/{{release_id}}/assets 422 too large",
    f"POST {R}/releases/{{release_id}}/assets 422 too many",
    f"GET {R}/releases/assets/{{asset_id}} 200",
    f"GET {R}/releases/assets/{{asset_id}} 302",
    f"GET {R}/releases/assets/{{asset_id}} 404",
    f"PATCH {R}/releases/assets/{{asset_id}} 200",
    f"PATCH {R}/releases/assets/{{asset_id}} 422",
    f"DELETE {R}/releases/assets/{{asset_id}} 204",
    f"DELETE {R}/releases/assets/{{asset_id}} 404",
    f"DELETE {R}/releases/assets/{{asset_id}} 422 immutable",
    f"POST {R}/git/refs 201",
    f"POST {R}/git/refs 422",
    f"GET {R}/git/ref/{{ref}} 200",
    f"GET {R}/git/ref/{{ref}} 404",
    f"PATCH {R}/git/refs/{{ref}} 200",
    f"PATCH {R}/git/refs/{{ref}} 422",
    f"DELETE {R}/git/refs/{{ref}} 204",
    f"DELETE {R}/git/refs/{{ref}} 422",
    f"GET {R}/git/matching-refs/{{ref}} 200",
    f"POST {R}/git/tags 201",
    f"POST {R}/git/tags 422",
    f"GET {R}/git/tags/{{tag_sha}} 200",
    f"GET {R}/git/tags/{{tag_sha}} 404",
    f"GET {R}/git/ref/{{ref}} 200 annotated tag",
    f"GET {R}/commits/{{ref}} 200",
    f"GET {R}/commits/{{ref}} 422",
    f"GET {R}/commits/{{ref}}/status 200",
    f"GET {R}/commits/{{ref}}/status 404",
    f"GET {R}/commits/{{ref}}/statuses 200",
    f"GET {R}/commits/{{ref}}/check-runs 200",
    f"GET {R}/commits/{{ref}}/check-runs 200 in progress",
    f"GET {R}/commits/{{ref}}/check-runs 422",
    f"POST {R}/statuses/{{sha}} 201",
    f"POST {R}/statuses/{{sha}} 422",
)


def drive(sim: GitHubSimulator, capture: Recorder) -> None:
    """Walk every operation into every status it can answer."""
    auth = {"Authorization": f"Bearer {sim.token}", "User-Agent": "openapi-check"}
    read_auth = {"Authorization": f"Bearer {sim.readonly_token}"}
    gh = httpx.Client(base_url=sim.api_url, headers=auth, timeout=5)
    anon = httpx.Client(base_url=sim.api_url, timeout=5)
    with gh, anon:
        capture("GET /rate_limit 200", first := gh.get("/rate_limit"))
        capture(
            "GET /rate_limit 304",
            gh.get("/rate_limit", headers={"If-None-Match": first.headers["ETag"]}),
        )
        capture(
            "GET /rate_limit 401 bad credentials",
            anon.get("/rate_limit", headers={"Authorization": "token nope"}),
        )
        capture(f"GET {R} 200", repo := gh.get(REPO))
        capture(f"GET {R} 200 anonymous", anon.get(REPO))
        capture(f"GET {R} 304", gh.get(REPO, headers={"If-None-Match": repo.headers["ETag"]}))
        capture(
            f"GET {R} 304 if modified since",
            gh.get(REPO, headers={"If-Modified-Since": repo.headers["Last-Modified"]}),
        )
        capture(f"GET {R} 403 no user agent", anon.get(REPO, headers={"User-Agent": ""}))
        capture(f"GET {R} 404", gh.get("/repos/kyma-project/nothing"))
        sim.add_fault(Fault(method="GET", path=".*", kind="rate_limit"))
        capture(f"GET {R} 403 rate limit fault", gh.get(REPO))

        releases = f"{REPO}/releases"
        capture(f"GET {R}/releases 404", gh.get("/repos/kyma-project/nothing/releases"))
        capture(f"POST {R}/releases 201", published := gh.post(releases, json={"tag_name": "1.0.0"}))
        pub = published.json()
        capture(
            f"POST {R}/releases 201 draft",
            draft_response := gh.post(releases, json={"tag_name": "1.1.0", "draft": True, "body": "notes"}),
        )
        draft = draft_response.json()
        capture(f"GET {R}/releases 200", gh.get(releases, params={"per_page": 1}))
        bad_json = {"Content-Type": "application/json"}
        capture(f"POST {R}/releases 400", gh.post(releases, content=b"{", headers=bad_json))
        capture(f"POST {R}/releases 401", anon.post(releases, json={"tag_name": "x"}))
        capture(
            f"POST {R}/releases 403 read only",
            anon.post(releases, json={"tag_name": "x"}, headers=read_auth),
        )
        capture(f"POST {R}/releases 422 already exists", gh.post(releases, json={"tag_name": "1.0.0"}))
        capture(f"POST {R}/releases 422 invalid request", gh.post(releases, json={}))
        for status, kind, label in (
            (403, "secondary", "403 secondary"),
            (429, "rate_limit", "429 rate limit fault"),
            (502, "status", "502 fault"),
            (503, "status", "503 fault"),
        ):
            sim.add_fault(Fault(method="POST", path=r"/releases$", kind=kind, status=status))  # type: ignore[arg-type]
            capture(f"POST {R}/releases {label}", gh.post(releases, json={"tag_name": "9.9.9"}))

        notes = f"{releases}/generate-notes"
        capture(f"POST {R}/releases/generate-notes 200", gh.post(notes, json={"tag_name": "2.0.0"}))
        capture(
            f"POST {R}/releases/generate-notes 422",
            gh.post(notes, json={"tag_name": "2.0.0", "previous_tag_name": "nope"}),
        )
        capture(f"GET {R}/releases/latest 200", gh.get(f"{releases}/latest"))
        capture(f"GET {R}/releases/tags/{{tag}} 200", gh.get(f"{releases}/tags/1.0.0"))
        capture(f"GET {R}/releases/tags/{{tag}} 404", gh.get(f"{releases}/tags/1.1.0"))
        capture(f"GET {R}/releases/{{release_id}} 200", gh.get(f"{releases}/{draft['id']}"))
        capture(f"GET {R}/releases/{{release_id}} 404", gh.get(f"{releases}/1"))
        capture(
            f"PATCH {R}/releases/{{release_id}} 200",
            gh.patch(f"{releases}/{draft['id']}", json={"name": "Draft"}),
        )
        capture(f"PATCH {R}/releases/{{release_id}} 404", gh.patch(f"{releases}/1", json={"name": "x"}))
        capture(
            f"PATCH {R}/releases/{{release_id}} 422",
            gh.patch(f"{releases}/{draft['id']}", json={"tag_name": "1.0.0", "draft": False}),
        )

        upload = draft["upload_url"].split("{")[0]
        octet = {"Content-Type": "application/octet-stream"}
        capture(
            f"POST {R}/releases/{{release_id}}/assets 201",
            asset_response := gh.post(upload, params={"name": "a.txt"}, content=b"a", headers=octet),
        )
        asset = asset_response.json()
        capture(
            f"POST {R}/releases/{{release_id}}/assets 422 already exists",
            gh.post(upload, params={"name": "a.txt"}, content=b"a", headers=octet),
        )
        capture(
            f"POST {R}/releases/{{release_id}}/assets 422 missing name",
            gh.post(upload, content=b"a", headers=octet),
        )
        capture(
            f"POST {R}/releases/{{release_id}}/assets 404",
            gh.post(
                upload.replace(str(draft["id"]), "1"),
                params={"name": "a"},
                content=b"a",
                headers=octet,
            ),
        )

        def stream() -> Iterator[bytes]:
            yield b"chunked"

        capture(
            f"POST {R}/releases/{{release_id}}/assets 411",
            gh.post(upload, params={"name": "c.txt"}, content=stream(), headers=octet),
        )
        gh.post(upload, params={"name": "b.txt"}, content=b"b", headers=octet)
        assets = f"{releases}/{draft['id']}/assets"
        capture(f"GET {R}/releases/{{release_id}}/assets 200", gh.get(assets, params={"per_page": 1}))
        capture(f"GET {R}/releases/{{release_id}}/assets 404", gh.get(f"{releases}/1/assets"))
        one = f"{releases}/assets/{asset['id']}"
        capture(f"GET {R}/releases/assets/{{asset_id}} 200", gh.get(one))
        capture(
            f"GET {R}/releases/assets/{{asset_id}} 302",
            gh.get(one, headers={"Accept": "application/octet-stream"}),
        )
        capture(f"GET {R}/releases/assets/{{asset_id}} 404", gh.get(f"{releases}/assets/1"))
        capture(
            f"PATCH {R}/releases/assets/{{asset_id}} 200",
            gh.patch(one, json={"name": "renamed.txt", "label": "Renamed"}),
        )
        capture(f"PATCH {R}/releases/assets/{{asset_id}} 422", gh.patch(one, json={"name": "b.txt"}))
        capture(f"DELETE {R}/releases/assets/{{asset_id}} 204", gh.delete(one))
        capture(f"DELETE {R}/releases/assets/{{asset_id}} 404", gh.delete(one))

        sim.set_immutable(True)
        frozen = gh.post(releases, json={"tag_name": "3.0.0", "draft": True}).json()
        frozen_upload = frozen["upload_url"].split("{")[0]
        kept = gh.post(frozen_upload, params={"name": "k.txt"}, content=b"k", headers=octet).json()
        gh.patch(f"{releases}/{frozen['id']}", json={"draft": False})
        capture(
            f"POST {R}/releases/{{release_id}}/assets 422 immutable",
            gh.post(frozen_upload, params={"name": "late.txt"}, content=b"l", headers=octet),
        )
        capture(
            f"DELETE {R}/releases/assets/{{asset_id}} 422 immutable",
            gh.delete(f"{releases}/assets/{kept['id']}"),
        )
        gh.delete(f"{releases}/{frozen['id']}")
        capture(
            f"POST {R}/releases 422 immutable tag",
            gh.post(releases, json={"tag_name": "3.0.0", "draft": True}),
        )
        sim.set_immutable(False)
        capture(f"DELETE {R}/releases/{{release_id}} 204", gh.delete(f"{releases}/{pub['id']}"))
        capture(f"DELETE {R}/releases/{{release_id}} 404", gh.delete(f"{releases}/{pub['id']}"))
        capture(f"GET {R}/releases/latest 404", gh.get(f"{releases}/latest"))

        refs = f"{REPO}/git/refs"
        head = sim.head_sha
        new_ref = {"ref": "refs/tags/v1", "sha": head}
        capture(f"POST {R}/git/refs 201", gh.post(refs, json=new_ref))
        capture(f"POST {R}/git/refs 422", gh.post(refs, json=new_ref))
        capture(f"GET {R}/git/ref/{{ref}} 200", gh.get(f"{REPO}/git/ref/tags/v1"))
        capture(f"GET {R}/git/ref/{{ref}} 404", gh.get(f"{REPO}/git/ref/tags/v9"))
        capture(f"GET {R}/git/matching-refs/{{ref}} 200", gh.get(f"{REPO}/git/matching-refs/tags/v"))
        second = sim.add_commit("second")
        capture(f"PATCH {R}/git/refs/{{ref}} 200", gh.patch(f"{refs}/tags/v1", json={"sha": second}))
        capture(f"PATCH {R}/git/refs/{{ref}} 422", gh.patch(f"{refs}/tags/v1", json={"sha": head}))
        capture(f"DELETE {R}/git/refs/{{ref}} 204", gh.delete(f"{refs}/tags/v1"))
        capture(f"DELETE {R}/git/refs/{{ref}} 422", gh.delete(f"{refs}/tags/v1"))
        tags = f"{REPO}/git/tags"
        annotated = {"tag": "v2", "message": "Version 2", "object": second, "type": "commit"}
        capture(f"POST {R}/git/tags 201", tag_object := gh.post(tags, json=annotated))
        tag_sha = tag_object.json()["sha"]
        capture(f"POST {R}/git/tags 422", gh.post(tags, json={**annotated, "object": "0" * 40}))
        capture(f"GET {R}/git/tags/{{tag_sha}} 200", gh.get(f"{tags}/{tag_sha}"))
        capture(f"GET {R}/git/tags/{{tag_sha}} 404", gh.get(f"{tags}/{'0' * 40}"))
        gh.post(refs, json={"ref": "refs/tags/v2", "sha": tag_sha})
        capture(f"GET {R}/git/ref/{{ref}} 200 annotated tag", gh.get(f"{REPO}/git/ref/tags/v2"))

        commits = f"{REPO}/commits"
        sim.set_check_run(second, "build", "completed", "success")
        capture(f"GET {R}/commits/{{ref}} 200", gh.get(f"{commits}/main"))
        capture(f"GET {R}/commits/{{ref}} 422", gh.get(f"{commits}/nope"))
        capture(
            f"POST {R}/statuses/{{sha}} 201",
            gh.post(
                f"{REPO}/statuses/{second}",
                json={"state": "success", "context": "ci", "target_url": "https://ci.example"},
            ),
        )
        capture(
            f"POST {R}/statuses/{{sha}} 422",
            gh.post(f"{REPO}/statuses/{second}", json={"state": "fine"}),
        )
        capture(f"GET {R}/commits/{{ref}}/status 200", gh.get(f"{commits}/main/status"))
        capture(f"GET {R}/commits/{{ref}}/status 404", gh.get(f"{commits}/nope/status"))
        capture(f"GET {R}/commits/{{ref}}/statuses 200", gh.get(f"{commits}/main/statuses"))
        capture(f"GET {R}/commits/{{ref}}/check-runs 200", gh.get(f"{commits}/main/check-runs"))
        sim.set_check_run(second, "lint", "in_progress")
        capture(
            f"GET {R}/commits/{{ref}}/check-runs 200 in progress",
            gh.get(f"{commits}/main/check-runs"),
        )
        capture(f"GET {R}/commits/{{ref}}/check-runs 422", gh.get(f"{commits}/nope/check-runs"))

    with (
        GitHubSimulator(rate_limit=1) as limited,
        httpx.Client(
            base_url=limited.api_url, headers={"Authorization": f"token {limited.token}"}, timeout=5
        ) as client,
    ):
        client.get(REPO)
        exhausted = client.get(REPO)
        capture.sim = limited
        capture(f"GET {R} 403 exhausted", exhausted)

    with (
        GitHubSimulator(
            secondary_limits=SecondaryLimits(per_minute=4), max_assets_per_release=1, max_asset_size=4
        ) as small,
        httpx.Client(
            base_url=small.api_url, headers={"Authorization": f"token {small.token}"}, timeout=5
        ) as client,
    ):
        capture.sim = small
        draft = client.post(f"{REPO}/releases", json={"tag_name": "1.0.0", "draft": True}).json()
        upload = draft["upload_url"].split("{")[0]
        octet = {"Content-Type": "application/octet-stream"}
        capture(
            f"POST {R}/releases/{{release_id}}/assets 422 too large",
            client.post(upload, params={"name": "big"}, content=b"12345", headers=octet),
        )
        client.post(upload, params={"name": "one"}, content=b"1", headers=octet)
        capture(
            f"POST {R}/releases/{{release_id}}/assets 422 too many",
            client.post(upload, params={"name": "two"}, content=b"2", headers=octet),
        )
        capture(
            f"POST {R}/releases 403 secondary limit",
            client.post(f"{REPO}/releases", json={"tag_name": "2.0.0"}),
        )


@pytest.fixture(scope="module")
def exchanges() -> dict[str, Exchange]:
    return scenario(drive)


@pytest.fixture(scope="module")
def description() -> dict[str, Any]:
    return load_description()


@pytest.fixture(scope="module")
def openapi(description: dict[str, Any]) -> Any:
    return load_openapi()


@pytest.mark.parametrize("label", EXPECTED)
def test_response_matches_githubs_description(
    label: str, exchanges: dict[str, Exchange], description: dict[str, Any], openapi: Any
) -> None:
    check_exchange(label, exchanges[label], description, openapi)


def test_scenario_produces_exactly_the_expected_exchanges(exchanges: dict[str, Exchange]) -> None:
    assert sorted(exchanges) == sorted(EXPECTED)


def test_every_routed_operation_is_covered(exchanges: dict[str, Exchange]) -> None:
    """By this scenario or the other modules' (git data and contents, pull requests)."""
    routed = {(r.method, r.template) for r in ROUTES if r.in_openapi}
    everything = [*exchanges.values(), *scenario(drive_git).values(), *scenario(drive_pulls).values()]
    covered = {(e.method, e.template) for e in everything}
    assert routed - covered == set()


def test_routes_marked_in_openapi_exist_in_the_description(description: dict[str, Any]) -> None:
    for route in ROUTES:
        operations = description["paths"].get(route.template, {})
        assert (route.method.lower() in operations) == route.in_openapi, route.template


def test_paginated_lists_carry_link_headers(exchanges: dict[str, Exchange]) -> None:
    for label in (f"GET {R}/releases 200", f"GET {R}/releases/{{release_id}}/assets 200"):
        assert 'rel="next"' in exchanges[label].headers["link"]
