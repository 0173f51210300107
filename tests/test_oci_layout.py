"""OciLayout: round trips, tags, crash-safe writes, corruption, and interop with skopeo and a registry."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import tarfile
import threading
from pathlib import Path

import httpx
import pytest

from btp_release.errors import DigestMismatch, InvalidInput, NotFound
from btp_release.localservices.registry import LocalRegistry, registry_binary
from btp_release.oci.layout import REF_NAME, OciLayout
from btp_release.oci.model import MANIFEST_ACCEPT, OCI_MANIFEST, ArtifactStore, Descriptor, Manifest

REPO = "kyma/btp-operator"
CONFIG_TYPE = "application/vnd.oci.image.config.v1+json"
LAYER_TYPE = "application/vnd.oci.image.layer.v1.tar+gzip"
OCM_CONFIG_TYPE = "application/vnd.ocm.software.component.config.v1+json"
SKOPEO = shutil.which("skopeo")
needs_skopeo = pytest.mark.skipif(SKOPEO is None, reason="skopeo is not installed (apt-get install skopeo)")
needs_registry = pytest.mark.skipif(
    registry_binary() is None, reason="docker-registry is not installed (apt-get install docker-registry)"
)


def tar_gz(name: str, content: bytes) -> tuple[bytes, str]:
    """A reproducible gzipped tar with one file, and the diff ID (digest of the plain tar)."""
    plain = io.BytesIO()
    with tarfile.open(fileobj=plain, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo(name)
        info.size = len(content)
        info.mtime = 0
        tar.addfile(info, io.BytesIO(content))
    raw = plain.getvalue()
    return gzip.compress(raw, mtime=0), "sha256:" + hashlib.sha256(raw).hexdigest()


class Image:
    """A small, valid OCI image: a config and three gzipped tar layers, the last one from a file."""

    def __init__(self, tmp: Path, salt: str = "") -> None:
        self.layers: list[bytes] = []
        diff_ids = []
        for index in range(3):
            blob, diff_id = tar_gz(f"file{index}.yaml", f"kind: Layer{index}{salt}\n".encode() * (index + 1))
            self.layers.append(blob)
            diff_ids.append(diff_id)
        self.layer_file = tmp / f"layer2{salt}.tar.gz"
        self.layer_file.write_bytes(self.layers[2])
        self.config = json.dumps(
            {
                "architecture": "amd64",
                "os": "linux",
                "config": {},
                "rootfs": {"type": "layers", "diff_ids": diff_ids},
            },
            sort_keys=True,
        ).encode()

    def push(self, store: ArtifactStore, tag: str | None) -> tuple[Manifest, Descriptor]:
        config = store.push_blob(REPO, self.config, CONFIG_TYPE)
        layers = [store.push_blob(REPO, blob, LAYER_TYPE) for blob in self.layers[:2]]
        layers.append(store.push_blob(REPO, self.layer_file, LAYER_TYPE))
        manifest = Manifest(config=config, layers=tuple(layers))
        return manifest, store.push_manifest(REPO, manifest, tag)


def blob_names(layout: OciLayout) -> set[str]:
    return {p.name for p in (layout.root / "blobs" / "sha256").iterdir()}


def run(*args: str) -> subprocess.CompletedProcess[bytes]:
    done = subprocess.run(args, capture_output=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr.decode()
    return done


# -- the store itself ------------------------------------------------------------------------


def test_new_layout_files(tmp_path: Path) -> None:
    layout = OciLayout(tmp_path / "snap")
    assert json.loads((layout.root / "oci-layout").read_text()) == {"imageLayoutVersion": "1.0.0"}
    index = json.loads(layout.index_path.read_text())
    assert index["schemaVersion"] == 2
    assert index["manifests"] == []
    assert layout.tags() == []
    assert layout.resolve("1.0.0") is None
    assert layout.get_manifest(REPO, "1.0.0") is None
    assert (layout.root / "blobs" / "sha256").is_dir()


def test_round_trip(tmp_path: Path) -> None:
    image = Image(tmp_path)
    layout = OciLayout(tmp_path / "snap")
    manifest, descriptor = image.push(layout, "1.2.0")

    assert descriptor == manifest.descriptor()
    assert descriptor.media_type == OCI_MANIFEST
    assert layout.tags() == ["1.2.0"]
    assert layout.resolve("1.2.0") == descriptor
    assert layout.blob_path(descriptor.digest).read_bytes() == manifest.to_bytes()

    reopened = OciLayout(tmp_path / "snap", create=False)
    found = reopened.get_manifest("ignored/repo", "1.2.0")
    assert found is not None
    assert found == (manifest, descriptor)
    assert reopened.get_manifest(REPO, descriptor.digest) == (manifest, descriptor)
    assert reopened.read_blob(REPO, manifest.config) == image.config
    for layer, content in zip(manifest.layers, image.layers, strict=True):
        assert reopened.read_blob(REPO, layer) == content
        with reopened.open_blob(layer) as stream:
            assert stream.read() == content
        with reopened.open_blob(layer.digest) as stream:
            assert stream.read() == content
    assert manifest.layers[2].size == image.layer_file.stat().st_size
    assert layout.repositories_seen == {REPO}
    assert reopened.repositories_seen == {"ignored/repo", REPO}


def test_repush_is_idempotent(tmp_path: Path) -> None:
    image = Image(tmp_path)
    layout = OciLayout(tmp_path / "snap")
    first = image.push(layout, "1.2.0")
    index_before = layout.index_path.read_bytes()
    inode_before = layout.index_path.stat().st_ino
    blobs_before = blob_names(layout)

    second = image.push(layout, "1.2.0")

    assert second == first
    assert layout.index_path.read_bytes() == index_before
    assert layout.index_path.stat().st_ino == inode_before  # not even rewritten
    assert blob_names(layout) == blobs_before
    assert len(blobs_before) == 5  # config, 3 layers, manifest; no temp files left behind


def test_retag_and_two_tags(tmp_path: Path) -> None:
    layout = OciLayout(tmp_path / "snap")
    _, old = Image(tmp_path, "a").push(layout, "latest")
    _, same = Image(tmp_path, "a").push(layout, "1.0.0")
    assert same.digest == old.digest
    assert layout.tags() == ["1.0.0", "latest"]

    inode = layout.index_path.stat().st_ino
    _, new = Image(tmp_path, "b").push(layout, "latest")
    assert new.digest != old.digest
    assert layout.index_path.stat().st_ino != inode  # replaced atomically, not written in place
    assert layout.resolve("latest") == new
    assert layout.resolve("1.0.0") == old
    entries = json.loads(layout.index_path.read_text())["manifests"]
    assert sorted(e["annotations"][REF_NAME] for e in entries) == ["1.0.0", "latest"]

    assert layout.remove_tag("latest") is True
    assert layout.remove_tag("latest") is False
    assert layout.tags() == ["1.0.0"]
    assert layout.has_blob(new.digest)  # no garbage collection


def test_untagged_manifest_is_listed_once_and_adopted_by_a_tag(tmp_path: Path) -> None:
    layout = OciLayout(tmp_path / "snap")
    image = Image(tmp_path)
    _, descriptor = image.push(layout, None)
    image.push(layout, None)
    entries = json.loads(layout.index_path.read_text())["manifests"]
    assert entries == [descriptor.to_json()]
    assert layout.tags() == []

    image.push(layout, "1.0.0")
    entries = json.loads(layout.index_path.read_text())["manifests"]
    assert entries == [{**descriptor.to_json(), "annotations": {REF_NAME: "1.0.0"}}]


def test_manifest_needs_its_blobs(tmp_path: Path) -> None:
    layout = OciLayout(tmp_path / "snap")
    config = layout.push_blob(REPO, b"{}", CONFIG_TYPE)
    ghost = Descriptor.for_bytes(LAYER_TYPE, b"never pushed")
    with pytest.raises(InvalidInput, match=ghost.digest):
        layout.push_manifest(REPO, Manifest(config=config, layers=(ghost,)), "1.0.0")
    assert layout.tags() == []


def test_invalid_tag_and_source(tmp_path: Path) -> None:
    layout = OciLayout(tmp_path / "snap")
    config = layout.push_blob(REPO, b"{}", CONFIG_TYPE)
    with pytest.raises(InvalidInput, match="invalid tag"):
        layout.push_manifest(REPO, Manifest(config=config, layers=()), "-bad")
    with pytest.raises(InvalidInput, match="cannot push a blob from str"):
        layout.push_blob(REPO, "not bytes", LAYER_TYPE)
    with pytest.raises(NotFound, match=re.escape("missing.tar")):
        layout.push_blob(REPO, tmp_path / "missing.tar", LAYER_TYPE)


def test_large_file_blob_streams_in_chunks(tmp_path: Path) -> None:
    source = tmp_path / "big.bin"
    data = os.urandom(3 * 1024 * 1024 + 17)
    source.write_bytes(data)
    layout = OciLayout(tmp_path / "snap", durable=False)
    descriptor = layout.push_blob(REPO, source, LAYER_TYPE)
    assert descriptor == Descriptor.for_bytes(LAYER_TYPE, data)
    with layout.open_blob(descriptor) as stream:
        chunks = list(iter(lambda: stream.read(1024 * 1024), b""))
    assert b"".join(chunks) == data


def test_stray_temp_files_from_a_crash_are_ignored(tmp_path: Path) -> None:
    layout = OciLayout(tmp_path / "snap")
    image = Image(tmp_path)
    (layout.root / "blobs" / "sha256" / ".tmp-crashed").write_bytes(b"half a blob")
    (layout.root / ".tmp-index.json-crashed").write_bytes(b"{half an index")
    _, descriptor = image.push(layout, "1.0.0")
    assert layout.get_manifest(REPO, "1.0.0") is not None
    assert layout.resolve("1.0.0") == descriptor


def test_concurrent_writers_keep_every_tag(tmp_path: Path) -> None:
    OciLayout(tmp_path / "snap")
    config_data = b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'
    errors: list[BaseException] = []

    def writer(prefix: str) -> None:
        store = OciLayout(tmp_path / "snap", create=False, durable=False)  # own instance: flock serialises
        try:
            config = store.push_blob(REPO, config_data, CONFIG_TYPE)
            for number in range(15):
                layer = store.push_blob(REPO, f"{prefix}{number}".encode(), LAYER_TYPE)
                store.push_manifest(REPO, Manifest(config=config, layers=(layer,)), f"{prefix}{number}")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(prefix,)) for prefix in ("a", "b", "c")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    assert len(OciLayout(tmp_path / "snap").tags()) == 45


# -- corruption ------------------------------------------------------------------------------


def test_flipped_byte_in_a_blob_is_detected(tmp_path: Path) -> None:
    layout = OciLayout(tmp_path / "snap")
    manifest, _ = Image(tmp_path).push(layout, "1.0.0")
    layer = manifest.layers[1]
    path = layout.blob_path(layer.digest)
    damaged = bytearray(path.read_bytes())
    damaged[len(damaged) // 2] ^= 0x01
    path.write_bytes(bytes(damaged))

    with pytest.raises(DigestMismatch, match=re.escape(f"corrupt blob {path}")):
        layout.read_blob(REPO, layer)
    with layout.open_blob(layer) as stream, pytest.raises(DigestMismatch, match="corrupt blob"):
        stream.read()
    assert layout.read_blob(REPO, manifest.layers[0])  # the others still read


def test_truncated_blob_and_corrupt_manifest_are_detected(tmp_path: Path) -> None:
    layout = OciLayout(tmp_path / "snap")
    manifest, descriptor = Image(tmp_path).push(layout, "1.0.0")
    layer_path = layout.blob_path(manifest.layers[0].digest)
    layer_path.write_bytes(layer_path.read_bytes()[:-1])
    with pytest.raises(DigestMismatch, match="bytes"):
        layout.open_blob(manifest.layers[0])

    manifest_path = layout.blob_path(descriptor.digest)
    manifest_path.write_bytes(manifest_path.read_bytes().replace(b"schemaVersion", b"schemaVersioN"))
    with pytest.raises(DigestMismatch, match=re.escape(str(manifest_path))):
        layout.get_manifest(REPO, "1.0.0")
    with pytest.raises(DigestMismatch, match=re.escape(str(manifest_path))):
        layout.get_manifest(REPO, descriptor.digest)


def test_missing_blob_is_not_found(tmp_path: Path) -> None:
    layout = OciLayout(tmp_path / "snap")
    manifest, _ = Image(tmp_path).push(layout, "1.0.0")
    path = layout.blob_path(manifest.config.digest)
    path.unlink()
    with pytest.raises(NotFound, match=re.escape(str(path))):
        layout.read_blob(REPO, manifest.config)


def test_missing_or_corrupt_index(tmp_path: Path) -> None:
    layout = OciLayout(tmp_path / "snap")
    Image(tmp_path).push(layout, "1.0.0")
    index = layout.index_path
    saved = index.read_bytes()

    index.unlink()
    with pytest.raises(InvalidInput, match=re.escape(f"has no index {index}")):
        layout.tags()
    with pytest.raises(InvalidInput, match=re.escape("index.json")):
        layout.get_manifest(REPO, "1.0.0")

    index.write_bytes(saved[:20])
    with pytest.raises(InvalidInput, match=re.escape(f"corrupt OCI layout index {index}")):
        layout.resolve("1.0.0")
    index.write_text('{"schemaVersion": 2, "manifests": [{"digest": "sha256:nothex"}]}')
    with pytest.raises(InvalidInput, match=re.escape(f"corrupt OCI layout index {index}")):
        layout.tags()


def test_not_a_layout(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="oci-layout"):
        OciLayout(tmp_path / "nothing", create=False)
    (tmp_path / "future").mkdir()
    (tmp_path / "future" / "oci-layout").write_text('{"imageLayoutVersion": "2.0.0"}')
    with pytest.raises(InvalidInput, match="imageLayoutVersion"):
        OciLayout(tmp_path / "future")


# -- interop with skopeo ---------------------------------------------------------------------


@needs_skopeo
def test_skopeo_reads_our_layout(tmp_path: Path) -> None:
    layout = OciLayout(tmp_path / "snap")
    image = Image(tmp_path)
    manifest, descriptor = image.push(layout, "1.2.0")
    Image(tmp_path, "other").push(layout, "other")

    raw = run("skopeo", "inspect", "--raw", f"oci:{layout.root}:1.2.0").stdout
    assert raw == manifest.to_bytes()
    assert "sha256:" + hashlib.sha256(raw).hexdigest() == descriptor.digest

    out = tmp_path / "out"
    run("skopeo", "copy", "--quiet", f"oci:{layout.root}:1.2.0", f"dir:{out}")
    assert (out / "manifest.json").read_bytes() == manifest.to_bytes()
    assert (out / manifest.config.digest.removeprefix("sha256:")).read_bytes() == image.config
    for layer, content in zip(manifest.layers, image.layers, strict=True):
        assert (out / layer.digest.removeprefix("sha256:")).read_bytes() == content


@needs_skopeo
def test_we_read_a_layout_skopeo_wrote_from_dir(tmp_path: Path) -> None:
    image = Image(tmp_path)
    manifest = Manifest(
        config=Descriptor.for_bytes(CONFIG_TYPE, image.config),
        layers=tuple(Descriptor.for_bytes(LAYER_TYPE, blob) for blob in image.layers),
    )
    source = tmp_path / "src"
    source.mkdir()
    (source / "version").write_text("Directory Transport Version: 1.1\n")
    (source / "manifest.json").write_bytes(manifest.to_bytes())
    for data in (image.config, *image.layers):
        (source / hashlib.sha256(data).hexdigest()).write_bytes(data)

    target = tmp_path / "by-skopeo"
    run("skopeo", "copy", "--quiet", f"dir:{source}", f"oci:{target}:v1.2.0")

    layout = OciLayout(target, create=False)
    assert layout.tags() == ["v1.2.0"]
    found = layout.get_manifest(REPO, "v1.2.0")
    assert found is not None
    read, descriptor = found
    assert read == manifest
    assert descriptor == layout.resolve("v1.2.0")
    assert layout.read_blob(REPO, read.config) == image.config
    for layer, content in zip(read.layers, image.layers, strict=True):
        assert layout.read_blob(REPO, layer) == content

    # and we can keep writing into skopeo's layout, which skopeo then still reads
    Image(tmp_path, "more").push(layout, "second")
    assert layout.tags() == ["second", "v1.2.0"]
    run("skopeo", "inspect", "--raw", f"oci:{target}:second")


@needs_skopeo
def test_we_read_a_layout_skopeo_copied_from_ours(tmp_path: Path) -> None:
    ours = OciLayout(tmp_path / "ours")
    image = Image(tmp_path)
    manifest, descriptor = image.push(ours, "1.2.0")
    theirs = tmp_path / "theirs"
    run("skopeo", "copy", "--quiet", f"oci:{ours.root}:1.2.0", f"oci:{theirs}:copied")

    layout = OciLayout(theirs, create=False)
    found = layout.get_manifest(REPO, "copied")
    assert found == (manifest, descriptor)
    for layer, content in zip(manifest.layers, image.layers, strict=True):
        with layout.open_blob(layer) as stream:
            assert stream.read() == content


def push_module_artifact(store: ArtifactStore, tag: str) -> Descriptor:
    """The shape of a Kyma module artifact: a non-image config and plain YAML layers."""
    config = store.push_blob(REPO, b'{"componentDescriptorLayer":{}}', OCM_CONFIG_TYPE)
    layers = tuple(store.push_blob(REPO, f"kind: K{n}\n".encode(), "application/x-yaml") for n in range(2))
    return store.push_manifest(REPO, Manifest(config=config, layers=layers), tag)


@needs_skopeo
@needs_registry
def test_skopeo_copies_our_layout_to_a_registry(tmp_path: Path) -> None:
    layout = OciLayout(tmp_path / "snap")
    _, image = Image(tmp_path).push(layout, "1.2.0")
    artifact = push_module_artifact(layout, "v1.2.0")
    with LocalRegistry() as registry:
        for tag, descriptor in (("1.2.0", image), ("v1.2.0", artifact)):
            target = f"docker://{registry.host}/kyma/btp-manager:{tag}"
            run("skopeo", "copy", "--quiet", "--dest-tls-verify=false", f"oci:{layout.root}:{tag}", target)
            response = httpx.head(
                f"{registry.url}/v2/kyma/btp-manager/manifests/{tag}",
                headers={"Accept": MANIFEST_ACCEPT},
                timeout=10,
            )
            assert response.status_code == 200
            assert response.headers["Docker-Content-Digest"] == descriptor.digest
