"""The module OCI artifact (an OCM component version): build it deterministically, push, verify, read back.

Layout (``spec/kyma-module.md``): a config blob naming the descriptor layer, layer 0 a tar holding
``component-descriptor.yaml``, then one layer per local blob (raw manifest and default CR as
``application/octet-stream``, a Helm chart as ``application/gzip``). Every byte is a function of the
inputs — tar headers with mtime 0, uid/gid 0, empty owner names, mode 0644; canonical JSON — so building
the same inputs twice gives the same manifest digest. :func:`push_module` relies on that to be
idempotent and to refuse replacing a version with different content.
"""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

import attrs
import yaml

from btp_release.errors import AlreadyExists, InvalidInput, NotFound
from btp_release.module.descriptor import (
    RESOURCE_CHART,
    RESOURCE_DEFAULT_CR,
    RESOURCE_RAW_MANIFEST,
    LocalBlob,
    build_descriptor,
    descriptor_yaml,
    local_resources,
)
from btp_release.module.spec import ModuleInputs, ModuleSpec
from btp_release.module.validate import ImageMismatch, validate_inputs
from btp_release.oci.model import ArtifactStore, Descriptor, Manifest, sha256_digest
from btp_release.redaction import get_logger

__all__ = [
    "DESCRIPTOR_FILE",
    "HELM_CHART_MEDIA_TYPE",
    "OCM_CONFIG_MEDIA_TYPE",
    "OCM_DESCRIPTOR_MEDIA_TYPE",
    "OCTET_STREAM",
    "ModuleArtifact",
    "ModuleContent",
    "assemble_artifact",
    "build_module",
    "deterministic_tar",
    "push_module",
    "read_module",
    "select_install_layer",
    "verify_module",
]

log = get_logger(__name__)

OCM_CONFIG_MEDIA_TYPE = "application/vnd.ocm.software.component.config.v1+json"
OCM_DESCRIPTOR_MEDIA_TYPE = "application/vnd.ocm.software.component-descriptor.v2+yaml+tar"
# Older OCM / component-cli wrote the gardener media types; readers accept both.
_LEGACY_CONFIG_MEDIA_TYPE = "application/vnd.gardener.cloud.cnudie.component.config.v1+json"
_LEGACY_DESCRIPTOR_MEDIA_TYPE = "application/vnd.gardener.cloud.cnudie.component-descriptor.v2+yaml+tar"
OCTET_STREAM = "application/octet-stream"
HELM_CHART_MEDIA_TYPE = "application/gzip"
DESCRIPTOR_FILE = "component-descriptor.yaml"


def _octal(value: int, width: int) -> bytes:
    return b"%0*o\0" % (width - 1, value)


def deterministic_tar(files: Mapping[str, bytes]) -> bytes:
    """A ustar archive of ``files`` whose bytes depend only on names and contents.

    Headers are written here rather than by ``tarfile`` so the bytes cannot change with the Python
    version: entries sorted by name, mode 0644, uid/gid 0, empty owner names, mtime 0, no record padding
    (like Go's archive/tar, which OCM uses).
    """
    out = bytearray()
    for name in sorted(files):
        data = files[name]
        encoded = name.encode("utf-8")
        if len(encoded) > 100:
            raise InvalidInput(f"tar member name {name!r} is longer than 100 bytes")
        header = bytearray(512)
        fields = [
            (0, encoded),
            (100, _octal(0o644, 8)),
            (108, _octal(0, 8)),
            (116, _octal(0, 8)),
            (124, _octal(len(data), 12)),
            (136, _octal(0, 12)),
            (148, b" " * 8),  # checksum placeholder
            (156, b"0"),  # regular file
            (257, b"ustar\0" + b"00"),
            (329, _octal(0, 8)),
            (337, _octal(0, 8)),
        ]
        for offset, value in fields:
            header[offset : offset + len(value)] = value
        header[148:156] = b"%06o\0 " % sum(header)
        out += header + data + bytes(-len(data) % 512)
    return bytes(out + bytes(1024))


def _tar_member(data: bytes, name: str) -> bytes:
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as archive:
            member = archive.extractfile(name)
            if member is None:
                raise KeyError(name)
            return member.read()
    except (KeyError, tarfile.TarError) as exc:
        raise InvalidInput(f"component descriptor layer has no readable {name}: {exc}") from exc


def _canonical_json(data: Any) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":")).encode()


def _blob_map(value: Mapping[str, bytes]) -> dict[str, bytes]:
    return dict(value)


@attrs.frozen
class ModuleArtifact:
    """A built module: the OCI manifest, all its blobs (config, layers) by digest, the descriptor."""

    manifest: Manifest
    blobs: Mapping[str, bytes] = attrs.field(converter=_blob_map, hash=False)
    descriptor: dict[str, Any] = attrs.field(hash=False)

    @property
    def digest(self) -> str:
        """The manifest digest: equal for equal inputs; what E2E installs and publish re-checks."""
        return self.manifest.digest

    def local_blob(self, resource_name: str) -> bytes | None:
        """Content of the local resource ``resource_name`` (``raw-manifest``, ``default-cr``…), if any."""
        found = local_resources(self.descriptor).get(resource_name)
        return self.blobs[found[1]] if found else None

    @property
    def raw_manifest(self) -> bytes | None:
        return self.local_blob(RESOURCE_RAW_MANIFEST)

    @property
    def default_cr(self) -> bytes | None:
        return self.local_blob(RESOURCE_DEFAULT_CR)

    @property
    def chart(self) -> bytes | None:
        return self.local_blob(RESOURCE_CHART)


def assemble_artifact(
    descriptor: dict[str, Any], local_blobs: Sequence[tuple[LocalBlob, bytes]]
) -> ModuleArtifact:
    """Pack a descriptor and the local blob contents it references into a :class:`ModuleArtifact`."""
    descriptor_tar = deterministic_tar({DESCRIPTOR_FILE: descriptor_yaml(descriptor)})
    descriptor_layer = Descriptor.for_bytes(OCM_DESCRIPTOR_MEDIA_TYPE, descriptor_tar)
    config = _canonical_json({"componentDescriptorLayer": descriptor_layer.to_json()})
    config_descriptor = Descriptor.for_bytes(OCM_CONFIG_MEDIA_TYPE, config)
    blobs = {config_descriptor.digest: config, descriptor_layer.digest: descriptor_tar}
    layers = [descriptor_layer]
    for blob, data in local_blobs:
        if sha256_digest(data) != blob.digest:
            raise InvalidInput(f"local blob {blob.name}: content does not match digest {blob.digest}")
        if blob.digest not in blobs:  # identical contents share one layer
            layers.append(Descriptor.for_bytes(blob.media_type, data))
            blobs[blob.digest] = data
    return ModuleArtifact(Manifest(config_descriptor, tuple(layers)), blobs, descriptor)


def build_module(
    spec: ModuleSpec, inputs: ModuleInputs | None = None, *, image_mismatch: ImageMismatch = "warn"
) -> ModuleArtifact:
    """Validate the inputs (``ValidationFailed`` lists every problem) and build the artifact; no I/O
    besides reading the files ``spec`` names when ``inputs`` is not given.

    The manifest is parsed once, by the validation; the images it deploys and the scope of the default
    CR's CRD found there go into the descriptor of the current (modulectl) shape."""
    inputs = inputs if inputs is not None else ModuleInputs.load(spec)
    checked = validate_inputs(spec, inputs, image_mismatch=image_mismatch)
    contents: list[tuple[LocalBlob, bytes]] = []
    if inputs.manifest is not None:
        contents.append(
            (
                LocalBlob(RESOURCE_RAW_MANIFEST, "yaml", OCTET_STREAM, sha256_digest(inputs.manifest)),
                inputs.manifest,
            )
        )
    if inputs.chart is not None:
        contents.append(
            (
                LocalBlob(RESOURCE_CHART, "helm-chart", HELM_CHART_MEDIA_TYPE, sha256_digest(inputs.chart)),
                inputs.chart,
            )
        )
    if inputs.default_cr is not None and spec.default_cr_layer:
        digest = sha256_digest(inputs.default_cr)
        contents.append((LocalBlob(RESOURCE_DEFAULT_CR, "yaml", OCTET_STREAM, digest), inputs.default_cr))
    descriptor = build_descriptor(
        spec,
        [blob for blob, _ in contents],
        inputs.security,
        images=checked.images,
        cluster_scoped=checked.default_cr_cluster_scoped,
    )
    return assemble_artifact(descriptor, contents)


def _media_types(manifest: Manifest) -> dict[str, str]:
    return {d.digest: d.media_type for d in (manifest.config, *manifest.layers)}


def push_module(
    store: ArtifactStore, repository: str, tag: str, artifact: ModuleArtifact, *, overwrite: bool = False
) -> Descriptor:
    """Push the artifact under ``tag``; idempotent.

    Looks the tag up first: the same manifest digest → nothing is pushed and its descriptor is returned;
    a different digest → ``AlreadyExists`` (naming both digests) unless ``overwrite=True``. Otherwise the
    blobs are pushed (stores skip blobs they have), then the manifest.
    """
    found = store.get_manifest(repository, tag)
    if found is not None:
        existing = found[1]
        if existing.digest == artifact.digest:
            log.info("module %s:%s already has digest %s; nothing to push", repository, tag, existing.digest)
            return existing
        if not overwrite:
            raise AlreadyExists(
                f"module version {repository}:{tag} already exists with different content "
                f"(registry: {existing.digest}, this build: {artifact.digest})",
                hint="release a new version; replace it (overwrite=True) only if it was never published",
            )
        log.warning("overwriting module %s:%s (%s → %s)", repository, tag, existing.digest, artifact.digest)
    media_types = _media_types(artifact.manifest)
    for digest in sorted(artifact.blobs):
        pushed = store.push_blob(repository, artifact.blobs[digest], media_types[digest])
        if pushed.digest != digest:
            raise InvalidInput(f"store stored blob {digest} as {pushed.digest}")
    descriptor = store.push_manifest(repository, artifact.manifest, tag)
    log.info("pushed module %s:%s (%s)", repository, tag, descriptor.digest)
    return descriptor


def verify_module(store: ArtifactStore, repository: str, tag: str, artifact: ModuleArtifact) -> Descriptor:
    """Check that ``tag`` points at exactly this artifact and every blob is readable and intact.

    Raises ``NotFound`` (no such tag), ``AlreadyExists`` (the tag has other content) or the store's
    error for a missing or corrupt blob. Use it before E2E and again before publishing.
    """
    found = store.get_manifest(repository, tag)
    if found is None:
        raise NotFound(f"module {repository}:{tag} not found", hint="push it first (push_module)")
    if found[1].digest != artifact.digest:
        raise AlreadyExists(
            f"module {repository}:{tag} has digest {found[1].digest}, expected {artifact.digest}",
            hint="the registry holds different content than was built and tested",
        )
    for descriptor in (artifact.manifest.config, *artifact.manifest.layers):
        store.read_blob(repository, descriptor)
    return found[1]


InstallKind = Literal["helm-chart", "raw-manifest"]


def select_install_layer(
    manifest: Manifest, read_blob: Callable[[Descriptor], bytes]
) -> tuple[InstallKind, Descriptor] | None:
    """The seed E2E's rule: a ``application/gzip`` layer is a Helm chart; otherwise the
    ``application/octet-stream`` layer whose YAML contains ``kind: CustomResourceDefinition`` is the raw
    manifest. ``None`` if neither is found."""
    for layer in manifest.layers:
        if layer.media_type == HELM_CHART_MEDIA_TYPE:
            return "helm-chart", layer
    for layer in manifest.layers:
        if layer.media_type == OCTET_STREAM and b"kind: CustomResourceDefinition" in read_blob(layer):
            return "raw-manifest", layer
    return None


@attrs.frozen
class ModuleContent:
    """A module artifact read back from a store."""

    manifest: Manifest
    manifest_descriptor: Descriptor
    descriptor: dict[str, Any] = attrs.field(hash=False)
    raw_manifest: bytes | None
    default_cr: bytes | None
    chart: bytes | None

    @property
    def is_helm_chart(self) -> bool:
        return self.chart is not None

    @property
    def digest(self) -> str:
        return self.manifest_descriptor.digest


def _read_descriptor(store: ArtifactStore, repository: str, manifest: Manifest, where: str) -> dict[str, Any]:
    if manifest.config.media_type not in (OCM_CONFIG_MEDIA_TYPE, _LEGACY_CONFIG_MEDIA_TYPE):
        raise InvalidInput(
            f"{where} is not an OCM component version (config media type {manifest.config.media_type})"
        )
    try:
        config = json.loads(store.read_blob(repository, manifest.config))
        layer = Descriptor.from_json(config["componentDescriptorLayer"])
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidInput(f"{where}: unreadable OCM config: {exc}") from exc
    if layer.digest not in {d.digest for d in manifest.layers}:
        raise InvalidInput(f"{where}: the descriptor layer {layer.digest} is not a layer of the manifest")
    if layer.media_type not in (OCM_DESCRIPTOR_MEDIA_TYPE, _LEGACY_DESCRIPTOR_MEDIA_TYPE):
        log.warning("%s: unexpected descriptor layer media type %s", where, layer.media_type)
    text = _tar_member(store.read_blob(repository, layer), DESCRIPTOR_FILE)
    try:
        descriptor = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InvalidInput(f"{where}: component descriptor is not YAML: {exc}") from exc
    if not isinstance(descriptor, dict) or not isinstance(descriptor.get("component"), dict):
        raise InvalidInput(f"{where}: component descriptor has no component")
    return descriptor


def read_module(store: ArtifactStore, repository: str, reference: str) -> ModuleContent:
    """Read a module by tag or digest: its descriptor and the local blobs it references.

    Accepts both local blob access styles (``localBlob`` + ``localReference``, ``localOciBlob`` +
    ``digest``). The raw manifest is the ``raw-manifest`` resource, or — for artifacts whose resources are
    named otherwise — the layer the seed E2E would pick (:func:`select_install_layer`).
    """
    where = f"module {repository}:{reference}"
    found = store.get_manifest(repository, reference)
    if found is None:
        raise NotFound(f"{where} not found", hint="check the repository path and the tag (vX.Y.Z)")
    manifest, manifest_descriptor = found
    descriptor = _read_descriptor(store, repository, manifest, where)
    layers = {d.digest: d for d in manifest.layers}
    local = local_resources(descriptor)

    def read(digest: str) -> bytes:
        if digest not in layers:
            raise InvalidInput(f"{where}: the descriptor references blob {digest}, which is not a layer")
        return store.read_blob(repository, layers[digest])

    def resource(name: str) -> bytes | None:
        return read(local[name][1]) if name in local else None

    chart_digests = [digest for name, (res, digest) in local.items() if res.get("type") == "helm-chart"]
    chart = read(chart_digests[0]) if chart_digests else None
    raw_manifest = resource(RESOURCE_RAW_MANIFEST)
    if raw_manifest is None and chart is None:
        picked = select_install_layer(manifest, lambda d: store.read_blob(repository, d))
        if picked is not None:
            data = store.read_blob(repository, picked[1])
            chart, raw_manifest = (data, None) if picked[0] == "helm-chart" else (None, data)
    return ModuleContent(
        manifest=manifest,
        manifest_descriptor=manifest_descriptor,
        descriptor=descriptor,
        raw_manifest=raw_manifest,
        default_cr=resource(RESOURCE_DEFAULT_CR),
        chart=chart,
    )
