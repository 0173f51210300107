"""The object store: what etcd and the API server's generic registry do for every resource.

Objects are JSON dicts keyed by resource (``group/plural``, shared by all versions) and by
(namespace, name). The store assigns ``uid``, ``creationTimestamp``, ``generation`` and a single
increasing ``resourceVersion``; enforces optimistic concurrency, status subresources and
finalizers (``deletionTimestamp`` first, removal once the last finalizer is gone); collects
dependents through ``ownerReferences``; and keeps the events and pod logs the models write.
Not thread-safe by itself: the simulator calls it under its lock.
"""

from __future__ import annotations

import copy
import itertools
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any, Literal

from .errors import KubeError, already_exists, bad_request, forbidden, invalid, modified, not_found
from .patching import record_update
from .resources import BUILTIN_TYPES, CRD_KEY, NAMESPACE_KEY, ResourceType, is_established, types_of_crd
from .validation import validate

Obj = dict[str, Any]
Propagation = Literal["Background", "Foreground", "Orphan"]
CRD_FINALIZER = "customresourcecleanup.apiextensions.k8s.io"
_SYSTEM_NAMESPACES = frozenset({"default", "kube-system", "kube-public"})


def rfc3339(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def meta(obj: Obj) -> Obj:
    metadata: Obj = obj.setdefault("metadata", {})
    return metadata


def identity(obj: Obj) -> tuple[str, str]:
    metadata = obj.get("metadata") or {}
    return str(metadata.get("namespace") or ""), str(metadata.get("name") or "")


def _comparable(obj: Obj) -> Obj:
    """The object without the times in managedFields: a no-op write must not bump the version."""
    out = copy.deepcopy(obj)
    for entry in meta(out).get("managedFields") or []:
        entry.pop("time", None)
    return out


def _spec_of(obj: Obj) -> Obj:
    """What a generation counts: everything but metadata and status."""
    return {k: v for k, v in obj.items() if k not in ("metadata", "status", "apiVersion", "kind")}


class Store:
    """Objects of all resources, with the API server's bookkeeping (see module docstring)."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._objects: dict[str, dict[tuple[str, str], Obj]] = {}
        self._revision = 0
        self._uids = 0
        self._event_names = itertools.count(0x17F0_0000_0000_0000)
        self._event_index: dict[tuple[str, str, str, str], tuple[str, str]] = {}
        self.logs: dict[tuple[str, str], list[tuple[str, str]]] = {}  # (namespace, pod) -> (time, line)
        self._builtin = {rt.key: rt for rt in BUILTIN_TYPES}

    # -- time and versions --------------------------------------------------------------

    def now(self) -> str:
        return rfc3339(self.clock())

    @property
    def resource_version(self) -> str:
        return str(self._revision)

    def _new_uid(self) -> str:
        """Counter-based, so a scenario replays with the same uids and pod names."""
        self._uids += 1
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"kube-sim:{self._uids}"))

    def _bump(self, obj: Obj) -> None:
        self._revision += 1
        meta(obj)["resourceVersion"] = str(self._revision)

    # -- types ----------------------------------------------------------------------------

    def crds(self) -> list[Obj]:
        return list(self._objects.get(CRD_KEY, {}).values())

    def types(self) -> list[ResourceType]:
        """Built-in types and those of every Established CRD (the served API)."""
        out = list(BUILTIN_TYPES)
        for crd in self.crds():
            if is_established(crd):
                out.extend(types_of_crd(crd))
        return out

    def find_type(self, group: str, version: str, plural: str) -> ResourceType | None:
        for rt in self.types():
            if rt.group == group and rt.version == version and rt.plural == plural:
                return rt
        return None

    def type_for(self, key: str) -> ResourceType | None:
        """Any served version of the resource ``group/plural`` (for the models)."""
        return self._builtin.get(key) or next((rt for rt in self.types() if rt.key == key), None)

    def crd_for(self, rt: ResourceType) -> Obj | None:
        return self._objects.get(CRD_KEY, {}).get(("", rt.crd or ""))

    # -- reads --------------------------------------------------------------------------

    def get(self, rt: ResourceType, namespace: str, name: str) -> Obj | None:
        """The stored object itself (callers must copy before handing it out)."""
        return self._objects.get(rt.key, {}).get((namespace if rt.namespaced else "", name))

    def require(self, rt: ResourceType, namespace: str, name: str) -> Obj:
        found = self.get(rt, namespace, name)
        if found is None:
            raise not_found(rt.plural, rt.group, name)
        return found

    def list(self, rt: ResourceType, namespace: str | None = None) -> list[Obj]:
        """Stored objects of a resource, in one namespace or all, ordered by namespace and name."""
        bucket = self._objects.get(rt.key, {})
        keys = sorted(k for k in bucket if namespace is None or k[0] == namespace)
        return [bucket[k] for k in keys]

    def all_objects(self) -> Iterator[tuple[str, Obj]]:
        for key, bucket in list(self._objects.items()):
            for obj in list(bucket.values()):
                yield key, obj

    # -- writes -------------------------------------------------------------------------

    def _check_namespace(self, rt: ResourceType, namespace: str, name: str) -> None:
        if not rt.namespaced:
            return
        ns = self._objects.get(NAMESPACE_KEY, {}).get(("", namespace))
        if ns is None:
            raise not_found("namespaces", "", namespace)
        if meta(ns).get("deletionTimestamp"):
            raise forbidden(
                f'{rt.plural} "{name}" is forbidden: unable to create new content in namespace {namespace} '
                "because it is being terminated",
                rt.plural,
                rt.group,
                name,
            )

    def create(
        self,
        rt: ResourceType,
        obj: Obj,
        *,
        manager: str,
        dry_run: bool = False,
        check: bool = True,
        strict: bool = False,
        applied: bool = False,
    ) -> Obj:
        """Store a new object (its namespace already set for namespaced types) and return it."""
        obj = copy.deepcopy(obj)
        metadata = meta(obj)
        if not metadata.get("name") and metadata.get("generateName"):
            metadata["name"] = str(metadata["generateName"]) + self._new_uid()[-5:]
        namespace, name = identity(obj)
        if not name:
            raise invalid(
                rt.kind,
                rt.group,
                "",
                [("metadata.name", "FieldValueRequired", "Required value: name or generateName is required")],
            )
        if check and metadata.get("resourceVersion"):
            raise bad_request("resourceVersion should not be set on objects to be created")
        self._check_namespace(rt, namespace, name)  # admission, then validation, then storage
        crd = self.crd_for(rt)
        if crd is not None and meta(crd).get("deletionTimestamp"):
            raise KubeError(
                405, "MethodNotAllowed", "create not allowed while custom resource definition is terminating"
            )
        for field in ("uid", "resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds"):
            metadata.pop(field, None)
        if not applied:  # server-side apply computed managedFields already
            metadata.pop("managedFields", None)
        if not rt.namespaced:
            metadata.pop("namespace", None)
        obj["apiVersion"], obj["kind"] = rt.api_version, rt.kind
        if check and rt.has_status:
            obj.pop("status", None)
        if check:
            validate(rt, obj, None, crd=crd, strict=strict)
        if self.get(rt, namespace, name) is not None:
            raise already_exists(rt.plural, rt.group, name)
        metadata["uid"] = self._new_uid()
        metadata["creationTimestamp"] = self.now()
        if rt.generation:
            metadata["generation"] = 1
        if rt.key == NAMESPACE_KEY:
            obj["spec"] = {"finalizers": ["kubernetes"]}
            obj["status"] = {"phase": "Active"}
        if not applied:
            record_update(None, obj, manager, rt.api_version, self.now())
        if dry_run:
            return obj
        self._bump(obj)
        self._objects.setdefault(rt.key, {})[(namespace, name)] = obj
        return obj

    def update(
        self,
        rt: ResourceType,
        new: Obj,
        *,
        manager: str,
        subresource: str = "",
        dry_run: bool = False,
        check: bool = True,
        strict: bool = False,
        require_version: bool = False,
        applied: bool = False,
    ) -> Obj:
        """Replace an object (PUT semantics; PATCH builds ``new`` first) and return the stored result.

        ``subresource="status"`` changes only the status; otherwise a status subresource's status
        is kept. A stale ``resourceVersion`` is 409 Conflict; no change at all keeps the version.
        """
        namespace, name = identity(new)
        old = self.require(rt, namespace, name)
        given = meta(new).get("resourceVersion")
        if given and str(given) != meta(old).get("resourceVersion"):
            raise modified(rt.plural, rt.group, name)
        if require_version and not given and not rt.unconditional_update:
            raise invalid(
                rt.kind,
                rt.group,
                name,
                [
                    (
                        "metadata.resourceVersion",
                        "FieldValueInvalid",
                        "Invalid value: 0x0: must be specified for an update",
                    )
                ],
            )
        if subresource == "status":
            result = copy.deepcopy(old)
            result["status"] = copy.deepcopy(new.get("status"))
        else:
            result = copy.deepcopy(new)
            if rt.has_status or rt.key == NAMESPACE_KEY:
                result["status"] = copy.deepcopy(old.get("status"))
                if result["status"] is None:
                    result.pop("status")
        metadata, old_meta = meta(result), meta(old)
        for field in (
            "uid",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "generation",
            "resourceVersion",
        ):
            if field in old_meta:
                metadata[field] = old_meta[field]
            else:
                metadata.pop(field, None)
        if rt.key == NAMESPACE_KEY:
            result["spec"] = copy.deepcopy(old.get("spec"))
        result["apiVersion"], result["kind"] = rt.api_version, rt.kind
        if old_meta.get("deletionTimestamp"):
            added = set(metadata.get("finalizers") or []) - set(old_meta.get("finalizers") or [])
            if added:
                raise invalid(
                    rt.kind,
                    rt.group,
                    name,
                    [
                        (
                            "metadata.finalizers",
                            "FieldValueForbidden",
                            "Forbidden: no new finalizers can be added if the object is being deleted",
                        )
                    ],
                )
        if check:
            validate(rt, result, old, crd=self.crd_for(rt), strict=strict)
        if rt.generation and _spec_of(result) != _spec_of(old):
            metadata["generation"] = int(old_meta.get("generation") or 1) + 1
        if subresource == "status" or not applied:  # clients cannot write managedFields directly
            metadata["managedFields"] = copy.deepcopy(old_meta.get("managedFields"))
            if metadata["managedFields"] is None:
                del metadata["managedFields"]
        if subresource != "status" and not applied:
            record_update(old, result, manager, rt.api_version, self.now())
        unchanged = _comparable(result) == _comparable(old)
        if unchanged or dry_run:
            return old if unchanged else result
        self._bump(result)
        self._objects[rt.key][(namespace if rt.namespaced else "", name)] = result
        if metadata.get("deletionTimestamp") and not metadata.get("finalizers"):
            self.remove(rt, result)
        return result

    def write(self, rt: ResourceType, obj: Obj, *, manager: str) -> Obj:
        """A model's write: like an update by a controller, without validation."""
        return self.update(rt, obj, manager=manager, check=False)

    def write_status(self, rt: ResourceType, obj: Obj, status: Obj) -> Obj:
        """A model's status write (through the status subresource when the type has one)."""
        new = copy.deepcopy(obj)
        new["status"] = status
        if rt.has_status:
            return self.update(rt, new, manager="", subresource="status", check=False)
        return self.update(rt, new, manager="", check=False)

    def delete(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        *,
        propagation: Propagation = "Background",
        dry_run: bool = False,
        uid: str | None = None,
        resource_version: str | None = None,
    ) -> tuple[Obj, bool]:
        """Delete (or mark for deletion) an object; returns it and whether it is gone now.

        Objects with finalizers, namespaces and CRDs only get a ``deletionTimestamp``; their
        controllers (or whoever owns the finalizer) finish the job. ``Foreground`` is treated as
        ``Background``; ``Orphan`` removes the owner references of dependents instead.
        """
        obj = self.require(rt, namespace, name)
        metadata = meta(obj)
        if rt.key == NAMESPACE_KEY and name in _SYSTEM_NAMESPACES:
            raise forbidden(
                f'namespaces "{name}" is forbidden: this namespace may not be deleted', rt.plural, "", name
            )
        if uid is not None and uid != metadata.get("uid"):
            raise KubeError(
                409,
                "Conflict",
                f"Precondition failed: UID in precondition: {uid}, UID in object meta: {metadata.get('uid')}",
            )
        if resource_version is not None and resource_version != metadata.get("resourceVersion"):
            raise KubeError(
                409,
                "Conflict",
                f"Precondition failed: ResourceVersion in precondition: {resource_version}, "
                f"ResourceVersion in object meta: {metadata.get('resourceVersion')}",
            )
        if dry_run:
            return copy.deepcopy(obj), False
        if rt.key == CRD_KEY and CRD_FINALIZER not in (metadata.get("finalizers") or []):
            metadata.setdefault("finalizers", []).append(CRD_FINALIZER)
        if propagation == "Orphan":
            self._orphan_dependents(str(metadata.get("uid")))
        if metadata.get("finalizers") or rt.key == NAMESPACE_KEY:
            if not metadata.get("deletionTimestamp"):
                metadata["deletionTimestamp"] = self.now()
                metadata["deletionGracePeriodSeconds"] = 0
                if rt.key == NAMESPACE_KEY:
                    obj["status"] = {"phase": "Terminating"}
                self._bump(obj)
            return obj, False
        self.remove(rt, obj)
        return obj, True

    def remove(self, rt: ResourceType, obj: Obj) -> None:
        """Drop an object now and collect its dependents (garbage collection)."""
        namespace, name = identity(obj)
        bucket = self._objects.get(rt.key, {})
        if bucket.pop((namespace if rt.namespaced else "", name), None) is None:
            return
        self._revision += 1
        if rt.key == "/pods":
            self.logs.pop((namespace, name), None)
        if rt.key == CRD_KEY:
            for crd_type in types_of_crd(obj):
                self._objects.pop(crd_type.key, None)
        self._collect(str(meta(obj).get("uid")))

    def _dependents(self, uid: str) -> Iterator[tuple[str, Obj]]:
        for key, obj in self.all_objects():
            if any(ref.get("uid") == uid for ref in meta(obj).get("ownerReferences") or []):
                yield key, obj

    def _collect(self, uid: str) -> None:
        for key, obj in list(self._dependents(uid)):
            rt = self.type_for(key)
            if rt is None:
                continue
            refs = [r for r in meta(obj).get("ownerReferences") or [] if r.get("uid") != uid]
            if refs:  # other owners remain: only forget this one
                meta(obj)["ownerReferences"] = refs
                self._bump(obj)
            elif self.get(rt, *identity(obj)) is not None:
                self.delete(rt, *identity(obj))

    def _orphan_dependents(self, uid: str) -> None:
        for _key, obj in list(self._dependents(uid)):
            refs = [r for r in meta(obj).get("ownerReferences") or [] if r.get("uid") != uid]
            if refs:
                meta(obj)["ownerReferences"] = refs
            else:
                meta(obj).pop("ownerReferences", None)
            self._bump(obj)

    # -- events and logs ----------------------------------------------------------------

    def record_event(
        self,
        involved: Obj,
        reason: str,
        message: str,
        *,
        type: str = "Normal",
        component: str = "kube-sim",
    ) -> Obj:
        """Record an Event about ``involved``; a repeat of the same event only raises its count."""
        namespace, name = identity(involved)
        namespace = namespace or "default"
        metadata = meta(involved)
        key = (str(metadata.get("uid")), reason, message, type)
        events = self._builtin["/events"]
        now = self.now()
        if key in self._event_index:
            existing = self.get(events, *self._event_index[key])
            if existing is not None:
                existing["count"] = int(existing.get("count", 1)) + 1
                existing["lastTimestamp"] = now
                self._bump(existing)
                return existing
        event_name = f"{name}.{next(self._event_names):x}"
        event: Obj = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {
                "name": event_name,
                "namespace": namespace,
                "uid": self._new_uid(),
                "creationTimestamp": now,
            },
            "involvedObject": {
                "apiVersion": involved.get("apiVersion"),
                "kind": involved.get("kind"),
                "name": name,
                "uid": metadata.get("uid"),
                "resourceVersion": metadata.get("resourceVersion"),
                **({"namespace": identity(involved)[0]} if identity(involved)[0] else {}),
            },
            "reason": reason,
            "message": message,
            "type": type,
            "count": 1,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "source": {"component": component},
            "reportingComponent": component,
            "reportingInstance": "",
        }
        ns = self.get(self._builtin[NAMESPACE_KEY], "", namespace)
        if ns is None or meta(ns).get("deletionTimestamp"):
            return event  # the API server refuses new content in a missing or terminating namespace
        self._bump(event)
        self._objects.setdefault(events.key, {})[(namespace, event_name)] = event
        self._event_index[key] = (namespace, event_name)
        return event

    def append_log(self, namespace: str, pod: str, *lines: str) -> None:
        stamp = self.now()
        self.logs.setdefault((namespace, pod), []).extend((stamp, line) for line in lines)
