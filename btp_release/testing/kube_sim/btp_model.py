"""The btp-manager model: the BtpOperator controller, and the service operator it installs.

Deterministic: it runs once per reconcile pass and counts delays in passes (:class:`ModelDelays`).

- The controller runs while Deployment ``kyma-system/btp-manager-controller-manager`` is
  Available. It reconciles the oldest BtpOperator in ``kyma-system`` (others get state Warning,
  ``OlderCRExists``/``WrongNamespaceOrName``): finalizer ``operator.kyma-project.io/btp-manager``;
  without Secret ``kyma-system/sap-btp-manager`` state Warning (``MissingSecret``), with keys
  missing state Error (``InvalidSecret``); otherwise state Processing for ``operator`` passes,
  then it installs the ServiceInstance/ServiceBinding CRDs (``services.cloud.sap.com/v1``) and
  reports state Ready, ``Ready=True``/``ReconcileSucceeded``. It does not install the service
  operator's own Deployment, webhooks or Secrets (:mod:`.service_operator` stands in for them).
- Deleting the BtpOperator: while instances/bindings exist and the CR is not labelled
  ``force-delete=true``: state Warning, ``ServiceInstancesAndBindingsNotCleaned``, nothing else
  happens. Otherwise state Deleting (``HardDeleting``): bindings and instances are deleted, and
  those still there after ``deletion`` passes (``deletion_with_timeout`` when ConfigMap
  ``kyma-system/sap-btp-manager`` has ``HardDeleteTimeout``; the value is recorded, not parsed)
  lose their finalizers; then the two CRDs are deleted; then the BtpOperator's finalizer goes.
- Failure modes: ``deployment_never_available`` (the manager's pods crash-loop),
  ``cr_stuck`` (the CR stays Processing), ``crds_not_removed`` (deprovisioning keeps the CRDs).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, get_args

from .names import (
    BINDINGS_KEY,
    CONFIG_MAP,
    CREDENTIAL_KEYS,
    CREDENTIALS_SECRET,
    FORCE_DELETE_LABEL,
    INSTANCES_KEY,
    MANAGER_DEPLOYMENT,
    MANAGER_NAMESPACE,
    OPERATOR_FINALIZER,
    OPERATOR_KEY,
    SERVICE_CRDS,
    SERVICES_FINALIZER,
)
from .reconciler import Condition, ModelDelays, Reconciler, decoded_secret
from .resources import CRD_KEY, ResourceType
from .service_operator import SERVICE_BINDING_CRD, SERVICE_INSTANCE_CRD, ServiceOperatorModel
from .store import Store, identity, meta
from .workloads import DeploymentController, PodBehaviour, default_behaviour, deployment_available

Obj = dict[str, Any]
FailureMode = Literal["deployment_never_available", "cr_stuck", "crds_not_removed"]
FAILURE_MODES: frozenset[str] = frozenset(get_args(FailureMode))
COMPONENT = "btp-manager"


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
    ) -> None:
        super().__init__(store, delays)
        self.deployments = deployments
        self.failures = failures  # shared with the simulator, which changes it
        self.services = ServiceOperatorModel(store, delays, dummy_credentials)
        self.hard_delete_timeout: str | None = None  # HardDeleteTimeout seen by the last hard delete

    def pod_behaviour(self, deployment: Obj) -> PodBehaviour:
        """What the manager's containers do; other Deployments behave by default."""
        if identity(deployment) != (MANAGER_NAMESPACE, MANAGER_DEPLOYMENT):
            return default_behaviour(deployment)
        template = ((deployment.get("spec") or {}).get("template") or {}).get("spec") or {}
        containers = template.get("containers") or []
        image = containers[0].get("image") if containers else ""
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

    def _log(self, line: str) -> None:
        """Append to the log of the manager's newest running pod."""
        deployment = self._get("apps/deployments", MANAGER_NAMESPACE, MANAGER_DEPLOYMENT)
        if deployment is None:
            return
        pods = self.deployments.pods_of(deployment)
        running = [p for p in pods if (p.get("status") or {}).get("phase") == "Running"]
        if running:
            self.store.append_log(MANAGER_NAMESPACE, identity(running[-1])[1], line)

    def _state(self, rt: ResourceType, cr: Obj, state: str, ok: bool, reason: str, message: str) -> Obj:
        condition: Condition = ("Ready", ok, reason, message)
        return self._set_status(rt, cr, [condition], component=COMPONENT, state=state)

    # -- one pass -----------------------------------------------------------------------

    def reconcile(self) -> None:
        deployment = self._get("apps/deployments", MANAGER_NAMESPACE, MANAGER_DEPLOYMENT)
        operators = self._type(OPERATOR_KEY)
        running = deployment_available(deployment) and not meta(deployment or {}).get("deletionTimestamp")
        if operators is not None and running:
            self._reconcile_operators(operators)
        instances, bindings = self._type(INSTANCES_KEY), self._type(BINDINGS_KEY)
        if instances is not None and bindings is not None:
            self.services.reconcile(instances, bindings)

    def _reconcile_operators(self, rt: ResourceType) -> None:
        crs = self.store.list(rt)
        ours = sorted(
            (cr for cr in crs if identity(cr)[0] == MANAGER_NAMESPACE),
            key=lambda cr: (str(meta(cr).get("creationTimestamp")), identity(cr)[1]),
        )
        primary = ours[0] if ours else None
        for cr in list(crs):
            if meta(cr).get("deletionTimestamp"):
                if OPERATOR_FINALIZER in (meta(cr).get("finalizers") or []):
                    self._deprovision(rt, cr)
            elif cr is primary:
                self._provision(rt, cr)
            else:
                reason = "OlderCRExists" if identity(cr)[0] == MANAGER_NAMESPACE else "WrongNamespaceOrName"
                message = f"only the oldest BtpOperator in {MANAGER_NAMESPACE} is reconciled"
                self._state(rt, cr, "Warning", False, reason, message)

    def _provision(self, rt: ResourceType, cr: Obj) -> None:
        cr = self._ensure_finalizer(rt, cr, OPERATOR_FINALIZER, "manager")
        if not cr.get("status"):
            self._log(f'INFO\tReconciling BtpOperator\t{{"name": "{identity(cr)[1]}"}}')
            cr = self._state(rt, cr, "Processing", False, "Initialized", "Initialized")
        secret = self._get("/secrets", MANAGER_NAMESPACE, CREDENTIALS_SECRET)
        if secret is None:
            self._reset(cr, "provision")
            self._state(rt, cr, "Warning", False, "MissingSecret", "Secret resource not found")
            return
        missing = [key for key in CREDENTIAL_KEYS if not decoded_secret(secret).get(key)]
        if missing:
            self._reset(cr, "provision")
            message = f"Secret validation failed: missing or empty keys {', '.join(missing)}"
            self._state(rt, cr, "Error", False, "InvalidSecret", message)
            return
        ready = (cr.get("status") or {}).get("state") == "Ready"
        if "cr_stuck" in self.failures or (not ready and self._tick(cr, "provision") < self.delays.operator):
            self._state(
                rt, cr, "Processing", False, "Processing", "Waiting for the module resources to be ready"
            )
            return
        crds = self._type(CRD_KEY)
        assert crds is not None
        for crd in (SERVICE_INSTANCE_CRD, SERVICE_BINDING_CRD):
            if self.store.get(crds, "", crd["metadata"]["name"]) is None:
                self.store.create(crds, crd, manager=COMPONENT)
        if not ready:
            self._log(f'INFO\tBtpOperator reconciled\t{{"name": "{identity(cr)[1]}", "state": "Ready"}}')
        self._state(rt, cr, "Ready", True, "ReconcileSucceeded", "Module reconciliation succeeded")

    def _deprovision(self, rt: ResourceType, cr: Obj) -> None:
        instances, bindings = self._type(INSTANCES_KEY), self._type(BINDINGS_KEY)
        left = [(t, o) for t in (bindings, instances) if t is not None for o in self.store.list(t)]
        if left and (meta(cr).get("labels") or {}).get(FORCE_DELETE_LABEL) != "true":
            self._reset(cr, "hard-delete")
            message = (
                f"Deprovisioning blocked: {len(left)} service instance(s) and binding(s) exist; "
                f"label the BtpOperator {FORCE_DELETE_LABEL}=true to delete them"
            )
            self._state(rt, cr, "Warning", False, "ServiceInstancesAndBindingsNotCleaned", message)
            return
        if left:
            self._hard_delete(rt, cr, left)
            return
        cr = self._state(rt, cr, "Deleting", False, "HardDeleting", "Deleting module resources")
        crds = self._type(CRD_KEY)
        assert crds is not None
        present = [crd for name in SERVICE_CRDS if (crd := self.store.get(crds, "", name)) is not None]
        if present and "crds_not_removed" not in self.failures:
            for crd in present:
                if not meta(crd).get("deletionTimestamp"):
                    self.store.delete(crds, "", identity(crd)[1])
            return
        self._log(f'INFO\tBtpOperator deleted\t{{"name": "{identity(cr)[1]}"}}')
        self._drop_finalizer(rt, cr, OPERATOR_FINALIZER, "manager")

    def _hard_delete(self, rt: ResourceType, cr: Obj, left: list[tuple[ResourceType, Obj]]) -> None:
        config = self._get("/configmaps", MANAGER_NAMESPACE, CONFIG_MAP)
        timeout = str(((config or {}).get("data") or {}).get("HardDeleteTimeout") or "") or None
        self.hard_delete_timeout = timeout
        source = (
            f" (hard delete timeout {timeout} from ConfigMap {MANAGER_NAMESPACE}/{CONFIG_MAP})"
            if timeout
            else ""
        )
        self._state(
            rt, cr, "Deleting", False, "HardDeleting", f"Deleting service instances and bindings{source}"
        )
        for kind, obj in left:
            if not meta(obj).get("deletionTimestamp"):
                self.store.delete(kind, *identity(obj))
        steps = self.delays.deletion_with_timeout if timeout else self.delays.deletion
        if self._tick(cr, "hard-delete") >= steps:  # timed out: take the finalizers off what is left
            for kind, obj in left:
                current = self.store.get(kind, *identity(obj))
                if current is not None:
                    self._drop_finalizer(kind, current, SERVICES_FINALIZER, "manager")
