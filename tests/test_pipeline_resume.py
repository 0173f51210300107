"""Crash and resume: a release interrupted at any point is finished by a fresh run, exactly once.

The first run "dies" at a chosen point: a :class:`Crash` (a ``BaseException``, so no retry and no
``except Exception`` swallows it, as when the process is killed) is raised at the n-th HTTP request
matching a method and URL, before it is sent, half-way through its body, or after its response came
back (the server did it; the client never learned); or right after a stage finished; or the
simulator breaks the connection after applying a request. Then a new pipeline — as a new process,
on another machine (fresh work directory) — runs the whole release, which must end with exactly one
published release, one tag, each asset once, the tested digests in the registry and in the
provenance, and E2E on exactly the module digest a clean build gives.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import attrs
import httpx
import pytest

from btp_release.errors import Transient
from btp_release.localservices.registry import registry_binary
from btp_release.oci import Reference, RegistryClient
from btp_release.pipeline import PROVENANCE_ASSET, Provenance, StageResult
from btp_release.pipeline.stages import REVISION_LABEL
from btp_release.testing import Fault, GitHubSimulator, LocalRegistry
from btp_release.testing.release import ScriptedRunner, prepare_example_module

from .pipeline_support import EXAMPLE, VERSION, Rig, pipeline_with_transports

pytestmark = pytest.mark.skipif(registry_binary() is None, reason="docker-registry is not installed")

ASSETS = (
    "template.yaml",
    "template_control_plane.yaml",
    "btp-manager.yaml",
    "btp-operator-default-cr.yaml",
    PROVENANCE_ASSET,
)
MUTATING = ("POST", "PATCH", "PUT", "DELETE")


class Crash(BaseException):
    """The process died here (a ``BaseException``: retries and ``except Exception`` let it through)."""


@attrs.frozen
class CrashAt:
    """Die at the ``nth`` request with ``method`` whose full URL matches ``url`` (``re.search``):
    ``before`` it is sent, ``midway`` through its body (half the first chunk went out), or ``after``
    its response arrived."""

    method: str
    url: str
    nth: int = 1
    when: Literal["before", "midway", "after"] = "before"


class _CutBody(httpx.SyncByteStream):
    def __init__(self, inner: httpx.SyncByteStream) -> None:
        self._inner = inner

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._inner:
            yield chunk[: max(len(chunk) // 2, 1)]
            raise Crash("crashed half-way through sending the body")


class CrashingTransport(httpx.BaseTransport):
    """An ``httpx`` transport that raises :class:`Crash` at one :class:`CrashAt` point."""

    def __init__(self, point: CrashAt | None) -> None:
        self.point = point
        self.seen = 0
        self.fired = False
        self._inner = httpx.HTTPTransport()

    def _hit(self, request: httpx.Request) -> bool:
        point = self.point
        if point is None or self.fired or request.method != point.method:
            return False
        if not re.search(point.url, str(request.url)):
            return False
        self.seen += 1
        self.fired = self.seen == point.nth
        return self.fired

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        hit = self._hit(request)
        when = self.point.when if self.point else None
        if hit and when == "before":
            raise Crash(f"crashed before {request.method} {request.url}")
        if hit and when == "midway":
            assert isinstance(request.stream, httpx.SyncByteStream)
            request.stream = _CutBody(request.stream)
        response = self._inner.handle_request(request)
        if hit and when == "after":
            response.read()
            response.close()
            raise Crash(f"crashed after {request.method} {request.url} answered {response.status_code}")
        return response

    def close(self) -> None:
        self._inner.close()


# URLs (full, query included) of the requests a release makes.
DRAFT = r"/releases$"
TAG = r"/git/refs$"
UPLOAD = r"/assets\?name=(?!release-manifest)"  # the four rendered assets
PROVENANCE = r"/assets\?name=release-manifest\.json$"  # first upload (build)
PROVENANCE_TEMP = r"/assets\?name=release-manifest\.json\.btp-release-tmp$"  # replacement (E2E)
ASSET = r"/releases/assets/\d+$"  # delete / rename an asset
RELEASE = r"/releases/\d+$"  # update (publish) a release
MODULE_BLOB = r"/btp-operator/blobs/uploads/"
MODULE_MANIFEST = r"/btp-operator/manifests/v1\.2\.0$"


@attrs.frozen
class Point:
    """One interruption of the first run, and what the first run ends with (``None``: completes)."""

    name: str
    github: CrashAt | None = None
    registry: CrashAt | None = None
    after_stage: str | None = None
    faults: tuple[Fault, ...] = ()
    arm_after: str | None = None  # add ``faults`` once this stage finished (None: from the start)
    outcome: type[BaseException] | None = Crash
    tested_before: bool = False  # E2E's verdict was recorded before the interruption (or no crash)


POINTS = [
    *(Point(f"after-stage-{s}", after_stage=s) for s in ("validate", "draft", "build", "upload", "await")),
    Point("after-stage-e2e", after_stage="e2e", tested_before=True),
    Point("validate-push-probe-never-cancelled", registry=CrashAt("POST", r"/blobs/uploads/$", when="after")),
    Point("draft-created-response-lost", github=CrashAt("POST", DRAFT, when="after")),
    Point("between-draft-and-tag", github=CrashAt("POST", TAG)),
    Point("tag-created-response-lost", github=CrashAt("POST", TAG, when="after")),
    Point("draft-created-connection-reset", faults=(Fault("POST", DRAFT, "reset_after"),), outcome=None),
    Point("draft-created-502", faults=(Fault("POST", DRAFT, "status_after", status=502),), outcome=None),
    Point("tag-created-connection-reset", faults=(Fault("POST", TAG, "reset_after"),), outcome=None),
    Point("module-some-blobs-pushed", registry=CrashAt("PUT", MODULE_BLOB, nth=2, when="after")),
    Point("module-blobs-pushed-before-manifest", registry=CrashAt("PUT", MODULE_MANIFEST)),
    Point("module-pushed-before-image-build", registry=CrashAt("PUT", MODULE_MANIFEST, when="after")),
    Point("image-pushed-before-provenance-upload", github=CrashAt("POST", PROVENANCE)),
    Point("provenance-uploaded-response-lost", github=CrashAt("POST", PROVENANCE, when="after")),
    Point("provenance-upload-cut-midway", github=CrashAt("POST", PROVENANCE, when="midway")),
    Point("upload-after-two-of-four-assets", github=CrashAt("POST", UPLOAD, nth=3)),
    Point("upload-cut-midway-leaves-open-asset", github=CrashAt("POST", UPLOAD, nth=3, when="midway")),
    Point("upload-applied-response-lost", github=CrashAt("POST", UPLOAD, nth=3, when="after")),
    Point(
        "upload-applied-connection-reset",
        faults=(Fault("POST", r"/releases/\d+/assets$", "reset_after"),),
        arm_after="build",
        outcome=None,
    ),
    Point(
        "upload-connection-reset-midway",
        faults=(Fault("POST", r"/releases/\d+/assets$", "reset"),),
        arm_after="build",
        outcome=None,
    ),
    Point("e2e-verdict-never-uploaded", github=CrashAt("POST", PROVENANCE_TEMP)),
    Point(
        "e2e-verdict-upload-fails",
        faults=(Fault("POST", r"/releases/\d+/assets$", "status", times=3, status=502),),
        arm_after="await",
        outcome=Transient,
    ),
    Point("e2e-verdict-upload-cut-midway", github=CrashAt("POST", PROVENANCE_TEMP, when="midway")),
    Point("e2e-verdict-staged-response-lost", github=CrashAt("POST", PROVENANCE_TEMP, when="after")),
    Point("e2e-verdict-old-manifest-deleted", github=CrashAt("DELETE", ASSET, when="after")),
    Point("e2e-verdict-rename-lost", github=CrashAt("PATCH", ASSET, when="after"), tested_before=True),
    Point(
        "publish-applied-response-lost", github=CrashAt("PATCH", RELEASE, when="after"), tested_before=True
    ),
    Point(
        "publish-applied-connection-reset",
        faults=(Fault("PATCH", RELEASE, "reset_after"),),
        outcome=None,
        tested_before=True,
    ),
]


@pytest.fixture
def rig(tmp_path: Path, docker_daemon: Any) -> Iterator[Rig]:
    with GitHubSimulator(owner="kyma-project", repo="btp-manager") as sim, LocalRegistry() as registry:
        module_dir = prepare_example_module(EXAMPLE, tmp_path / "module")
        yield Rig(sim, registry, module_dir, tmp_path / "work", docker_daemon)


def reference_module_digest(rig: Rig, commit: str) -> str:
    """The module digest of an uninterrupted build of ``commit`` (deterministic)."""
    with rig.pipeline(runner=None) as reference:
        return reference.ctx.build_artifact(commit)[1].digest


def assert_released_exactly_once(
    rig: Rig, provenance: Provenance | None, module_digest: str, commit: str
) -> None:
    releases = [r for r in rig.sim.releases() if r.tag_name == VERSION]
    assert [(r.draft, r.target_commitish) for r in releases] == [(False, commit)]
    tags = [(r.ref, r.sha) for r in rig.sim.refs() if r.ref.startswith("refs/tags/")]
    assert tags == [(f"refs/tags/{VERSION}", commit)]
    assets = rig.sim.assets(releases[0].id)
    assert sorted(a.name for a in assets) == sorted(ASSETS)  # once each, no *.btp-release-tmp
    assert {a.state for a in assets} == {"uploaded"}
    assert provenance is not None
    assert (provenance.version, provenance.commit) == (VERSION, commit)
    assert provenance.module.digest == module_digest
    for asset in assets:
        if asset.name != PROVENANCE_ASSET:
            assert asset.digest == provenance.assets[asset.name], asset.name
    with RegistryClient(rig.registry.host) as client:
        for record in (provenance.module, provenance.image):
            found = client.head_manifest(Reference.parse(record.reference))
            assert found is not None
            assert found.digest == record.digest, record.reference
        labels = client.image_labels(Reference.parse(provenance.image.reference))
    assert labels is not None
    assert labels[REVISION_LABEL] == commit
    assert provenance.e2e_passed() == ["scripted"]


def interrupt(rig: Rig, point: Point) -> ScriptedRunner:
    """The first run, interrupted at ``point``; returns its E2E runner."""
    github, registry = CrashingTransport(point.github), CrashingTransport(point.registry)
    stopped_after: list[str] = []

    def arm(stage: str | None) -> None:
        if point.arm_after == stage:
            for fault in point.faults:
                rig.sim.add_fault(fault)

    def on_result(result: StageResult) -> None:
        arm(result.stage)
        if result.stage == point.after_stage:
            stopped_after.append(result.stage)
            raise Crash(f"crashed after the {result.stage} stage")

    arm(None)
    with pipeline_with_transports(rig, github=github, registry=registry) as first:
        if point.outcome is None:
            first.run(on_result=on_result)
        else:
            with pytest.raises(point.outcome):
                first.run(on_result=on_result)
    # the interruption really happened where it was meant to
    assert github.fired == (point.github is not None)
    assert registry.fired == (point.registry is not None)
    assert stopped_after == ([point.after_stage] if point.after_stage else [])
    assert rig.sim.pending_faults() == []
    return rig.runners[-1]


def resume(
    rig: Rig, workdir: Path, docker: Any = None
) -> tuple[list[StageResult], Provenance | None, ScriptedRunner]:
    """A whole run by a new pipeline, as another job on another machine (nothing local survives);
    ``docker`` wraps its Docker client (see ``Rig.images``)."""
    rig.workdir = workdir
    rig.sim.clear_requests()
    with rig.pipeline(docker=docker) as resumed:
        results = resumed.run()
        provenance = resumed.provenance()
    assert [r.stage for r in results] == ["validate", "draft", "build", "upload", "await", "e2e", "publish"]
    return results, provenance, rig.runners[-1]


@pytest.mark.parametrize("point", POINTS, ids=lambda p: p.name)
def test_an_interrupted_release_is_finished_exactly_once_by_a_fresh_run(
    rig: Rig, point: Point, tmp_path: Path
) -> None:
    module_digest = reference_module_digest(rig, rig.sim.head_sha)
    first_runner = interrupt(rig, point)
    results, provenance, runner = resume(rig, tmp_path / "resumed")
    assert_released_exactly_once(rig, provenance, module_digest, rig.sim.head_sha)
    assert provenance is not None
    assert runner is not first_runner
    if point.tested_before or point.outcome is None:
        assert runner.installed == []
        assert [r.status for r in results if r.stage == "e2e"] == ["unchanged"]
        assert first_runner.installed == [module_digest]
    else:
        assert runner.installed == [module_digest]
        assert len(runner.requests) == 1
        assert runner.requests[0].module_reference.endswith("@" + module_digest)
        image = Reference.parse(provenance.image.reference).with_digest(str(provenance.image.digest))
        assert runner.requests[0].image_reference == str(image)
    if point.outcome is None:  # the first run finished despite the fault: nothing left to do
        assert {r.status for r in results} == {"unchanged"}
        assert not [r for r in rig.sim.requests if r.method in MUTATING]


MOVED = [
    "draft-created-response-lost",
    "between-draft-and-tag",
    "module-pushed-before-image-build",
    "after-stage-build",
    "upload-after-two-of-four-assets",
    "e2e-verdict-never-uploaded",
    "publish-applied-response-lost",
]


@pytest.mark.parametrize("point", [p for p in POINTS if p.name in MOVED], ids=lambda p: p.name)
def test_a_resumed_release_finishes_the_commit_it_started_with_after_main_moved(
    rig: Rig, point: Point, tmp_path: Path
) -> None:
    started = rig.sim.head_sha
    module_digest = reference_module_digest(rig, started)
    interrupt(rig, point)
    assert rig.sim.add_commit("merged while the release was interrupted") != started
    _, provenance, runner = resume(rig, tmp_path / "resumed")
    assert_released_exactly_once(rig, provenance, module_digest, started)
    assert runner.installed in ([], [module_digest])
