"""Replacing a release: the preview lists exactly what would go and changes nothing; the real thing
deletes every release of the version and its tag, waits until the tag is really gone, and lets the
version be released again; a published immutable release is refused."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from btp_release.errors import AlreadyExists, Conflict
from btp_release.localservices.registry import registry_binary
from btp_release.module import read_module
from btp_release.oci import RegistryClient
from btp_release.pipeline import PROVENANCE_ASSET, STAGES, ReleasePipeline
from btp_release.testing import Fault, GitHubSimulator, LocalRegistry
from btp_release.testing.release import commit_checkout, prepare_example_module

from .pipeline_support import EXAMPLE, VERSION, Rig

pytestmark = pytest.mark.skipif(registry_binary() is None, reason="docker-registry is not installed")

TAG_PATH = f"/repos/kyma-project/btp-manager/git/ref/tags/{VERSION}"
MUTATING = ("POST", "PATCH", "PUT", "DELETE")
UP_TO_UPLOAD = ("validate", "draft", "build", "upload")


@pytest.fixture
def rig(tmp_path: Path, docker_daemon: Any) -> Iterator[Rig]:
    with GitHubSimulator(owner="kyma-project", repo="btp-manager") as sim, LocalRegistry() as registry:
        module_dir = prepare_example_module(EXAMPLE, tmp_path / "module")
        yield Rig(sim, registry, module_dir, tmp_path / "work", docker_daemon)


def github_state(rig: Rig) -> dict[str, Any]:
    """Everything GitHub holds about releases and tags (ids, drafts, assets with content digests)."""
    return {
        "releases": [
            (r.id, r.tag_name, r.draft, r.immutable, r.target_commitish, r.body) for r in rig.sim.releases()
        ],
        "assets": {
            r.id: [(a.id, a.name, a.state, a.digest) for a in rig.sim.assets(r.id)]
            for r in rig.sim.releases()
        },
        "refs": [(r.ref, r.sha) for r in rig.sim.refs()],
    }


def registry_state(rig: Rig, pipeline: ReleasePipeline) -> list[str | None]:
    with RegistryClient(rig.registry.host) as client:
        found = [client.head_manifest(ref) for ref in (pipeline.ctx.module_ref, pipeline.ctx.image_ref)]
    return [f.digest if f else None for f in found]


def ours(rig: Rig) -> list[Any]:
    return [r for r in rig.sim.releases() if r.tag_name == VERSION]


def tags(rig: Rig) -> list[tuple[str, str]]:
    return [(r.ref, r.sha) for r in rig.sim.refs() if r.ref.startswith("refs/tags/")]


def deletions(rig: Rig) -> list[str]:
    """What a replace should list, from the simulator: every release of the version (newest first,
    as GitHub lists them), then the tag."""
    lines = []
    for release in ours(rig):
        kind = "draft" if release.draft else "published release"
        names = ", ".join(a.name for a in rig.sim.assets(release.id)) or "no assets"
        lines.append(f"would delete {kind} {VERSION} (id {release.id}, {names})")
    for ref, sha in tags(rig):
        if ref == f"refs/tags/{VERSION}":
            lines += [
                f"would delete tag {VERSION} (at {sha[:12]})",
                f"would wait until tag {VERSION} is gone",
            ]
    return lines


def hand_made_draft(rig: Rig) -> int:
    """A second draft for the version, created by someone in the web UI (no btp-release marker)."""
    response = httpx.post(
        f"{rig.sim.api_url}/repos/kyma-project/btp-manager/releases",
        headers={"Authorization": f"Bearer {rig.sim.token}", "User-Agent": "test"},
        json={"tag_name": VERSION, "target_commitish": rig.sim.head_sha, "draft": True, "name": "by hand"},
    )
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def reference_digest(rig: Rig, commit: str) -> str:
    with rig.pipeline(runner=None) as reference:
        return reference.ctx.build_artifact(commit)[1].digest


def assert_released_once(rig: Rig, pipeline: ReleasePipeline) -> None:
    releases = ours(rig)
    assert [(r.draft, r.target_commitish) for r in releases] == [(False, rig.sim.head_sha)]
    assert tags(rig) == [(f"refs/tags/{VERSION}", rig.sim.head_sha)]
    names = sorted(a.name for a in rig.sim.assets(releases[0].id))
    assert names == sorted([*pipeline.ctx.assets_to_render(), PROVENANCE_ASSET])


# -- the preview -----------------------------------------------------------------------------------


@pytest.mark.parametrize("stage", ["nothing", "draft", "published"])
def test_the_preview_lists_exactly_what_would_be_deleted_and_changes_nothing(rig: Rig, stage: str) -> None:
    if stage != "nothing":
        with rig.pipeline() as release:
            release.run(UP_TO_UPLOAD if stage == "draft" else STAGES)
        assert [r.draft for r in ours(rig)] == [stage == "draft"]
    expected = deletions(rig)
    assert len(expected) == (0 if stage == "nothing" else 3)
    rig.sim.delete_ref_lag = 2  # a real deletion would have to wait; a preview must not
    before, started = github_state(rig), rig.clock()
    rig.sim.clear_requests()
    with rig.pipeline() as pipeline:
        registry_before = registry_state(rig, pipeline)
        result = pipeline.replace(dry_run=True)
        assert registry_state(rig, pipeline) == registry_before
    assert result.stage == "replace"
    assert result.status == "planned"
    assert [a for a in result.actions if a.startswith("would ")] == expected
    if stage == "nothing":
        assert result.actions == (f"no release and no tag {VERSION}: nothing to replace",)
    assert github_state(rig) == before
    assert [r.method for r in rig.sim.requests if r.method in MUTATING] == []
    assert rig.clock() == started  # it did not wait either


def test_the_preview_lists_a_hand_made_duplicate_draft_too(rig: Rig) -> None:
    with rig.pipeline() as release:
        release.run(UP_TO_UPLOAD)
    extra = hand_made_draft(rig)
    before = github_state(rig)
    with rig.pipeline() as pipeline:
        result = pipeline.replace()  # dry_run is the default
    planned = [a for a in result.actions if a.startswith("would ")]
    assert planned == deletions(rig)
    assert sum(f"(id {extra}, no assets)" in a for a in planned) == 1
    assert github_state(rig) == before


# -- the real thing --------------------------------------------------------------------------------


@pytest.mark.parametrize("stage", ["draft", "published"])
def test_replace_deletes_every_release_and_the_tag_then_the_version_is_released_again(
    rig: Rig, stage: str
) -> None:
    with rig.pipeline() as release:
        release.run(UP_TO_UPLOAD if stage == "draft" else STAGES)
    extra = hand_made_draft(rig)
    assert len(ours(rig)) == 2
    planned = deletions(rig)
    rig.sim.delete_ref_lag = 3  # GitHub still shows a deleted tag for a while
    rig.sim.clear_requests()
    with rig.pipeline() as pipeline:
        registry_before = registry_state(rig, pipeline)
        result = pipeline.replace(dry_run=False)
        assert registry_state(rig, pipeline) == registry_before  # registry tags are kept
    assert result.status == "changed"
    assert list(result.actions[: len(planned)]) == [a.removeprefix("would ") for a in planned]
    assert any(f"(id {extra}," in a for a in result.actions)
    assert ours(rig) == []
    assert tags(rig) == []
    # it returned only once GitHub answered 404 for the tag, after the lagging answers
    requests = rig.sim.requests
    deleted_at = next(
        i for i, r in enumerate(requests) if r.method == "DELETE" and r.path.endswith(f"/refs/tags/{VERSION}")
    )
    polls = [r.status for r in requests[deleted_at:] if r.method == "GET" and r.path == TAG_PATH]
    assert polls[-1] == 404
    assert len(polls) == 4
    assert set(polls[:-1]) <= {200, 304}

    with rig.pipeline() as again:
        results = again.run()
        provenance = again.provenance()
    assert results[-1].status == "changed"
    assert_released_once(rig, again)
    assert provenance is not None
    assert provenance.e2e_passed() == ["scripted"]
    assert registry_state(rig, again) == [provenance.module.digest, provenance.image.digest]


def test_the_same_pipeline_can_release_again_after_replacing(rig: Rig) -> None:
    with rig.pipeline() as pipeline:
        pipeline.run()
        first = ours(rig)[0].id
        pipeline.replace(dry_run=False)
        pipeline.run()
    assert [r.id for r in ours(rig)] != [first]
    assert_released_once(rig, pipeline)


def test_replace_of_nothing_changes_nothing(rig: Rig) -> None:
    rig.sim.clear_requests()
    with rig.pipeline() as pipeline:
        result = pipeline.replace(dry_run=False)
    assert result.status == "unchanged"
    assert result.actions == (f"no release and no tag {VERSION}: nothing to replace",)
    assert [r.method for r in rig.sim.requests if r.method in MUTATING] == []


@pytest.mark.parametrize("dry_run", [True, False])
def test_a_published_immutable_release_is_refused_and_nothing_is_deleted(rig: Rig, dry_run: bool) -> None:
    rig.sim.set_immutable(True)
    with rig.pipeline() as release:
        release.run(UP_TO_UPLOAD)
        hand_made_draft(rig)  # before publishing: afterwards GitHub refuses any release for the tag
        release.run()
    assert sorted(r.draft for r in ours(rig)) == [False, True]
    [published] = [r for r in ours(rig) if not r.draft]
    assert published.immutable
    before = github_state(rig)
    rig.sim.clear_requests()
    with rig.pipeline() as pipeline, pytest.raises(Conflict) as refused:
        pipeline.replace(dry_run=dry_run)
    assert not isinstance(refused.value, AlreadyExists)
    assert refused.value.exit_code == 4
    assert "immutable" in refused.value.message
    assert refused.value.hint is not None
    assert "new version" in refused.value.hint
    assert github_state(rig) == before
    assert [r.method for r in rig.sim.requests if r.method in MUTATING] == []


def test_a_draft_in_a_repository_with_immutable_releases_can_be_replaced(rig: Rig) -> None:
    rig.sim.set_immutable(True)
    with rig.pipeline() as release:
        release.run(UP_TO_UPLOAD)
    with rig.pipeline() as pipeline:
        pipeline.replace(dry_run=False)
    assert ours(rig) == []
    assert tags(rig) == []
    with rig.pipeline() as again:
        again.run()
    assert_released_once(rig, again)
    assert [r.immutable for r in ours(rig)] == [True]


# -- replacing with other content ------------------------------------------------------------------


def test_after_replace_changed_content_needs_overwrite_and_is_then_recorded(rig: Rig) -> None:
    with rig.pipeline() as release:
        release.run()
        old = release.provenance()
    assert old is not None
    with rig.pipeline() as pipeline:
        pipeline.replace(dry_run=False)
    manifest = rig.module_dir / "manifests" / "btp-manager.yaml"
    manifest.write_bytes(manifest.read_bytes() + b"# changed after the release was replaced\n")
    rig.sim.add_commit("change the manifest", sha=commit_checkout(rig.module_dir))  # committed and pushed
    new_digest = reference_digest(rig, rig.sim.head_sha)
    assert new_digest != old.module.digest

    with rig.pipeline() as plain, pytest.raises(AlreadyExists) as refused:
        plain.run()
    assert str(plain.ctx.module_ref) in refused.value.message
    assert new_digest in refused.value.message
    assert "overwrite" in (refused.value.hint or "")
    assert registry_state(rig, plain) == [old.module.digest, old.image.digest]  # nothing pushed over it
    assert [r.draft for r in ours(rig)] == [True]

    with rig.pipeline(overwrite=True) as forced:
        forced.run()
        provenance = forced.provenance()
    assert provenance is not None
    assert provenance.module.digest == new_digest
    assert provenance.commit == rig.sim.head_sha
    if rig.daemon is not None:  # another commit: the image is built again from it
        assert provenance.image.digest != old.image.digest
    assert provenance.e2e_passed() == ["scripted"]
    assert registry_state(rig, forced) == [new_digest, provenance.image.digest]
    assert_released_once(rig, forced)
    [release] = ours(rig)
    [asset] = [a for a in rig.sim.assets(release.id) if a.name == "btp-manager.yaml"]
    with RegistryClient(rig.registry.host) as client:
        module = read_module(client, forced.ctx.module_ref.repository, new_digest)
    assert rig.sim.uploaded_bytes(asset.id) == module.raw_manifest
    assert b"# changed after the release was replaced\n" in rig.sim.uploaded_bytes(asset.id)
    assert rig.runners[-1].installed == [new_digest]


def test_after_replace_the_same_pipeline_releases_what_ref_points_at_now(rig: Rig) -> None:
    """Replace removes what pinned the commit (draft and tag), so the next run resolves ``ref`` again
    (another commit is other content in both registry tags: ``overwrite``)."""
    with rig.pipeline(overwrite=True) as pipeline:
        pipeline.run()
        old_commit = rig.sim.head_sha
        new_commit = rig.new_commit("fix found after the release")
        pipeline.replace(dry_run=False)
        pipeline.run()
        provenance = pipeline.provenance()
    assert provenance is not None
    assert provenance.commit == new_commit != old_commit
    assert_released_once(rig, pipeline)
    assert provenance.module.digest == reference_digest(rig, new_commit)
    assert registry_state(rig, pipeline) == [provenance.module.digest, provenance.image.digest]


def test_replace_survives_deletions_applied_with_the_answer_lost(rig: Rig) -> None:
    with rig.pipeline() as release:
        release.run(UP_TO_UPLOAD)
    hand_made_draft(rig)
    for path in (r"/releases/\d+$", rf"/git/refs/tags/{VERSION}$"):
        rig.sim.add_fault(Fault("DELETE", path, "reset_after"))
    with rig.pipeline() as pipeline:
        result = pipeline.replace(dry_run=False)
    assert rig.sim.pending_faults() == []
    assert result.status == "changed"
    assert ours(rig) == []
    assert tags(rig) == []
