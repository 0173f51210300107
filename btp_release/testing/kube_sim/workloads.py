"""The Deployment model: pods from the template, rolled on template changes, status and events.

Deterministic: a pod's progress is counted in reconcile passes (``pod_start`` passes from
creation to running), never in seconds. Simplifications, stated once: there are no
ReplicaSets (pods are owned by their Deployment directly, and carry ``pod-template-hash``);
a rollout starts all new pods at once and removes the old ones when the new ones are ready
(``maxSurge``/``maxUnavailable`` are not modelled, except that the old pods keep the
Deployment Available meanwhile); ``minReadySeconds``, probes and ``progressDeadlineSeconds``
are ignored (a crash-looping rollout stays Progressing). A pod cannot be created when the
template names a missing PriorityClass or ServiceAccount (``FailedCreate``), as on a cluster.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Callable
from typing import Any

import attrs

from .controllers import set_condition
from .resources import ResourceType
from .store import Store, identity, meta

Obj = dict[str, Any]
NODE_NAME = "kube-sim-node"
_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


@attrs.frozen
class PodBehaviour:
    """How a Deployment's containers behave once started (supplied by the scenario models)."""

    crash: bool = False
    log_lines: tuple[str, ...] = ()


Behaviour = Callable[[Obj], PodBehaviour]


def default_behaviour(deployment: Obj) -> PodBehaviour:
    containers = ((deployment.get("spec") or {}).get("template") or {}).get("spec", {}).get(
        "containers"
    ) or []
    return PodBehaviour(
        log_lines=tuple(f"container {c.get('name')} started (image {c.get('image')})" for c in containers)
    )


def template_hash(template: Obj) -> str:
    digest = hashlib.sha256(json.dumps(template, sort_keys=True).encode()).hexdigest()
    return "".join(_ALPHABET[int(digest[i : i + 2], 16) % len(_ALPHABET)] for i in range(0, 20, 2))


class DeploymentController:
    """Reconciles every Deployment once per pass (see module docstring)."""

    def __init__(self, store: Store, *, pod_start: int, behaviour: Behaviour = default_behaviour) -> None:
        self.store = store
        self.pod_start = pod_start
        self.behaviour = behaviour
        self._age: dict[str, int] = {}  # pod uid -> passes seen
        self._serial = 0

    def _types(self) -> tuple[ResourceType, ResourceType]:
        deployments, pods = self.store.type_for("apps/deployments"), self.store.type_for("/pods")
        assert deployments is not None and pods is not None
        return deployments, pods

    def reconcile(self) -> None:
        deployments, _ = self._types()
        for deployment in list(self.store.list(deployments)):
            if not meta(deployment).get("deletionTimestamp"):
                self._reconcile(deployment)

    def pods_of(self, deployment: Obj) -> list[Obj]:
        _, pods = self._types()
        uid = meta(deployment).get("uid")
        return [
            pod
            for pod in self.store.list(pods, identity(deployment)[0])
            if any(ref.get("uid") == uid for ref in meta(pod).get("ownerReferences") or [])
        ]

    def _reconcile(self, deployment: Obj) -> None:
        _, pods_type = self._types()
        spec = deployment.get("spec") or {}
        desired = int(spec.get("replicas", 1))
        digest = template_hash(spec.get("template") or {})
        replica_set = f"{identity(deployment)[1]}-{digest}"
        behaviour = self.behaviour(deployment)
        pods = self.pods_of(deployment)
        current = [p for p in pods if (meta(p).get("labels") or {}).get("pod-template-hash") == digest]
        failure = ""
        if len(current) < desired and not current:
            self.store.record_event(
                deployment,
                "ScalingReplicaSet",
                f"Scaled up replica set {replica_set} to {desired}",
                component="deployment-controller",
            )
        while len(current) < desired:
            failure = self._cannot_create(deployment)
            if failure:
                self.store.record_event(
                    deployment,
                    "FailedCreate",
                    f"Error creating: {failure}",
                    type="Warning",
                    component="replicaset-controller",
                )
                break
            current.append(self._create_pod(deployment, digest))
        for pod in current[desired:]:
            self.store.delete(pods_type, *identity(pod))
        current = current[:desired]
        for pod in current:
            self._advance(pod, behaviour)
        ready = [p for p in current if _ready(p)]
        old = [p for p in pods if p not in current and self.store.get(pods_type, *identity(p)) is not None]
        if old and len(ready) == desired:
            old_sets = sorted({str((meta(p).get("labels") or {}).get("pod-template-hash")) for p in old})
            for pod in old:
                self.store.delete(pods_type, *identity(pod))
            for old_hash in old_sets:
                name = f"{identity(deployment)[1]}-{old_hash}"
                self.store.record_event(
                    deployment,
                    "ScalingReplicaSet",
                    f"Scaled down replica set {name} to 0 from 1",
                    component="deployment-controller",
                )
            old = []
        self._write_status(deployment, desired, current, old, replica_set, failure)

    def _cannot_create(self, deployment: Obj) -> str:
        template_spec = ((deployment.get("spec") or {}).get("template") or {}).get("spec") or {}
        namespace, prefix = identity(deployment)[0], f"{identity(deployment)[1]}-"
        priority = template_spec.get("priorityClassName")
        classes = self.store.type_for("scheduling.k8s.io/priorityclasses")
        if priority and classes is not None and self.store.get(classes, "", str(priority)) is None:
            return f'pods "{prefix}" is forbidden: no PriorityClass with name {priority} was found'
        account = template_spec.get("serviceAccountName") or template_spec.get("serviceAccount") or "default"
        accounts = self.store.type_for("/serviceaccounts")
        if (
            account != "default"
            and accounts is not None
            and self.store.get(accounts, namespace, str(account)) is None
        ):
            return (
                f'pods "{prefix}" is forbidden: error looking up service account {namespace}/{account}: '
                f'serviceaccount "{account}" not found'
            )
        return ""

    def _create_pod(self, deployment: Obj, digest: str) -> Obj:
        _, pods = self._types()
        self._serial += 1
        seed = hashlib.sha256(f"{meta(deployment).get('uid')}:{self._serial}".encode()).digest()
        suffix = "".join(_ALPHABET[b % len(_ALPHABET)] for b in seed[:5])
        namespace, name = identity(deployment)
        template = copy.deepcopy((deployment.get("spec") or {}).get("template") or {})
        labels = {**(template.get("metadata") or {}).get("labels", {}), "pod-template-hash": digest}
        pod_spec = template.get("spec") or {}
        pod_spec.setdefault("serviceAccountName", "default")
        pod_spec.update(nodeName=NODE_NAME, restartPolicy=pod_spec.get("restartPolicy", "Always"))
        containers = pod_spec.get("containers") or []
        pod: Obj = {
            "metadata": {
                "name": f"{name}-{digest}-{suffix}",
                "namespace": namespace,
                "labels": labels,
                "annotations": (template.get("metadata") or {}).get("annotations") or {},
                "ownerReferences": [
                    {
                        "apiVersion": "apps/v1",
                        "kind": "Deployment",
                        "name": name,
                        "uid": meta(deployment).get("uid"),
                        "controller": True,
                        "blockOwnerDeletion": True,
                    }
                ],
            },
            "spec": pod_spec,
            "status": {
                "phase": "Pending",
                "qosClass": "Burstable",
                "conditions": [
                    {"type": "PodScheduled", "status": "True", "lastTransitionTime": self.store.now()}
                ],
                "containerStatuses": [
                    {
                        "name": c.get("name"),
                        "image": c.get("image"),
                        "imageID": "",
                        "ready": False,
                        "restartCount": 0,
                        "started": False,
                        "state": {"waiting": {"reason": "ContainerCreating"}},
                    }
                    for c in containers
                ],
            },
        }
        if not pod["metadata"]["annotations"]:
            del pod["metadata"]["annotations"]
        created = self.store.create(pods, pod, manager="kube-controller-manager", check=False)
        self.store.record_event(
            created,
            "Scheduled",
            f"Successfully assigned {namespace}/{identity(created)[1]} to {NODE_NAME}",
            component="default-scheduler",
        )
        return created

    def _advance(self, pod: Obj, behaviour: PodBehaviour) -> None:
        _, pods = self._types()
        uid = str(meta(pod).get("uid"))
        age = self._age[uid] = self._age.get(uid, 0) + 1
        namespace, name = identity(pod)
        containers = (pod.get("spec") or {}).get("containers") or []
        if age == 1:
            for c in containers:
                self.store.record_event(
                    pod, "Pulling", f'Pulling image "{c.get("image")}"', component="kubelet"
                )
        if age < self.pod_start:
            return
        status = copy.deepcopy(pod.get("status") or {})
        now = self.store.now()
        statuses = status.get("containerStatuses") or []
        if age == self.pod_start:
            for c in containers:
                self.store.record_event(
                    pod, "Pulled", f'Successfully pulled image "{c.get("image")}"', component="kubelet"
                )
                self.store.record_event(
                    pod, "Created", f"Created container {c.get('name')}", component="kubelet"
                )
                self.store.record_event(
                    pod, "Started", f"Started container {c.get('name')}", component="kubelet"
                )
            self.store.append_log(namespace, name, *behaviour.log_lines)
            status.update(
                phase="Running", startTime=now, hostIP="10.0.0.10", podIP=f"10.42.0.{10 + self._serial % 240}"
            )
        if behaviour.crash:
            for entry in statuses:
                entry["restartCount"] = int(entry.get("restartCount", 0)) + (
                    0 if age == self.pod_start else 1
                )
                entry.update(ready=False, started=False)
                message = f"back-off restarting failed container={entry.get('name')} pod={name}"
                entry["state"] = {"waiting": {"reason": "CrashLoopBackOff", "message": message}}
                entry["lastState"] = {"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": now}}
                self.store.record_event(
                    pod,
                    "BackOff",
                    f"Back-off restarting failed container {entry.get('name')} in pod {name}",
                    type="Warning",
                    component="kubelet",
                )
            if age > self.pod_start:  # a restart: the log is the new attempt's (no ``previous``)
                self.store.logs[(namespace, name)] = []
                self.store.append_log(namespace, name, *behaviour.log_lines)
            ready = "False"
        else:
            for entry in statuses:
                if "running" not in (entry.get("state") or {}):
                    entry.update(ready=True, started=True, state={"running": {"startedAt": now}})
            ready = "True"
        conditions = {entry["type"]: entry for entry in status.get("conditions") or []}
        for kind in ("Initialized", "ContainersReady", "Ready"):
            state = "True" if kind == "Initialized" else ready
            entry = conditions.setdefault(kind, {"type": kind})
            if entry.get("status") != state:
                entry["lastTransitionTime"] = now
            entry["status"] = state
            if state == "True":
                entry.pop("reason", None)
            else:
                entry["reason"] = "ContainersNotReady"
        status["conditions"] = list(conditions.values())
        if status != pod.get("status"):
            self.store.write_status(pods, pod, status)

    def _write_status(
        self,
        deployment: Obj,
        desired: int,
        current: list[Obj],
        old: list[Obj],
        replica_set: str,
        failure: str,
    ) -> None:
        deployments, pods = self._types()
        current = [self.store.get(pods, *identity(p)) or p for p in current]
        ready = sum(1 for p in [*current, *old] if _ready(p))
        available_needed = desired - desired // 4  # maxUnavailable 25%, rounded down
        now = self.store.now()
        status: Obj = copy.deepcopy(deployment.get("status") or {})
        status.update(
            observedGeneration=meta(deployment).get("generation", 1),
            replicas=len(current) + len(old),
            updatedReplicas=len(current),
            readyReplicas=ready,
            availableReplicas=ready,
        )
        for field in ("replicas", "updatedReplicas", "readyReplicas", "availableReplicas"):
            if not status[field]:
                del status[field]
        unavailable = max(desired - ready, 0) if (current or old or desired) else 0
        if unavailable:
            status["unavailableReplicas"] = unavailable
        else:
            status.pop("unavailableReplicas", None)
        if ready >= available_needed:
            set_condition(
                status,
                "Available",
                "True",
                "MinimumReplicasAvailable",
                "Deployment has minimum availability.",
                now,
                lastUpdateTime=now,
            )
        else:
            set_condition(
                status,
                "Available",
                "False",
                "MinimumReplicasUnavailable",
                "Deployment does not have minimum availability.",
                now,
                lastUpdateTime=now,
            )
        complete = not old and sum(1 for p in current if _ready(p)) == desired and len(current) == desired
        if complete:
            set_condition(
                status,
                "Progressing",
                "True",
                "NewReplicaSetAvailable",
                f'ReplicaSet "{replica_set}" has successfully progressed.',
                now,
                lastUpdateTime=now,
            )
        else:
            set_condition(
                status,
                "Progressing",
                "True",
                "ReplicaSetUpdated",
                f'ReplicaSet "{replica_set}" is progressing.',
                now,
                lastUpdateTime=now,
            )
        if failure:
            set_condition(status, "ReplicaFailure", "True", "FailedCreate", failure, now, lastUpdateTime=now)
        else:
            status["conditions"] = [c for c in status["conditions"] if c.get("type") != "ReplicaFailure"]
        if _without_times(status) != _without_times(deployment.get("status") or {}):
            self.store.write_status(deployments, deployment, status)


def _ready(pod: Obj) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in (pod.get("status") or {}).get("conditions") or []
    )


def _without_times(status: Obj) -> Obj:
    out = copy.deepcopy(status)
    for entry in out.get("conditions") or []:
        entry.pop("lastUpdateTime", None)
        entry.pop("lastTransitionTime", None)
    return out


def deployment_available(deployment: Obj | None) -> bool:
    """Whether a Deployment's ``Available`` condition is True."""
    if deployment is None:
        return False
    return any(
        c.get("type") == "Available" and c.get("status") == "True"
        for c in (deployment.get("status") or {}).get("conditions") or []
    )
