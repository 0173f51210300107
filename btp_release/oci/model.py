"""OCI values shared by the registry client, the OCI layout store and module packaging.

Pure: parsing and rendering references, descriptors and image manifests; no I/O. Manifests are
rendered canonically (sorted keys, no spaces) so the same content always gets the same digest.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any, Protocol

import attrs

from btp_release.errors import InvalidInput

__all__ = [
    "DOCKER_MANIFEST",
    "MANIFEST_ACCEPT",
    "OCI_EMPTY",
    "OCI_INDEX",
    "OCI_MANIFEST",
    "ArtifactStore",
    "Descriptor",
    "Manifest",
    "Reference",
    "TITLE",
    "sha256_digest",
]

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"
TITLE = "org.opencontainers.image.title"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
# Without the OCI types in Accept, distribution answers 404 for an OCI manifest (spec/oci-performance.md).
MANIFEST_ACCEPT = ", ".join([OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST])

_DIGEST = re.compile(r"^sha256:[a-f0-9]{64}$")
_REPO = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def check_digest(digest: str) -> str:
    if not _DIGEST.match(digest):
        raise InvalidInput(f"invalid digest {digest!r}", hint="expected sha256:<64 hex digits>")
    return digest


@attrs.frozen
class Reference:
    """``registry/repository[:tag][@digest]``; ``registry`` includes the port (``127.0.0.1:5000``)."""

    registry: str
    repository: str
    tag: str | None = None
    digest: str | None = None

    def __attrs_post_init__(self) -> None:
        if not self.registry or any(c in self.registry for c in "/ @"):
            raise InvalidInput(f"invalid registry host {self.registry!r}")
        if not _REPO.match(self.repository) or len(self.repository) > 255:
            raise InvalidInput(
                f"invalid repository name {self.repository!r}",
                hint="lowercase letters, digits, separators . _ - and / between path components",
            )
        if self.tag is not None and not _TAG.match(self.tag):
            raise InvalidInput(
                f"invalid tag {self.tag!r}", hint="at most 128 of [A-Za-z0-9_.-], not starting with . or -"
            )
        if self.digest is not None:
            check_digest(self.digest)

    @classmethod
    def parse(cls, text: str) -> Reference:
        """Parse ``host[:port]/repo[:tag][@sha256:…]``; the registry is required (no Docker Hub default)."""
        rest, _, digest = text.partition("@")
        host, slash, path = rest.partition("/")
        if not slash or not path or ("." not in host and ":" not in host and host != "localhost"):
            raise InvalidInput(
                f"invalid image reference {text!r}",
                hint="give the registry explicitly, e.g. europe-docker.pkg.dev/project/repo/name:1.2.0",
            )
        repository, tag = path, None
        last = path.rsplit("/", 1)[-1]
        if ":" in last:
            repository, _, tag = path.rpartition(":")
        return cls(host, repository, tag or None, digest or None)

    @classmethod
    def from_image_name(cls, text: str) -> Reference:
        """An image name as a Kubernetes manifest spells it, normalised as Docker does: no registry
        means Docker Hub (``registry-1.docker.io``, one-part names under ``library/``), no tag
        means ``latest``."""
        rest, at, digest = text.partition("@")
        first, slash, _ = rest.partition("/")
        has_host = slash and ("." in first or ":" in first or first == "localhost")
        if not has_host:
            rest = f"docker.io/{rest}"
        host, _, path = rest.partition("/")
        if host in ("docker.io", "index.docker.io"):
            host = "registry-1.docker.io"
            if "/" not in path:
                path = f"library/{path}"
        if ":" not in path.rsplit("/", 1)[-1] and not at:
            path += ":latest"
        return cls.parse(f"{host}/{path}{at}{digest}")

    @property
    def reference(self) -> str:
        """What goes into ``/v2/<repo>/manifests/<reference>``: the digest if pinned, else the tag."""
        if self.digest:
            return self.digest
        if self.tag:
            return self.tag
        raise InvalidInput(f"image reference {self} has neither tag nor digest")

    def with_tag(self, tag: str) -> Reference:
        return attrs.evolve(self, tag=tag, digest=None)

    def with_digest(self, digest: str) -> Reference:
        return attrs.evolve(self, digest=digest)

    def __str__(self) -> str:
        text = f"{self.registry}/{self.repository}"
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text


def _annotations(value: Mapping[str, str] | None) -> Mapping[str, str] | None:
    return dict(value) if value else None


@attrs.frozen
class Descriptor:
    """An OCI content descriptor: media type, digest and size of a blob or manifest."""

    media_type: str
    digest: str = attrs.field(validator=lambda _i, _a, v: check_digest(v))
    size: int = attrs.field(validator=attrs.validators.ge(0))
    annotations: Mapping[str, str] | None = attrs.field(default=None, converter=_annotations, eq=False)

    @classmethod
    def for_bytes(
        cls, media_type: str, data: bytes, annotations: Mapping[str, str] | None = None
    ) -> Descriptor:
        return cls(media_type, sha256_digest(data), len(data), annotations)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"mediaType": self.media_type, "digest": self.digest, "size": self.size}
        if self.annotations:
            data["annotations"] = dict(self.annotations)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Descriptor:
        try:
            return cls(
                str(data["mediaType"]), str(data["digest"]), int(data["size"]), data.get("annotations")
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInput(f"invalid OCI descriptor {dict(data)!r}: {exc}") from exc


@attrs.frozen
class Manifest:
    """An OCI image manifest (schema 2) with a config and ordered layers."""

    config: Descriptor
    layers: tuple[Descriptor, ...]
    media_type: str = OCI_MANIFEST
    annotations: Mapping[str, str] | None = attrs.field(default=None, converter=_annotations, eq=False)
    artifact_type: str | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "schemaVersion": 2,
            "mediaType": self.media_type,
            "config": self.config.to_json(),
            "layers": [layer.to_json() for layer in self.layers],
        }
        if self.artifact_type:
            data["artifactType"] = self.artifact_type
        if self.annotations:
            data["annotations"] = dict(self.annotations)
        return data

    def to_bytes(self) -> bytes:
        """Canonical JSON: the bytes that are pushed and whose SHA-256 is the manifest digest."""
        return json.dumps(self.to_json(), sort_keys=True, separators=(",", ":")).encode()

    @property
    def digest(self) -> str:
        return sha256_digest(self.to_bytes())

    def descriptor(self) -> Descriptor:
        raw = self.to_bytes()
        return Descriptor(self.media_type, sha256_digest(raw), len(raw))

    @classmethod
    def from_bytes(cls, raw: bytes) -> Manifest:
        """Parse an image manifest (OCI or Docker schema 2); indexes are refused."""
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise InvalidInput(f"manifest is not JSON: {exc}") from exc
        if not isinstance(data, dict) or data.get("schemaVersion") != 2 or "config" not in data:
            raise InvalidInput("not an image manifest (schemaVersion 2 with a config)")
        return cls(
            config=Descriptor.from_json(data["config"]),
            layers=tuple(Descriptor.from_json(layer) for layer in data.get("layers") or ()),
            media_type=str(data.get("mediaType") or OCI_MANIFEST),
            annotations=data.get("annotations"),
            artifact_type=data.get("artifactType"),
        )


class ArtifactStore(Protocol):
    """Where artifacts go: a registry (``RegistryClient``) or an OCI layout directory (``OciLayout``).

    ``repository`` is the repository path within the store (an OCI layout ignores it: one layout
    holds one repository). Implementations stream ``Path`` sources and verify digests.
    """

    def push_blob(self, repository: str, source: bytes | Any, media_type: str) -> Descriptor:
        """Store a blob from bytes or a ``pathlib.Path``; skip it if already present."""
        ...

    def push_manifest(self, repository: str, manifest: Manifest, tag: str | None) -> Descriptor:
        """Store the manifest (after its blobs) and point ``tag`` at it; returns its descriptor."""
        ...

    def get_manifest(self, repository: str, reference: str) -> tuple[Manifest, Descriptor] | None:
        """The manifest for a tag or digest, or ``None`` if there is none."""
        ...

    def read_blob(self, repository: str, descriptor: Descriptor) -> bytes:
        """A (small) blob's content, verified against the descriptor's digest and size."""
        ...
