"""The btp-manager model: models btp-manager at c70cd184 (1.3.20+15, 2026-08-21).

Derived from kyma-project/btp-manager at c70cd1842cbc (``controllers/btpoperator_controller.go``,
``internal/provisioning``, ``internal/deprovisioning``, ``internal/manager/moduleresource``,
``internal/webhook/certificate``, ``controllers/config/handler.go``, ``controllers/cache.go``,
``internal/conditions``). Deterministic but for key material: one step per reconcile pass;
btp-manager's durations become passes (:meth:`ModelDelays.passes`).

What it models:

- The controller runs while Deployment ``kyma-system/btp-manager-controller-manager`` is Available.
  The process it plays is the newest Ready pod of that Deployment: a new pod (an upgrade, a
  restart) re-reads ConfigMap ``kyma-system/sap-btp-manager`` and reconciles again, with the chart
  version and operand image of that pod (see :mod:`.btp_operand`).
- By name: only ``kyma-system/btpoperator`` is reconciled. Any other BtpOperator gets state
  Warning, ``Ready=False``/``WrongNamespaceOrName`` "Your resource must be in the kyma-system
  namespace. The resource's name must be btpoperator." and NO finalizer (deleting it is immediate).
- The state machine of the valid CR (one condition, type ``Ready``): finalizer
  ``operator.kyma-project.io/btp-manager``; "" → Processing/``Initialized``; Processing → secret
  checks → apply the operand → wait for it (``ReadyTimeout``, default 5m) → Ready/
  ``ReconcileSucceeded`` "Module provisioning succeeded" (a timeout: Error/``ProvisioningFailed``);
  Ready → secret checks, re-apply, wait (a timeout: Error/``ReconcileFailed``); Warning (other than
  NotCleaned) and Error → Processing/``Updated`` "CR has been updated" when something it watches
  changes (updates of the CR itself are ignored in Warning/Error, as by its predicate).
- Credentials: Secret ``kyma-system/sap-btp-manager`` is seen only with label
  ``app.kubernetes.io/managed-by`` ``kcp-kyma-environment-broker`` or ``btp-manager`` (the cache
  filter). Missing or unlabelled: Warning/``MissingSecret`` "sap-btp-manager Secret in kyma-system
  namespace not found"; a key of ``clientid, clientsecret, sm_url, tokenurl, cluster_id`` missing or
  empty: Error/``InvalidSecret`` ("key(s) … not found", "missing value(s) for … key(s)").
- What triggers a reconcile (btp-manager's watches): the CR (not in Warning/Error unless deleting),
  the visible credentials Secret, the visible ConfigMap, the operand Deployment (created, deleted,
  ``Available``/``Progressing`` changed), its network policies, the certificate Secrets (created,
  changed, deleted), the webhook configurations (created, deleted, other caBundles), a new manager
  pod; requeues after ``ProcessingStateRequeueInterval`` (5m) and ``ReadyStateRequeueInterval``
  (15m). While one reconcile waits (operand readiness, hard delete) nothing else happens: one worker.
- Network policies (:mod:`.btp_operand`): the four of ``manager-resources/network-policies`` are
  applied with the operand; the BtpOperator's annotation
  ``operator.kyma-project.io/btp-operator-disable-network-policies: "true"`` deletes those labelled
  ``managed-by=btp-manager`` at the next reconcile instead (an annotation change is a CR update, seen
  in Ready); removing it applies them again. Changing or deleting one of them triggers a reconcile
  (btp-manager watches them by name and labels). Their rules are stored, not enforced.
- The operand (:mod:`.btp_operand`): deleted while Ready → re-created; its image changed → restored
  at the next reconcile (e.g. when its pods stop and ``Available`` flips). Operand pods whose image
  is not the one btp-manager wants crash-loop (the stand-in for an image that cannot be pulled).
- Webhook certificates (:mod:`.btp_webhooks`), at every apply: Secret ``kyma-system/ca-server-cert``
  (``ca.crt``, ``ca.key``) missing or invalid → a new CA and webhook certificate; Secret
  ``webhook-server-cert`` (``tls.crt``, ``tls.key``) missing or invalid → a new one signed by the CA,
  not signed by it → both anew; the CA certificate is the ``caBundle`` of every webhook of
  ``sap-btp-operator-mutating-webhook-configuration`` and ``…-validating-webhook-configuration``.
  Deleting ``ca-server-cert`` while Ready is a watch event: a new CA, both caBundles follow, the CR
  stays Ready.
- Deleting: ``deletionTimestamp`` → Deleting/``HardDeleting`` "BtpOperator is to be deleted". Without
  label ``force-delete: "true"`` and with instances or bindings: Warning/
  ``ServiceInstancesAndBindingsNotCleaned`` "All service instances and bindings must be removed: %d
  instance(s) and %d binding(s)" (written once; the counts are those of that moment); every pass in
  that state re-applies the operand (an upgrade still rolls) and keeps the finalizer. When they are
  gone or ``force-delete`` is set: Deleting/``HardDeleting`` "BtpOperator is to be deleted after
  cleaning service instance and binding resources" (only coming from NotCleaned), then the hard
  delete: all bindings, then all instances are deleted and polled for ``HardDeleteTimeout``
  (default 20m); when none is left, the module resources (``managed-by=btp-manager``: the operand,
  its webhook configurations and certificate Secrets, the service CRDs) are deleted and the
  finalizer removed. On timeout: Deleting/``SoftDeleting`` "Being soft deleted": the operand
  Deployment and the webhook configurations are deleted, bindings (and the Secrets named after
  them) then instances lose their finalizers, the module resources are deleted, the finalizer goes.
- ConfigMap ``kyma-system/sap-btp-manager``: read through the API when a manager pod starts
  (labels do not matter then), afterwards only when labelled like the Secret (the cache filter).
  ``HardDeleteTimeout``, ``ReadyTimeout``, ``ReadyStateRequeueInterval``,
  ``ProcessingStateRequeueInterval`` are Go durations; a value that does not parse keeps the previous
  one; ``EnableLimitedCache`` (default ``"true"``) is copied as it is into the operand's ConfigMap
  ``sap-btp-operator-config`` as ``ENABLE_LIMITED_CACHE`` at the next apply (a ConfigMap change is a
  watch event); deleting the ConfigMap keeps the values (they are process globals in btp-manager).
- The service operator (:mod:`.service_operator`) reconciles instances and bindings while the
  operand Deployment is Available.

What it leaves out: the deletion of the old webhook network policy, the CA bundle probe, calls to
the webhooks (stored, never called), RSA keys and the certificate lifetimes of the ConfigMap,
``credentials_namespace`` and cluster-id drift (``CredentialsNamespaceChanged``,
``ClusterIdChanged``), outdated-resource deletion (``module-resources/delete``), RBAC of the
operand, ``ResourceRemovalFailed`` (deletions never fail here), retries with back-off after errors,
leader election between two manager pods.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from .btp_operand import Operand, RunningManager, running_manager
from .durations import parse_go_duration
from .names import (
    BINDINGS_KEY,
    CONFIG_MAP,
    CREDENTIAL_KEYS,
    CREDENTIALS_SECRET,
    DISABLE_NETWORK_POLICIES,
    FORCE_DELETE_LABEL,
    INSTANCES_KEY,
    MANAGED_BY_LABEL,
    MANAGER_DEPLOYMENT,
    MANAGER_NAMESPACE,
    OPERAND_DEPLOYMENT,
    OPERATOR_CR_NAME,
    OPERATOR_FINALIZER,
    OPERATOR_KEY,
    SERVICES_FINALIZER,
    VISIBLE_MANAGED_BY,
)
from .reconciler import Condition, ModelDelays, Reconciler, decoded_secret
from .resources import ResourceType
from .service_operator import ServiceOperatorModel
from .store import Store, identity, meta
from .workloads import (
    DeploymentController,
    PodBehaviour,
    default_behaviour,
    deployment_available,
    template_hash,
)

Obj = dict[str, Any]
COMPONENT = "btp-manager"
NOT_CLEANED = "ServiceInstancesAndBindingsNotCleaned"
WRONG_NAME_MESSAGE = (
    "Your resource must be in the kyma-system namespace. The resource's name must be btpoperator."
)
SECRET_NOT_FOUND = f"{CREDENTIALS_SECRET} Secret in {MANAGER_NAMESPACE} namespace not found"
READINESS_TIMEOUT = (
    "timed out while waiting for resources readiness: "
    f"timeout waiting for {OPERAND_DEPLOYMENT} Deployment to be ready"
)
DEFAULT_SETTINGS = {
    "HardDeleteTimeout": 20 * 60.0,
    "ReadyTimeout": 5 * 60.0,
    "ReadyStateRequeueInterval": 15 * 60.0,
    "ProcessingStateRequeueInterval": 5 * 60.0,
}


@attrs.define
class _Job:
    """A reconcile that blocks the worker over several passes."""

    kind: str  # "provision" | "ready" | "hard-delete"
    passes: int = 0


@attrs.define
class _Track:
    """What the model remembers of the valid CR between passes."""

    key: tuple[Any, ...] | None = None
    idle: int = 0
    job: _Job | None = None


class BtpManagerModel(Reconciler):
    """btp-manager and the SAP BTP service operator (see module docstring)."""

    def __init__(
        self,
        store: Store,
        deployments: DeploymentController,
        *,
        delays: ModelDelays,
        failures: set[str],
        dummy_credentials: Mapping[str, str],
        chart_versions: Mapping[str, str] = {},
    ) -> None:
        super().__init__(store, delays)
        self.deployments = deployments
        self.failures = failures  # shared with the simulator, which changes it
        self.chart_versions = dict(chart_versions)
        self.services = ServiceOperatorModel(store, delays, dummy_credentials)
        self.operand = Operand(store, failures)
        self.hard_delete_timeout: str | None = None  # HardDeleteTimeout (raw) the last hard delete used
        self.settings = dict(DEFAULT_SETTINGS)  # seconds
        self._raw: dict[str, str] = {}
        self.enable_limited_cache = "true"  # EnableLimitedCache, copied as is into the operand's config
        self._manager: RunningManager | None = None
        self._config_version: str | None = None
        self._tracks: dict[str, _Track] = {}
        self._seen: dict[str, int] = {}  # CR uid -> order first seen (creation order, one per request)

    # -- pods -------------------------------------------------------------------------------

    def pod_behaviour(self, deployment: Obj) -> PodBehaviour:
        """What the manager's and the operand's containers do; other Deployments behave by default."""
        who = identity(deployment)
        template = ((deployment.get("spec") or {}).get("template") or {}).get("spec") or {}
        containers = template.get("containers") or []
        image = containers[0].get("image") if containers else ""
        if who == (MANAGER_NAMESPACE, OPERAND_DEPLOYMENT):
            wanted = self.operand.wanted_image
            if wanted is not None and image != wanted:
                error = f'Failed to pull image "{image}": not found (btp-manager wants "{wanted}")'
                return PodBehaviour(crash=True, log_lines=(error,))
            return PodBehaviour(log_lines=(f'INFO\tsetup\tstarting manager\t{{"version": "{image}"}}',))
        if who != (MANAGER_NAMESPACE, MANAGER_DEPLOYMENT):
            return default_behaviour(deployment)
        started = f'INFO\tsetup\tstarting manager\t{{"image": "{image}"}}'
        if "deployment_never_available" in self.failures:
            error = 'ERROR\tsetup\tunable to start manager\t{"error": "failed to wait for caches to sync"}'
            return PodBehaviour(crash=True, log_lines=(started, error))
        lease = "kyma-system/ec0b7e7c.kyma-project.io"
        return PodBehaviour(
            log_lines=(
                started,
                f"INFO\tattempting to acquire leader lease {lease}...",
                f"INFO\tsuccessfully acquired lease {lease}",
                'INFO\tStarting Controller\t{"controller": "btpoperator"}',
                'INFO\tStarting workers\t{"controller": "btpoperator", "worker count": 1}',
            )
        )

    def _running(self) -> tuple[RunningManager, Obj] | None:
        deployment = self._get("apps/deployments", MANAGER_NAMESPACE, MANAGER_DEPLOYMENT)
        if (
            deployment is None
            or meta(deployment).get("deletionTimestamp")
            or not deployment_available(deployment)
        ):
            return None
        digest = template_hash((deployment.get("spec") or {}).get("template") or {})
        ready = [p for p in self.deployments.pods_of(deployment) if _pod_ready(p)]
        ready.sort(key=lambda p: (meta(p).get("labels") or {}).get("pod-template-hash") == digest)
        return (running_manager(ready[-1], self.chart_versions), ready[-1]) if ready else None

    def _log(self, line: str) -> None:
        """Append to the log of the manager's running pod."""
        found = self._running()
        if found is not None:
            self.store.append_log(MANAGER_NAMESPACE, identity(found[1])[1], line)

    # -- what btp-manager sees --------------------------------------------------------------

    def _visible(self, key: str, name: str) -> Obj | None:
        """A Secret or ConfigMap in kyma-system as btp-manager's cache has it (label filter)."""
        found = self._get(key, MANAGER_NAMESPACE, name)
        labels = (meta(found).get("labels") or {}) if found is not None else {}
        return found if labels.get(MANAGED_BY_LABEL) in VISIBLE_MANAGED_BY else None

    def _load_settings(self, config: Obj | None) -> None:
        for key, raw in ((config or {}).get("data") or {}).items():
            if key == "EnableLimitedCache" and "limited_cache_not_propagated" not in self.failures:
                self.enable_limited_cache = str(raw)
            elif key in DEFAULT_SETTINGS:
                seconds = parse_go_duration(str(raw))
                if seconds is not None:  # btp-manager keeps the previous value of one that does not parse
                    self.settings[key], self._raw[key] = seconds, str(raw)

    def _read_config(self, *, startup: bool) -> None:
        """At start the API reader sees the ConfigMap whatever its labels; later only the cache."""
        visible = self._visible("/configmaps", CONFIG_MAP)
        version = meta(visible).get("resourceVersion") if visible is not None else None
        if startup:
            self._load_settings(self._get("/configmaps", MANAGER_NAMESPACE, CONFIG_MAP))
        elif version != self._config_version and visible is not None:
            self._load_settings(visible)
        self._config_version = version

    def _duration(self, setting: str) -> int:
        return self.delays.passes(self.settings[setting])

    def _credentials(self) -> tuple[Mapping[str, str] | None, tuple[str, str, str] | None]:
        """(values, None) for a usable Secret, or (None, (state, reason, message))."""
        secret = self._visible("/secrets", CREDENTIALS_SECRET)
        if secret is None:
            return None, ("Warning", "MissingSecret", SECRET_NOT_FOUND)
        values = decoded_secret(secret)
        absent = [k for k in CREDENTIAL_KEYS if k not in (secret.get("data") or {})]
        empty = [k for k in CREDENTIAL_KEYS if k not in absent and not values.get(k)]
        errors = [f"key(s) {', '.join(absent)} not found"] if absent else []
        errors += [f"missing value(s) for {', '.join(empty)} key(s)"] if empty else []
        return (None, ("Error", "InvalidSecret", ", ".join(errors))) if errors else (values, None)

    def _counts(self) -> tuple[int, int]:
        instances, bindings = self._type(INSTANCES_KEY), self._type(BINDINGS_KEY)
        count = [len(self.store.list(t)) if t is not None else 0 for t in (instances, bindings)]
        return count[0], count[1]

    def _state(self, rt: ResourceType, cr: Obj, state: str, reason: str, message: str) -> Obj:
        condition: Condition = ("Ready", state == "Ready", reason, message)
        return self._set_status(rt, cr, [condition], component=COMPONENT, state=state)

    # -- one pass ---------------------------------------------------------------------------

    def reconcile(self) -> None:
        found = self._running()
        manager = found[0] if found is not None else None
        if manager is not None:
            if self._manager is None or manager.pod_uid != self._manager.pod_uid:
                self._tracks.clear()  # a new process: it lists every CR and reconciles it
                self._read_config(startup=True)
            self._read_config(startup=False)
            operators = self._type(OPERATOR_KEY)
            if operators is not None:
                self._reconcile_operators(operators, manager)
        self._manager = manager
        instances, bindings = self._type(INSTANCES_KEY), self._type(BINDINGS_KEY)
        if instances is not None and bindings is not None and self.operand.available():
            self.services.reconcile(instances, bindings)

    def _reconcile_operators(self, rt: ResourceType, manager: RunningManager) -> None:
        crs = self.store.list(rt)
        for cr in crs:
            self._seen.setdefault(str(meta(cr).get("uid")), len(self._seen))
        if "reconciles_any_name" in self.failures:  # the rule before 1.2.6: the oldest CR wins
            ours = sorted(
                (cr for cr in crs if identity(cr)[0] == MANAGER_NAMESPACE),
                key=lambda cr: self._seen[str(meta(cr).get("uid"))],
            )
            primary = identity(ours[0]) if ours else None
        else:
            primary = (MANAGER_NAMESPACE, OPERATOR_CR_NAME)
        for cr in list(crs):
            if identity(cr) == primary:
                self._last_deleted(rt, cr)
                self._reconcile_primary(rt, cr, manager)
            elif not meta(cr).get("deletionTimestamp"):
                if (
                    "reconciles_any_name" in self.failures
                    and primary
                    and identity(cr)[0] == MANAGER_NAMESPACE
                ):
                    message = f"'{primary[0]}/{primary[1]}' BtpOperator is considered leader"
                    self._state(rt, cr, "Warning", "OlderCRExists", message)
                else:
                    self._state(rt, cr, "Warning", "WrongNamespaceOrName", WRONG_NAME_MESSAGE)

    def _last_deleted(self, rt: ResourceType, cr: Obj) -> None:
        """btp-manager's second controller (serviceinstance_controller.go): when the last instance
        and binding are gone while the CR is NotCleaned, it sets Deleting/HardDeleting."""
        if _reason(cr) == NOT_CLEANED and self._counts() == (0, 0):
            self._state(rt, cr, "Deleting", "HardDeleting", "BtpOperator is to be deleted")

    def _watch_key(self, cr: Obj, manager: RunningManager) -> tuple[Any, ...]:
        state = (cr.get("status") or {}).get("state")
        ignored = state in ("Warning", "Error") and not meta(cr).get("deletionTimestamp")
        secret = self._visible("/secrets", CREDENTIALS_SECRET)
        config = self._visible("/configmaps", CONFIG_MAP)
        return (
            None if ignored else meta(cr).get("resourceVersion"),
            meta(secret).get("resourceVersion") if secret is not None else None,
            meta(config).get("resourceVersion") if config is not None else None,
            self.operand.watch_state(),
            self.operand.policies_watch_state(),
            self.operand.certificates.watch_state(),
            manager.pod_uid,
        )

    def _requeue(self, cr: Obj) -> int | None:
        status = cr.get("status") or {}
        if _reason(cr) == NOT_CLEANED or status.get("state") == "Ready":
            return self._duration("ReadyStateRequeueInterval")
        if status.get("state") == "Processing":
            return self._duration("ProcessingStateRequeueInterval")
        return None

    def _reconcile_primary(self, rt: ResourceType, cr: Obj, manager: RunningManager) -> None:
        track = self._tracks.setdefault(str(meta(cr).get("uid")), _Track())
        if track.job is not None:
            self._continue(rt, cr, track, manager)
            return
        key = self._watch_key(cr, manager)
        requeue = self._requeue(cr)
        track.idle += 1
        if key == track.key and (requeue is None or track.idle < requeue):
            return
        track.key, track.idle = key, 0
        self._handle(rt, cr, track, manager)
        self._settle(rt, cr, track)

    def _settle(self, rt: ResourceType, cr: Obj, track: _Track) -> None:
        """The model's own status write is an update event, which btp-manager's predicate drops
        when the CR is now Warning/Error (not being deleted): it must not trigger a reconcile."""
        current = self.store.get(rt, *identity(cr))
        if current is not None and track.key is not None and track.job is None:
            status = current.get("status") or {}
            if status.get("state") in ("Warning", "Error") and not meta(current).get("deletionTimestamp"):
                track.key = (None, *track.key[1:])

    def _handle(self, rt: ResourceType, cr: Obj, track: _Track, manager: RunningManager) -> None:
        deleting = bool(meta(cr).get("deletionTimestamp"))
        finalizers = meta(cr).get("finalizers") or []
        if OPERATOR_FINALIZER not in finalizers:
            if not deleting:
                self._ensure_finalizer(rt, cr, OPERATOR_FINALIZER, COMPONENT)
            return
        state = (cr.get("status") or {}).get("state") or ""
        if deleting and state != "Deleting" and _reason(cr) != NOT_CLEANED:
            self._state(rt, cr, "Deleting", "HardDeleting", "BtpOperator is to be deleted")
        elif state == "":
            self._log(f'INFO\tReconciling BtpOperator\t{{"name": "{identity(cr)[1]}"}}')
            self._state(rt, cr, "Processing", "Initialized", "Initialized")
        elif state in ("Processing", "Ready"):
            self._apply(rt, cr, track, manager, "provision" if state == "Processing" else "ready")
        elif state == "Deleting" or _reason(cr) == NOT_CLEANED:
            self._deprovision(rt, cr, track, manager)
        elif not ("no_secret_recovery" in self.failures and _reason(cr) == "MissingSecret"):
            self._state(rt, cr, "Processing", "Updated", "CR has been updated")  # Warning, Error

    # -- provisioning -----------------------------------------------------------------------

    def _apply(self, rt: ResourceType, cr: Obj, track: _Track, manager: RunningManager, kind: str) -> None:
        values, problem = self._credentials()
        if problem is not None or values is None:
            assert problem is not None
            self._state(rt, cr, *problem)
            return
        self.operand.apply(
            manager, values, network_policies=_policies_enabled(cr), limited_cache=self.enable_limited_cache
        )
        track.job = _Job(kind)
        self._continue(rt, cr, track, manager)

    def _continue(self, rt: ResourceType, cr: Obj, track: _Track, manager: RunningManager) -> None:
        job = track.job
        assert job is not None
        if job.kind == "hard-delete":
            self._hard_delete_step(rt, cr, track, job)
            return
        stuck = "cr_stuck" in self.failures and job.kind == "provision"
        if self.operand.ready() and not stuck:
            track.job = None
            if job.kind == "provision":
                self._log(f'INFO\tBtpOperator reconciled\t{{"name": "{identity(cr)[1]}", "state": "Ready"}}')
                self._state(rt, cr, "Ready", "ReconcileSucceeded", "Module provisioning succeeded")
            return
        if job.passes >= self._duration("ReadyTimeout") and not stuck:
            track.job = None
            reason = "ProvisioningFailed" if job.kind == "provision" else "ReconcileFailed"
            self._state(rt, cr, "Error", reason, READINESS_TIMEOUT)
            self._settle(rt, cr, track)
            return
        job.passes += 1

    # -- deprovisioning ---------------------------------------------------------------------

    def _deprovision(self, rt: ResourceType, cr: Obj, track: _Track, manager: RunningManager) -> None:
        instances, bindings = self._counts()
        force = (meta(cr).get("labels") or {}).get(FORCE_DELETE_LABEL) == "true"
        if not force and (instances or bindings):
            state = "Deleting" if "not_cleaned_as_deleting" in self.failures else "Warning"
            if not (_reason(cr) == NOT_CLEANED and (cr.get("status") or {}).get("state") == state):
                message = (
                    f"All service instances and bindings must be removed: "
                    f"{instances} instance(s) and {bindings} binding(s)"
                )
                self._state(rt, cr, state, NOT_CLEANED, message)
            values, _ = self._credentials()
            if values is not None and "no_upgrade_while_deleting" not in self.failures:
                # ReconcileResourcesWithoutStatusChange
                self.operand.apply(
                    manager,
                    values,
                    network_policies=_policies_enabled(cr),
                    limited_cache=self.enable_limited_cache,
                )
            return
        if _reason(cr) == NOT_CLEANED:
            message = "BtpOperator is to be deleted after cleaning service instance and binding resources"
            cr = self._state(rt, cr, "Deleting", "HardDeleting", message)
        self.hard_delete_timeout = self._raw.get("HardDeleteTimeout")
        for key in (BINDINGS_KEY, INSTANCES_KEY):  # DeleteAllOf, bindings first
            kind = self._type(key)
            for obj in list(self.store.list(kind)) if kind is not None else []:
                if kind is not None and not meta(obj).get("deletionTimestamp"):
                    self.store.delete(kind, *identity(obj))
        track.job = _Job("hard-delete")
        self._hard_delete_step(rt, cr, track, track.job)

    def _hard_delete_step(self, rt: ResourceType, cr: Obj, track: _Track, job: _Job) -> None:
        if self._counts() == (0, 0):
            self._log(
                "INFO\tService Instances and Service Bindings hard delete succeeded. "
                "Removing module resources"
            )
            self._finish(rt, cr, track)
            return
        if job.passes < self._duration("HardDeleteTimeout"):
            job.passes += 1
            return
        cr = self._state(rt, cr, "Deleting", "SoftDeleting", "Being soft deleted")
        self.operand.delete_deployment()
        self.operand.delete_webhooks()
        secrets = self._type("/secrets")
        for key in (BINDINGS_KEY, INSTANCES_KEY):  # finalizers off, bindings first, with their Secrets
            kind = self._type(key)
            if kind is None:
                continue
            for obj in list(self.store.list(kind)):
                if not meta(obj).get("deletionTimestamp"):
                    self.store.delete(kind, *identity(obj))
                current = self.store.get(kind, *identity(obj))
                if current is not None:
                    self._drop_finalizer(kind, current, SERVICES_FINALIZER, COMPONENT)
                if key == BINDINGS_KEY and secrets is not None and self.store.get(secrets, *identity(obj)):
                    self.store.delete(secrets, *identity(obj))
        self._finish(rt, cr, track)

    def _finish(self, rt: ResourceType, cr: Obj, track: _Track) -> None:
        self.operand.delete_module_resources()
        track.job = None
        self._log(f'INFO\tDeprovisioning success. Removing finalizers in CR\t{{"name": "{identity(cr)[1]}"}}')
        current = self.store.get(rt, *identity(cr))
        if current is not None:
            self._drop_finalizer(rt, current, OPERATOR_FINALIZER, COMPONENT)


def _policies_enabled(cr: Obj) -> bool:
    """btp-manager's IsNetworkPoliciesDisabled, negated: the annotation "true" (any case) disables."""
    annotations = meta(cr).get("annotations") or {}
    return str(annotations.get(DISABLE_NETWORK_POLICIES, "")).lower() != "true"


def _reason(cr: Obj) -> str | None:
    for condition in (cr.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Ready":
            return str(condition.get("reason"))
    return None


def _pod_ready(pod: Obj) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in (pod.get("status") or {}).get("conditions") or []
    )
