"""The ModuleTemplate custom resource that embeds the component descriptor (``template.yaml``).

Two shapes (``ModuleSpec.shape``): ``legacy-2023`` — what ``kyma alpha create module`` wrote (channel,
optional target, data, descriptor) — and ``modulectl``, today's, exactly as modulectl writes it
(moduleName, version, requiresDowntime, info, associatedResources, data, manager, an empty
descriptor, resources; no target, channel or mandatory). The control-plane variant is the same object
with ``spec.target`` set (:func:`for_target`), never a text substitution. Every rendered template is
validated against the bundled lifecycle-manager CRD version it declares before it is returned.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

import yaml

from btp_release.errors import InvalidInput
from btp_release.module.spec import ModuleSpec, TemplateTarget
from btp_release.module.validate import (
    ValidationFailed,
    find_crd,
    parse_default_cr,
    parse_documents,
    validate_object,
    validate_template,
)

__all__ = [
    "ANNOTATION_CLUSTER_SCOPED",
    "ANNOTATION_DOC_URL",
    "ANNOTATION_MODULE_VERSION",
    "LABEL_BETA",
    "LABEL_INTERNAL",
    "LABEL_MANDATORY",
    "LABEL_MODULE_NAME",
    "TEMPLATE_FILE",
    "TEMPLATE_CONTROL_PLANE_FILE",
    "for_target",
    "render_template",
    "template_files",
    "to_yaml",
    "write_templates",
]

LABEL_MODULE_NAME = "operator.kyma-project.io/module-name"
LABEL_BETA = "operator.kyma-project.io/beta"
LABEL_INTERNAL = "operator.kyma-project.io/internal"
LABEL_MANDATORY = "operator.kyma-project.io/mandatory-module"
ANNOTATION_MODULE_VERSION = "operator.kyma-project.io/module-version"
ANNOTATION_CLUSTER_SCOPED = "operator.kyma-project.io/is-cluster-scoped"
ANNOTATION_DOC_URL = "operator.kyma-project.io/doc-url"
TEMPLATE_FILE = "template.yaml"
TEMPLATE_CONTROL_PLANE_FILE = "template_control_plane.yaml"
_GROUP = "operator.kyma-project.io"


class BuiltModule(Protocol):
    """What a template is rendered from: a ``ModuleArtifact`` just built or a ``ModuleContent`` read back."""

    @property
    def descriptor(self) -> dict[str, Any]: ...

    @property
    def raw_manifest(self) -> bytes | None: ...

    @property
    def default_cr(self) -> bytes | None: ...


def _sorted(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {key: _sorted(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [_sorted(item) for item in value]
    return value


def _default_cr(module: BuiltModule, default_cr: Mapping[str, Any] | bytes | None) -> dict[str, Any] | None:
    if isinstance(default_cr, Mapping):
        return copy.deepcopy(dict(default_cr))
    data = default_cr if default_cr is not None else module.default_cr
    if data is None:
        return None
    cr, problems = parse_default_cr(data, file="default CR")
    if problems:
        raise ValidationFailed("default CR for the ModuleTemplate", problems)
    return dict(cr) if cr is not None else None


def _check_default_cr(module: BuiltModule, cr: Mapping[str, Any] | None) -> None:
    # spec.data preserves unknown fields in the ModuleTemplate CRD, so check it against its own CRD.
    if cr is None or module.raw_manifest is None:
        return
    documents, _ = parse_documents(module.raw_manifest, file="raw manifest")
    crd = find_crd(documents, str(cr.get("apiVersion", "")), str(cr.get("kind", "")))
    if crd is not None:
        problems = validate_object(cr, crd, file="default CR (spec.data)")
        if problems:
            raise ValidationFailed("default CR for the ModuleTemplate", problems)


def _is_cluster_scoped(spec: ModuleSpec, module: BuiltModule, cr: Mapping[str, Any] | None) -> bool:
    if spec.cluster_scoped is not None:
        return spec.cluster_scoped
    if cr is None or module.raw_manifest is None:
        return False
    documents, _ = parse_documents(module.raw_manifest, file="raw manifest")
    crd = find_crd(documents, str(cr.get("apiVersion", "")), str(cr.get("kind", "")))
    return crd is not None and (crd.get("spec") or {}).get("scope") == "Cluster"


def _metadata(spec: ModuleSpec, labels: dict[str, str], annotations: dict[str, str]) -> dict[str, Any]:
    return {
        "name": spec.resolved_template_name,
        "namespace": spec.namespace,
        "labels": dict(sorted(labels.items())),
        "annotations": dict(sorted(annotations.items())),
    }


def _template(
    spec: ModuleSpec,
    api_version: str,
    labels: dict[str, str],
    annotations: dict[str, str],
    body: dict[str, Any],
    module: BuiltModule,
    cr: dict[str, Any] | None,
) -> dict[str, Any]:
    """The parts both shapes share: custom state checks, the default CR, the descriptor, metadata."""
    if spec.custom_state_checks:
        body["customStateCheck"] = [check.to_json() for check in spec.custom_state_checks]
    if cr is not None:
        body["data"] = cr
    body["descriptor"] = _sorted(module.descriptor)
    return {
        "apiVersion": f"{_GROUP}/{api_version}",
        "kind": "ModuleTemplate",
        "metadata": _metadata(spec, labels, annotations),
        "spec": body,
    }


def _legacy(spec: ModuleSpec, module: BuiltModule, cr: dict[str, Any] | None, target: str) -> dict[str, Any]:
    labels = {**spec.labels, LABEL_MODULE_NAME: spec.short_name}
    if spec.beta:
        labels[LABEL_BETA] = "true"
    if spec.internal:
        labels[LABEL_INTERNAL] = "true"
    annotations = {
        **spec.annotations,
        ANNOTATION_MODULE_VERSION: spec.component_version,
        ANNOTATION_CLUSTER_SCOPED: "true" if _is_cluster_scoped(spec, module, cr) else "false",
    }
    if spec.doc_url:
        annotations[ANNOTATION_DOC_URL] = spec.doc_url
    body: dict[str, Any] = {"channel": spec.channel}
    if spec.target_emitted:
        body["target"] = target
    return _template(spec, spec.template_api_version, labels, annotations, body, module, cr)


def _modulectl(spec: ModuleSpec, module: BuiltModule, cr: dict[str, Any] | None) -> dict[str, Any]:
    """The ModuleTemplate as modulectl writes it today (kyma-today.md section 3; modulectl's template
    generator at 902c4f8): no channel, target or mandatory; ``namespace: ""``; ``descriptor: {}`` (the
    descriptor lives in the registry, where lifecycle-manager reads it); ``requiresDowntime`` always."""
    if not spec.doc_url:
        raise InvalidInput(
            "the current ModuleTemplate needs a documentation URL (spec.info.documentation)",
            hint="set documentation in module-config.yaml (or doc-url in btp-release.yaml)",
        )
    labels = {**spec.labels, LABEL_MODULE_NAME: spec.short_name}
    if spec.beta:
        labels[LABEL_BETA] = "true"
    if spec.internal:
        labels[LABEL_INTERNAL] = "true"
    annotations = {
        **spec.annotations,
        ANNOTATION_CLUSTER_SCOPED: "true" if _is_cluster_scoped(spec, module, cr) else "false",
    }
    info: dict[str, Any] = {"repository": spec.info_repository, "documentation": spec.doc_url}
    if spec.icons:
        info["icons"] = [{"name": name, "link": link} for name, link in spec.icons.items()]
    body: dict[str, Any] = {
        "moduleName": spec.short_name,
        "version": str(spec.version),
        "requiresDowntime": spec.requires_downtime,
        "info": info,
    }
    if spec.associated_resources:
        body["associatedResources"] = [gvk.to_json() for gvk in spec.associated_resources]
    if cr is not None:
        body["data"] = _sorted(cr)
    if spec.manager is not None:
        body["manager"] = spec.manager.to_json()
    body["descriptor"] = {}
    # rawManifest defaults to the manifest's URL; entries of the config add to it or override it.
    resources = {"rawManifest": spec.manifest_url} if spec.manifest_url else {}
    resources.update(spec.resources)
    if resources:
        body["resources"] = [{"name": name, "link": link} for name, link in sorted(resources.items())]
    return {
        "apiVersion": f"{_GROUP}/v1beta2",
        "kind": "ModuleTemplate",
        "metadata": {
            "name": spec.resolved_template_name,
            "namespace": "",
            "labels": dict(sorted(labels.items())),
            "annotations": dict(sorted(annotations.items())),
        },
        "spec": body,
    }


def render_template(
    spec: ModuleSpec,
    module: BuiltModule,
    default_cr: Mapping[str, Any] | bytes | None = None,
    target: TemplateTarget = "remote",
    *,
    file: str | None = None,
) -> dict[str, Any]:
    """The ModuleTemplate for ``module`` as a dict, validated against the CRD version it declares.

    ``default_cr`` (parsed or YAML bytes) becomes ``spec.data``; by default the artifact's ``default-cr``
    blob is used. ``target`` is written only where the API version has ``spec.target`` (2023 shape,
    v1beta1); asking for ``control-plane`` elsewhere is an ``InvalidInput``, as that file could not say
    what it claims. Raises ``ValidationFailed`` if the result does not validate.
    """
    if target not in ("remote", "control-plane"):
        raise InvalidInput(f"unknown ModuleTemplate target {target!r}", hint="remote or control-plane")
    if target == "control-plane" and not spec.target_emitted:
        raise InvalidInput(
            f"a control-plane ModuleTemplate needs spec.target, which {spec.shape} "
            f"{spec.template_api_version} templates do not have",
            hint="set template_api_version='v1beta1' (2023 shape) to render template_control_plane.yaml",
        )
    cr = _default_cr(module, default_cr)
    _check_default_cr(module, cr)
    template = (
        _modulectl(spec, module, cr) if spec.shape == "modulectl" else _legacy(spec, module, cr, target)
    )
    name = file or (TEMPLATE_CONTROL_PLANE_FILE if target == "control-plane" else TEMPLATE_FILE)
    problems = validate_template(
        template, file=name, crd_set="current" if spec.shape == "modulectl" else "2023"
    )
    if problems:
        raise ValidationFailed(f"ModuleTemplate {spec.resolved_template_name}", problems)
    return template


def for_target(template: Mapping[str, Any], target: TemplateTarget) -> dict[str, Any]:
    """A copy of ``template`` with ``spec.target`` set to ``target`` (structural; no text replacement)."""
    result = copy.deepcopy(dict(template))
    body = result.get("spec")
    if not isinstance(body, dict) or "target" not in body:
        raise InvalidInput(
            f"ModuleTemplate {(result.get('metadata') or {}).get('name')} has no spec.target to change",
            hint="only 2023-shape v1beta1 templates carry a target",
        )
    body["target"] = target
    return result


def template_files(
    spec: ModuleSpec, module: BuiltModule, default_cr: Mapping[str, Any] | bytes | None = None
) -> dict[str, dict[str, Any]]:
    """The release's templates: ``template.yaml`` and, where targets exist, ``template_control_plane.yaml``.

    Both come from one rendered object and differ only in ``spec.target``; each is validated.
    """
    remote = render_template(spec, module, default_cr, "remote")
    files = {TEMPLATE_FILE: remote}
    if spec.target_emitted:
        control_plane = for_target(remote, "control-plane")
        problems = validate_template(control_plane, file=TEMPLATE_CONTROL_PLANE_FILE, crd_set="2023")
        if problems:
            raise ValidationFailed(f"ModuleTemplate {spec.resolved_template_name}", problems)
        files[TEMPLATE_CONTROL_PLANE_FILE] = control_plane
    return files


def to_yaml(template: Mapping[str, Any]) -> str:
    """Deterministic YAML (keys in rendering order, no line folding)."""
    return yaml.safe_dump(
        dict(template), sort_keys=False, default_flow_style=False, allow_unicode=True, width=1_000_000
    )


def write_templates(
    spec: ModuleSpec,
    module: BuiltModule,
    directory: Path,
    default_cr: Mapping[str, Any] | bytes | None = None,
) -> dict[str, Path]:
    """Render :func:`template_files` and write them into ``directory``; returns file name → path."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    for name, template in template_files(spec, module, default_cr).items():
        path = directory / name
        path.write_text(to_yaml(template), encoding="utf-8")
        written[name] = path
    return written
