"""publish_from_layout: a snapshot's artifact reaches the registry with the digest it had."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from btp_release.errors import NotFound
from btp_release.localservices.registry import LocalRegistry, registry_binary
from btp_release.oci import Manifest, OciLayout, Reference, RegistryClient
from btp_release.oci.transfer import publish_from_layout

pytestmark = pytest.mark.skipif(registry_binary() is None, reason="docker-registry is not installed")

REPO = "kyma-project/prod/unsigned/component-descriptors/kyma-project.io/module/btp-operator"


@pytest.fixture
def registry() -> Iterator[LocalRegistry]:
    with LocalRegistry() as reg:
        yield reg


def _snapshot(root: Path) -> tuple[OciLayout, Manifest]:
    layout = OciLayout(root)
    config = layout.push_blob(REPO, b'{"componentDescriptorLayer":{}}', "application/json")
    layers = (
        layout.push_blob(REPO, b"kind: CustomResourceDefinition\n" * 50, "application/octet-stream"),
        layout.push_blob(REPO, b"kind: BtpOperator\n", "application/octet-stream"),
        layout.push_blob(REPO, b"kind: BtpOperator\n", "application/octet-stream"),  # same blob twice
    )
    manifest = Manifest(config, layers)
    layout.push_manifest(REPO, manifest, "v1.2.0")
    return layout, manifest


class Recording(httpx.HTTPTransport):
    def __init__(self) -> None:
        super().__init__()
        self.requests: list[tuple[str, str]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append((request.method, request.url.path))
        return super().handle_request(request)


def test_published_digest_is_the_snapshot_digest_and_a_rerun_uploads_nothing(
    registry: LocalRegistry, tmp_path: Path
) -> None:
    layout, manifest = _snapshot(tmp_path / "dist")
    dest = Reference(registry.host, REPO, "v1.2.0")
    transport = Recording()
    with RegistryClient(registry.host, transport=transport) as client:
        published = publish_from_layout(layout, "v1.2.0", client, dest)
        resolved = layout.resolve("v1.2.0")
        assert resolved is not None
        assert published.digest == manifest.digest == resolved.digest
        head = client.head_manifest(dest)
        assert head is not None
        assert head.digest == manifest.digest
        assert client.pull_artifact(dest, tmp_path / "pulled") == manifest  # every blob verified
        transport.requests.clear()
        again = publish_from_layout(layout, "v1.2.0", client, dest)
    assert again.digest == published.digest
    uploads = [r for r in transport.requests if r[0] in ("POST", "PATCH") or "/blobs/uploads" in r[1]]
    assert uploads == []


def test_missing_tag_or_blob_uploads_nothing(registry: LocalRegistry, tmp_path: Path) -> None:
    layout, manifest = _snapshot(tmp_path / "dist")
    dest = Reference(registry.host, REPO, "v1.2.0")
    with RegistryClient(registry.host) as client:
        with pytest.raises(NotFound, match=r"v9\.9\.9"):
            publish_from_layout(layout, "v9.9.9", client, dest)
        layout.blob_path(manifest.layers[0].digest).unlink()
        with pytest.raises(NotFound, match="nothing was uploaded"):
            publish_from_layout(layout, "v1.2.0", client, dest)
        assert client.head_manifest(dest) is None
        assert not client.blob_exists(REPO, manifest.config.digest)
