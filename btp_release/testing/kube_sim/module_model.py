"""A generic Kyma module's manager: what lifecycle-manager expects of any module's operator.

Enabled per module with ``KubeSimulator(modules=[SimulatedModule(...)])``; any number of modules,
each described by the GVK of its CR and the manager Deployment its module-config names
(``manager: {name, namespace, group: apps, version: v1, kind: Deployment}``). Deterministic: one
step per reconcile pass, delays counted in passes (``ModelDelays.operator``).

What it models, while the manager Deployment is Available (nothing happens otherwise):

- Each CR of the module's kind (any name, any namespace; cluster-scoped CRs too) gets the module's
  finalizer, ``status.state: Processing`` with condition ``Ready=False``/``Processing`` for
  ``operator`` passes, then ``status.state: Ready`` with ``Ready=True``/``Ready``.
- Per CR the manager creates ConfigMap ``<module>-<cr name>`` (in the CR's namespace; in the
  manager's namespace for a cluster-scoped CR) labelled ``kyma-project.io/module: <module>`` and
  ``app.kubernetes.io/managed-by: <manager name>``, without an owner reference, so that "nothing of
  the module is left" can be checked by label after uninstalling.
- Deleting a CR: ``status.state: Deleting`` (``Ready=False``/``Deleting``) for ``operator`` passes,
  then its ConfigMap is deleted and the finalizer removed (the CR goes).

What it leaves out: the module's own resources (CRDs, workloads other than the manager), spec
changes, ``Warning``/``Error`` states, lifecycle-manager itself (Kyma CR, ModuleTemplates,
Manifests), custom state checks. Failure modes: ``module_never_ready`` (CRs stay Processing),
``finalizer_never_removed`` (deleted CRs stay Deleting), ``leaves_objects_behind`` (the ConfigMap
stays after its CR is gone).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs

from .errors import KubeError
from .names import MANAGED_BY_LABEL, MODULE_LABEL
from .reconciler import Condition, ModelDelays, Reconciler
from .resources import ResourceType
from .store import Store, identity, meta
from .workloads import deployment_available

Obj = dict[str, Any]
_NAME = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"


def _non_empty(_instance: object, attribute: attrs.Attribute[str], value: str) -> None:
    if not value:
        raise ValueError(f"SimulatedModule.{attribute.name} must not be empty")


@attrs.frozen(kw_only=True)
class SimulatedModule:
    """One Kyma module for :class:`~btp_release.testing.kube_sim.KubeSimulator` (``modules=``).

    ``group``/``version``/``kind``/``plural``: the module's CR (its CRD must be installed, e.g. by
    the module's manifest); ``manager_namespace``/``manager_name``: the manager Deployment of the
    module-config; ``finalizer``: what the manager puts on its CRs; ``name``: the module's name for
    labels (default: ``kind`` in lower case).
    """

    group: str = attrs.field(validator=_non_empty)
    version: str = attrs.field(validator=_non_empty)
    kind: str = attrs.field(validator=_non_empty)
    plural: str = attrs.field(validator=attrs.validators.matches_re(_NAME))
    manager_namespace: str = attrs.field(validator=attrs.validators.matches_re(_NAME))
    manager_name: str = attrs.field(validator=attrs.validators.matches_re(_NAME))
    finalizer: str = attrs.field(validator=_non_empty)
    name: str = attrs.field(default="")

    @property
    def module_name(self) -> str:
        return self.name or self.kind.lower()

    def object_name(self, cr_name: str) -> str:
        """The name of the ConfigMap the manager keeps for the CR ``cr_name``."""
        return f"{self.module_name}-{cr_name}"[:253]


class ModuleModel(Reconciler):
    """The managers of the simulated modules (see module docstring)."""

    def __init__(
        self, store: Store, delays: ModelDelays, failures: set[str], modules: Sequence[SimulatedModule]
    ) -> None:
        super().__init__(store, delays)
        self.failures = failures  # shared with the simulator, which changes it
        self.modules = tuple(modules)

    def reconcile(self) -> None:
        for module in self.modules:
            rt = self._type(f"{module.group}/{module.plural}")
            manager = self._get("apps/deployments", module.manager_namespace, module.manager_name)
            if (
                rt is None
                or not deployment_available(manager)
                or meta(manager or {}).get("deletionTimestamp")
            ):
                continue
            for cr in list(self.store.list(rt)):
                if meta(cr).get("deletionTimestamp"):
                    self._delete(module, rt, cr)
                else:
                    self._provision(module, rt, cr)

    def _state(self, module: SimulatedModule, rt: ResourceType, cr: Obj, state: str, message: str) -> Obj:
        reason = "Ready" if state == "Ready" else state
        condition: Condition = ("Ready", state == "Ready", reason, message)
        return self._set_status(rt, cr, [condition], component=module.manager_name, state=state)

    def _object_place(self, module: SimulatedModule, rt: ResourceType, cr: Obj) -> tuple[str, str]:
        namespace = identity(cr)[0] if rt.namespaced else module.manager_namespace
        return namespace, module.object_name(identity(cr)[1])

    def _provision(self, module: SimulatedModule, rt: ResourceType, cr: Obj) -> None:
        cr = self._ensure_finalizer(rt, cr, module.finalizer, module.manager_name)
        configmaps = self._type("/configmaps")
        assert configmaps is not None
        namespace, name = self._object_place(module, rt, cr)
        if self.store.get(configmaps, namespace, name) is None:
            labels = {MODULE_LABEL: module.module_name, MANAGED_BY_LABEL: module.manager_name}
            body = {
                "metadata": {"name": name, "namespace": namespace, "labels": labels},
                "data": {"cr": "/".join(p for p in identity(cr) if p), "kind": module.kind},
            }
            try:
                self.store.create(configmaps, body, manager=module.manager_name, check=False)
            except KubeError:  # its namespace is missing or terminating: try again next pass
                return
        if (cr.get("status") or {}).get("state") == "Ready":
            return
        if "module_never_ready" in self.failures or self._tick(cr, "provision") < self.delays.operator:
            self._state(module, rt, cr, "Processing", f"{module.kind} is being installed")
            return
        self._state(module, rt, cr, "Ready", f"{module.kind} is ready")

    def _delete(self, module: SimulatedModule, rt: ResourceType, cr: Obj) -> None:
        if module.finalizer not in (meta(cr).get("finalizers") or []):
            return
        cr = self._state(module, rt, cr, "Deleting", f"{module.kind} is being deleted")
        if "finalizer_never_removed" in self.failures or self._tick(cr, "delete") < self.delays.operator:
            return
        if "leaves_objects_behind" not in self.failures:
            configmaps = self._type("/configmaps")
            assert configmaps is not None
            namespace, name = self._object_place(module, rt, cr)
            if self.store.get(configmaps, namespace, name) is not None:
                self.store.delete(configmaps, namespace, name)
        self._drop_finalizer(rt, cr, module.finalizer, module.manager_name)
