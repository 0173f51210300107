"""The module OCI artifact: deterministic bytes, idempotent push, conflict detection, reading it back.

``MemoryStore`` (an in-memory ``ArtifactStore``) and the ``make_spec``/``make_inputs`` helpers are shared
by the other ``test_module_*`` files.
"""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from pathlib import Path
from typing import Any

import attrs
import pytest
import yaml

from btp_release.errors import AlreadyExists, InvalidInput, NotFound
from btp_release.module import (
    HELM_CHART_MEDIA_TYPE,
    OCM_CONFIG_MEDIA_TYPE,
    OCM_DESCRIPTOR_MEDIA_TYPE,
    OCTET_STREAM,
    ModuleInputs,
    ModuleSpec,
    SecurityConfig,
    build_module,
    push_module,
    read_module,
    select_install_layer,
    verify_module,
)
from btp_release.module.artifact import assemble_artifact, deterministic_tar
from btp_release.module.descriptor import LocalBlob, build_descriptor
from btp_release.oci.model import OCI_MANIFEST, Descriptor, Manifest, sha256_digest

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "btp-operator"
MANIFEST = (EXAMPLE / "manifests" / "btp-manager.yaml").read_bytes()
DEFAULT_CR = (EXAMPLE / "examples" / "btp-operator.yaml").read_bytes()
SECURITY = SecurityConfig.load(EXAMPLE / "sec-scanners-config.yaml")
COMMIT = "0123456789abcdef0123456789abcdef01234567"
REPO = "kyma-project/prod/unsigned/component-descriptors/kyma-project.io/module/btp-operator"


def make_spec(**overrides: Any) -> ModuleSpec:
    values: dict[str, Any] = {
        "component_name": "kyma-project.io/module/btp-operator",
        "version": "1.2.0",
        "registry_base_url": "europe-docker.pkg.dev/kyma-project/prod/unsigned",
        "source_repo_url": "github.com/kyma-project/btp-manager",
        "source_commit": COMMIT,
        "manifest_path": "manifests/btp-manager.yaml",
        "default_cr_path": "examples/btp-operator.yaml",
        "security_config_path": "sec-scanners-config.yaml",
    }
    values.update(overrides)
    return ModuleSpec(**values)


def make_inputs(**overrides: Any) -> ModuleInputs:
    values: dict[str, Any] = {"manifest": MANIFEST, "default_cr": DEFAULT_CR, "security": SECURITY}
    values.update(overrides)
    return ModuleInputs(**values)


class MemoryStore:
    """An in-memory ``ArtifactStore`` that behaves like a registry: manifests need their blobs first."""

    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}
        self.manifests: dict[str, bytes] = {}
        self.tags: dict[tuple[str, str], str] = {}
        self.pushes: list[str] = []

    def push_blob(self, repository: str, source: bytes | Any, media_type: str) -> Descriptor:
        data = source if isinstance(source, bytes) else Path(source).read_bytes()
        descriptor = Descriptor.for_bytes(media_type, data)
        if descriptor.digest not in self.blobs:
            self.pushes.append(f"blob {descriptor.digest}")
            self.blobs[descriptor.digest] = data
        return descriptor

    def push_manifest(self, repository: str, manifest: Manifest, tag: str | None) -> Descriptor:
        for blob in (manifest.config, *manifest.layers):
            assert blob.digest in self.blobs, f"MANIFEST_BLOB_UNKNOWN {blob.digest}"
        raw = manifest.to_bytes()
        self.manifests[sha256_digest(raw)] = raw
        if tag:
            self.tags[(repository, tag)] = sha256_digest(raw)
        self.pushes.append(f"manifest {tag}")
        return manifest.descriptor()

    def get_manifest(self, repository: str, reference: str) -> tuple[Manifest, Descriptor] | None:
        digest = reference if reference.startswith("sha256:") else self.tags.get((repository, reference))
        raw = self.manifests.get(digest or "")
        if raw is None:
            return None
        return Manifest.from_bytes(raw), Descriptor(OCI_MANIFEST, sha256_digest(raw), len(raw))

    def read_blob(self, repository: str, descriptor: Descriptor) -> bytes:
        data = self.blobs.get(descriptor.digest)
        if data is None:
            raise NotFound(f"blob {descriptor.digest} not found")
        assert sha256_digest(data) == descriptor.digest
        return data


def test_building_twice_gives_identical_bytes_and_digest() -> None:
    first, second = build_module(make_spec(), make_inputs()), build_module(make_spec(), make_inputs())
    assert first.digest == second.digest
    assert first.manifest.to_bytes() == second.manifest.to_bytes()
    assert first.blobs == second.blobs


@pytest.mark.parametrize(
    ("spec_change", "input_change"),
    [
        ({}, {"manifest": MANIFEST + b"---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"}),
        ({}, {"default_cr": DEFAULT_CR.replace(b"btpoperator", b"other")}),
        ({"source_commit": "f" * 40}, {}),
        ({"version": "1.2.1"}, {}),
        ({"access_style": "localOciBlob"}, {}),
    ],
)
def test_any_input_change_changes_the_digest(
    spec_change: dict[str, Any], input_change: dict[str, Any]
) -> None:
    base = build_module(make_spec(), make_inputs())
    changed = build_module(make_spec(**spec_change), make_inputs(**input_change))
    assert changed.digest != base.digest


def test_artifact_layout_follows_ocm() -> None:
    artifact = build_module(make_spec(), make_inputs())
    manifest = artifact.manifest
    assert manifest.media_type == OCI_MANIFEST
    assert manifest.config.media_type == OCM_CONFIG_MEDIA_TYPE
    config = json.loads(artifact.blobs[manifest.config.digest])
    assert config == {"componentDescriptorLayer": manifest.layers[0].to_json()}
    assert (
        artifact.blobs[manifest.config.digest]
        == json.dumps(config, sort_keys=True, separators=(",", ":")).encode()
    )
    assert [layer.media_type for layer in manifest.layers] == [
        OCM_DESCRIPTOR_MEDIA_TYPE,
        OCTET_STREAM,
        OCTET_STREAM,
    ]
    assert artifact.blobs[manifest.layers[1].digest] == MANIFEST
    assert artifact.blobs[manifest.layers[2].digest] == DEFAULT_CR
    for layer in (manifest.config, *manifest.layers):
        assert sha256_digest(artifact.blobs[layer.digest]) == layer.digest
        assert len(artifact.blobs[layer.digest]) == layer.size


def test_descriptor_tar_is_normalised() -> None:
    artifact = build_module(make_spec(), make_inputs())
    data = artifact.blobs[artifact.manifest.layers[0].digest]
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        (member,) = archive.getmembers()
        assert (
            member.name,
            member.mtime,
            member.uid,
            member.gid,
            member.uname,
            member.gname,
            member.mode,
        ) == (
            "component-descriptor.yaml",
            0,
            0,
            0,
            "",
            "",
            0o644,
        )
        body = archive.extractfile(member)
        assert body is not None
        assert yaml.safe_load(body.read()) == artifact.descriptor
    assert deterministic_tar({"b": b"2", "a": b"1"}) == deterministic_tar({"a": b"1", "b": b"2"})


def test_identical_blobs_share_one_layer() -> None:
    blob = LocalBlob("raw-manifest", "yaml", OCTET_STREAM, sha256_digest(b"x"))
    twin = attrs.evolve(blob, name="default-cr")
    artifact = assemble_artifact(build_descriptor(make_spec(), [blob, twin]), [(blob, b"x"), (twin, b"x")])
    assert len(artifact.manifest.layers) == 2
    with pytest.raises(InvalidInput, match="does not match"):
        assemble_artifact(build_descriptor(make_spec(), [blob]), [(blob, b"y")])


def test_push_is_idempotent_and_refuses_different_content() -> None:
    store = MemoryStore()
    artifact = build_module(make_spec(), make_inputs())
    pushed = push_module(store, REPO, "v1.2.0", artifact)
    assert pushed.digest == artifact.digest
    assert store.pushes[-1] == "manifest v1.2.0"
    assert len(store.pushes) == 1 + len(artifact.blobs)

    count = len(store.pushes)
    assert (
        push_module(store, REPO, "v1.2.0", build_module(make_spec(), make_inputs())).digest == pushed.digest
    )
    assert len(store.pushes) == count, "a re-run with the same content pushes nothing"

    other = build_module(make_spec(source_commit="f" * 40), make_inputs())
    with pytest.raises(AlreadyExists) as raised:
        push_module(store, REPO, "v1.2.0", other)
    assert artifact.digest in str(raised.value)
    assert other.digest in str(raised.value)
    assert "already exists with different content" in str(raised.value)
    assert store.tags[(REPO, "v1.2.0")] == artifact.digest

    assert push_module(store, REPO, "v1.2.0", other, overwrite=True).digest == other.digest
    assert store.tags[(REPO, "v1.2.0")] == other.digest


def test_verify_module_checks_tag_and_blobs() -> None:
    store = MemoryStore()
    artifact = build_module(make_spec(), make_inputs())
    with pytest.raises(NotFound):
        verify_module(store, REPO, "v1.2.0", artifact)
    push_module(store, REPO, "v1.2.0", artifact)
    assert verify_module(store, REPO, "v1.2.0", artifact).digest == artifact.digest
    other = build_module(make_spec(source_commit="f" * 40), make_inputs())
    with pytest.raises(AlreadyExists, match="expected"):
        verify_module(store, REPO, "v1.2.0", other)
    del store.blobs[artifact.manifest.layers[1].digest]
    with pytest.raises(NotFound):
        verify_module(store, REPO, "v1.2.0", artifact)


@pytest.mark.parametrize("style", ["localBlob", "localOciBlob"])
def test_read_module_returns_what_push_wrote(style: str) -> None:
    store = MemoryStore()
    artifact = build_module(make_spec(access_style=style), make_inputs())
    push_module(store, REPO, "v1.2.0", artifact)
    for reference in ("v1.2.0", artifact.digest):
        content = read_module(store, REPO, reference)
        assert content.digest == artifact.digest
        assert content.descriptor == artifact.descriptor
        assert content.raw_manifest == MANIFEST
        assert content.default_cr == DEFAULT_CR
        assert content.chart is None
        assert not content.is_helm_chart
    resource = content.descriptor["component"]["resources"][0]
    assert resource["access"]["type"] == style


def test_read_module_errors() -> None:
    store = MemoryStore()
    with pytest.raises(NotFound, match=r"v9\.9\.9"):
        read_module(store, REPO, "v9.9.9")
    config = store.push_blob(REPO, b"{}", "application/vnd.oci.image.config.v1+json")
    store.push_manifest(REPO, Manifest(config, ()), "image")
    with pytest.raises(InvalidInput, match="not an OCM component version"):
        read_module(store, REPO, "image")


def test_seed_consumer_finds_the_raw_manifest_layer() -> None:
    """The seed E2E: no gzip layer → the octet-stream layer whose YAML has a CRD is the raw manifest."""
    store = MemoryStore()
    artifact = build_module(make_spec(), make_inputs())
    push_module(store, REPO, "v1.2.0", artifact)
    manifest, _ = store.get_manifest(REPO, "v1.2.0") or pytest.fail("pushed manifest not found")
    picked = select_install_layer(manifest, lambda d: store.read_blob(REPO, d))
    assert picked is not None
    kind, layer = picked
    assert kind == "raw-manifest"
    assert store.read_blob(REPO, layer) == MANIFEST  # not the default CR, also octet-stream


def test_helm_chart_module_is_a_gzip_layer() -> None:
    chart = gzip.compress(deterministic_tar({"btp-operator/Chart.yaml": b"name: btp-operator\n"}), mtime=0)
    spec = make_spec(manifest_path=None, chart_path="chart.tgz")
    artifact = build_module(spec, make_inputs(manifest=None, chart=chart))
    assert HELM_CHART_MEDIA_TYPE in [layer.media_type for layer in artifact.manifest.layers]
    store = MemoryStore()
    push_module(store, REPO, "v1.2.0", artifact)
    content = read_module(store, REPO, "v1.2.0")
    assert content.is_helm_chart
    assert content.chart == chart
    assert content.raw_manifest is None
    picked = select_install_layer(content.manifest, lambda d: store.read_blob(REPO, d))
    assert picked is not None
    assert picked[0] == "helm-chart"
