"""The OCM component descriptor (schema v2) of a module version, built from a ``ModuleSpec``.

Pure: the descriptor is a plain ``dict`` (it is embedded as is into the ModuleTemplate) and
:func:`descriptor_yaml` renders it deterministically (sorted keys, like the Go YAML the Kyma CLI wrote).
Field set and names follow ``spec/kyma-module.md``; required fields and name patterns are those of
ocm-spec's ``compdesc/v2`` JSON schema and are checked by :func:`check_descriptor`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import yaml

from btp_release.errors import InvalidInput
from btp_release.module.security import SecurityConfig, image_name_and_tag
from btp_release.module.spec import AccessStyle, ModuleSpec

__all__ = [
    "RESOURCE_CHART",
    "RESOURCE_DEFAULT_CR",
    "RESOURCE_RAW_MANIFEST",
    "LocalBlob",
    "build_descriptor",
    "check_descriptor",
    "descriptor_yaml",
    "local_blob_digest",
    "local_resources",
]

RESOURCE_RAW_MANIFEST = "raw-manifest"
RESOURCE_DEFAULT_CR = "default-cr"
RESOURCE_CHART = "helm-chart"

LABEL_GIT_REF = "git.kyma-project.io/ref"
LABEL_SCAN_ENABLED = "security.kyma-project.io/scan"
LABEL_SCAN_PREFIX = "scan.security.kyma-project.io/"
LABEL_IMAGE_TYPE = LABEL_SCAN_PREFIX + "type"

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


def _label(name: str, value: str) -> dict[str, str]:
    return {"name": name, "value": value, "version": "v1"}


def _access(blob: LocalBlob, style: AccessStyle) -> dict[str, str]:
    if style == "localOciBlob":  # older OCM (see the 2023 example template)
        return {"type": "localOciBlob", "digest": blob.digest}
    return {"type": "localBlob", "localReference": blob.digest, "mediaType": blob.media_type}


def _source_labels(spec: ModuleSpec, security: SecurityConfig | None) -> list[dict[str, str]]:
    labels = [_label(LABEL_GIT_REF, spec.resolved_git_ref)]
    if security is not None:
        # Order and empty-string defaults as the Kyma CLI (autumn 2023) wrote them.
        labels += [
            _label(LABEL_SCAN_PREFIX + "dev-branch", security.dev_branch or ""),
            _label(LABEL_SCAN_PREFIX + "rc-tag", security.rc_tag or ""),
            _label(LABEL_SCAN_PREFIX + "language", security.whitesource.language),
            _label(LABEL_SCAN_PREFIX + "exclude", ",".join(security.whitesource.exclude)),
        ]
    return labels


def _image_resource(image: str) -> dict[str, Any]:
    name, tag = image_name_and_tag(image)
    return {
        "name": name,
        "type": "ociImage",
        "relation": "external",
        "version": tag,
        "access": {"type": "ociRegistry", "imageReference": image},
        "labels": [_label(LABEL_IMAGE_TYPE, "third-party-image")],
    }


def build_descriptor(
    spec: ModuleSpec, local_blobs: Sequence[LocalBlob], security: SecurityConfig | None = None
) -> dict[str, Any]:
    """The component descriptor: one source, the local blobs, one ``ociImage`` per Protecode image.

    Local resources get the component version (``v1.2.0``); image resources their tag (``1.2.0``).
    Raises ``InvalidInput`` if two resources would share a name (OCM identities must be unique).
    """
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
        resources += [_image_resource(image) for image in security.protecode]
    names = [r["name"] for r in resources]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise InvalidInput(
            f"component {spec.component_name}: resource name(s) {', '.join(duplicates)} used twice",
            hint="two Protecode images with the same last path element, or an image named like a local blob",
        )
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
