"""Interoperability with reference clients: skopeo reads what we push and we read what it pushes;
oras-py likewise. Everything against a real registry on 127.0.0.1."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from btp_release.localservices.registry import LocalRegistry, registry_binary
from btp_release.oci import Descriptor, Manifest, Reference, RegistryClient, sha256_digest
from btp_release.retry import RetryPolicy

pytestmark = pytest.mark.skipif(
    registry_binary() is None, reason="docker-registry is not installed (apt-get install docker-registry)"
)
needs_skopeo = pytest.mark.skipif(shutil.which("skopeo") is None, reason="skopeo is not installed")

LAYER = "application/vnd.oci.image.layer.v1.tar"
# A Kyma module artifact's kind of content: custom config and layer media types.
CONFIG = "application/vnd.ocm.software.component.config.v1+json"
YAML_LAYER = "application/vnd.cncf.kyma.module.raw-manifest.v1+yaml"
TITLE = "org.opencontainers.image.title"


@pytest.fixture(scope="module")
def registry() -> Iterator[LocalRegistry]:
    if registry_binary() is None:
        pytest.skip("docker-registry is not installed (apt-get install docker-registry)")
    with LocalRegistry() as started:
        yield started


@pytest.fixture
def client(registry: LocalRegistry) -> Iterator[RegistryClient]:
    with RegistryClient(registry.host, retry=RetryPolicy(attempts=2, jitter=0), sleeper=lambda _s: None) as c:
        yield c


def skopeo(*args: str, cwd: Path | None = None) -> bytes:
    done = subprocess.run(["skopeo", *args], capture_output=True, timeout=120, check=False, cwd=cwd)
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    return done.stdout


def sha256_file(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def our_artifact(tmp_path: Path) -> tuple[Manifest, dict[str, bytes | Path]]:
    """A module-like artifact: a JSON config and two layers, one of them a file."""
    config = json.dumps({"component": {"name": "kyma-project.io/module/btp-operator"}}).encode()
    big = tmp_path / "raw-manifest.yaml"
    big.write_bytes(b"kind: Deployment\n" + os.urandom(300_000))
    small = b"apiVersion: operator.kyma-project.io/v1alpha1\nkind: BtpOperator\n"
    layers = (
        Descriptor(YAML_LAYER, sha256_file(big), big.stat().st_size, {TITLE: "raw-manifest.yaml"}),
        Descriptor.for_bytes(YAML_LAYER, small, {TITLE: "default-cr.yaml"}),
    )
    manifest = Manifest(Descriptor.for_bytes(CONFIG, config), layers)
    blobs: dict[str, bytes | Path] = {
        manifest.config.digest: config,
        layers[0].digest: big,
        layers[1].digest: small,
    }
    return manifest, blobs


def content(source: bytes | Path) -> bytes:
    return source.read_bytes() if isinstance(source, Path) else source


# -- skopeo ---------------------------------------------------------------------------------------


@needs_skopeo
def test_skopeo_reads_what_we_push(client: RegistryClient, registry: LocalRegistry, tmp_path: Path) -> None:
    manifest, blobs = our_artifact(tmp_path)
    ref = Reference(registry.host, "interop/ours", "1.0.0")
    pushed = client.push_artifact(ref, manifest, blobs)

    raw = skopeo("inspect", "--tls-verify=false", "--raw", f"docker://{ref}")
    assert raw == manifest.to_bytes()
    assert sha256_digest(raw) == pushed.digest

    dir_copy = tmp_path / "dir-copy"
    skopeo("copy", "--src-tls-verify=false", "--preserve-digests", f"docker://{ref}", f"dir:{dir_copy}")
    assert sha256_file(dir_copy / "manifest.json") == pushed.digest
    for digest, source in blobs.items():
        assert (dir_copy / digest.removeprefix("sha256:")).read_bytes() == content(source)

    layout = tmp_path / "layout"
    skopeo("copy", "--src-tls-verify=false", "--preserve-digests", f"docker://{ref}", f"oci:{layout}:1.0.0")
    index = json.loads((layout / "index.json").read_text())
    assert [m["digest"] for m in index["manifests"]] == [pushed.digest]
    for digest, source in blobs.items():
        assert (layout / "blobs" / "sha256" / digest.removeprefix("sha256:")).read_bytes() == content(source)


def _hand_written_layout(root: Path) -> tuple[bytes, dict[str, bytes]]:
    """An OCI layout written without our code, its manifest deliberately not in canonical JSON."""
    blobs = {
        "config": b'{"architecture":"amd64","os":"linux"}',
        "layer": b"kind: ConfigMap\n" + os.urandom(5000),
    }
    descriptors = {
        name: {
            "mediaType": CONFIG if name == "config" else YAML_LAYER,
            "digest": sha256_digest(data),
            "size": len(data),
        }
        for name, data in blobs.items()
    }
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": descriptors["config"],
            "layers": [descriptors["layer"]],
        },
        indent=3,
    ).encode()
    (root / "blobs" / "sha256").mkdir(parents=True)
    for data in [*blobs.values(), manifest]:
        (root / "blobs" / "sha256" / sha256_digest(data).removeprefix("sha256:")).write_bytes(data)
    (root / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    entry = {
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": sha256_digest(manifest),
        "size": len(manifest),
        "annotations": {"org.opencontainers.image.ref.name": "2.0.0"},
    }
    (root / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [entry]}))
    return manifest, {sha256_digest(data): data for data in blobs.values()}


@needs_skopeo
def test_we_read_what_skopeo_pushes(client: RegistryClient, registry: LocalRegistry, tmp_path: Path) -> None:
    raw, blobs = _hand_written_layout(tmp_path / "layout")
    ref = Reference(registry.host, "interop/theirs", "2.0.0")
    skopeo(
        "copy",
        "--dest-tls-verify=false",
        "--preserve-digests",
        f"oci:{tmp_path / 'layout'}:2.0.0",
        f"docker://{ref}",
    )
    head = client.head_manifest(ref)
    assert head is not None and head.digest == sha256_digest(raw)
    found = client.get_manifest(ref)
    assert found is not None
    manifest, descriptor = found
    assert descriptor == head  # the registry's bytes, not our canonical re-rendering
    assert manifest.digest != descriptor.digest
    pulled = client.pull_artifact(ref, tmp_path / "pulled")
    assert pulled == manifest
    for digest, data in blobs.items():
        assert (tmp_path / "pulled" / digest.removeprefix("sha256:")).read_bytes() == data

    # We copy it on by digest; skopeo agrees on the result.
    copied = client.copy_artifact(ref, Reference(registry.host, "interop/copied", "2.0.0"))
    assert copied.digest == sha256_digest(raw)
    assert (
        skopeo("inspect", "--tls-verify=false", "--raw", f"docker://{registry.host}/interop/copied:2.0.0")
        == raw
    )


@needs_skopeo
def test_skopeo_registry_to_registry_copy_keeps_our_digest(
    client: RegistryClient, registry: LocalRegistry, tmp_path: Path
) -> None:
    manifest, blobs = our_artifact(tmp_path)
    src = Reference(registry.host, "interop/src", "1.0.0")
    pushed = client.push_artifact(src, manifest, blobs)
    with LocalRegistry() as other:
        skopeo(
            "copy",
            "--src-tls-verify=false",
            "--dest-tls-verify=false",
            "--preserve-digests",
            f"docker://{src}",
            f"docker://{other.host}/interop/dst:1.0.0",
        )
        with RegistryClient(other.host) as other_client:
            assert other_client.head_manifest(Reference(other.host, "interop/dst", "1.0.0")) == pushed
            assert (
                other_client.pull_artifact(Reference(other.host, "interop/dst", "1.0.0"), tmp_path / "o")
                == manifest
            )


# -- oras-py --------------------------------------------------------------------------------------


def test_we_pull_what_oras_pushes(client: RegistryClient, registry: LocalRegistry, tmp_path: Path) -> None:
    import oras.provider

    files = {"a.yaml": b"kind: A\n", "b.bin": os.urandom(200_000)}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    target = f"{registry.host}/interop/oras:1.0.0"
    oras.provider.Registry(hostname=registry.host, insecure=True).push(
        target=target,
        files=[f"{tmp_path / name}:{YAML_LAYER}" for name in files],
        disable_path_validation=True,
        quiet=True,
    )
    manifest = client.pull_artifact(Reference.parse(target), tmp_path / "pulled")
    titles = {layer.annotations[TITLE]: layer.digest for layer in manifest.layers if layer.annotations}
    assert {Path(title).name for title in titles} == set(files)
    for title, digest in titles.items():
        assert (tmp_path / "pulled" / digest.removeprefix("sha256:")).read_bytes() == files[Path(title).name]


def test_oras_pulls_what_we_push(client: RegistryClient, registry: LocalRegistry, tmp_path: Path) -> None:
    import oras.provider

    manifest, blobs = our_artifact(tmp_path)
    ref = Reference(registry.host, "interop/for-oras", "1.0.0")
    client.push_artifact(ref, manifest, blobs)
    out = tmp_path / "oras-out"
    out.mkdir()
    oras.provider.Registry(hostname=registry.host, insecure=True).pull(target=str(ref), outdir=str(out))
    for layer in manifest.layers:
        assert layer.annotations is not None
        assert (out / layer.annotations[TITLE]).read_bytes() == content(blobs[layer.digest])
