"""A stateful Kubernetes API simulator with a btp-manager model, over real HTTPS, for E2E logic.

No cluster (k3s, kind, kwok) can run where btp_release is developed, so the E2E scenarios of
a Kyma module are tested against this: a real server on 127.0.0.1 (ephemeral port, background
thread) that ``lightkube`` and ``kubectl`` talk to with a bearer token, through the kubeconfig
:meth:`KubeSimulator.kubeconfig` writes. It serves HTTPS with a throwaway CA by default because
kubectl never sends a token to an ``http://`` server (``tls=False`` gives plain HTTP).

What it models:

- Discovery (``/version``, ``/api``, ``/api/v1``, ``/apis``, ``/apis/{group}[/{version}]``), with
  the groups of CRDs once they are Established; server-side Tables for ``kubectl get``; an
  OpenAPI v3 skeleton (PATCH operations and their parameters, no schemas), enough for kubectl's
  server-side field validation.
- Core v1 namespaces, secrets (``stringData`` folded into base64 ``data``), configmaps,
  services, serviceaccounts (``default`` made per namespace), events, nodes and pods (these two
  read-only: made by the models), ``pods/{name}/log``; apps/v1 deployments;
  scheduling.k8s.io/v1 priorityclasses; networking.k8s.io/v1 networkpolicies and RBAC roles and
  bindings (stored, not enforced); admissionregistration.k8s.io/v1 mutating and validating webhook
  configurations (stored, never called);
  apiextensions.k8s.io/v1 CRDs; any custom resource of an Established CRD (namespaced or
  cluster-scoped, ``/status`` when declared, validated against and pruned by its schema).
- Verbs: get, list (label selectors; ``metadata.name``/``metadata.namespace`` and a few
  type-specific field selectors; ``limit``/``continue``), create, replace (optimistic
  concurrency), delete (finalizers and ``deletionTimestamp``, owner-reference garbage collection,
  namespace and CRD cleanup), deletecollection, patch (JSON merge, JSON patch, a simplified
  strategic merge, server-side apply with a simplified field ownership: see :mod:`.patching`),
  ``dryRun=All``, ``fieldValidation=Strict`` (for custom resources).
- Conventions: ``kind: Status`` errors with reason and code (400, 401, 403, 404 NotFound, 405,
  409 AlreadyExists/Conflict, 415, 422 Invalid), one increasing ``resourceVersion``, ``uid``,
  ``creationTimestamp``, ``generation``, ``managedFields``, defaulting of Deployments/Services.
- Models, one pass after every authenticated request: Deployments make pods that start, log and
  roll on template changes (:mod:`.workloads`); btp-manager as it behaves today
  (:mod:`.btp_model`: models btp-manager at c70cd184, 1.3.20+15, 2026-08-21) with its operand
  (:mod:`.btp_operand`) and the service operator (:mod:`.service_operator`); any number of generic
  Kyma modules (:mod:`.module_model`); failure modes (:mod:`.failures`).
- Every request recorded (method, path, query, status), injectable faults, one lock.

What it does NOT model:

- Watches: ``?watch=true`` answers 405, so clients must poll. ``kubectl delete`` of an object
  that lingers (finalizers) needs ``--wait=false``; ``kubectl wait``, ``kubectl rollout status``
  and lightkube's ``Client.wait``/``watch`` do not work.
- Protobuf: kubectl's typed generators (``kubectl create namespace|secret|priorityclass …``)
  send protobuf and get 415; use ``kubectl apply``/``create -f`` with YAML. No aggregated
  discovery (clients fall back), no full OpenAPI (``kubectl explain`` and client-side
  validation do not work), no ``exec``/``attach``/``port-forward``, no log following
  (``follow=true`` returns what is there and ends).
- Authentication other than one bearer token (no client certificates), authorization (RBAC is
  never enforced), admission control and webhooks, API priority and fairness, rate limits.
- Scheduling and kubelets (pods never run anything), nodes beyond one Ready node, ReplicaSets,
  StatefulSets, Jobs, DaemonSets, endpoints, Ingress, leases, quotas, limit ranges.
- Conversion between CRD versions (all versions share one stored object), CEL rules, schema
  defaults, most built-in field validation, ``Foreground`` deletion (treated as ``Background``),
  ``gracePeriodSeconds`` (deletion is immediate), ``resourceVersion`` semantics on reads.
- Exact field ownership: lists are atomic (no associative lists), ``status`` is not tracked,
  strategic merge only knows the lists merged by ``name`` (see :mod:`.patching`).
- Time: models count reconcile passes, never seconds; timestamps come from the injected clock.

How to use it for E2E scenarios (btp-operator):

- Prerequisites: only namespace ``kyma-system`` (the cluster has no ``kyma-system``
  PriorityClass; btp-manager's own manifest brings ``btp-manager-kyma-priority``). The BtpOperator
  must be ``kyma-system/btpoperator`` (:data:`OPERATOR_CR_NAME`); any other name or namespace gets
  Warning/``WrongNamespaceOrName`` and no finalizer. Secret ``kyma-system/sap-btp-manager`` needs
  label ``app.kubernetes.io/managed-by: kcp-kyma-environment-broker`` (or ``btp-manager``), or it
  is not seen (Warning/``MissingSecret``). ConfigMap ``kyma-system/sap-btp-manager`` (e.g.
  ``HardDeleteTimeout: 10s``) is read when the manager starts, later only if labelled the same way.
- The operand: Deployment ``kyma-system/sap-btp-operator-controller-manager``
  (:data:`OPERAND_DEPLOYMENT`), created by the model, labelled ``chart-version: <chart version>``,
  ``app.kubernetes.io/managed-by: btp-manager``, ``kyma-project.io/module: btp-operator``; its
  container ``manager`` runs the image of the manager's env ``SAP_BTP_SERVICE_OPERATOR`` (default
  :data:`DEFAULT_OPERAND_IMAGE`). The chart version is the manager image's tag
  (``btp-manager:1.2.0`` → ``1.2.0``) unless ``KubeSimulator(chart_versions={"1.2.0": "v0.11.9"})``.
- An upgrade: apply the manager Deployment with another image tag; once its new pod is Ready, the
  model re-applies the operand: ``chart-version`` and the Deployment's ``resourceVersion`` change,
  also while the CR is Warning/``ServiceInstancesAndBindingsNotCleaned``.
- Time: btp-manager's durations are passes, ``ceil(seconds / ModelDelays.seconds_per_pass)`` (10 s
  a pass by default: ``HardDeleteTimeout`` 20m = 120 passes, ``10s`` = 1).
- Failure modes (``KubeSimulator(failures=[...])`` or ``sim.fail(...)``, see
  :data:`FAILURE_DESCRIPTIONS`): ``deployment_never_available``, ``cr_stuck``,
  ``crds_not_removed``, ``reconciles_any_name``, ``no_operand_recovery``, ``image_not_restored``,
  ``no_secret_recovery``, ``no_upgrade_while_deleting``, ``not_cleaned_as_deleting``,
  ``no_network_policies``, ``network_policies_not_disabled``, ``limited_cache_not_propagated``,
  ``ca_bundle_not_rotated``; for generic modules ``module_never_ready``, ``finalizer_never_removed``,
  ``leaves_objects_behind``.
- A generic module: ``KubeSimulator(modules=[SimulatedModule(group=..., version=..., kind=...,
  plural=..., manager_namespace=..., manager_name=..., finalizer=...)])``.
"""

from __future__ import annotations

from .errors import KubeError
from .failures import FAILURE_DESCRIPTIONS, FAILURE_MODES, FailureMode
from .faults import Fault, FaultKind
from .module_model import SimulatedModule
from .names import (
    CA_CERT_SECRET,
    CHART_VERSION_LABEL,
    CONFIG_MAP,
    CREDENTIAL_KEYS,
    CREDENTIALS_SECRET,
    DEFAULT_OPERAND_IMAGE,
    DISABLE_NETWORK_POLICIES,
    DUMMY_CREDENTIALS,
    FORCE_DELETE_LABEL,
    MANAGED_BY_LABEL,
    MANAGER_DEPLOYMENT,
    MANAGER_NAMESPACE,
    MODULE_LABEL,
    MUTATING_WEBHOOK,
    NETWORK_POLICIES,
    OPERAND_DEPLOYMENT,
    OPERAND_IMAGE_ENV,
    OPERATOR_CR_NAME,
    OPERATOR_FINALIZER,
    SERVICES_FINALIZER,
    VALIDATING_WEBHOOK,
    WEBHOOK_CERT_SECRET,
    WEBHOOK_SERVICE,
)
from .reconciler import ModelDelays
from .server import RecordedRequest
from .simulator import KubeSimulator

__all__ = [
    "CA_CERT_SECRET",
    "CHART_VERSION_LABEL",
    "CONFIG_MAP",
    "CREDENTIALS_SECRET",
    "CREDENTIAL_KEYS",
    "DEFAULT_OPERAND_IMAGE",
    "DISABLE_NETWORK_POLICIES",
    "DUMMY_CREDENTIALS",
    "FAILURE_DESCRIPTIONS",
    "FAILURE_MODES",
    "FORCE_DELETE_LABEL",
    "MANAGED_BY_LABEL",
    "MANAGER_DEPLOYMENT",
    "MANAGER_NAMESPACE",
    "MODULE_LABEL",
    "MUTATING_WEBHOOK",
    "NETWORK_POLICIES",
    "OPERAND_DEPLOYMENT",
    "OPERAND_IMAGE_ENV",
    "OPERATOR_CR_NAME",
    "OPERATOR_FINALIZER",
    "SERVICES_FINALIZER",
    "VALIDATING_WEBHOOK",
    "WEBHOOK_CERT_SECRET",
    "WEBHOOK_SERVICE",
    "FailureMode",
    "Fault",
    "FaultKind",
    "KubeError",
    "KubeSimulator",
    "ModelDelays",
    "RecordedRequest",
    "SimulatedModule",
]
