"""The example module in a real registry and an OCI layout, read by our code and by skopeo.

Against a real ``docker-registry`` on 127.0.0.1 (fresh per test, so tags never leak between tests):
push/read/verify round trip, idempotent re-push (no upload at all), typed conflict, the seed E2E's
consumer logic (``skopeo copy … dir:`` and the raw-manifest layer rule), token auth with a read-only
user, the snapshot layout being byte-identical to what is published, and the templates naming blobs
that the registry holds. Consumers: ``spec/kyma-module.md`` ("Consumers to stay compatible with").
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import attrs
import httpx
import pytest
import yaml

from btp_release.errors import AlreadyExists, PermissionDenied
from btp_release.localservices.registry import LocalRegistry, registry_binary
from btp_release.module import (
    HELM_CHART_MEDIA_TYPE,
    OCTET_STREAM,
    ModuleArtifact,
    ModuleInputs,
    ModuleSpec,
    build_module,
    local_blob_digest,
    push_module,
    read_module,
    select_install_layer,
    template_files,
    verify_module,
)
from btp_release.oci import Credentials, Manifest, OciLayout, Reference, RegistryClient, sha256_digest
from btp_release.retry import RetryPolicy
from btp_release.testing.token_server import DEFAULT_USERS, TokenServer
from tests.test_module_artifact import DEFAULT_CR, EXAMPLE, MANIFEST
from tests.test_module_example import example_spec

pytestmark = pytest.mark.skipif(
    registry_binary() is None, reason="docker-registry is not installed (apt-get install docker-registry)"
)
needs_skopeo = pytest.mark.skipif(shutil.which("skopeo") is None, reason="skopeo is not installed")

ROOT = Path(__file__).resolve().parents[1]
BASE_PATH = "kyma-project/prod/unsigned"
# <base>/component-descriptors/<component name>, spelled out rather than taken from ModuleSpec.
REPOSITORY = f"{BASE_PATH}/component-descriptors/kyma-project.io/module/btp-operator"
TAG = "v1.2.0"
WRITES = ("POST", "PUT", "PATCH", "DELETE")
PASSWORDS = {user.name: user.password for user in DEFAULT_USERS}


# -- helpers ----------------------------------------------------------------------------------------


class Recorder(httpx.BaseTransport):
    """Forwards to a real transport and records ``(method, path)`` of every request."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.requests: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            self.requests.append((request.method, request.url.path))
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()

    def writes(self) -> list[tuple[str, str]]:
        return [(method, path) for method, path in self.requests if method in WRITES]


def make_client(
    registry: LocalRegistry, transport: httpx.BaseTransport | None = None, user: str | None = None
) -> RegistryClient:
    return RegistryClient(
        registry.host,
        credentials=Credentials.basic(user, PASSWORDS[user]) if user else None,
        transport=transport,
        retry=RetryPolicy(attempts=2, jitter=0),
        timeout=httpx.Timeout(30.0, connect=5.0),
        sleeper=lambda _seconds: None,
    )


def skopeo(*args: str) -> bytes:
    done = subprocess.run(["skopeo", *args], capture_output=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    return done.stdout


def storage_state(root: Path) -> dict[str, tuple[int, int]]:
    """Every file of the registry's storage with its mtime and size: any write shows up here."""
    return {
        str(path.relative_to(root)): (path.stat().st_mtime_ns, path.stat().st_size)
        for path in root.rglob("*")
        if path.is_file()
    }


def changed_inputs(spec: ModuleSpec) -> ModuleInputs:
    """The example's inputs with one more document in the raw manifest: different content, same tag."""
    inputs = ModuleInputs.load(spec)
    assert inputs.manifest is not None
    extra = b"---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\n  namespace: kyma-system\n"
    return attrs.evolve(inputs, manifest=inputs.manifest + extra)


def seed_e2e_pick(directory: Path) -> Path:
    """The seed E2E's rule, re-implemented over a ``skopeo copy … dir:D`` result without our library:
    a ``application/gzip`` layer would be a Helm chart; otherwise the ``application/octet-stream``
    layer whose YAML contains ``kind: CustomResourceDefinition`` is the raw manifest."""
    manifest = json.loads((directory / "manifest.json").read_bytes())
    layers = manifest["layers"]
    assert [layer for layer in layers if layer["mediaType"] == HELM_CHART_MEDIA_TYPE] == []
    found = [
        directory / layer["digest"].removeprefix("sha256:")
        for layer in layers
        if layer["mediaType"] == OCTET_STREAM
        and b"kind: CustomResourceDefinition"
        in (directory / layer["digest"].removeprefix("sha256:")).read_bytes()
    ]
    assert len(found) == 1, f"expected exactly one raw-manifest layer, found {found}"
    return found[0]


def blob_location(descriptor: Mapping[str, Any]) -> tuple[str, str]:
    """Where lifecycle-manager looks for the local blobs: the last repository context, OCM ``urlPath``
    mapping → ``(registry host, <base path>/component-descriptors/<component name>)``."""
    component = descriptor["component"]
    context = component["repositoryContexts"][-1]
    assert (context["type"], context["componentNameMapping"]) == ("ociRegistry", "urlPath")
    host, _, base_path = context["baseUrl"].partition("/")
    return host, f"{base_path}/component-descriptors/{component['name']}"


# -- fixtures ---------------------------------------------------------------------------------------


@pytest.fixture
def registry() -> Iterator[LocalRegistry]:
    with LocalRegistry() as started:
        yield started


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def client(registry: LocalRegistry, recorder: Recorder) -> Iterator[RegistryClient]:
    with make_client(registry, recorder) as registry_client:
        yield registry_client


@pytest.fixture
def spec(registry: LocalRegistry) -> ModuleSpec:
    """The example module (1.2.0) whose descriptor names the local registry as its repository context."""
    return example_spec(registry_base_url=f"{registry.host}/{BASE_PATH}")


@pytest.fixture
def artifact(spec: ModuleSpec) -> ModuleArtifact:
    return build_module(spec, image_mismatch="error")


# -- the registry -----------------------------------------------------------------------------------


def test_push_read_verify_round_trip(
    client: RegistryClient, spec: ModuleSpec, artifact: ModuleArtifact
) -> None:
    assert (spec.module_repository, spec.component_version) == (REPOSITORY, TAG)
    pushed = push_module(client, REPOSITORY, TAG, artifact)
    assert pushed.digest == artifact.digest
    assert verify_module(client, REPOSITORY, TAG, artifact).digest == artifact.digest
    assert client.list_tags(REPOSITORY) == [TAG]

    for reference in (TAG, artifact.digest):
        content = read_module(client, REPOSITORY, reference)
        assert content.digest == artifact.digest
        assert content.manifest == artifact.manifest
        assert content.raw_manifest == MANIFEST == (EXAMPLE / "manifests" / "btp-manager.yaml").read_bytes()
        assert content.default_cr == DEFAULT_CR
        assert content.chart is None
        assert content.descriptor == artifact.descriptor
        assert content.descriptor["component"]["version"] == TAG


def test_repush_of_the_same_build_uploads_nothing(
    registry: LocalRegistry, client: RegistryClient, recorder: Recorder, spec: ModuleSpec
) -> None:
    first = push_module(client, REPOSITORY, TAG, build_module(spec))
    assert len(recorder.writes()) >= 4, "the first push uploads config, layers and manifest"
    before = storage_state(registry.storage)
    recorder.requests.clear()

    again = push_module(client, REPOSITORY, TAG, build_module(spec))  # a re-run rebuilds from the files

    assert again.digest == first.digest
    assert recorder.writes() == []
    assert recorder.requests, "the tag was looked up"
    assert {path for _, path in recorder.requests} == {f"/v2/{REPOSITORY}/manifests/{TAG}"}, "no blob request"
    assert storage_state(registry.storage) == before


def test_repush_of_different_content_conflicts_and_overwrite_replaces(
    registry: LocalRegistry,
    client: RegistryClient,
    recorder: Recorder,
    spec: ModuleSpec,
    artifact: ModuleArtifact,
) -> None:
    push_module(client, REPOSITORY, TAG, artifact)
    other = build_module(spec, changed_inputs(spec))
    assert other.digest != artifact.digest
    ref = Reference(registry.host, REPOSITORY, TAG)
    before = storage_state(registry.storage)
    recorder.requests.clear()

    with pytest.raises(AlreadyExists) as raised:
        push_module(client, REPOSITORY, TAG, other)

    message = str(raised.value)
    assert artifact.digest in message
    assert other.digest in message
    assert f"{REPOSITORY}:{TAG}" in message
    assert recorder.writes() == []
    assert storage_state(registry.storage) == before
    found = client.head_manifest(ref)
    assert found is not None
    assert found.digest == artifact.digest
    verify_module(client, REPOSITORY, TAG, artifact)

    replaced = push_module(client, REPOSITORY, TAG, other, overwrite=True)
    assert replaced.digest == other.digest
    found = client.head_manifest(ref)
    assert found is not None
    assert found.digest == other.digest
    assert read_module(client, REPOSITORY, TAG).raw_manifest == other.raw_manifest != MANIFEST
    with pytest.raises(AlreadyExists, match="expected"):
        verify_module(client, REPOSITORY, TAG, artifact)


# -- the original consumers: skopeo and the seed E2E's layer rule -----------------------------------


@needs_skopeo
def test_seed_e2e_finds_the_raw_manifest_with_skopeo_copy(
    registry: LocalRegistry, client: RegistryClient, artifact: ModuleArtifact, tmp_path: Path
) -> None:
    push_module(client, REPOSITORY, TAG, artifact)
    directory = tmp_path / "D"
    # Exactly the seed's command (spec/seed-pipeline.md, E2E), plus plain HTTP for the loopback registry.
    skopeo(
        "copy", "--src-tls-verify=false", f"docker://{registry.host}/{REPOSITORY}:{TAG}", f"dir:{directory}"
    )

    assert (directory / "manifest.json").read_bytes() == artifact.manifest.to_bytes()
    raw_manifest = seed_e2e_pick(directory)
    assert raw_manifest.read_bytes() == (EXAMPLE / "manifests" / "btp-manager.yaml").read_bytes()

    copied = Manifest.from_bytes((directory / "manifest.json").read_bytes())
    picked = select_install_layer(
        copied, lambda d: (directory / d.digest.removeprefix("sha256:")).read_bytes()
    )
    assert picked is not None
    assert picked[0] == "raw-manifest"
    assert picked[1].digest.removeprefix("sha256:") == raw_manifest.name
    from_registry = select_install_layer(artifact.manifest, lambda d: client.read_blob(REPOSITORY, d))
    assert from_registry == picked


@needs_skopeo
def test_skopeo_inspect_raw_returns_the_pushed_manifest_bytes(
    registry: LocalRegistry, client: RegistryClient, artifact: ModuleArtifact
) -> None:
    pushed = push_module(client, REPOSITORY, TAG, artifact)
    raw = skopeo("inspect", "--tls-verify=false", "--raw", f"docker://{registry.host}/{REPOSITORY}:{TAG}")
    assert raw == artifact.manifest.to_bytes()
    assert sha256_digest(raw) == pushed.digest == artifact.digest


# -- token auth -------------------------------------------------------------------------------------


@pytest.fixture
def token_registry() -> Iterator[LocalRegistry]:
    with TokenServer() as tokens, LocalRegistry(token_auth=tokens) as started:
        yield started


def test_token_auth_push_and_read_only_user(token_registry: LocalRegistry) -> None:
    spec = example_spec(registry_base_url=f"{token_registry.host}/{BASE_PATH}")
    artifact = build_module(spec)
    ref = Reference(token_registry.host, REPOSITORY, TAG)

    with make_client(token_registry, user="reader") as reader:
        with pytest.raises(PermissionDenied):
            push_module(reader, REPOSITORY, TAG, artifact)
        assert reader.head_manifest(ref) is None
        assert reader.list_tags(REPOSITORY) == []
        assert [d for d in artifact.blobs if reader.blob_exists(REPOSITORY, d)] == []

    with make_client(token_registry, user="ci") as ci:
        assert push_module(ci, REPOSITORY, TAG, artifact).digest == artifact.digest
        assert verify_module(ci, REPOSITORY, TAG, artifact).digest == artifact.digest

    with make_client(token_registry, user="reader") as reader:
        # Pull is enough to read, verify, and confirm that a re-run has nothing to push.
        assert read_module(reader, REPOSITORY, TAG).raw_manifest == MANIFEST
        assert verify_module(reader, REPOSITORY, TAG, artifact).digest == artifact.digest
        assert push_module(reader, REPOSITORY, TAG, build_module(spec)).digest == artifact.digest


# -- the snapshot (OCI layout) is what gets published -----------------------------------------------


def snapshot(tmp_path: Path, artifact: ModuleArtifact) -> OciLayout:
    layout = OciLayout(tmp_path / "snapshot", durable=False)
    assert push_module(layout, REPOSITORY, TAG, artifact).digest == artifact.digest
    return layout


def test_snapshot_layout_reads_back_and_copies_byte_identical(
    client: RegistryClient, spec: ModuleSpec, artifact: ModuleArtifact, tmp_path: Path
) -> None:
    layout = snapshot(tmp_path, artifact)
    content = read_module(layout, REPOSITORY, TAG)
    assert content.digest == artifact.digest
    assert (content.raw_manifest, content.default_cr) == (MANIFEST, DEFAULT_CR)
    verify_module(layout, REPOSITORY, TAG, artifact)

    # Publish from the snapshot's files (not from the build in memory), keeping the exact bytes.
    tagged = layout.resolve(TAG)
    assert tagged is not None
    raw = layout.blob_path(tagged.digest).read_bytes()
    manifest = Manifest.from_bytes(raw)
    for blob in (manifest.config, *manifest.layers):
        client.push_blob(REPOSITORY, layout.blob_path(blob.digest), blob.media_type, digest=blob.digest)
    client.push_manifest_raw(client.reference(REPOSITORY, TAG), raw, tagged.media_type)

    found = client.get_manifest_raw(client.reference(REPOSITORY, TAG))
    assert found is not None
    assert found[0] == raw == artifact.manifest.to_bytes()
    assert found[1].digest == tagged.digest == artifact.digest
    # Publishing the (rebuilt) module afterwards finds exactly the snapshot there.
    assert push_module(client, REPOSITORY, TAG, build_module(spec)).digest == artifact.digest
    verify_module(client, REPOSITORY, TAG, artifact)


@needs_skopeo
def test_skopeo_reads_the_snapshot_and_copies_it_unchanged(
    registry: LocalRegistry, client: RegistryClient, artifact: ModuleArtifact, tmp_path: Path
) -> None:
    layout = snapshot(tmp_path, artifact)
    # Plain `skopeo inspect` refuses non-image artifacts (OCM config media type); --raw does not.
    raw = skopeo("inspect", "--raw", f"oci:{layout.root}:{TAG}")
    assert hashlib.sha256(raw).hexdigest() == artifact.digest.removeprefix("sha256:")

    skopeo(
        "copy",
        "--dest-tls-verify=false",
        f"oci:{layout.root}:{TAG}",
        f"docker://{registry.host}/{REPOSITORY}:{TAG}",
    )
    found = client.head_manifest(Reference(registry.host, REPOSITORY, TAG))
    assert found is not None
    assert found.digest == artifact.digest
    assert read_module(client, REPOSITORY, TAG).descriptor == artifact.descriptor
    verify_module(client, REPOSITORY, TAG, artifact)


# -- the templates name what the registry holds -----------------------------------------------------


def test_templates_name_blobs_the_registry_holds(
    registry: LocalRegistry, client: RegistryClient, spec: ModuleSpec, artifact: ModuleArtifact
) -> None:
    push_module(client, REPOSITORY, TAG, artifact)
    content = read_module(client, REPOSITORY, TAG)
    files = template_files(spec, content)
    assert list(files) == ["template.yaml", "template_control_plane.yaml"]
    assert files == template_files(spec, artifact), "rendered from the registry = rendered from the build"
    layers = {layer.digest: layer for layer in content.manifest.layers}

    for template in files.values():
        descriptor = template["spec"]["descriptor"]
        assert descriptor == content.descriptor
        assert (descriptor["component"]["name"], descriptor["component"]["version"]) == (
            "kyma-project.io/module/btp-operator",
            TAG,
        )
        assert template["metadata"]["annotations"]["operator.kyma-project.io/module-version"] == TAG
        host, repository = blob_location(descriptor)
        assert (host, repository) == (registry.host, REPOSITORY)
        local = {
            resource["name"]: local_blob_digest(resource) for resource in descriptor["component"]["resources"]
        }
        assert set(local) >= {"raw-manifest", "default-cr"}
        for name, expected in (("raw-manifest", MANIFEST), ("default-cr", DEFAULT_CR)):
            digest = local[name]
            assert digest is not None
            assert client.blob_exists(repository, digest), f"{name} blob {digest} is not in the registry"
            assert client.read_blob(repository, layers[digest]) == expected
        assert template["spec"]["data"] == yaml.safe_load(DEFAULT_CR)


# -- the docs' example ------------------------------------------------------------------------------

DOCS_HEADING = "Build the example module into an OCI layout and a local registry"


def docs_block(heading: str) -> str:
    text = (ROOT / "docs" / "module.md").read_text()
    assert f"\n## {heading}\n" in text, f"docs/module.md lost its section {heading!r}"
    section = text.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]
    (block,) = re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)
    return block


def test_docs_layout_and_registry_example_runs(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(ROOT)
    exec(compile(docs_block(DOCS_HEADING), "docs/module.md", "exec"), {})  # noqa: S102 - our own docs
    lines = [line.split() for line in capsys.readouterr().out.splitlines()]
    assert [line[0] for line in lines] == [
        "snapshot",
        "registry",
        "template.yaml",
        "template_control_plane.yaml",
    ]
    (_, layout_ref, layout_digest), (_, registry_ref, registry_digest) = lines[:2]
    assert layout_digest == registry_digest
    host = registry_ref.split("/", 1)[0]
    assert registry_ref == f"{host}/{REPOSITORY}:{TAG}"
    assert registry_digest == build_module(example_spec(registry_base_url=f"{host}/{BASE_PATH}")).digest

    layout = OciLayout(layout_ref.removeprefix("oci:").removesuffix(f":{TAG}"), create=False)
    snapshot_content = read_module(layout, REPOSITORY, TAG)
    assert snapshot_content.digest == layout_digest
    for _, path in lines[2:]:
        template = yaml.safe_load(Path(path).read_text())
        assert template["spec"]["descriptor"] == snapshot_content.descriptor
        assert blob_location(template["spec"]["descriptor"]) == (host, REPOSITORY)
