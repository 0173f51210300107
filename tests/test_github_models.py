"""GitHub JSON → frozen models, with realistic (trimmed) responses of the REST API 2022-11-28."""

from __future__ import annotations

import copy
from typing import Any

import attrs
import pytest

from btp_release.github.models import (
    DRAFT_MARKER,
    CheckRun,
    CombinedStatus,
    CommitStatus,
    GitRef,
    Release,
    ReleaseAsset,
    Repository,
)

REPO = "https://api.github.com/repos/kyma-project/btp-manager"


def asset_json(
    asset_id: int, name: str, *, state: str = "uploaded", label: str | None = None
) -> dict[str, Any]:
    return {
        "url": f"{REPO}/releases/assets/{asset_id}",
        "browser_download_url": f"https://github.com/kyma-project/btp-manager/releases/download/1.2.0/{name}",
        "id": asset_id,
        "node_id": "RA_kwDOExample",
        "name": name,
        "label": label,
        "state": state,
        "content_type": "application/x-yaml",
        "size": 48213,
        "digest": "sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae",
        "download_count": 0,
        "created_at": "2024-05-02T10:11:12Z",
        "updated_at": "2024-05-02T10:11:13Z",
        "uploader": {"login": "github-actions[bot]", "id": 41898282, "type": "Bot"},
    }


RELEASE_JSON: dict[str, Any] = {
    "url": f"{REPO}/releases/157000001",
    "html_url": "https://github.com/kyma-project/btp-manager/releases/tag/1.2.0",
    "assets_url": f"{REPO}/releases/157000001/assets",
    "upload_url": "https://uploads.github.com/repos/kyma-project/btp-manager/releases/157000001/assets{?name,label}",
    "tarball_url": f"{REPO}/tarball/1.2.0",
    "zipball_url": f"{REPO}/zipball/1.2.0",
    "id": 157000001,
    "node_id": "RE_kwDOExample",
    "tag_name": "1.2.0",
    "target_commitish": "main",
    "name": "1.2.0",
    "body": f"## What's Changed\n* fix: things by @dev in #123\n\n{DRAFT_MARKER}\n",
    "draft": False,
    "prerelease": False,
    "immutable": True,
    "created_at": "2024-05-02T10:00:00Z",
    "published_at": "2024-05-02T10:20:00Z",
    "author": {"login": "github-actions[bot]", "id": 41898282, "type": "Bot"},
    "assets": [
        asset_json(1001, "btp-manager.yaml", label="Manifest"),
        asset_json(1002, "btp-operator-default-cr.yaml", state="starter"),
    ],
}

DRAFT_JSON: dict[str, Any] = {
    "url": f"{REPO}/releases/157000002",
    "html_url": "https://github.com/kyma-project/btp-manager/releases/tag/untagged-4f3c2a1b0e9d8c7b6a5f",
    "upload_url": "https://uploads.github.com/repos/kyma-project/btp-manager/releases/157000002/assets{?name,label}",
    "id": 157000002,
    "tag_name": "1.3.0",
    "target_commitish": "0123456789abcdef0123456789abcdef01234567",
    "name": None,
    "body": None,
    "draft": True,
    "prerelease": False,
    "created_at": "2024-06-01T08:00:00Z",
    "published_at": None,
    "assets": [],
}


# --- releases and assets ----------------------------------------------------------------------


def test_release_from_json() -> None:
    release = Release.from_json(RELEASE_JSON)
    assert release.id == 157000001
    assert release.tag_name == "1.2.0"
    assert release.name == "1.2.0"
    assert release.draft is False
    assert release.prerelease is False
    assert release.immutable is True
    assert release.target_commitish == "main"
    assert release.upload_url == RELEASE_JSON["upload_url"]
    assert release.html_url == RELEASE_JSON["html_url"]
    assert release.created_at == "2024-05-02T10:00:00Z"
    assert release.published_at == "2024-05-02T10:20:00Z"
    assert [a.name for a in release.assets] == ["btp-manager.yaml", "btp-operator-default-cr.yaml"]
    assert isinstance(release.assets, tuple)


def test_draft_from_json_with_nulls_and_no_immutable_field() -> None:
    draft = Release.from_json(DRAFT_JSON)
    assert draft.draft is True
    assert draft.name is None
    assert draft.body is None
    assert draft.published_at is None
    assert draft.immutable is False
    assert draft.assets == ()


def test_release_is_frozen_and_does_not_keep_the_dict() -> None:
    data = copy.deepcopy(RELEASE_JSON)
    release = Release.from_json(data)
    data["assets"].clear()
    data["tag_name"] = "9.9.9"
    assert release.tag_name == "1.2.0"
    assert len(release.assets) == 2
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        release.draft = True  # type: ignore[misc]


@pytest.mark.parametrize("missing", ["id", "tag_name", "upload_url"])
def test_release_without_required_field_fails(missing: str) -> None:
    data = copy.deepcopy(RELEASE_JSON)
    del data[missing]
    with pytest.raises(KeyError):
        Release.from_json(data)


def test_asset_from_json() -> None:
    asset = ReleaseAsset.from_json(asset_json(1001, "btp-manager.yaml", label="Manifest"))
    assert asset == ReleaseAsset(
        id=1001,
        name="btp-manager.yaml",
        label="Manifest",
        size=48213,
        state="uploaded",
        content_type="application/x-yaml",
        digest="sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae",
        browser_download_url="https://github.com/kyma-project/btp-manager/releases/download/1.2.0/btp-manager.yaml",
        url=f"{REPO}/releases/assets/1001",
    )


def test_asset_without_optional_fields() -> None:
    asset = ReleaseAsset.from_json({"id": "7", "name": "x.yaml"})
    assert asset.id == 7
    assert asset.label is None
    assert asset.digest is None
    assert asset.size == 0
    assert asset.state == ""
    assert not asset.complete


@pytest.mark.parametrize(
    ("state", "complete"), [("uploaded", True), ("starter", False), ("open", False), ("new", False)]
)
def test_asset_complete_only_when_uploaded(state: str, complete: bool) -> None:
    assert ReleaseAsset.from_json(asset_json(1, "a.yaml", state=state)).complete is complete


def test_release_asset_lookup_by_name() -> None:
    release = Release.from_json(RELEASE_JSON)
    found = release.asset("btp-operator-default-cr.yaml")
    assert found is not None
    assert found.id == 1002
    assert not found.complete
    assert release.asset("btp-manager.yaml").id == 1001  # type: ignore[union-attr]
    assert release.asset("missing.yaml") is None
    assert release.asset("BTP-MANAGER.YAML") is None
    assert Release.from_json(DRAFT_JSON).asset("btp-manager.yaml") is None


def test_created_by_btp_release_marker() -> None:
    assert Release.from_json(RELEASE_JSON).created_by_btp_release is True
    assert Release.from_json(DRAFT_JSON).created_by_btp_release is False
    foreign = dict(DRAFT_JSON, body="## What's Changed\n* created by hand")
    assert Release.from_json(foreign).created_by_btp_release is False
    assert DRAFT_MARKER.startswith("<!--")
    assert DRAFT_MARKER.endswith("-->")


# --- repository -------------------------------------------------------------------------------

REPOSITORY_JSON: dict[str, Any] = {
    "id": 566014343,
    "node_id": "R_kgDOExample",
    "name": "btp-manager",
    "full_name": "kyma-project/btp-manager",
    "private": False,
    "owner": {"login": "kyma-project", "id": 39153523, "type": "Organization"},
    "html_url": "https://github.com/kyma-project/btp-manager",
    "default_branch": "main",
    "archived": False,
}


def test_repository_without_permissions_has_unknown_push() -> None:
    repo = Repository.from_json(REPOSITORY_JSON)
    assert repo.full_name == "kyma-project/btp-manager"
    assert repo.default_branch == "main"
    assert repo.private is False
    assert repo.html_url == "https://github.com/kyma-project/btp-manager"
    assert repo.can_push is None


@pytest.mark.parametrize(
    ("permissions", "can_push"),
    [
        ({"admin": False, "maintain": False, "push": True, "triage": True, "pull": True}, True),
        ({"admin": False, "maintain": False, "push": False, "triage": False, "pull": True}, False),
        ({"admin": True, "maintain": True, "push": False, "triage": True, "pull": True}, True),
        ({}, None),
        ({"pull": True}, None),
        (None, None),
    ],
)
def test_repository_can_push(permissions: dict[str, bool] | None, can_push: bool | None) -> None:
    repo = Repository.from_json(dict(REPOSITORY_JSON, permissions=permissions))
    assert repo.can_push is can_push


def test_repository_defaults() -> None:
    repo = Repository.from_json({"full_name": "o/r", "private": True, "default_branch": None})
    assert repo.default_branch == "main"
    assert repo.private is True
    assert repo.html_url == ""


# --- refs, statuses, check runs ---------------------------------------------------------------


def test_git_ref_from_json() -> None:
    ref = GitRef.from_json(
        {
            "ref": "refs/tags/1.2.0",
            "node_id": "REF_kwDOExample",
            "url": f"{REPO}/git/refs/tags/1.2.0",
            "object": {"sha": "aa218f56b14c9653891f9e74264a383fa43fefbd", "type": "commit", "url": "x"},
        }
    )
    assert ref == GitRef("refs/tags/1.2.0", "aa218f56b14c9653891f9e74264a383fa43fefbd", "commit")
    assert ref.short_name == "1.2.0"
    assert GitRef("refs/heads/feature/x", "s", "commit").short_name == "feature/x"


COMBINED_STATUS_JSON: dict[str, Any] = {
    "state": "pending",
    "sha": "6dcb09b5b57875f334f61aebed695e2e4193db5e",
    "total_count": 2,
    "statuses": [
        {
            "url": f"{REPO}/statuses/6dcb09b5",
            "id": 1,
            "state": "success",
            "description": "Build succeeded",
            "target_url": "https://prow.example.com/view/1",
            "context": "post-btp-manager-module-build",
            "created_at": "2024-05-02T10:00:00Z",
        },
        {
            "url": f"{REPO}/statuses/6dcb09b5",
            "id": 2,
            "state": "pending",
            "description": None,
            "target_url": None,
            "context": "post-btp-manager-build",
            "created_at": "2024-05-02T10:01:00Z",
        },
    ],
    "repository": {"full_name": "kyma-project/btp-manager"},
}


def test_combined_status_from_json_and_get() -> None:
    status = CombinedStatus.from_json(COMBINED_STATUS_JSON)
    assert status.sha == "6dcb09b5b57875f334f61aebed695e2e4193db5e"
    assert status.state == "pending"
    build = status.get("post-btp-manager-module-build")
    assert build == CommitStatus(
        context="post-btp-manager-module-build",
        state="success",
        description="Build succeeded",
        target_url="https://prow.example.com/view/1",
    )
    other = status.get("post-btp-manager-build")
    assert other is not None
    assert other.state == "pending"
    assert other.description is None
    assert other.target_url is None
    assert status.get("unknown-context") is None
    assert status.get("post-btp-manager") is None


def test_combined_status_without_statuses() -> None:
    status = CombinedStatus.from_json({"sha": "abc", "statuses": []})
    assert status.state == "pending"
    assert status.statuses == ()
    assert status.get("anything") is None


def test_check_run_from_json() -> None:
    run = CheckRun.from_json(
        {
            "id": 4,
            "head_sha": "ce587453ced02b1526dfb4cb910479d431683101",
            "name": "build-image / build",
            "status": "in_progress",
            "conclusion": None,
            "html_url": "https://github.com/kyma-project/btp-manager/runs/4",
            "started_at": "2024-05-02T10:00:00Z",
            "completed_at": None,
        }
    )
    assert run == CheckRun(
        id=4,
        name="build-image / build",
        status="in_progress",
        conclusion=None,
        html_url="https://github.com/kyma-project/btp-manager/runs/4",
    )
    done = CheckRun.from_json({"id": 5, "name": "e2e", "status": "completed", "conclusion": "failure"})
    assert done.conclusion == "failure"
    assert done.html_url is None
