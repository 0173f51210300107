"""What the API server rejects with 422 Invalid (and 400 for undecodable values).

Covered: names (RFC 1123 subdomain; namespaces a label), label values, Deployment selector and
containers (and the immutable selector), Secret ``data`` base64 and ``stringData`` folding,
CRD names/scope/versions (and the immutable scope), role bindings' immutable ``roleRef``, and
custom resources against their CRD's ``openAPIV3Schema`` (with pruning of unknown fields, or 400
under ``fieldValidation=Strict``). Not covered: the rest of the built-in types' validation
(resource quantities, probes, ports…), CEL rules (``x-kubernetes-validations``), defaulting from
schemas, admission webhooks.
"""

from __future__ import annotations

import base64
import binascii
import functools
import importlib
import re
from collections.abc import Mapping
from typing import Any

from btp_release.module.validate import crd_json_schema

from .errors import bad_request, invalid
from .resources import ResourceType
from .selectors import labels_match, requirements_from_selector

Obj = dict[str, Any]
Cause = tuple[str, str, str]

_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_SUBDOMAIN_HELP = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
    "and must start and end with an alphanumeric character"
)
_LABEL_HELP = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must "
    "start and end with an alphanumeric character"
)


def _name_causes(rt: ResourceType, name: str) -> list[Cause]:
    if rt.plural == "namespaces":
        if len(name) > 63 or not _LABEL.match(name):
            return [("metadata.name", "FieldValueInvalid", f'Invalid value: "{name}": {_LABEL_HELP}')]
    elif rt.plural != "events" and (len(name) > 253 or not _SUBDOMAIN.match(name)):
        return [("metadata.name", "FieldValueInvalid", f'Invalid value: "{name}": {_SUBDOMAIN_HELP}')]
    return []


def _label_causes(obj: Mapping[str, Any]) -> list[Cause]:
    causes: list[Cause] = []
    for key, value in ((obj.get("metadata") or {}).get("labels") or {}).items():
        if not isinstance(value, str) or len(value) > 63 or not _LABEL_VALUE.match(value):
            causes.append(
                (
                    "metadata.labels",
                    "FieldValueInvalid",
                    f'Invalid value: "{value}": a valid label value must '
                    "be an empty string or consist of alphanumeric characters, '-', '_' or '.' (at most 63)",
                )
            )
        if not key or len(key) > 317:
            causes.append(("metadata.labels", "FieldValueInvalid", f'Invalid value: "{key}": bad label key'))
    return causes


def normalize_secret(obj: Obj) -> None:
    """Fold ``stringData`` into ``data`` (base64) and check ``data`` decodes, as the API server does."""
    data = obj.get("data") or {}
    obj["data"] = data
    for key, value in data.items():
        try:
            base64.b64decode(str(value), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise bad_request(
                f'Secret in version "v1" cannot be handled as a Secret: illegal base64 data in {key!r}'
            ) from exc
    for key, value in (obj.pop("stringData", None) or {}).items():
        data[key] = base64.b64encode(str(value).encode()).decode()
    if not data:
        obj.pop("data")
    obj.setdefault("type", "Opaque")


def _default_pod_spec(spec: Obj) -> None:
    for key, value in (
        ("restartPolicy", "Always"),
        ("dnsPolicy", "ClusterFirst"),
        ("schedulerName", "default-scheduler"),
        ("terminationGracePeriodSeconds", 30),
        ("securityContext", {}),
    ):
        spec.setdefault(key, value)
    for container in [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]:
        if not isinstance(container, dict):
            continue
        image = str(container.get("image", ""))
        tagged = ":" in image.rsplit("/", 1)[-1] and not image.endswith(":latest")
        container.setdefault("imagePullPolicy", "IfNotPresent" if tagged or "@" in image else "Always")
        container.setdefault("terminationMessagePath", "/dev/termination-log")
        container.setdefault("terminationMessagePolicy", "File")
        container.setdefault("resources", {})


def apply_defaults(rt: ResourceType, obj: Obj) -> None:
    """The API server's defaulting for the fields E2E code tends to read (Deployments, Services)."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    if rt.key == "apps/deployments":
        spec.setdefault("replicas", 1)
        spec.setdefault("revisionHistoryLimit", 10)
        spec.setdefault("progressDeadlineSeconds", 600)
        spec.setdefault(
            "strategy",
            {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
        )
        template = spec.get("template")
        if isinstance(template, dict) and isinstance(template.get("spec"), dict):
            _default_pod_spec(template["spec"])
    elif rt.key == "/services":
        spec.setdefault("type", "ClusterIP")
        spec.setdefault("sessionAffinity", "None")
        for port in spec.get("ports") or []:
            if isinstance(port, dict):
                port.setdefault("protocol", "TCP")
                port.setdefault("targetPort", port.get("port"))


def _deployment_causes(obj: Mapping[str, Any], old: Mapping[str, Any] | None) -> list[Cause]:
    spec = obj.get("spec") or {}
    selector = spec.get("selector")
    template = spec.get("template") or {}
    causes: list[Cause] = []
    if not selector or not (selector.get("matchLabels") or selector.get("matchExpressions")):
        causes.append(("spec.selector", "FieldValueRequired", "Required value"))
    else:
        labels = (template.get("metadata") or {}).get("labels") or {}
        if not labels_match(requirements_from_selector(selector), labels):
            causes.append(
                (
                    "spec.template.metadata.labels",
                    "FieldValueInvalid",
                    f"Invalid value: {labels!r}: `selector` does not match template `labels`",
                )
            )
        if old is not None and (old.get("spec") or {}).get("selector") != selector:
            causes.append(
                ("spec.selector", "FieldValueInvalid", f"Invalid value: {selector!r}: field is immutable")
            )
    containers = (template.get("spec") or {}).get("containers") or []
    if not containers:
        causes.append(("spec.template.spec.containers", "FieldValueRequired", "Required value"))
    for i, container in enumerate(containers):
        for field in ("name", "image"):
            if not container.get(field):
                causes.append(
                    (f"spec.template.spec.containers[{i}].{field}", "FieldValueRequired", "Required value")
                )
    return causes


def _crd_causes(obj: Mapping[str, Any], old: Mapping[str, Any] | None) -> list[Cause]:
    spec = obj.get("spec") or {}
    names = spec.get("names") or {}
    group, plural = spec.get("group"), names.get("plural")
    causes: list[Cause] = []
    for field, value in (
        ("spec.group", group),
        ("spec.names.plural", plural),
        ("spec.names.kind", names.get("kind")),
    ):
        if not value:
            causes.append((field, "FieldValueRequired", "Required value"))
    if group and "." not in str(group):
        causes.append(
            (
                "spec.group",
                "FieldValueInvalid",
                f'Invalid value: "{group}": should be a domain with at least one dot',
            )
        )
    name = (obj.get("metadata") or {}).get("name")
    if group and plural and name != f"{plural}.{group}":
        causes.append(
            (
                "metadata.name",
                "FieldValueInvalid",
                f'Invalid value: "{name}": must be spec.names.plural+"."+spec.group',
            )
        )
    if spec.get("scope") not in ("Namespaced", "Cluster"):
        causes.append(
            (
                "spec.scope",
                "FieldValueNotSupported",
                f'Unsupported value: "{spec.get("scope")}": supported values: "Cluster", "Namespaced"',
            )
        )
    versions = spec.get("versions") or []
    if not versions or sum(1 for v in versions if v.get("storage")) != 1:
        causes.append(
            (
                "spec.versions",
                "FieldValueInvalid",
                "Invalid value: must have exactly one version marked as storage version",
            )
        )
    if old is not None and (old.get("spec") or {}).get("scope") != spec.get("scope"):
        causes.append(("spec.scope", "FieldValueInvalid", "Invalid value: field is immutable"))
    return causes


def validate(rt: ResourceType, obj: Obj, old: Obj | None, *, crd: Obj | None, strict: bool) -> None:
    """Raise 422 (or 400) when the API server would reject ``obj``; may normalise it (secrets, pruning)."""
    name = str((obj.get("metadata") or {}).get("name") or "")
    causes = _name_causes(rt, name) + _label_causes(obj)
    apply_defaults(rt, obj)
    if rt.key == "/secrets":
        normalize_secret(obj)
    elif rt.key == "apps/deployments":
        causes += _deployment_causes(obj, old)
    elif rt.key == "apiextensions.k8s.io/customresourcedefinitions":
        causes += _crd_causes(obj, old)
    elif rt.key in (
        "rbac.authorization.k8s.io/rolebindings",
        "rbac.authorization.k8s.io/clusterrolebindings",
    ):
        if not obj.get("roleRef"):
            causes.append(("roleRef", "FieldValueRequired", "Required value"))
        elif old is not None and old.get("roleRef") != obj.get("roleRef"):
            causes.append(("roleRef", "FieldValueInvalid", "Invalid value: cannot change roleRef"))
    elif rt.key == "scheduling.k8s.io/priorityclasses" and not isinstance(obj.get("value"), int):
        causes.append(("value", "FieldValueRequired", "Required value"))
    elif rt.crd is not None and crd is not None:
        _prune(obj, rt.schema or {}, strict=strict, root=True, path="")
        causes += _schema_causes(crd, rt.version, obj)
    if causes:
        raise invalid(rt.kind, rt.group, name, causes)


def _prune(value: Any, schema: Mapping[str, Any], *, strict: bool, root: bool, path: str) -> None:
    """Drop fields the structural schema does not know (400 instead under strict validation)."""
    if isinstance(value, list):
        for i, item in enumerate(value):
            _prune(item, schema.get("items") or {}, strict=strict, root=False, path=f"{path}[{i}]")
        return
    if not isinstance(value, dict) or schema.get("x-kubernetes-preserve-unknown-fields"):
        return
    properties = schema.get("properties")
    additional = schema.get("additionalProperties")
    for key in list(value):
        if root and key in ("apiVersion", "kind", "metadata"):
            continue
        child_path = f"{path}.{key}" if path else key
        if properties is not None and key in properties:
            _prune(value[key], properties[key], strict=strict, root=False, path=child_path)
        elif isinstance(additional, Mapping):
            _prune(value[key], additional, strict=strict, root=False, path=child_path)
        elif additional is True or (properties is None and schema.get("type") != "object"):
            continue
        elif strict:
            raise bad_request(f'strict decoding error: unknown field "{child_path}"')
        else:
            del value[key]


@functools.cache
def _validator_class() -> Any:
    return importlib.import_module("jsonschema").Draft4Validator


def _schema_causes(crd: Mapping[str, Any], version: str, obj: Mapping[str, Any]) -> list[Cause]:
    schema = crd_json_schema(crd, version, strict=False)
    causes: list[Cause] = []
    for error in _validator_class()(schema).iter_errors(dict(obj)):
        field = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path).lstrip(".")
        if error.validator == "required":
            missing = str(error.message).split("'")[1] if "'" in str(error.message) else ""
            causes.append((f"{field}.{missing}".lstrip("."), "FieldValueRequired", "Required value"))
        elif error.validator == "enum":
            allowed = ", ".join(f'"{v}"' for v in error.validator_value)
            causes.append(
                (
                    field,
                    "FieldValueNotSupported",
                    f'Unsupported value: "{error.instance}": supported values: {allowed}',
                )
            )
        else:
            causes.append((field, "FieldValueInvalid", f"Invalid value: {error.message}"))
    return sorted(causes)
