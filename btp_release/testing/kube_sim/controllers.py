"""The API server's own controllers, one pass at a time: CRD establishment and cleanup, namespaces.

- A new CRD gets ``NamesAccepted`` and ``Established`` (and its cleanup finalizer) on the next
  pass, which is when its resources appear in discovery.
- A deleted CRD is ``Terminating``: its custom resources are deleted (those with finalizers
  wait for them), then the CRD and its API go away.
- A deleted namespace is ``Terminating``: every object in it is deleted, and the namespace goes
  once nothing is left (objects with finalizers keep it, as on a real cluster).
"""

from __future__ import annotations

import copy
from typing import Any

from .resources import CRD_KEY, NAMESPACE_KEY, condition, is_established, types_of_crd
from .store import CRD_FINALIZER, Store, identity, meta

Obj = dict[str, Any]


def set_condition(
    status: Obj, kind: str, state: str, reason: str, message: str, now: str, **extra: Any
) -> None:
    """Set one entry of ``status.conditions``; ``lastTransitionTime`` moves only when ``status`` does."""
    conditions: list[Obj] = status.setdefault("conditions", [])
    for entry in conditions:
        if entry.get("type") == kind:
            if entry.get("status") != state:
                entry["lastTransitionTime"] = now
            entry.update(status=state, reason=reason, message=message, **extra)
            return
    conditions.append(
        {
            "type": kind,
            "status": state,
            "reason": reason,
            "message": message,
            "lastTransitionTime": now,
            **extra,
        }
    )


def reconcile_crds(store: Store) -> None:
    crd_type = store.type_for(CRD_KEY)
    assert crd_type is not None
    for crd in list(store.list(crd_type)):
        if meta(crd).get("deletionTimestamp"):
            _clean_up(store, crd)
        elif not is_established(crd):
            _establish(store, crd)


def _establish(store: Store, crd: Obj) -> None:
    crd_type = store.type_for(CRD_KEY)
    assert crd_type is not None
    now = store.now()
    spec = crd.get("spec") or {}
    names = dict(spec.get("names") or {})
    names.setdefault("singular", str(names.get("kind", "")).lower())
    names.setdefault("listKind", f"{names.get('kind')}List")
    status: Obj = copy.deepcopy(crd.get("status") or {})
    status.pop("conditions", None)
    set_condition(status, "NamesAccepted", "True", "NoConflicts", "no conflicts found", now)
    set_condition(
        status, "Established", "True", "InitialNamesAccepted", "the initial names have been accepted", now
    )
    status["acceptedNames"] = names
    storage = [str(v.get("name")) for v in spec.get("versions") or [] if v.get("storage")]
    status["storedVersions"] = sorted({*(status.get("storedVersions") or []), *storage})
    crd = store.write_status(crd_type, crd, status)
    if CRD_FINALIZER not in (meta(crd).get("finalizers") or []):
        updated = copy.deepcopy(crd)
        meta(updated).setdefault("finalizers", []).append(CRD_FINALIZER)
        store.write(crd_type, updated, manager="kube-apiserver")


def _clean_up(store: Store, crd: Obj) -> None:
    crd_type = store.type_for(CRD_KEY)
    assert crd_type is not None
    served = types_of_crd(crd)
    instances = [obj for obj in store.list(served[0])] if served else []
    now = store.now()
    if instances:
        for obj in instances:
            if not meta(obj).get("deletionTimestamp"):
                store.delete(served[0], *identity(obj))
        status = copy.deepcopy(crd.get("status") or {})
        found = condition(crd, "Terminating")
        if found is None or found.get("reason") != "InstanceDeletionInProgress":
            message = "CustomResource deletion is in progress"
            set_condition(status, "Terminating", "True", "InstanceDeletionInProgress", message, now)
            store.write_status(crd_type, crd, status)
        return
    updated = copy.deepcopy(crd)
    finalizers = [f for f in meta(updated).get("finalizers") or [] if f != CRD_FINALIZER]
    meta(updated)["finalizers"] = finalizers
    if finalizers:
        store.write(crd_type, updated, manager="kube-apiserver")
    else:
        store.remove(crd_type, crd)


def reconcile_namespaces(store: Store) -> None:
    ns_type = store.type_for(NAMESPACE_KEY)
    assert ns_type is not None
    accounts = store.type_for("/serviceaccounts")
    assert accounts is not None
    for ns in list(store.list(ns_type)):
        name = identity(ns)[1]
        if meta(ns).get("deletionTimestamp"):
            _finalize_namespace(store, ns)
        elif store.get(accounts, name, "default") is None:  # the service account controller's job
            account = {"metadata": {"name": "default", "namespace": name}}
            store.create(accounts, account, manager="kube-controller-manager", check=False)


def _finalize_namespace(store: Store, ns: Obj) -> None:
    ns_type = store.type_for(NAMESPACE_KEY)
    assert ns_type is not None
    name = identity(ns)[1]
    remaining: dict[str, int] = {}
    finalizers: dict[str, int] = {}
    for key, obj in list(store.all_objects()):
        rt = store.type_for(key)
        if rt is None or not rt.namespaced or identity(obj)[0] != name:
            continue
        if not meta(obj).get("deletionTimestamp"):
            store.delete(rt, *identity(obj))
        if store.get(rt, *identity(obj)) is not None:
            label = f"{rt.plural}.{rt.group}" if rt.group else rt.plural
            remaining[label] = remaining.get(label, 0) + 1
            for finalizer in meta(obj).get("finalizers") or []:
                finalizers[finalizer] = finalizers.get(finalizer, 0) + 1
    if not remaining:
        store.remove(ns_type, ns)
        return
    now = store.now()
    status: Obj = copy.deepcopy(ns.get("status") or {})
    content = ", ".join(
        f"{label} has {count} resource instances" for label, count in sorted(remaining.items())
    )
    set_condition(
        status,
        "NamespaceContentRemaining",
        "True",
        "SomeResourcesRemain",
        f"Some resources are remaining: {content}",
        now,
    )
    if finalizers:
        held = ", ".join(f"{f} in {count} resource instances" for f, count in sorted(finalizers.items()))
        message = f"Some content in the namespace has finalizers remaining: {held}"
        set_condition(status, "NamespaceFinalizersRemaining", "True", "SomeFinalizersRemain", message, now)
    if status != ns.get("status"):
        store.write_status(ns_type, ns, status)
