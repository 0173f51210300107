"""What the scenario models share: delays in passes, per-object counters, finalizers, status writes."""

from __future__ import annotations

import base64
import binascii
import copy
import math
from typing import Any

import attrs

from .controllers import set_condition
from .resources import ResourceType
from .store import Store, meta

Obj = dict[str, Any]
Condition = tuple[str, bool, str, str]  # type, status, reason, message
WARNING_REASONS = frozenset(
    {
        "MissingSecret",
        "InvalidSecret",
        "ReconcileFailed",
        "ProvisioningFailed",
        "ResourceRemovalFailed",
        "ServiceInstancesAndBindingsNotCleaned",
        "OlderCRExists",
        "WrongNamespaceOrName",
        "DeleteFailed",
        "NotProvisioned",
    }
)


@attrs.frozen
class ModelDelays:
    """Reconcile passes each step takes (every request to the simulator is followed by one pass).

    ``pod_start``: passes from a pod's creation to running; ``operator``: passes a CR of a generic
    module (:mod:`.module_model`) stays Processing, and its deletion takes; ``service``: passes a
    ServiceInstance/ServiceBinding takes to be provisioned or deleted. ``seconds_per_pass`` turns
    btp-manager's durations (``HardDeleteTimeout`` 20m, ``ReadyTimeout`` 5m, the requeue
    intervals, or the Go durations of ConfigMap ``kyma-system/sap-btp-manager``) into passes:
    ``ceil(seconds / seconds_per_pass)``, at least one. The simulator never reads a clock for them.
    """

    pod_start: int = attrs.field(default=2, validator=attrs.validators.ge(1))
    operator: int = attrs.field(default=2, validator=attrs.validators.ge(1))
    service: int = attrs.field(default=2, validator=attrs.validators.ge(1))
    seconds_per_pass: float = attrs.field(default=10.0, validator=attrs.validators.gt(0))

    def passes(self, seconds: float) -> int:
        """How many passes ``seconds`` of btp-manager time take (at least one)."""
        return max(1, math.ceil(seconds / self.seconds_per_pass))


def decoded_secret(secret: Obj) -> dict[str, str]:
    out = {}
    for key, value in (secret.get("data") or {}).items():
        try:
            out[key] = base64.b64decode(str(value)).decode()
        except (binascii.Error, UnicodeDecodeError):
            out[key] = ""
    return out


class Reconciler:
    """Base of the models: the store, and counters of passes per (object uid, phase)."""

    def __init__(self, store: Store, delays: ModelDelays) -> None:
        self.store = store
        self.delays = delays
        self._passes: dict[tuple[str, str], int] = {}

    def _tick(self, obj: Obj, phase: str) -> int:
        """Count one more pass of ``obj`` in ``phase``; returns the count."""
        key = (str(meta(obj).get("uid")), phase)
        self._passes[key] = self._passes.get(key, 0) + 1
        return self._passes[key]

    def _reset(self, obj: Obj, phase: str) -> None:
        self._passes.pop((str(meta(obj).get("uid")), phase), None)

    def _type(self, key: str) -> ResourceType | None:
        return self.store.type_for(key)

    def _get(self, key: str, namespace: str, name: str) -> Obj | None:
        rt = self._type(key)
        return None if rt is None else self.store.get(rt, namespace, name)

    def _ensure_finalizer(self, rt: ResourceType, obj: Obj, finalizer: str, manager: str) -> Obj:
        if finalizer in (meta(obj).get("finalizers") or []):
            return obj
        updated = copy.deepcopy(obj)
        meta(updated).setdefault("finalizers", []).append(finalizer)
        return self.store.write(rt, updated, manager=manager)

    def _drop_finalizer(self, rt: ResourceType, obj: Obj, finalizer: str, manager: str) -> None:
        updated = copy.deepcopy(obj)
        meta(updated)["finalizers"] = [f for f in meta(updated).get("finalizers") or [] if f != finalizer]
        self.store.write(rt, updated, manager=manager)

    def _set_status(
        self, rt: ResourceType, obj: Obj, conditions: list[Condition], *, component: str, **fields: Any
    ) -> Obj:
        """Write conditions and fields into status; an event when the first condition's reason changes."""
        status: Obj = copy.deepcopy(obj.get("status") or {})
        before = (status.get("conditions") or [{}])[0].get("reason") if status.get("conditions") else None
        now = self.store.now()
        generation = meta(obj).get("generation", 1)
        for kind, ok, reason, message in conditions:
            state = "True" if ok else "False"
            set_condition(status, kind, state, reason, message, now, observedGeneration=generation)
        status.update(fields)
        if status == obj.get("status"):
            return obj
        reason, message = conditions[0][2], conditions[0][3]
        if before != reason:
            kind = "Warning" if reason in WARNING_REASONS else "Normal"
            self.store.record_event(obj, reason, message, type=kind, component=component)
        return self.store.write_status(rt, obj, status)
