"""The whole release pipeline against the GitHub simulator, a real registry and a real Docker daemon."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from btp_release.errors import CheckFailed, Conflict, DigestMismatch, NotFound
from btp_release.localservices.registry import registry_binary
from btp_release.module import read_module
from btp_release.oci import Reference, RegistryClient
from btp_release.pipeline import PROVENANCE_ASSET, EarlierStageMissing
from btp_release.testing import GitHubSimulator, LocalRegistry
from btp_release.testing.release import prepare_example_module

from .pipeline_support import EXAMPLE, VERSION, Rig

pytestmark = pytest.mark.skipif(registry_binary() is None, reason="docker-registry is not installed")


@pytest.fixture
def rig(tmp_path: Path, docker_daemon: Any) -> Iterator[Rig]:
    with GitHubSimulator(owner="kyma-project", repo="btp-manager") as sim, LocalRegistry() as registry:
        module_dir = prepare_example_module(EXAMPLE, tmp_path / "module")
        yield Rig(sim, registry, module_dir, tmp_path / "work", docker_daemon)


def released_state(rig: Rig) -> dict[str, Any]:
    releases = [r for r in rig.sim.releases() if r.tag_name == VERSION]
    return {
        "releases": [
            (r.id, r.draft, sorted((a.name, a.digest) for a in rig.sim.assets(r.id))) for r in releases
        ],
        "tags": [(r.ref, r.sha) for r in rig.sim.refs() if r.ref == f"refs/tags/{VERSION}"],
    }


def test_a_full_release_publishes_exactly_what_was_built_and_tested(rig: Rig) -> None:
    with rig.pipeline() as release:
        results = release.run()
    assert [r.stage for r in results] == ["validate", "draft", "build", "upload", "await", "e2e", "publish"]
    assert [r.status for r in results] == [
        "unchanged",  # validate only looks
        "changed",
        "changed",
        "changed",
        "unchanged",  # await only waits
        "changed",
        "changed",
    ]
    published = [r for r in rig.sim.releases() if r.tag_name == VERSION]
    assert len(published) == 1 and not published[0].draft
    names = sorted(a.name for a in rig.sim.assets(published[0].id))
    assert names == sorted(
        [
            "template.yaml",
            "template_control_plane.yaml",
            "btp-manager.yaml",
            "btp-operator-default-cr.yaml",
            PROVENANCE_ASSET,
        ]
    )
    with rig.pipeline() as again:
        provenance = again.provenance()
    assert provenance is not None
    with RegistryClient(rig.registry.host) as client:
        module_ref = Reference.parse(provenance.module.reference)
        image_ref = Reference.parse(provenance.image.reference)
        assert client.head_manifest(module_ref).digest == provenance.module.digest  # type: ignore[union-attr]
        assert client.head_manifest(image_ref).digest == provenance.image.digest  # type: ignore[union-attr]
        content = read_module(client, module_ref.repository, module_ref.tag or "")
    # the manifest deploys the image that was built (kustomize IMG= of the original), nothing else changed
    original = (rig.module_dir / "manifests/btp-manager.yaml").read_bytes()
    assert content.raw_manifest == original.replace(
        b"europe-docker.pkg.dev/kyma-project/prod/btp-manager:1.2.0", provenance.image.reference.encode()
    )
    runner = rig.runners[0]
    assert [Reference.parse(r.module_reference).digest for r in runner.requests] == [provenance.module.digest]
    assert runner.requests[0].image_reference.endswith("@" + provenance.image.digest)  # type: ignore[union-attr]
    assert provenance.e2e_passed() == ["scripted"]


def test_a_second_run_changes_nothing(rig: Rig) -> None:
    with rig.pipeline() as release:
        release.run()
    before = released_state(rig)
    rig.sim.clear_requests()
    with rig.pipeline() as release:
        results = release.run()
    assert {r.status for r in results} == {"unchanged"}
    assert released_state(rig) == before
    assert not [r for r in rig.sim.requests if r.method in ("POST", "PATCH", "DELETE", "PUT")]


def test_a_failed_e2e_keeps_the_draft_and_a_passing_rerun_publishes(rig: Rig) -> None:
    with rig.pipeline(outcomes=[False]) as release, pytest.raises(CheckFailed, match="E2E scripted failed"):
        release.run()
    drafts = [r for r in rig.sim.releases() if r.tag_name == VERSION]
    assert [r.draft for r in drafts] == [True]
    with rig.pipeline() as release:
        provenance = release.provenance()
        assert provenance is not None and provenance.e2e["scripted"].result == "failed"
        with pytest.raises(CheckFailed, match="no E2E run passed"):
            release.publish()
        results = {r.stage: r.status for r in release.run()}
    assert results["build"] == "unchanged" and results["e2e"] == "changed" and results["publish"] == "changed"
    assert [r.draft for r in rig.sim.releases() if r.tag_name == VERSION] == [False]


def test_publish_refuses_a_module_tag_that_moved_after_the_tests(rig: Rig) -> None:
    with rig.pipeline() as release:
        release.run(stages=("validate", "draft", "build", "upload", "await", "e2e"))
        provenance = release.provenance()
    assert provenance is not None
    module = Reference.parse(provenance.module.reference)
    with RegistryClient(rig.registry.host) as client:
        # someone pushes other content over the tested tag
        other = client.push_files(module, [rig.module_dir / "sec-scanners-config.yaml"], "text/plain")[1]
    assert other.digest != provenance.module.digest
    with rig.pipeline() as release, pytest.raises(DigestMismatch, match="was built and recorded"):
        release.publish()
    assert [r.draft for r in rig.sim.releases() if r.tag_name == VERSION] == [True]


def test_publish_refuses_an_asset_that_differs_from_the_build(rig: Rig, tmp_path: Path) -> None:
    with rig.pipeline() as release:
        release.run(stages=("validate", "draft", "build", "upload", "await", "e2e"))
        draft = release.ctx.observe().release
        assert draft is not None
        changed = tmp_path / "template.yaml"
        changed.write_text("kind: Tampered\n")
        release.ctx.github.upload_asset(draft, changed, replace=True)
    with rig.pipeline() as release, pytest.raises(DigestMismatch, match=r"template\.yaml is sha256:"):
        release.publish()
    with rig.pipeline() as release:  # the upload stage puts the built content back; then it publishes
        results = {r.stage: r.status for r in release.run()}
    assert results["upload"] == "changed" and results["publish"] == "changed"


def test_the_next_version_is_tested_as_an_upgrade_from_the_latest_published_one(rig: Rig) -> None:
    with rig.pipeline("1.1.0") as release:
        release.run()
    with rig.pipeline("1.2.0") as release:
        release.run()
    first, second = rig.runners[0].requests[0], rig.runners[1].requests[0]
    assert first.upgrade_from is None
    assert second.upgrade_from is not None and second.upgrade_from.endswith(":v1.1.0")
    assert second.version == "1.2.0" and "@sha256:" in second.module_reference
    notes = next(r for r in rig.sim.releases() if r.tag_name == "1.2.0").body or ""
    assert "1.1.0" in notes  # release notes cover 1.1.0..1.2.0


@pytest.mark.parametrize("annotated", [False, True], ids=["lightweight", "annotated"])
def test_a_tag_made_by_hand_at_another_commit_is_not_adopted(rig: Rig, annotated: bool) -> None:
    old = rig.sim.head_sha
    rig.sim.add_commit("newer work")
    # git tag -a: the ref points at a tag object, whose commit is what counts
    rig.sim.create_tag(VERSION, old, message="by hand" if annotated else None)
    with rig.pipeline() as release, pytest.raises(Conflict, match=f"already exists at commit {old}"):
        release.validate()
    with rig.pipeline(ref=old) as release:  # asked for explicitly, the tagged commit is released
        release.run()
    published = next(r for r in rig.sim.releases() if r.tag_name == VERSION)
    assert not published.draft and published.target_commitish == old


def test_a_plan_shows_a_failure_a_later_stage_would_meet_instead_of_hiding_it(rig: Rig) -> None:
    # no Docker daemon used and no image in the registry: the build would stop, so the plan does
    rig.daemon = None
    with (
        rig.pipeline() as release,
        pytest.raises(NotFound, match="no Docker daemon is used to build it") as info,
    ):
        release.plan()
    assert not isinstance(info.value, EarlierStageMissing)
    assert not [r for r in rig.sim.releases() if r.tag_name == VERSION]


def test_validate_warns_about_foreign_registry_content_but_not_about_its_own(rig: Rig) -> None:
    with rig.pipeline() as release:
        release.run()
        release.replace(dry_run=False)  # the release and the tag go; the registry tags stay
    with rig.pipeline() as release:
        result = release.validate()
    assert result.warnings == ()  # this commit's module and image: the build stage adopts them
    assert sum("already holds this release's content" in a for a in result.actions) == 2
    with RegistryClient(rig.registry.host) as client:
        client.push_files(release.ctx.image_ref, [rig.module_dir / "sec-scanners-config.yaml"], "text/plain")
    with rig.pipeline() as release:
        result = release.validate()
    assert len(result.warnings) == 1 and "btp-manager:1.2.0 already exists" in result.warnings[0]
