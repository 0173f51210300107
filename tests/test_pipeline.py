"""The whole release pipeline against the GitHub simulator, a real registry and a real Docker daemon."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from btp_release.module import read_module
from btp_release.oci import Reference, RegistryClient
from btp_release.pipeline import PROVENANCE_ASSET
from btp_release.testing import GitHubSimulator, LocalRegistry
from btp_release.testing.registry import registry_binary
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
    assert content.raw_manifest == (rig.module_dir / "manifests/btp-manager.yaml").read_bytes()
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
