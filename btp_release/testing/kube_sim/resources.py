"""Resource types: the built-in ones the simulator serves, those of established CRDs, discovery.

A :class:`ResourceType` says where a kind lives (group/version/plural), whether it is namespaced,
which subresources it has and how the API server treats it (generation, unconditional PUT,
read-only for clients). Discovery documents (``/api``, ``/apis``, resource lists) are rendered
from the list of types, so a CRD's group appears as soon as the CRD is Established.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs

Obj = dict[str, Any]
VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update")
READ_VERBS = ("delete", "get", "list")


@attrs.frozen
class PrinterColumn:
    """A CRD's ``additionalPrinterColumns`` entry (``kubectl get`` shows them)."""

    name: str
    type: str
    json_path: str
    priority: int = 0
    description: str = ""


@attrs.frozen
class ResourceType:
    """One served resource of one API version."""

    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    singular: str = ""
    short_names: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    read_only: bool = False  # created by the simulator's models; clients may read and delete
    generation: bool = False  # metadata.generation counts changes of spec (everything but status)
    unconditional_update: bool = True  # PUT without resourceVersion allowed (not for custom resources)
    field_selectors: tuple[str, ...] = ()
    printer_columns: tuple[PrinterColumn, ...] = ()
    crd: str | None = None  # name of the CustomResourceDefinition that defines it
    schema: Obj | None = attrs.field(default=None, eq=False, hash=False)

    @property
    def key(self) -> str:
        """Storage key: objects are shared by all versions of a resource."""
        return f"{self.group}/{self.plural}"

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def has_status(self) -> bool:
        return "status" in self.subresources

    def discovery(self) -> list[Obj]:
        entry: Obj = {
            "name": self.plural,
            "singularName": self.singular or self.kind.lower(),
            "namespaced": self.namespaced,
            "kind": self.kind,
            "verbs": list(READ_VERBS if self.read_only else VERBS),
        }
        if self.short_names:
            entry["shortNames"] = list(self.short_names)
        if self.categories:
            entry["categories"] = list(self.categories)
        out = [entry]
        for sub in self.subresources:
            kind, verbs = self.kind, ["get", "patch", "update"]
            if sub == "log":
                kind, verbs = "Pod", ["get"]
            elif sub == "finalize":
                verbs = ["update"]
            out.append(
                {
                    "name": f"{self.plural}/{sub}",
                    "singularName": "",
                    "namespaced": self.namespaced,
                    "kind": kind,
                    "verbs": verbs,
                }
            )
        return out


def _core(plural: str, kind: str, namespaced: bool = True, **options: Any) -> ResourceType:
    return ResourceType("", "v1", plural, kind, namespaced, kind.lower(), **options)


_INVOLVED = ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")
_EVENT_FIELDS = (
    *(f"involvedObject.{f}" for f in _INVOLVED),
    "reason",
    "reportingComponent",
    "source",
    "type",
)

BUILTIN_TYPES: tuple[ResourceType, ...] = (
    _core("namespaces", "Namespace", False, short_names=("ns",), subresources=("status", "finalize"),
          field_selectors=("status.phase",)),
    _core("secrets", "Secret", field_selectors=("type",)),
    _core("configmaps", "ConfigMap", short_names=("cm",)),
    _core("services", "Service", short_names=("svc",), subresources=("status",), categories=("all",)),
    _core("serviceaccounts", "ServiceAccount", short_names=("sa",)),
    _core("pods", "Pod", short_names=("po",), subresources=("log", "status"), categories=("all",),
          read_only=True, field_selectors=("spec.nodeName", "spec.serviceAccountName", "status.phase")),
    _core("events", "Event", short_names=("ev",), field_selectors=_EVENT_FIELDS),
    _core("nodes", "Node", False, short_names=("no",), subresources=("status",), read_only=True),
    ResourceType("apps", "v1", "deployments", "Deployment", True, "deployment", ("deploy",), ("status",),
                 ("all",), generation=True),
    ResourceType("scheduling.k8s.io", "v1", "priorityclasses", "PriorityClass", False, "priorityclass",
                 ("pc",)),
    ResourceType("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", True, "networkpolicy",
                 ("netpol",), generation=True),
    ResourceType("admissionregistration.k8s.io", "v1", "mutatingwebhookconfigurations",
                 "MutatingWebhookConfiguration", False, "mutatingwebhookconfiguration",
                 categories=("api-extensions",), generation=True),
    ResourceType("admissionregistration.k8s.io", "v1", "validatingwebhookconfigurations",
                 "ValidatingWebhookConfiguration", False, "validatingwebhookconfiguration",
                 categories=("api-extensions",), generation=True),
    ResourceType("rbac.authorization.k8s.io", "v1", "roles", "Role", True, "role"),
    ResourceType("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", True, "rolebinding"),
    ResourceType("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", False, "clusterrole"),
    ResourceType("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", False,
                 "clusterrolebinding"),
    ResourceType("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", False,
                 "customresourcedefinition", ("crd", "crds"), ("status",), generation=True),
)  # fmt: skip
CRD_KEY = "apiextensions.k8s.io/customresourcedefinitions"
NAMESPACE_KEY = "/namespaces"


def condition(obj: Mapping[str, Any], kind: str) -> Obj | None:
    for found in (obj.get("status") or {}).get("conditions") or []:
        if found.get("type") == kind:
            return dict(found)
    return None


def is_established(crd: Mapping[str, Any]) -> bool:
    found = condition(crd, "Established")
    return found is not None and found.get("status") == "True"


def types_of_crd(crd: Mapping[str, Any]) -> list[ResourceType]:
    """The served versions of a CRD as resource types."""
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    out = []
    for version in spec.get("versions") or []:
        if not version.get("served", True):
            continue
        subresources = version.get("subresources") or {}
        columns = tuple(
            PrinterColumn(
                str(c.get("name")),
                str(c.get("type", "string")),
                str(c.get("jsonPath", "")),
                int(c.get("priority", 0)),
                str(c.get("description", "")),
            )
            for c in version.get("additionalPrinterColumns") or []
        )
        out.append(
            ResourceType(
                group=str(spec.get("group")),
                version=str(version.get("name")),
                plural=str(names.get("plural")),
                kind=str(names.get("kind")),
                namespaced=spec.get("scope") == "Namespaced",
                singular=str(names.get("singular") or str(names.get("kind", "")).lower()),
                short_names=tuple(names.get("shortNames") or ()),
                subresources=tuple(s for s in ("status", "scale") if s in subresources),
                categories=tuple(names.get("categories") or ()),
                generation=True,
                unconditional_update=False,
                printer_columns=columns,
                crd=str((crd.get("metadata") or {}).get("name")),
                schema=(version.get("schema") or {}).get("openAPIV3Schema"),
            )
        )
    return out


_VERSION = re.compile(r"^v(\d+)(?:(alpha|beta)(\d+))?$")


def version_priority(version: str) -> tuple[int, int, int, str]:
    """Sort key, best first: GA before beta before alpha, higher numbers first (as kube does)."""
    match = _VERSION.match(version)
    if match is None:
        return (3, 0, 0, version)
    major, stage, minor = match.groups()
    rank = {None: 0, "beta": 1, "alpha": 2}[stage]
    return (rank, -int(major), -int(minor or 0), version)


def _versions_by_group(types: Iterable[ResourceType]) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for rt in types:
        versions = groups.setdefault(rt.group, [])
        if rt.version not in versions:
            versions.append(rt.version)
    for versions in groups.values():
        versions.sort(key=version_priority)
    return groups


def api_versions(server_address: str) -> Obj:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    }


def api_group(group: str, versions: Sequence[str]) -> Obj:
    listed = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
    return {
        "kind": "APIGroup",
        "apiVersion": "v1",
        "name": group,
        "versions": listed,
        "preferredVersion": listed[0],
    }


def api_group_list(types: Iterable[ResourceType]) -> Obj:
    groups = [api_group(g, vs) for g, vs in _versions_by_group(types).items() if g]
    for group in groups:
        del group["kind"], group["apiVersion"]
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def group_versions(types: Iterable[ResourceType], group: str) -> list[str]:
    return _versions_by_group(types).get(group, [])


def api_resource_list(types: Iterable[ResourceType], group: str, version: str) -> Obj:
    resources = [
        entry for rt in types if rt.group == group and rt.version == version for entry in rt.discovery()
    ]
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": f"{group}/{version}" if group else version,
        "resources": resources,
    }
