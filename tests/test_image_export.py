"""Saving a local image into an OCI layout: ``ImageBuilder.save_to_layout`` and the archive conversion.

The conversion runs on hand-made archives in both ``docker save`` formats (legacy docker-archive
and the OCI layout in a tar of Docker ≥ 25). Against a private dockerd the example image is saved,
read back by skopeo, copied by skopeo into a real local registry, pulled back and run. Tests that
need dockerd, skopeo or docker-registry skip with the reason where those are unavailable.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import shutil
import subprocess
import tarfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from btp_release.errors import DigestMismatch, InvalidInput, NotFound, Transient
from btp_release.image_export import OCI_CONFIG, OCI_LAYER, convert_docker_archive
from btp_release.images import BuiltImage, ImageBuild, ImageBuilder
from btp_release.localservices.docker_daemon import DockerDaemon
from btp_release.localservices.registry import LocalRegistry, registry_binary
from btp_release.oci.layout import OciLayout
from btp_release.oci.model import OCI_MANIFEST, Reference, sha256_digest
from btp_release.retry import RetryPolicy

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "btp-operator"
BUSYBOX = Path("/bin/busybox")
VERSION = "1.2.3"
IMAGE = "127.0.0.1:5999/btp-manager:1.2.3"

needs_skopeo = pytest.mark.skipif(shutil.which("skopeo") is None, reason="skopeo is not installed")
needs_registry = pytest.mark.skipif(
    registry_binary() is None, reason="docker-registry is not installed (apt-get install docker-registry)"
)


def unique(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}"


# -- hand-made archives ---------------------------------------------------------------------------------


def tar_bytes(members: list[tuple[str, bytes | str]]) -> bytes:
    """A tar of regular files (bytes) and symlinks (str: the link target), in the given order."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, content in members:
            info = tarfile.TarInfo(name)
            info.mtime = 0
            if isinstance(content, str):
                info.type = tarfile.SYMTYPE
                info.linkname = content
                tar.addfile(info)
            else:
                info.size = len(content)
                tar.addfile(info, io.BytesIO(content))
    return out.getvalue()


def hexdigest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


LAYER_A = tar_bytes([("bin/tool", b"#!/bin/sh\necho tool\n")])
LAYER_B = tar_bytes([("etc/config", b"key: value\n" * 1000)])
LAYERS = [LAYER_A, LAYER_B, LAYER_A]  # the same layer twice, as two identical COPY steps give


def image_config(layers: list[bytes], *, diff_ids: list[str] | None = None) -> bytes:
    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": {"Entrypoint": ["/bin/tool"], "Labels": {"io.kyma-project.module": "btp-operator"}},
        "rootfs": {
            "type": "layers",
            "diff_ids": diff_ids if diff_ids is not None else [sha256_digest(layer) for layer in layers],
        },
    }
    return json.dumps(config, sort_keys=True).encode()


def docker_archive(config: bytes, layers: list[bytes], *, repo_tags: list[str] | None = None) -> bytes:
    """Docker ≤ 24: ``<id>/layer.tar`` per layer (repeats as symlinks), ``<config>.json``, manifest last."""
    members: list[tuple[str, bytes | str]] = []
    paths: list[str] = []
    first: dict[bytes, str] = {}
    for number, layer in enumerate(layers):
        layer_id = hexdigest(f"{number}:{hexdigest(layer)}".encode())
        members += [
            (f"{layer_id}/VERSION", b"1.0"),
            (f"{layer_id}/json", b'{"id": "%s"}' % layer_id.encode()),
        ]
        if layer in first:
            members.append((f"{layer_id}/layer.tar", f"../{first[layer]}"))
        else:
            members.append((f"{layer_id}/layer.tar", layer))
            first[layer] = f"{layer_id}/layer.tar"
        paths.append(f"{layer_id}/layer.tar")
    config_name = f"{hexdigest(config)}.json"
    members.append((config_name, config))
    manifest = [{"Config": config_name, "RepoTags": repo_tags or [IMAGE], "Layers": paths}]
    members += [("manifest.json", json.dumps(manifest).encode()), ("repositories", b"{}")]
    return tar_bytes(members)


def oci_archive(config: bytes, layers: list[bytes], *, compress: bool = False) -> bytes:
    """Docker ≥ 25: everything under ``blobs/sha256/``, plus ``index.json``, ``oci-layout``, manifest.json."""
    blobs: dict[str, bytes] = {hexdigest(config): config}
    paths = []
    for layer in layers:
        blob = gzip.compress(layer, mtime=0) if compress else layer
        blobs[hexdigest(blob)] = blob
        paths.append(f"blobs/sha256/{hexdigest(blob)}")
    own_manifest = json.dumps(
        {"schemaVersion": 2, "config": {"digest": "sha256:" + hexdigest(config)}}
    ).encode()
    blobs[hexdigest(own_manifest)] = own_manifest
    members: list[tuple[str, bytes | str]] = [(f"blobs/sha256/{name}", blob) for name, blob in blobs.items()]
    index = {"schemaVersion": 2, "manifests": [{"digest": "sha256:" + hexdigest(own_manifest)}]}
    manifest = [{"Config": f"blobs/sha256/{hexdigest(config)}", "RepoTags": [IMAGE], "Layers": paths}]
    members += [
        ("index.json", json.dumps(index).encode()),
        ("manifest.json", json.dumps(manifest).encode()),
        ("oci-layout", b'{"imageLayoutVersion": "1.0.0"}'),
        ("repositories", b"{}"),
    ]
    return tar_bytes(members)


def chunked(data: bytes, size: int = 777) -> Iterator[bytes]:
    """The archive in small pieces, as the daemon's stream delivers it."""
    for start in range(0, len(data), size):
        yield data[start : start + size]


def convert(archive: bytes, layout: OciLayout, tag: str | None = "1.2.3", **options: Any) -> Any:
    return convert_docker_archive(
        chunked(archive), layout, image=IMAGE, repository="btp-manager", tag=tag, **options
    )


def leftovers(layout: OciLayout) -> list[str]:
    return sorted(path.name for path in layout.root.rglob(".tmp-*"))


def blob_count(layout: OciLayout) -> int:
    return sum(1 for _ in (layout.root / "blobs" / "sha256").iterdir())


def manifest_json(entries: Any) -> list[tuple[str, bytes | str]]:
    return [("manifest.json", json.dumps(entries).encode())]


CONFIG = image_config(LAYERS)
IMAGE_ID = sha256_digest(CONFIG)


# -- the conversion, without a daemon -------------------------------------------------------------------


def test_a_docker_archive_becomes_an_oci_image_with_uncompressed_layers(tmp_path: Path) -> None:
    layout = OciLayout(tmp_path / "layout", durable=False)
    descriptor = convert(docker_archive(CONFIG, LAYERS), layout, expected_id=IMAGE_ID)

    found = layout.get_manifest("btp-manager", "1.2.3")
    assert found is not None
    manifest, stored = found
    assert stored.digest == descriptor.digest and descriptor.media_type == OCI_MANIFEST
    assert manifest.config.digest == IMAGE_ID and manifest.config.media_type == OCI_CONFIG
    assert layout.read_blob("btp-manager", manifest.config) == CONFIG
    assert [layer.digest for layer in manifest.layers] == json.loads(CONFIG)["rootfs"]["diff_ids"]
    assert {layer.media_type for layer in manifest.layers} == {OCI_LAYER}
    assert [layout.read_blob("btp-manager", layer) for layer in manifest.layers] == LAYERS
    assert layout.tags() == ["1.2.3"]
    assert leftovers(layout) == []


@pytest.mark.parametrize("compress", [False, True], ids=["plain-layers", "gzip-layers"])
def test_the_oci_format_of_docker_25_gives_the_same_manifest(tmp_path: Path, compress: bool) -> None:
    legacy = convert(docker_archive(CONFIG, LAYERS), OciLayout(tmp_path / "legacy", durable=False))
    layout = OciLayout(tmp_path / "oci", durable=False)
    descriptor = convert(oci_archive(CONFIG, LAYERS, compress=compress), layout, expected_id=IMAGE_ID)
    assert descriptor == legacy
    assert layout.resolve("1.2.3") == descriptor
    # config + two distinct layers + our manifest; the archive's own manifest is not copied
    assert blob_count(layout) == 4


def test_saving_again_gives_the_same_digest_and_one_tag(tmp_path: Path) -> None:
    layout = OciLayout(tmp_path / "layout", durable=False)
    first = convert(docker_archive(CONFIG, LAYERS), layout)
    index_before = layout.index_path.read_bytes()
    assert convert(docker_archive(CONFIG, LAYERS), layout) == first
    assert layout.index_path.read_bytes() == index_before
    assert [entry["digest"] for entry in json.loads(index_before)["manifests"]] == [first.digest]


def test_a_layer_that_differs_from_its_diff_id_is_a_digest_mismatch_and_stores_nothing(
    tmp_path: Path,
) -> None:
    wrong = image_config(
        LAYERS, diff_ids=[sha256_digest(LAYER_A), "sha256:" + "0" * 64, sha256_digest(LAYER_A)]
    )
    layout = OciLayout(tmp_path / "layout", durable=False)
    for archive in (docker_archive(wrong, LAYERS), oci_archive(wrong, LAYERS, compress=True)):
        with pytest.raises(DigestMismatch, match=r"rootfs\.diff_ids says sha256:0000") as info:
            convert(archive, layout)
        assert IMAGE in str(info.value)
    assert layout.tags() == [] and blob_count(layout) == 0 and leftovers(layout) == []


def test_a_config_that_is_not_the_image_id_is_a_digest_mismatch(tmp_path: Path) -> None:
    layout = OciLayout(tmp_path / "layout", durable=False)
    with pytest.raises(DigestMismatch, match=f"not the image ID sha256:{'e' * 64}"):
        convert(docker_archive(CONFIG, LAYERS), layout, expected_id="sha256:" + "e" * 64)
    assert layout.tags() == [] and blob_count(layout) == 0


def test_the_image_id_picks_one_of_several_images(tmp_path: Path) -> None:
    other_config = image_config([LAYER_B])
    entries = [
        {"Config": "a.json", "RepoTags": [IMAGE], "Layers": ["a.tar", "b.tar", "a.tar"]},
        {"Config": "b.json", "RepoTags": None, "Layers": ["b.tar"]},
    ]
    archive = tar_bytes(
        [
            ("a.json", CONFIG),
            ("b.json", other_config),
            ("a.tar", LAYER_A),
            ("b.tar", LAYER_B),
            *manifest_json(entries),
        ]
    )
    layout = OciLayout(tmp_path / "layout", durable=False)
    with pytest.raises(InvalidInput, match="holds 2 images"):
        convert(archive, layout)
    for config in (other_config, CONFIG):
        descriptor = convert(archive, layout, expected_id=sha256_digest(config))
        found = layout.get_manifest("btp-manager", descriptor.digest)
        assert found is not None and found[0].config.digest == sha256_digest(config)


MALFORMED: dict[str, tuple[bytes, str]] = {
    "not a tar": (b"this is not a tar archive\n" * 100, "not a readable tar"),
    "empty": (b"", "not a readable tar"),
    "truncated": (docker_archive(CONFIG, LAYERS)[:5000], "not a readable tar"),
    "no manifest.json": (tar_bytes([("layer.tar", LAYER_A)]), "has no file 'manifest.json'"),
    "manifest.json not JSON": (tar_bytes([("manifest.json", b"{")]), "manifest.json .* is not JSON"),
    "manifest.json lists nothing": (tar_bytes(manifest_json([])), "lists no image"),
    "entry without layers": (tar_bytes(manifest_json([{"Config": "c.json"}])), "without Config and Layers"),
    "missing layer": (
        tar_bytes(
            [
                ("c.json", image_config([LAYER_A])),
                *manifest_json([{"Config": "c.json", "Layers": ["x/layer.tar"]}]),
            ]
        ),
        "has no file 'x/layer.tar'",
    ),
    "link out of the archive": (
        tar_bytes(
            [
                ("c.json", image_config([LAYER_A])),
                ("a/layer.tar", "../../etc/passwd"),
                *manifest_json([{"Config": "c.json", "Layers": ["a/layer.tar"]}]),
            ]
        ),
        "has no file 'a/layer.tar'",
    ),
    "fewer diff_ids than layers": (
        tar_bytes(
            [
                ("c.json", image_config([LAYER_A])),
                ("l.tar", LAYER_A),
                *manifest_json([{"Config": "c.json", "Layers": ["l.tar", "l.tar"]}]),
            ]
        ),
        "has 2 layers, but its config lists 1 rootfs.diff_ids",
    ),
    "config without rootfs": (
        tar_bytes([("c.json", b"{}"), *manifest_json([{"Config": "c.json", "Layers": []}])]),
        "no rootfs.diff_ids list",
    ),
    "corrupt gzip layer": (
        tar_bytes(
            [
                ("c.json", image_config([LAYER_A])),
                ("l.tar", gzip.compress(LAYER_A)[:-20]),
                *manifest_json([{"Config": "c.json", "Layers": ["l.tar"]}]),
            ]
        ),
        "is corrupt gzip",
    ),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_a_malformed_archive_is_invalid_input_and_stores_nothing(tmp_path: Path, case: str) -> None:
    archive, message = MALFORMED[case]
    layout = OciLayout(tmp_path / "layout", durable=False)
    with pytest.raises(InvalidInput, match=message):
        convert(archive, layout)
    assert layout.tags() == [] and blob_count(layout) == 0 and leftovers(layout) == []


def test_errors_of_the_stream_reach_the_caller_unchanged(tmp_path: Path) -> None:
    def broken() -> Iterator[bytes]:
        yield docker_archive(CONFIG, LAYERS)[:4096]
        raise ConnectionResetError("the daemon went away")

    layout = OciLayout(tmp_path / "layout", durable=False)
    with pytest.raises(ConnectionResetError):
        convert_docker_archive(broken(), layout, image=IMAGE, repository="btp-manager", tag="1")
    assert leftovers(layout) == []


class SavingAPI:
    """The two calls save_to_layout makes, answered without a daemon."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self.chunks = chunks
        self.base_url = "http+docker://canned"

    def inspect_image(self, name: str) -> dict[str, Any]:
        return {"Id": IMAGE_ID}

    def get_image(self, name: str) -> Iterator[bytes]:
        return self.chunks


class SavingClient:
    def __init__(self, chunks: Iterator[bytes]) -> None:
        self.api = SavingAPI(chunks)


def test_a_stream_broken_by_the_daemon_is_transient(tmp_path: Path) -> None:
    import requests

    def broken() -> Iterator[bytes]:
        yield docker_archive(CONFIG, LAYERS)[:4096]
        raise requests.exceptions.ChunkedEncodingError("Connection broken: IncompleteRead")

    layout = OciLayout(tmp_path / "layout", durable=False)
    with pytest.raises(Transient, match="cannot reach the Docker daemon"):
        ImageBuilder(SavingClient(broken())).save_to_layout(Reference.parse(IMAGE), layout)
    descriptor = ImageBuilder(SavingClient(chunked(docker_archive(CONFIG, LAYERS)))).save_to_layout(
        Reference.parse(IMAGE), layout, tag="snapshot"
    )
    assert layout.tags() == ["snapshot"] and layout.resolve("snapshot") == descriptor


def test_unreachable_daemon_is_transient(tmp_path: Path) -> None:
    import docker

    host = f"unix://{tmp_path}/no-daemon.sock"
    client = docker.DockerClient(base_url=host, version="1.41")  # no version negotiation: fails later
    with ImageBuilder(client, docker_host=host) as images, pytest.raises(Transient, match=host):
        images.save_to_layout(Reference.parse(IMAGE), OciLayout(tmp_path / "layout", durable=False))


# -- a real daemon ----------------------------------------------------------------------------------------


def skopeo(*args: str) -> bytes:
    done = subprocess.run(["skopeo", *args], capture_output=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout


@pytest.fixture(scope="module")
def builder(docker_daemon: DockerDaemon) -> Iterator[ImageBuilder]:
    with ImageBuilder(
        docker_daemon.client(), docker_host=docker_daemon.host, retry=RetryPolicy(attempts=1)
    ) as images:
        yield images


@pytest.fixture(scope="module")
def example_context(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not BUSYBOX.is_file():
        pytest.skip("/bin/busybox is missing (apt-get install busybox-static)")
    context = tmp_path_factory.mktemp("example") / "btp-operator"
    shutil.copytree(EXAMPLE, context)
    shutil.copy2(BUSYBOX, context / "bin" / "busybox")
    return context


def build_example(builder: ImageBuilder, context: Path, **labels: str) -> BuiltImage:
    spec = ImageBuild(
        context=context,
        reference=Reference.parse(f"127.0.0.1:5999/{unique('btp-manager')}:{VERSION}"),
        build_args={"VERSION": VERSION},
        labels={"io.kyma-project.module": "btp-operator", **labels},
    )
    return builder.build(spec)


@pytest.fixture(scope="module")
def example(builder: ImageBuilder, example_context: Path) -> BuiltImage:
    return build_example(builder, example_context)


@needs_skopeo
def test_skopeo_reads_the_saved_image_with_its_digest_and_labels(
    builder: ImageBuilder, example: BuiltImage, tmp_path: Path
) -> None:
    layout = OciLayout(tmp_path / "layout")
    descriptor = builder.save_to_layout(example.reference, layout)
    assert layout.tags() == [VERSION] and leftovers(layout) == []

    raw = skopeo("inspect", "--raw", f"oci:{layout.root}:{VERSION}")
    assert sha256_digest(raw) == descriptor.digest
    manifest = json.loads(raw)
    assert manifest["mediaType"] == OCI_MANIFEST
    assert manifest["config"]["digest"] == example.id  # the config is the image's own

    inspected = json.loads(skopeo("inspect", f"oci:{layout.root}:{VERSION}"))
    assert inspected["Digest"] == descriptor.digest
    assert inspected["Labels"]["io.kyma-project.module"] == "btp-operator"
    assert inspected["Labels"]["org.opencontainers.image.version"] == VERSION


@needs_skopeo
@needs_registry
def test_the_saved_image_copies_to_a_registry_pulls_and_runs(
    docker_daemon: DockerDaemon, builder: ImageBuilder, example_context: Path, tmp_path: Path
) -> None:
    image = build_example(builder, example_context, **{"io.kyma-project.test": uuid.uuid4().hex})
    layout = OciLayout(tmp_path / "layout")
    descriptor = builder.save_to_layout(image.reference, layout, tag="snapshot")
    found = layout.get_manifest("btp-manager", descriptor.digest)
    assert found is not None
    client = docker_daemon.client()
    try:
        client.images.remove(image.id, force=True)  # every tag: the pull must come from the registry
        with LocalRegistry() as registry:
            target = f"{registry.host}/btp-manager:snapshot"
            skopeo("copy", "--dest-tls-verify=false", f"oci:{layout.root}:snapshot", f"docker://{target}")
            progress = list(
                client.api.pull(f"{registry.host}/btp-manager", tag="snapshot", stream=True, decode=True)
            )
        # Each layer was downloaded and checked against its diff_id, none reused as "Already exists".
        pulled_layers = {entry["id"] for entry in progress if entry.get("status") == "Pull complete"}
        assert len(pulled_layers) == len(found[0].layers), progress
        assert client.images.get(target).id == image.id  # same config: the very image that was built
        output = client.containers.run(target, ["--version"], network_mode="none", remove=True)
        assert output.decode().strip() == f"btp-manager {VERSION}"
    finally:
        client.close()


def test_saving_again_from_the_daemon_gives_the_same_digest_and_one_tag(
    builder: ImageBuilder, example: BuiltImage, tmp_path: Path
) -> None:
    layout = OciLayout(tmp_path / "layout")
    first = builder.save_to_layout(example.reference, layout, tag="snapshot")
    assert builder.save_to_layout(example.reference, layout, tag="snapshot") == first
    assert builder.save_to_layout(example.reference, layout) == first  # the reference's tag
    entries = json.loads(layout.index_path.read_bytes())["manifests"]
    assert sorted(entry["annotations"]["org.opencontainers.image.ref.name"] for entry in entries) == [
        VERSION,
        "snapshot",
    ]
    assert {entry["digest"] for entry in entries} == {first.digest}


def test_saving_an_image_that_is_not_there_is_not_found(builder: ImageBuilder, tmp_path: Path) -> None:
    absent = Reference.parse(f"127.0.0.1:5999/{unique('absent')}:1.0.0")
    layout = OciLayout(tmp_path / "layout")
    with pytest.raises(NotFound) as info:
        builder.save_to_layout(absent, layout)
    assert str(absent) in str(info.value) and "build it first" in str(info.value)
    assert layout.tags() == []
