"""The scenario every Kyma module gets from its module-config: install, Ready, delete, uninstall, none left.

What lifecycle-manager does with a module, and what a module must survive, checked on a real cluster:

1. the namespaces the manifest and the default CR live in are there (created when missing, removed at the
   end when the scenario created them);
2. the module's manifest (the released artifact's install layer) is applied;
3. the manager rolled out: the module-config's ``manager`` (a Deployment or StatefulSet), else every
   Deployment of the manifest;
4. the default CR is applied (into ``kyma-system`` when it names no namespace, as lifecycle-manager does) and
   reaches ``.status.state: Ready``;
5. the default CR is deleted and is gone: the manager honoured its finalizers;
6. the manifest's objects are deleted and every one of them is gone, its Namespaces excepted;
7. nothing of the module is left: objects of the usual kinds in the namespaces it used, and cluster-wide
   ones, are compared with what was there before the install (CRDs of the manifest included) — before any
   namespace is removed, whose deletion would hide what was left in it;
8. the manifest's Namespaces that were not there before (one that was, like ``kyma-system`` on a Kyma
   cluster, is not the module's) and those the scenario created are removed.

Kinds the cluster does not serve are left out of the comparison (a simulator serves fewer than k3s). A
module-specific scenario (a :class:`ScenarioPlugin`) may add objects the module needs before it can be Ready
(btp-operator's credentials Secret); they are created first and removed at the end, and not counted as left.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs

from btp_release.e2e.report import Steps
from btp_release.e2e.scenarios import E2ESettings, rolled_out
from btp_release.errors import CheckFailed, InvalidInput, NotFound
from btp_release.kube import KubeClient, KubeObject, parse_manifest
from btp_release.module.spec import ManagerRef

__all__ = ["DEFAULT_CR_NAMESPACE", "ModuleUnderTest", "module_scenario"]

DEFAULT_CR_NAMESPACE = "kyma-system"  # where lifecycle-manager puts a default CR that names none
SCENARIO = "module"
Obj = dict[str, Any]
# What "left behind" is looked for in (api version, kind, namespaced). Pods, ReplicaSets, Events, Leases and
# Endpoints follow their owners or the cluster's own controllers and are not counted.
TRACKED: tuple[tuple[str, str, bool], ...] = (
    ("v1", "ConfigMap", True),
    ("v1", "Secret", True),
    ("v1", "Service", True),
    ("v1", "ServiceAccount", True),
    ("apps/v1", "Deployment", True),
    ("apps/v1", "StatefulSet", True),
    ("apps/v1", "DaemonSet", True),
    ("batch/v1", "Job", True),
    ("rbac.authorization.k8s.io/v1", "Role", True),
    ("rbac.authorization.k8s.io/v1", "RoleBinding", True),
    ("networking.k8s.io/v1", "NetworkPolicy", True),
    ("v1", "Namespace", False),
    ("rbac.authorization.k8s.io/v1", "ClusterRole", False),
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", False),
    ("apiextensions.k8s.io/v1", "CustomResourceDefinition", False),
    ("scheduling.k8s.io/v1", "PriorityClass", False),
    ("admissionregistration.k8s.io/v1", "MutatingWebhookConfiguration", False),
    ("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration", False),
)
# Made by Kubernetes itself in every namespace.
_CLUSTER_MADE = {("ConfigMap", "kube-root-ca.crt"), ("ServiceAccount", "default")}
Key = tuple[str, str, str]  # kind, namespace ("" for cluster-scoped), name


@attrs.frozen
class ModuleUnderTest:
    """One module version as the scenario installs it: the manifest, the default CR, and the module-config's
    ``manager`` (None: every Deployment of the manifest stands for it)."""

    name: str
    manifest: bytes
    default_cr: bytes
    manager: ManagerRef | None = None
    prerequisites: tuple[Obj, ...] = ()  # objects the module needs first (a plugin's)


def _default_cr(module: ModuleUnderTest, crds: Sequence[Obj]) -> Obj:
    objects = parse_manifest(module.default_cr, source=f"default CR of {module.name}")
    if len(objects) != 1:
        raise InvalidInput(f"the default CR of {module.name} must be one object, got {len(objects)}")
    body = dict(objects[0])
    meta = dict(body.get("metadata") or {})
    group = str(body.get("apiVersion", "")).partition("/")[0]
    crd = next(
        (c for c in crds if (c.get("spec") or {}).get("group") == group and _crd_kind(c) == body.get("kind")),
        None,
    )
    namespaced = crd is None or (crd.get("spec") or {}).get("scope", "Namespaced") == "Namespaced"
    if namespaced and not meta.get("namespace"):
        meta["namespace"] = DEFAULT_CR_NAMESPACE
    body["metadata"] = meta
    return body


def _crd_kind(crd: Obj) -> str:
    return str(((crd.get("spec") or {}).get("names") or {}).get("kind", ""))


def _key(obj: Mapping[str, Any]) -> Key:
    meta = obj.get("metadata") or {}
    return str(obj.get("kind", "")), str(meta.get("namespace") or ""), str(meta.get("name", ""))


def _shown(key: Key) -> str:
    kind, namespace, name = key
    return f"{kind} {namespace}/{name}" if namespace else f"{kind} {name}"


def _inventory(kube: KubeClient, namespaces: Sequence[str]) -> set[Key]:
    """Tracked objects in ``namespaces`` and cluster-scoped ones (kinds the cluster lacks: skipped)."""
    found: set[Key] = set()
    for api_version, kind, namespaced in TRACKED:
        places: Sequence[str | None] = namespaces if namespaced else (None,)
        for namespace in places:
            try:
                items = kube.list_objects(api_version, kind, namespace)
            except NotFound:  # the cluster does not serve this kind
                break
            found |= {_key(item.body) for item in items if (item.kind, item.name) not in _CLUSTER_MADE}
    return found


def _workload_ready(found: KubeObject | None) -> bool:
    if found is None or found.kind == "Deployment":
        return rolled_out(found)
    status, spec = found.status, found.body.get("spec") or {}
    replicas = int(spec.get("replicas", 1))
    return (
        int(status.get("observedGeneration", 0)) >= int(found.metadata.get("generation", 0))
        and int(status.get("readyReplicas", 0)) >= replicas
        and int(status.get("updatedReplicas", 0)) >= replicas
    )


def _managers(module: ModuleUnderTest, objects: Sequence[Obj]) -> list[tuple[str, str, str, str | None]]:
    """(api version, kind, name, namespace) of what must roll out."""
    if module.manager is not None:
        m = module.manager
        api = f"{m.group}/{m.version}" if m.group else m.version
        return [(api, m.kind, m.name, m.namespace or DEFAULT_CR_NAMESPACE)]
    deployments = [o for o in objects if o.get("kind") == "Deployment"]
    return [("apps/v1", "Deployment", _key(d)[2], _key(d)[1] or None) for d in deployments]


def module_scenario(
    kube: KubeClient,
    module: ModuleUnderTest,
    steps: Steps,
    settings: E2ESettings,
    *,
    scenario: str = SCENARIO,
    after_ready: Callable[[KubeObject], None] | None = None,
) -> None:
    """Run the generic scenario (see the module docstring); raises at the first failing step.
    ``after_ready`` runs module-specific checks on the Ready CR before it is deleted."""
    objects = parse_manifest(module.manifest, source=f"manifest of {module.name}")
    crds = [o for o in objects if o.get("kind") == "CustomResourceDefinition"]
    cr = _default_cr(module, crds)
    cr_api, cr_kind = str(cr["apiVersion"]), str(cr["kind"])
    _, cr_namespace, cr_name = _key(cr)
    wanted_namespaces = sorted(
        {ns for ns in (_key(o)[1] for o in [*objects, cr, *module.prerequisites]) if ns}
        - {_key(o)[2] for o in objects if o.get("kind") == "Namespace"}
    )
    policy = settings.policy
    created: list[str] = []

    brought = sorted(_key(o)[2] for o in objects if o.get("kind") == "Namespace")
    with steps.step(scenario, "record what the cluster holds before the install"):
        namespaces = sorted({*wanted_namespaces, *brought})
        before = _inventory(kube, namespaces)
        # A namespace of the manifest that was there before (kyma-system on a Kyma cluster) is not the
        # module's to remove.
        brought = [ns for ns in brought if ("Namespace", "", ns) not in before]
    with steps.step(scenario, f"namespaces {', '.join(wanted_namespaces) or '(none needed)'} present"):
        for namespace in wanted_namespaces:
            if kube.get("v1", "Namespace", namespace) is None:
                kube.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
                created.append(namespace)
        for body in module.prerequisites:
            kube.apply(body)
    with steps.step(scenario, f"apply the manifest of {module.name} ({len(objects)} objects)"):
        kube.apply_manifest(
            module.manifest, source=f"manifest of {module.name}", policy=policy(settings.ready_timeout)
        )
    for api, kind, workload, workload_ns in _managers(module, objects):
        where = f"{workload_ns}/{workload}" if workload_ns else workload
        with steps.step(scenario, f"manager {kind} {where} rolled out"):
            kube.wait_for(
                api,
                kind,
                workload,
                workload_ns,
                _workload_ready,
                what=f"{kind} {where} to roll out",
                policy=policy(settings.deployment_timeout),
            )
    shown = f"{cr_kind} {cr_namespace + '/' if cr_namespace else ''}{cr_name}"
    with steps.step(scenario, f"default CR {shown} Ready"):
        kube.apply(cr)
        ready = kube.wait_for(
            cr_api,
            cr_kind,
            cr_name,
            cr_namespace or None,
            lambda found: found is not None and found.status.get("state") == "Ready",
            what=f"{shown} to reach .status.state Ready",
            policy=policy(settings.ready_timeout),
        )
    if after_ready is not None and ready is not None:
        after_ready(ready)
    with steps.step(scenario, f"delete {shown}: gone (finalizers honoured)"):
        kube.delete(cr_api, cr_kind, cr_name, cr_namespace or None)
        kube.wait_gone(
            cr_api, cr_kind, cr_name, cr_namespace or None, policy=policy(settings.deletion_timeout)
        )
    with steps.step(scenario, f"uninstall {module.name}: every object of the manifest gone"):
        # Its namespaces stay until the leftovers are looked for: their deletion would take them along.
        for body in reversed(objects):
            kind, namespace, name = _key(body)
            if kind == "Namespace":
                continue
            api_version = str(body["apiVersion"])
            try:
                kube.delete(api_version, kind, name, namespace or None)
                kube.wait_gone(
                    api_version, kind, name, namespace or None, policy=policy(settings.deletion_timeout)
                )
            except NotFound:  # its kind went with its CRD
                continue
        for body in module.prerequisites:
            kind, namespace, name = _key(body)
            kube.delete(str(body["apiVersion"]), kind, name, namespace or None)
    with steps.step(scenario, f"nothing of {module.name} is left"):
        left = _inventory(kube, namespaces) - before
        left -= {_key(body) for body in module.prerequisites}
        left -= {("Namespace", "", namespace) for namespace in [*created, *brought]}
        if left:
            raise CheckFailed(
                f"{module.name} left {len(left)} object(s) behind: "
                + ", ".join(_shown(k) for k in sorted(left))
            )
    if removed := [*brought, *reversed(created)]:
        with steps.step(
            scenario, f"remove the namespaces of the manifest and the scenario ({', '.join(removed)})"
        ):
            for namespace in removed:
                kube.delete("v1", "Namespace", namespace)
            for namespace in removed:
                kube.wait_gone("v1", "Namespace", namespace, None, policy=policy(settings.deletion_timeout))
