"""The OCM component descriptor (schema v2) of a module version, built from a ``ModuleSpec``.

Pure: the descriptor is a plain ``dict`` (it is embedded as is into the ModuleTemplate) and
:func:`descriptor_yaml` renders it deterministically (sorted keys, like the Go YAML the Kyma CLI wrote).
Required fields and name patterns are those of ocm-spec's ``compdesc/v2`` JSON schema and are checked by
:func:`check_descriptor`. Two shapes, after ``spec.shape``:

- ``legacy-2023`` (``spec/kyma-module.md``): what the Kyma CLI of 2023 wrote — the scanner config's
  images as ``ociImage`` resources and its settings as ``scan.security.kyma-project.io/*`` source labels;
- ``modulectl``: what modulectl's component constructor describes today (``kyma-today.md`` section 3) —
  one ``ociArtifact`` resource per image the manifest deploys, the component labels ``beta``,
  ``internal``, ``requiresDowntime``, ``is-cluster-scoped``, the scan switch and the responsible team;
  no scanner-config labels (modulectl dropped them).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import yaml

from btp_release.errors import InvalidInput
from btp_release.module.security import SecurityConfig, image_name_and_tag, parse_image_reference
from btp_release.module.spec import AccessStyle, ModuleSpec
from btp_release.redaction import get_logger

__all__ = [
    "RESOURCE_CHART",
    "RESOURCE_DEFAULT_CR",
    "RESOURCE_RAW_MANIFEST",
    "LocalBlob",
    "build_descriptor",
    "check_descriptor",
    "descriptor_yaml",
    "image_resource_name_and_version",
    "local_blob_digest",
    "local_resources",
]

log = get_logger(__name__)

RESOURCE_RAW_MANIFEST = "raw-manifest"
RESOURCE_DEFAULT_CR = "default-cr"
RESOURCE_CHART = "helm-chart"

LABEL_GIT_REF = "git.kyma-project.io/ref"
LABEL_SCAN_ENABLED = "security.kyma-project.io/scan"
LABEL_SCAN_PREFIX = "scan.security.kyma-project.io/"
LABEL_IMAGE_TYPE = LABEL_SCAN_PREFIX + "type"
# Component labels of the current shape (modulectl internal/service/create, lifecycle-manager api/shared).
LABEL_BETA = "operator.kyma-project.io/beta"
LABEL_INTERNAL = "operator.kyma-project.io/internal"
LABEL_REQUIRES_DOWNTIME = "operator.kyma-project.io/requiresDowntime"
LABEL_CLUSTER_SCOPED = "operator.kyma-project.io/is-cluster-scoped"
LABEL_RESPONSIBLES = "cloud.gardener.cnudie/responsibles"
LABEL_BUILT_BY = "kyma-project.io/built-by"
BUILT_BY = "btp-release"
RESPONSIBLES_HOST = "github.tools.sap"
# modulectl's versions of image tags: SemVer with an optional leading v (its constructor's pattern).
_IMAGE_SEMVER = re.compile(
    r"^v?(\d+)\.(\d+)\.(\d+)"
    r"(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?"
    r"(?:\+([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?$"
)

_IDENTITY_KEY = re.compile(r"^[a-z0-9]([-_+a-z0-9]*[a-z0-9])?$")
_RELAXED_SEMVER = re.compile(
    r"^v?(0|[1-9]\d*)(\.(0|[1-9]\d*))?(\.(0|[1-9]\d*))?"
    r"(-((0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(\.(0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(\+([0-9a-zA-Z-]+(\.[0-9a-zA-Z-]+)*))?$"
)
_LABEL_VERSION = re.compile(r"^v[0-9]+$")


@attrs.frozen
class LocalBlob:
    """A resource stored as a layer of the module artifact and referenced from the descriptor by digest."""

    name: str
    type: str
    media_type: str
    digest: str


def _label(name: str, value: Any) -> dict[str, Any]:
    return {"name": name, "value": value, "version": "v1"}


def _access(blob: LocalBlob, style: AccessStyle) -> dict[str, str]:
    if style == "localOciBlob":  # older OCM (see the 2023 example template)
        return {"type": "localOciBlob", "digest": blob.digest}
    return {"type": "localBlob", "localReference": blob.digest, "mediaType": blob.media_type}


def _source_labels(spec: ModuleSpec, security: SecurityConfig | None) -> list[dict[str, Any]]:
    labels = [_label(LABEL_GIT_REF, spec.resolved_git_ref)]
    if security is not None:
        # Order and empty-string dev-branch/rc-tag as the Kyma CLI (autumn 2023) wrote them; language and
        # exclude only when the file has them (mend, or whitesource in the old format): nothing invented.
        labels += [
            _label(LABEL_SCAN_PREFIX + "dev-branch", security.dev_branch or ""),
            _label(LABEL_SCAN_PREFIX + "rc-tag", security.rc_tag or ""),
        ]
        scan = security.source_scan
        if scan is not None and scan.language is not None:
            labels.append(_label(LABEL_SCAN_PREFIX + "language", scan.language))
        if scan is not None and scan.exclude is not None:
            labels.append(_label(LABEL_SCAN_PREFIX + "exclude", ",".join(scan.exclude)))
    return labels


def _image_resource(image: str, *, shape: str) -> dict[str, Any]:
    """An image as a descriptor resource: the 2023 ``ociImage``/``ociRegistry`` (named by its last
    path element and tag), or the ``ociArtifact`` modulectl's constructor writes today."""
    if shape == "legacy-2023":
        (name, version), kind, access = image_name_and_tag(image), "ociImage", "ociRegistry"
    else:
        (name, version), kind, access = image_resource_name_and_version(image), "ociArtifact", "ociArtifact"
    return {
        "name": name,
        "type": kind,
        "relation": "external",
        "version": version,
        "access": {"type": access, "imageReference": image},
        "labels": [_label(LABEL_IMAGE_TYPE, "third-party-image")],
    }


def _ocm_tag(tag: str) -> str:
    """A tag as an OCM pre-release: characters other than ``[A-Za-z0-9.-]`` become ``-``."""
    normalized = re.sub(r"[^a-zA-Z0-9.-]", "-", tag).strip("-.")
    return normalized or "unknown"


def image_resource_name_and_version(image: str) -> tuple[str, str]:
    """The resource name and version modulectl's component constructor gives an image.

    Name: the image's last path element, plus ``-<first 8 hex of the digest>`` when it is digested.
    Version: the tag if it is SemVer (``v`` allowed), else ``0.0.0-<tag>``; when digested, plus
    ``+sha256.<first 12 hex>`` (``0.0.0+sha256.<12 hex>`` without tag). ``InvalidInput`` if ``image``
    is not an image reference, has neither tag nor digest, or is tagged ``latest``/``main`` (modulectl
    refuses those too).
    """
    reference = parse_image_reference(image)
    tag, digest = reference.tag, reference.digest_hex
    if tag is not None and tag.lower() in ("latest", "main"):
        raise InvalidInput(f"image {image}: the tag {tag!r} is not allowed in a release; name a version")
    if tag is None and digest is None:
        raise InvalidInput(f"image {image} has neither a tag nor a digest; name a version")
    if tag is None:
        version = "0.0.0"
    elif _IMAGE_SEMVER.match(tag):
        version = tag
    else:
        version = f"0.0.0-{_ocm_tag(tag)}"
    if digest is None:
        return reference.name, version
    return f"{reference.name}-{digest[:8]}", f"{version}+sha256.{digest[:12]}"


def _provider(spec: ModuleSpec) -> str:
    """The provider with the ``kyma-project.io/built-by`` label, as OCM writes a labelled provider in
    schema v2 (where ``provider`` is a string): the JSON of ``{name, labels}``. modulectl's constructor
    labels its components ``built-by: modulectl``; this library is not modulectl, so the value is
    ``btp-release``."""
    provider = {"name": spec.provider, "labels": [_label(LABEL_BUILT_BY, BUILT_BY)]}
    return json.dumps(provider, separators=(",", ":"))


def _component_labels(spec: ModuleSpec, cluster_scoped: bool) -> list[dict[str, Any]]:
    """modulectl's component labels, in its order; the scan switch and responsibles only when the
    security scan is enabled."""
    labels = [
        _label(name, "true" if value else "false")
        for name, value in (
            (LABEL_BETA, spec.beta),
            (LABEL_INTERNAL, spec.internal),
            (LABEL_REQUIRES_DOWNTIME, spec.requires_downtime),
            (LABEL_CLUSTER_SCOPED, cluster_scoped),
        )
    ]
    if spec.security_scan_enabled:
        labels.append(_label(LABEL_SCAN_ENABLED, "enabled"))
        if spec.team:
            responsible = {"github_hostname": RESPONSIBLES_HOST, "teamname": spec.team, "type": "githubTeam"}
            labels.append(_label(LABEL_RESPONSIBLES, [responsible]))
        else:
            log.warning(
                "component %s: the security scan is enabled but no team is set, so the descriptor names no "
                "responsibles (modulectl refuses this; set the module's team, kyma/<team>)",
                spec.component_name,
            )
    return labels


def _check_unique(spec: ModuleSpec, resources: Sequence[Mapping[str, Any]]) -> None:
    names = [r["name"] for r in resources]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        images = [
            r["access"]["imageReference"]
            for r in resources
            if r["name"] in duplicates and "imageReference" in r["access"]
        ]
        raise InvalidInput(
            f"component {spec.component_name}: resource name(s) {', '.join(duplicates)} used twice"
            + (f" (images {', '.join(images)})" if images else ""),
            hint="two images with the same last path element, or an image named like a local blob",
        )


def build_descriptor(
    spec: ModuleSpec,
    local_blobs: Sequence[LocalBlob],
    security: SecurityConfig | None = None,
    *,
    images: Sequence[str] = (),
    cluster_scoped: bool = False,
) -> dict[str, Any]:
    """The component descriptor of ``spec.shape``.

    ``legacy-2023``: one source with the git ref and scanner labels, the local blobs, one ``ociImage``
    per image of the scanner config (``images`` and ``cluster_scoped`` are not used).
    ``modulectl``: one ``ociArtifact`` per entry of ``images`` (the images the manifest deploys, see
    :func:`~btp_release.module.validate.collect_manifest_images`), then the local blobs; the component
    labels with ``is-cluster-scoped`` = ``spec.cluster_scoped`` if set, else ``cluster_scoped``.

    Local resources get the component version; image resources their tag. Raises ``InvalidInput`` if
    two resources would share a name (OCM identities must be unique).
    """
    if spec.shape == "modulectl":
        return _modulectl_descriptor(spec, local_blobs, images, cluster_scoped)
    version = spec.component_version
    resources: list[dict[str, Any]] = [
        {
            "name": blob.name,
            "type": blob.type,
            "relation": "local",
            "version": version,
            "access": _access(blob, spec.access_style),
        }
        for blob in local_blobs
    ]
    if security is not None:
        resources += [_image_resource(image, shape="legacy-2023") for image in security.images]
    _check_unique(spec, resources)
    component: dict[str, Any] = {
        "name": spec.component_name,
        "version": version,
        "provider": spec.provider,
        "repositoryContexts": [
            {"type": "ociRegistry", "baseUrl": spec.registry_base_url, "componentNameMapping": "urlPath"}
        ],
        "sources": [
            {
                "name": "module-sources",
                "type": "Github",
                "version": version,
                "access": {"type": "github", "repoUrl": spec.source_repo_url, "commit": spec.source_commit},
                "labels": _source_labels(spec, security),
            }
        ],
        "componentReferences": [],
        "resources": resources,
    }
    if security is not None:
        component["labels"] = [_label(LABEL_SCAN_ENABLED, "enabled")]
    descriptor = {"meta": {"schemaVersion": "v2"}, "component": component}
    check_descriptor(descriptor)
    return descriptor


def _modulectl_descriptor(
    spec: ModuleSpec, local_blobs: Sequence[LocalBlob], images: Sequence[str], cluster_scoped: bool
) -> dict[str, Any]:
    version = spec.component_version
    resources = [_image_resource(image, shape="modulectl") for image in dict.fromkeys(images)]
    resources += [
        {
            "name": blob.name,
            "type": blob.type,
            "relation": "local",
            "version": version,
            "access": _access(blob, spec.access_style),
        }
        for blob in local_blobs
    ]
    _check_unique(spec, resources)
    scoped = spec.cluster_scoped if spec.cluster_scoped is not None else cluster_scoped
    component: dict[str, Any] = {
        "name": spec.component_name,
        "version": version,
        "provider": _provider(spec),
        "labels": _component_labels(spec, scoped),
        "repositoryContexts": [
            {"type": "ociRegistry", "baseUrl": spec.registry_base_url, "componentNameMapping": "urlPath"}
        ],
        "sources": [
            {
                "name": "module-sources",
                "type": "Github",
                "version": version,
                "access": {"type": "gitHub", "repoUrl": spec.info_repository, "commit": spec.source_commit},
            }
        ],
        "componentReferences": [],
        "resources": resources,
    }
    descriptor = {"meta": {"schemaVersion": "v2"}, "component": component}
    check_descriptor(descriptor)
    return descriptor


def descriptor_yaml(descriptor: Mapping[str, Any]) -> bytes:
    """Deterministic YAML bytes of the descriptor (sorted keys, block style, UTF-8)."""
    return yaml.safe_dump(
        dict(descriptor), sort_keys=True, default_flow_style=False, allow_unicode=True, width=1_000_000
    ).encode("utf-8")


def local_blob_digest(resource: Mapping[str, Any]) -> str | None:
    """The layer digest of a local resource in either access style, or ``None`` for external ones.

    Accepts ``{type: localBlob, localReference: sha256:…}`` (newer OCM) and
    ``{type: localOciBlob, digest: sha256:…}`` (older OCM, e.g. lifecycle-manager's 2023 test templates).
    """
    access = resource.get("access")
    if not isinstance(access, Mapping):
        return None
    kind = access.get("type")
    if kind in ("localBlob", "localBlob/v1"):
        ref = access.get("localReference")
    elif kind in ("localOciBlob", "localOciBlob/v1"):
        ref = access.get("digest")
    else:
        return None
    return ref if isinstance(ref, str) and ref.startswith("sha256:") else None


def local_resources(descriptor: Mapping[str, Any]) -> dict[str, tuple[Mapping[str, Any], str]]:
    """Resource name → (resource, layer digest) for every local blob resource of the descriptor."""
    component = descriptor.get("component")
    found: dict[str, tuple[Mapping[str, Any], str]] = {}
    if not isinstance(component, Mapping):
        return found
    for resource in component.get("resources") or ():
        if isinstance(resource, Mapping):
            digest = local_blob_digest(resource)
            if digest is not None:
                found[str(resource.get("name"))] = (resource, digest)
    return found


def check_descriptor(descriptor: Mapping[str, Any]) -> None:
    """Check the required fields and name/version patterns of OCM compdesc v2; ``InvalidInput`` lists all."""
    problems: list[str] = []
    if (descriptor.get("meta") or {}).get("schemaVersion") != "v2":
        problems.append("meta.schemaVersion must be v2")
    component = descriptor.get("component")
    if not isinstance(component, Mapping):
        raise InvalidInput("component descriptor has no component")
    for key in (
        "name",
        "version",
        "repositoryContexts",
        "provider",
        "sources",
        "componentReferences",
        "resources",
    ):
        if key not in component:
            problems.append(f"component.{key} is required")
    if "provider" in component and not isinstance(component["provider"], str):
        problems.append("component.provider must be a string (v2 writes a labelled provider as its JSON)")
    if not _RELAXED_SEMVER.match(str(component.get("version", ""))):
        problems.append(f"component.version {component.get('version')!r} is not a (relaxed) SemVer")
    elements = [("sources", s) for s in component.get("sources") or ()]
    elements += [("resources", r) for r in component.get("resources") or ()]
    for kind, element in elements:
        name = element.get("name", "")
        where = f"component.{kind}[{name}]"
        if not _IDENTITY_KEY.match(str(name)):
            problems.append(f"{where}: name must match {_IDENTITY_KEY.pattern}")
        if not _RELAXED_SEMVER.match(str(element.get("version", ""))):
            problems.append(f"{where}: version {element.get('version')!r} is not a (relaxed) SemVer")
        for key in ("type", "access") + (("relation",) if kind == "resources" else ()):
            if key not in element:
                problems.append(f"{where}: {key} is required")
        if not isinstance(element.get("access", {}).get("type"), str):
            problems.append(f"{where}: access.type is required")
        labels = list(element.get("labels") or ())
        problems += [
            f"{where}: label {lb.get('name')} has a bad version" for lb in labels if not _ok_label(lb)
        ]
    problems += [
        f"component: label {lb.get('name')} has a bad version"
        for lb in component.get("labels") or ()
        if not _ok_label(lb)
    ]
    if problems:
        raise InvalidInput("invalid component descriptor: " + "; ".join(problems))


def _ok_label(label: Mapping[str, Any]) -> bool:
    return (
        "name" in label and "value" in label and bool(_LABEL_VERSION.match(str(label.get("version", "v1"))))
    )
