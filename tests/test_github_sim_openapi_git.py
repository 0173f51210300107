"""The git data, branches, tags and contents operations of the GitHub simulator, checked against
GitHub's OpenAPI description (machinery: ``github_sim_openapi_support``)."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest

from btp_release.testing import GitHubSimulator

from .github_sim_openapi_support import (
    Exchange,
    R,
    Recorder,
    check_exchange,
    load_description,
    load_openapi,
    scenario,
)

MANIFESTS = "/repos/kyma/module-manifests"
CONFIG = "modules/btp-operator/1.0.0/module-config.yaml"

EXPECTED: tuple[str, ...] = (
    f"POST {R}/git/blobs 201",
    f"POST {R}/git/blobs 201 base64",
    f"POST {R}/git/blobs 403 read only",
    f"POST {R}/git/blobs 422",
    f"GET {R}/git/blobs/{{file_sha}} 200",
    f"GET {R}/git/blobs/{{file_sha}} 404",
    f"POST {R}/git/trees 201",
    f"POST {R}/git/trees 422",
    f"GET {R}/git/trees/{{tree_sha}} 200",
    f"GET {R}/git/trees/{{tree_sha}} 200 recursive",
    f"GET {R}/git/trees/{{tree_sha}} 404",
    f"POST {R}/git/commits 201",
    f"POST {R}/git/commits 422",
    f"GET {R}/git/commits/{{commit_sha}} 200",
    f"GET {R}/git/commits/{{commit_sha}} 404",
    f"POST {R}/git/refs 201 branch",
    f"PATCH {R}/git/refs/{{ref}} 200 branch",
    f"GET {R}/git/ref/{{ref}} 200 branch",
    f"GET {R}/branches/{{branch}} 200",
    f"GET {R}/branches/{{branch}} 404",
    f"GET {R}/commits/{{ref}} 200 with files",
    f"GET {R}/tags 200",
    f"GET {R}/contents/{{path}} 200 file",
    f"GET {R}/contents/{{path}} 200 directory",
    f"GET {R}/contents/{{path}} 304",
    f"GET {R}/contents/{{path}} 404",
    f"PUT {R}/contents/{{path}} 201",
    f"PUT {R}/contents/{{path}} 200",
    f"PUT {R}/contents/{{path}} 404 no branch",
    f"PUT {R}/contents/{{path}} 409 stale sha",
    f"PUT {R}/contents/{{path}} 422 no sha",
    f"DELETE {R}/contents/{{path}} 200",
    f"DELETE {R}/contents/{{path}} 404",
    f"DELETE {R}/contents/{{path}} 409",
    f"DELETE {R}/contents/{{path}} 422",
)


def drive(sim: GitHubSimulator, capture: Recorder) -> None:
    """A submission as a client makes it: blobs, a tree on the branch's, a commit, a branch; the
    contents API for single files; every error each operation answers."""
    sim.add_repository("kyma/module-manifests", files={CONFIG: "name: btp-operator\n"})
    auth = {"Authorization": f"Bearer {sim.token}", "User-Agent": "openapi-check"}
    read_auth = {"Authorization": f"Bearer {sim.readonly_token}", "User-Agent": "openapi-check"}
    with httpx.Client(base_url=sim.api_url, headers=auth, timeout=5) as gh:
        m = MANIFESTS
        capture(f"POST {R}/git/blobs 201", blob := gh.post(f"{m}/git/blobs", json={"content": "a: 1\n"}))
        encoded = {"content": base64.b64encode(b"\x00\x01").decode(), "encoding": "base64"}
        capture(f"POST {R}/git/blobs 201 base64", gh.post(f"{m}/git/blobs", json=encoded))
        capture(
            f"POST {R}/git/blobs 403 read only", gh.post(f"{m}/git/blobs", json=encoded, headers=read_auth)
        )
        capture(f"POST {R}/git/blobs 422", gh.post(f"{m}/git/blobs", json={"encoding": "utf-8"}))
        capture(f"GET {R}/git/blobs/{{file_sha}} 200", gh.get(f"{m}/git/blobs/{blob.json()['sha']}"))
        capture(f"GET {R}/git/blobs/{{file_sha}} 404", gh.get(f"{m}/git/blobs/{'0' * 40}"))

        main = gh.get(f"{m}/branches/main")
        capture(f"GET {R}/branches/{{branch}} 200", main)
        capture(f"GET {R}/branches/{{branch}} 404", gh.get(f"{m}/branches/nope"))
        head, base_tree = main.json()["commit"]["sha"], main.json()["commit"]["commit"]["tree"]["sha"]
        entry = {"path": "modules/btp-operator/1.1.0/module-config.yaml", "mode": "100644", "type": "blob"}
        tree = gh.post(
            f"{m}/git/trees", json={"base_tree": base_tree, "tree": [{**entry, "sha": blob.json()["sha"]}]}
        )
        capture(f"POST {R}/git/trees 201", tree)
        capture(f"POST {R}/git/trees 422", gh.post(f"{m}/git/trees", json={"tree": [{**entry, "sha": None}]}))
        capture(f"GET {R}/git/trees/{{tree_sha}} 200", gh.get(f"{m}/git/trees/{tree.json()['sha']}"))
        capture(
            f"GET {R}/git/trees/{{tree_sha}} 200 recursive",
            gh.get(f"{m}/git/trees/main", params={"recursive": "1"}),
        )
        capture(f"GET {R}/git/trees/{{tree_sha}} 404", gh.get(f"{m}/git/trees/{'0' * 40}"))
        body = {"message": "Submit 1.1.0", "tree": tree.json()["sha"], "parents": [head]}
        capture(f"POST {R}/git/commits 201", commit := gh.post(f"{m}/git/commits", json=body))
        capture(f"POST {R}/git/commits 422", gh.post(f"{m}/git/commits", json={**body, "tree": "0" * 40}))
        sha = commit.json()["sha"]
        capture(f"GET {R}/git/commits/{{commit_sha}} 200", gh.get(f"{m}/git/commits/{sha}"))
        capture(f"GET {R}/git/commits/{{commit_sha}} 404", gh.get(f"{m}/git/commits/{'0' * 40}"))
        branch = {"ref": "refs/heads/submit", "sha": head}
        capture(f"POST {R}/git/refs 201 branch", gh.post(f"{m}/git/refs", json=branch))
        capture(
            f"PATCH {R}/git/refs/{{ref}} 200 branch",
            gh.patch(f"{m}/git/refs/heads/submit", json={"sha": sha}),
        )
        capture(f"GET {R}/git/ref/{{ref}} 200 branch", gh.get(f"{m}/git/ref/heads/submit"))
        capture(f"GET {R}/commits/{{ref}} 200 with files", gh.get(f"{m}/commits/submit"))
        sim.create_tag("1.0.0")
        capture(f"GET {R}/tags 200", gh.get("/repos/kyma-project/btp-manager/tags"))

        url = f"{m}/contents/{CONFIG}"
        capture(f"GET {R}/contents/{{path}} 200 file", file := gh.get(url))
        capture(f"GET {R}/contents/{{path}} 200 directory", gh.get(f"{m}/contents/modules/btp-operator"))
        capture(
            f"GET {R}/contents/{{path}} 304", gh.get(url, headers={"If-None-Match": file.headers["ETag"]})
        )
        capture(f"GET {R}/contents/{{path}} 404", gh.get(f"{m}/contents/none.yaml"))
        content = base64.b64encode(b"channels: []\n").decode()
        releases = f"{m}/contents/modules/btp-operator/module-releases.yaml"
        capture(
            f"PUT {R}/contents/{{path}} 201", gh.put(releases, json={"message": "Add", "content": content})
        )
        old = file.json()["sha"]
        capture(
            f"PUT {R}/contents/{{path}} 200",
            gh.put(url, json={"message": "Update", "content": content, "sha": old}),
        )
        capture(
            f"PUT {R}/contents/{{path}} 404 no branch",
            gh.put(url, json={"message": "Update", "content": content, "branch": "nope"}),
        )
        capture(
            f"PUT {R}/contents/{{path}} 409 stale sha",
            gh.put(url, json={"message": "Update", "content": content, "sha": old}),
        )
        capture(
            f"PUT {R}/contents/{{path}} 422 no sha",
            gh.put(url, json={"message": "Update", "content": content}),
        )
        current = gh.get(url).json()["sha"]
        capture(f"DELETE {R}/contents/{{path}} 422", gh.request("DELETE", url, json={"message": "Remove"}))
        capture(
            f"DELETE {R}/contents/{{path}} 409",
            gh.request("DELETE", url, json={"message": "Remove", "sha": old}),
        )
        capture(
            f"DELETE {R}/contents/{{path}} 200",
            gh.request("DELETE", url, json={"message": "Remove", "sha": current}),
        )
        capture(
            f"DELETE {R}/contents/{{path}} 404",
            gh.request("DELETE", url, json={"message": "Remove", "sha": current}),
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
