"""The pull request, issue comment and label operations of the GitHub simulator, checked against
GitHub's OpenAPI description (machinery: ``github_sim_openapi_support``)."""

from __future__ import annotations

import base64
import json
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

EXPECTED: tuple[str, ...] = (
    f"POST {R}/pulls 201",
    f"POST {R}/pulls 403 read only",
    f"POST {R}/pulls 422 already exists",
    f"POST {R}/pulls 422 no commits",
    f"POST {R}/pulls 422 invalid head",
    f"GET {R}/pulls 200",
    f"GET {R}/pulls 200 by head",
    f"GET {R}/pulls 304",
    f"GET {R}/pulls/{{pull_number}} 200",
    f"GET {R}/pulls/{{pull_number}} 200 merged",
    f"GET {R}/pulls/{{pull_number}} 304",
    f"GET {R}/pulls/{{pull_number}} 404",
    f"PATCH {R}/pulls/{{pull_number}} 200",
    f"PATCH {R}/pulls/{{pull_number}} 200 closed",
    f"PATCH {R}/pulls/{{pull_number}} 403 read only",
    f"PATCH {R}/pulls/{{pull_number}} 422",
    f"POST {R}/issues/{{issue_number}}/comments 201",
    f"POST {R}/issues/{{issue_number}}/comments 201 on a pull request",
    f"POST {R}/issues/{{issue_number}}/comments 403 read only",
    f"POST {R}/issues/{{issue_number}}/comments 404",
    f"POST {R}/issues/{{issue_number}}/comments 422",
    f"GET {R}/issues/{{issue_number}}/labels 200",
    f"GET {R}/issues/{{issue_number}}/labels 404",
)


def drive(sim: GitHubSimulator, capture: Recorder) -> None:
    sim.add_repository("kyma/module-manifests", files={"README.md": "# Module manifests\n"})
    sim.add_repository("kyma/release-management")
    issue = sim.add_issue("kyma/release-management", "BTP Manager 1.0.1", labels=["patch"])
    auth = {"Authorization": f"Bearer {sim.token}", "User-Agent": "openapi-check"}
    read_auth = {"Authorization": f"Bearer {sim.readonly_token}", "User-Agent": "openapi-check"}
    with httpx.Client(base_url=sim.api_url, headers=auth, timeout=5) as gh:
        m = MANIFESTS
        for branch in ("btp-manager-1.0.0", "btp-manager-1.1.0"):
            sim.create_branch("kyma/module-manifests", branch)
            content = base64.b64encode(branch.encode()).decode()
            gh.put(
                f"{m}/contents/{branch}.yaml",
                json={"message": "Submit", "content": content, "branch": branch},
            )
        sim.create_branch("kyma/module-manifests", "empty")
        new = {"title": "Submit BTP Manager version 1.0.0", "head": "btp-manager-1.0.0", "base": "main"}
        capture(f"POST {R}/pulls 201", gh.post(f"{m}/pulls", json={**new, "body": "Automated"}))
        capture(f"POST {R}/pulls 403 read only", gh.post(f"{m}/pulls", json=new, headers=read_auth))
        capture(f"POST {R}/pulls 422 already exists", gh.post(f"{m}/pulls", json=new))
        capture(f"POST {R}/pulls 422 no commits", gh.post(f"{m}/pulls", json={**new, "head": "empty"}))
        capture(f"POST {R}/pulls 422 invalid head", gh.post(f"{m}/pulls", json={**new, "head": "nope"}))
        gh.post(f"{m}/pulls", json={**new, "head": "btp-manager-1.1.0", "title": "Submit 1.1.0"})
        sim.add_labels("kyma/module-manifests", 1, "module-submission")
        # A user and a team asked to review: the pull request then lists both (team-simple validated).
        asked = {"reviewers": ["gopher-lead"], "team_reviewers": ["catalog-owners"]}
        assert gh.post(f"{m}/pulls/1/requested_reviewers", json=asked).status_code == 201

        capture(f"GET {R}/pulls 200", listed := gh.get(f"{m}/pulls", params={"per_page": 1}))
        capture(f"GET {R}/pulls 200 by head", gh.get(f"{m}/pulls", params={"head": "kyma:btp-manager-1.0.0"}))
        capture(
            f"GET {R}/pulls 304",
            gh.get(f"{m}/pulls", params={"per_page": 1}, headers={"If-None-Match": listed.headers["ETag"]}),
        )
        capture(f"GET {R}/pulls/{{pull_number}} 200", one := gh.get(f"{m}/pulls/1"))
        assert [t["slug"] for t in one.json()["requested_teams"]] == ["catalog-owners"]
        assert one.json()["requested_teams"][0]["html_url"].endswith("/orgs/kyma/teams/catalog-owners")
        capture(
            f"GET {R}/pulls/{{pull_number}} 304",
            gh.get(f"{m}/pulls/1", headers={"If-None-Match": one.headers["ETag"]}),
        )
        capture(f"GET {R}/pulls/{{pull_number}} 404", gh.get(f"{m}/pulls/99"))
        capture(f"PATCH {R}/pulls/{{pull_number}} 200", gh.patch(f"{m}/pulls/1", json={"body": None}))
        capture(
            f"PATCH {R}/pulls/{{pull_number}} 200 closed", gh.patch(f"{m}/pulls/2", json={"state": "closed"})
        )
        capture(
            f"PATCH {R}/pulls/{{pull_number}} 403 read only",
            gh.patch(f"{m}/pulls/1", json={"title": "x"}, headers=read_auth),
        )
        capture(f"PATCH {R}/pulls/{{pull_number}} 422", gh.patch(f"{m}/pulls/1", json={"base": "nope"}))

        rm = "/repos/kyma/release-management"
        body = {"body": "Promoted: https://github.example/kyma/module-manifests/pull/1"}
        capture(
            f"POST {R}/issues/{{issue_number}}/comments 201",
            gh.post(f"{rm}/issues/{issue}/comments", json=body),
        )
        capture(
            f"POST {R}/issues/{{issue_number}}/comments 201 on a pull request",
            gh.post(f"{m}/issues/1/comments", json=body),
        )
        capture(
            f"POST {R}/issues/{{issue_number}}/comments 403 read only",
            gh.post(f"{rm}/issues/{issue}/comments", json=body, headers=read_auth),
        )
        capture(
            f"POST {R}/issues/{{issue_number}}/comments 404", gh.post(f"{rm}/issues/99/comments", json=body)
        )
        capture(
            f"POST {R}/issues/{{issue_number}}/comments 422",
            gh.post(f"{rm}/issues/{issue}/comments", json={}),
        )
        capture(f"GET {R}/issues/{{issue_number}}/labels 200", gh.get(f"{m}/issues/1/labels"))
        capture(f"GET {R}/issues/{{issue_number}}/labels 404", gh.get(f"{m}/issues/99/labels"))

        sim.merge_pull_request("kyma/module-manifests", 1)
        capture(f"GET {R}/pulls/{{pull_number}} 200 merged", gh.get(f"{m}/pulls/1"))


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


def test_the_head_filter_found_the_labelled_pull_request(exchanges: dict[str, Exchange]) -> None:
    [found] = json.loads(exchanges[f"GET {R}/pulls 200 by head"].body)
    assert (found["number"], found["head"]["ref"]) == (1, "btp-manager-1.0.0")
    assert [(label["name"], label["description"]) for label in found["labels"]] == [
        ("module-submission", None)
    ]
