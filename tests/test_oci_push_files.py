"""RegistryClient.push_files: a fresh artifact from files, each read once, against the real registry."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from btp_release.errors import InvalidInput
from btp_release.localservices.registry import LocalRegistry, registry_binary
from btp_release.oci import Reference, RegistryClient
from btp_release.oci.model import OCI_EMPTY, TITLE

pytestmark = pytest.mark.skipif(registry_binary() is None, reason="docker-registry is not installed")

LAYER = "application/octet-stream"


@pytest.fixture(scope="module")
def registry() -> Iterator[LocalRegistry]:
    with LocalRegistry() as reg:
        yield reg


def test_small_and_large_files_become_titled_layers_in_order(registry: LocalRegistry, tmp_path: Path) -> None:
    small = tmp_path / "raw-manifest.yaml"
    small.write_bytes(b"kind: CustomResourceDefinition\n" * 100)
    large = tmp_path / "big.bin"  # above the 4 MiB in-memory limit: streamed while hashing
    large.write_bytes(os.urandom(5 << 20))
    empty = tmp_path / "empty.yaml"
    empty.write_bytes(b"")
    ref = Reference(registry.host, "files/module", "v1.0.0")
    with RegistryClient(registry.host) as client:
        manifest, descriptor = client.push_files(ref, [small, large, empty], LAYER)
        assert [layer.annotations for layer in manifest.layers] == [
            {TITLE: "raw-manifest.yaml"},
            {TITLE: "big.bin"},
            {TITLE: "empty.yaml"},
        ]
        for layer, path in zip(manifest.layers, [small, large, empty], strict=True):
            assert layer.digest == "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()
            assert layer.size == path.stat().st_size
            assert layer.media_type == LAYER
        assert manifest.config.media_type == OCI_EMPTY
        assert descriptor.digest == manifest.digest
        head = client.head_manifest(ref)
        assert head is not None
        assert head.digest == manifest.digest
        pulled = client.pull_artifact(ref, tmp_path / "out")  # verifies every digest
        assert pulled == manifest
        assert (tmp_path / "out" / manifest.layers[1].digest.removeprefix("sha256:")).read_bytes() == (
            large.read_bytes()
        )


def test_pushing_the_same_files_again_gives_the_same_manifest(
    registry: LocalRegistry, tmp_path: Path
) -> None:
    path = tmp_path / "a.yaml"
    path.write_text("a: 1\n")
    ref = Reference(registry.host, "files/again", "1")
    with RegistryClient(registry.host) as client:
        first, _ = client.push_files(ref, [path], LAYER)
        second, _ = client.push_files(ref, [path], LAYER)
    assert first.digest == second.digest
    raw = httpx.get(f"{registry.url}/v2/files/again/tags/list", timeout=5).json()
    assert raw["tags"] == ["1"]


def test_missing_file_is_invalid_input_and_no_tag_is_created(registry: LocalRegistry, tmp_path: Path) -> None:
    ref = Reference(registry.host, "files/missing", "1")
    with RegistryClient(registry.host) as client:
        with pytest.raises(InvalidInput, match=r"nope\.yaml"):
            client.push_files(ref, [tmp_path / "nope.yaml"], LAYER)
        assert client.head_manifest(ref) is None
