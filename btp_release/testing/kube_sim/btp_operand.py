"""What btp-manager applies and deletes itself: the SAP BTP service operator (the operand).

btp-manager renders ``module-resources/apply`` and applies every object with a get-then-create-or-
update (a full replace: changes made by others are reverted), labelled ``chart-version: <chart
version>``, ``app.kubernetes.io/managed-by: btp-manager`` and ``kyma-project.io/module:
btp-operator``. The simulator applies a subset that shows the same behaviour: ConfigMap
``sap-btp-operator-config``, Secret ``sap-btp-service-operator`` (the credentials without
``cluster_id``), ServiceAccount ``sap-btp-operator``, Service ``sap-btp-operator-webhook-service``,
Deployment ``sap-btp-operator-controller-manager`` (container ``manager``, the image of the
manager's ``SAP_BTP_SERVICE_OPERATOR`` env), the ServiceInstance/ServiceBinding CRDs, the four
network policies of ``manager-resources/network-policies`` (unless disabled by the BtpOperator's
annotation; then those labelled ``managed-by=btp-manager`` are deleted; their rules are stored, not
enforced: the simulator has no pod network), and the two webhook configurations with the certificate
Secrets behind their ``caBundle`` (:mod:`.btp_webhooks`). No RBAC.

The chart version is what the manager image carries (btp-manager reads ``module-chart/chart/
Chart.yaml`` from its image): here ``chart_versions[<manager image tag>]`` when the simulator was
given that mapping, otherwise the tag itself (``btp-manager:1.3.20`` → ``chart-version: 1.3.20``), so
rolling the manager to another tag is an upgrade that re-labels every operand object.
"""

from __future__ import annotations

import base64
import copy
import re
from collections.abc import Mapping
from typing import Any

import attrs

from .btp_webhooks import WEBHOOK_KEYS, WebhookCertificates, configurations
from .names import (
    CHART_VERSION_LABEL,
    CREDENTIAL_KEYS,
    DEFAULT_OPERAND_IMAGE,
    MANAGED_BY_LABEL,
    MANAGER_NAMESPACE,
    MODULE_LABEL,
    MODULE_NAME,
    NETWORK_POLICIES,
    NETWORK_POLICIES_KEY,
    OPERAND_DEPLOYMENT,
    OPERAND_IMAGE_ENV,
)
from .resources import CRD_KEY
from .service_operator import SERVICE_BINDING_CRD, SERVICE_INSTANCE_CRD
from .store import Store, identity, meta
from .workloads import deployment_available

Obj = dict[str, Any]
MANAGER = "btp-manager"  # field manager and managed-by value
OPERAND_SELECTOR = {
    "control-plane": "controller-manager",
    "app.kubernetes.io/instance": "sap-btp-operator",
    "app.kubernetes.io/name": "sap-btp-operator",
}
# What btp-manager deletes (DeleteAllOf, label managed-by=btp-manager) when the module goes: the kinds of
# module-resources/apply (the certificate Secrets among the Secrets) and the network policies.
MODULE_RESOURCE_KEYS = (
    "/configmaps",
    "/secrets",
    "/serviceaccounts",
    "/services",
    "apps/deployments",
    *WEBHOOK_KEYS,
    NETWORK_POLICIES_KEY,
)
# manager-resources/network-policies at c70cd184, abridged: egress 443 and DNS (its destinations left
# out), ingress to metrics 8080 from scrapers in kyma-system, to the webhook 9443 from anywhere.
_TCP_443 = {"port": 443, "protocol": "TCP"}
_DNS = [{"port": p, "protocol": proto} for p in (53, 8053) for proto in ("UDP", "TCP")]
_SCRAPERS = {"matchLabels": {"networking.kyma-project.io/metrics-scraping": "allowed"}}
_POLICY_RULES: Mapping[str, Obj] = {
    NETWORK_POLICIES[0]: {"policyTypes": ["Egress"], "egress": [{"ports": [_TCP_443]}]},
    NETWORK_POLICIES[1]: {"policyTypes": ["Egress"], "egress": [{"ports": _DNS}]},
    NETWORK_POLICIES[2]: {"policyTypes": ["Ingress"], "ingress": [{
        "from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": MANAGER_NAMESPACE}},
                  "podSelector": _SCRAPERS}],
        "ports": [{"port": 8080, "protocol": "TCP"}]}]},
    NETWORK_POLICIES[3]: {"policyTypes": ["Ingress"], "ingress": [{"ports": [{"port": 9443}]}]},
}  # fmt: skip


@attrs.frozen
class RunningManager:
    """The btp-manager process the model plays: its pod, image, chart version and operand image."""

    pod_uid: str
    image: str
    chart_version: str
    operand_image: str


def image_tag(image: str) -> str:
    """The tag of an image reference (``latest`` when it has none; a digest is ignored)."""
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    return last.rsplit(":", 1)[1] if ":" in last else "latest"


def label_value(text: str) -> str:
    """``text`` made a valid label value (at most 63 characters of ``[A-Za-z0-9._-]``)."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]", "-", text)[:63].strip("._-")
    return cleaned or "unknown"


def running_manager(pod: Obj, chart_versions: Mapping[str, str]) -> RunningManager:
    containers = (pod.get("spec") or {}).get("containers") or [{}]
    container = next((c for c in containers if c.get("name") == "manager"), containers[0])
    image = str(container.get("image") or "")
    env = {str(e.get("name")): str(e.get("value") or "") for e in container.get("env") or []}
    tag = image_tag(image)
    return RunningManager(
        pod_uid=str(meta(pod).get("uid")),
        image=image,
        chart_version=label_value(chart_versions.get(tag, tag)),
        operand_image=env.get(OPERAND_IMAGE_ENV) or DEFAULT_OPERAND_IMAGE,
    )


class Operand:
    """Applies, watches and deletes the operand's objects (see module docstring)."""

    def __init__(self, store: Store, failures: set[str]) -> None:
        self.store = store
        self.failures = failures
        self.wanted_image: str | None = None  # the operand image of the last apply
        self.certificates = WebhookCertificates(store, failures)
        self._created = False  # the Deployment was created once (``no_operand_recovery``)

    def _labels(self, manager: RunningManager, extra: Mapping[str, str] = {}) -> dict[str, str]:
        return {
            **extra,
            MANAGED_BY_LABEL: MANAGER,
            CHART_VERSION_LABEL: manager.chart_version,
            MODULE_LABEL: MODULE_NAME,
        }

    def desired(
        self,
        manager: RunningManager,
        credentials: Mapping[str, str],
        *,
        network_policies: bool = True,
        limited_cache: str = "true",
    ) -> list[tuple[str, Obj]]:
        """The objects btp-manager applies, as (resource key, body), in its apply order."""
        ns = MANAGER_NAMESPACE
        data = {
            k: base64.b64encode(v.encode()).decode() for k, v in credentials.items() if k in CREDENTIAL_KEYS
        }
        data.pop("cluster_id", None)
        config = {"CLUSTER_ID": credentials.get("cluster_id", ""), "RELEASE_NAMESPACE": ns,
                  "MANAGEMENT_NAMESPACE": ns, "ENABLE_LIMITED_CACHE": limited_cache}  # fmt: skip
        container = {
            "name": "manager",
            "image": manager.operand_image,
            "command": ["/manager"],
            "env": [{"name": "APP_VERSION", "value": image_tag(manager.operand_image)}],
            "envFrom": [{"configMapRef": {"name": "sap-btp-operator-config"}}],
            "ports": [{"containerPort": 9443, "name": "webhook-server", "protocol": "TCP"}],
        }
        deployment = {
            "metadata": {"name": OPERAND_DEPLOYMENT, "namespace": ns, "labels": dict(OPERAND_SELECTOR)},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": dict(OPERAND_SELECTOR)},
                "template": {
                    "metadata": {"labels": {**OPERAND_SELECTOR, MODULE_LABEL: MODULE_NAME}},
                    "spec": {"serviceAccountName": "sap-btp-operator", "containers": [container]},
                },
            },
        }  # fmt: skip
        named = {"app.kubernetes.io/name": "sap-btp-operator"}
        service = {
            "ports": [{"port": 443, "targetPort": 9443, "protocol": "TCP"}],
            "selector": OPERAND_SELECTOR,
        }
        out: list[tuple[str, Obj]] = [
            ("/configmaps", {"metadata": {"name": "sap-btp-operator-config", "namespace": ns},
                             "data": config}),
            *((CRD_KEY, copy.deepcopy(crd)) for crd in (SERVICE_BINDING_CRD, SERVICE_INSTANCE_CRD)),
            ("apps/deployments", deployment),
            ("/secrets", {"metadata": {"name": "sap-btp-service-operator", "namespace": ns},
                          "type": "Opaque", "data": data}),
            ("/services", {"metadata": {"name": "sap-btp-operator-webhook-service", "namespace": ns},
                           "spec": service}),
            ("/serviceaccounts", {"metadata": {"name": "sap-btp-operator", "namespace": ns}}),
        ]  # fmt: skip
        if network_policies and "no_network_policies" not in self.failures:
            selector = {"matchLabels": {MODULE_LABEL: MODULE_NAME}}
            out += [
                (NETWORK_POLICIES_KEY, {"metadata": {"name": name, "namespace": ns,
                                                     "labels": {MODULE_LABEL: MODULE_NAME}},
                                        "spec": {"podSelector": selector, **copy.deepcopy(rules)}})
                for name, rules in _POLICY_RULES.items()
            ]  # fmt: skip
        out += configurations()
        for _key, body in out:
            labels = meta(body).get("labels", named)
            meta(body)["labels"] = self._labels(manager, labels)
        return out

    def apply(
        self,
        manager: RunningManager,
        credentials: Mapping[str, str],
        *,
        network_policies: bool = True,
        limited_cache: str = "true",
    ) -> None:
        """Create what is missing, replace what differs (btp-manager's create-or-update); with
        ``network_policies`` off, delete the managed ones first (CleanupNetworkPolicies). The webhook
        configurations get their caBundle, and certificates made anew go first (PrepareAdmissionWebhooks)."""
        self.wanted_image = manager.operand_image
        if not network_policies and "network_policies_not_disabled" not in self.failures:
            self._delete_managed(NETWORK_POLICIES_KEY)
        rendered = self.desired(
            manager, credentials, network_policies=network_policies, limited_cache=limited_cache
        )
        webhooks = [(key, body) for key, body in rendered if key in WEBHOOK_KEYS]
        wanted = [(key, body) for key, body in rendered if key not in WEBHOOK_KEYS]
        wanted += self.certificates.prepare(webhooks, {MANAGED_BY_LABEL: MANAGER})
        for key, body in wanted:
            rt = self.store.type_for(key)
            assert rt is not None
            live = self.store.get(rt, *identity(body))
            if key == "apps/deployments":
                if live is None and self._created and "no_operand_recovery" in self.failures:
                    continue
                self._created = True
                if live is not None and "image_not_restored" in self.failures:
                    spec = body["spec"]["template"]["spec"]
                    live_spec = ((live.get("spec") or {}).get("template") or {}).get("spec") or {}
                    spec["containers"] = copy.deepcopy(live_spec.get("containers") or spec["containers"])
            if live is None:
                self.store.create(rt, body, manager=MANAGER, check=False)
            elif not meta(live).get("deletionTimestamp"):
                updated = copy.deepcopy(live)
                meta(updated)["labels"] = meta(body)["labels"]
                for field in ("spec", "data", "type", "webhooks"):
                    if field in body:
                        updated[field] = body[field]
                self.store.write(rt, updated, manager=MANAGER)

    def deployment(self) -> Obj | None:
        rt = self.store.type_for("apps/deployments")
        assert rt is not None
        return self.store.get(rt, MANAGER_NAMESPACE, OPERAND_DEPLOYMENT)

    def watch_state(self) -> tuple[bool, str, str]:
        """What btp-manager's Deployment watch reacts to: existence, ``Available``, ``Progressing``."""
        found = self.deployment()
        if found is None:
            return (False, "", "")
        statuses = {
            c.get("type"): str(c.get("status")) for c in (found.get("status") or {}).get("conditions") or []
        }
        return (True, statuses.get("Available", ""), statuses.get("Progressing", ""))

    def ready(self) -> bool:
        """btp-manager's readiness of the operand: its Deployment ``Available`` and ``Progressing``."""
        return self.watch_state() == (True, "True", "True")

    def available(self) -> bool:
        return deployment_available(self.deployment())

    def delete_deployment(self) -> None:
        rt = self.store.type_for("apps/deployments")
        assert rt is not None
        if self.deployment() is not None:
            self.store.delete(rt, MANAGER_NAMESPACE, OPERAND_DEPLOYMENT)

    def delete_webhooks(self) -> None:
        """The two webhook configurations deleted by name (the soft delete's first step, with the
        Deployment: nothing may call the webhooks once their server is gone)."""
        for key, body in configurations():
            rt = self.store.type_for(key)
            assert rt is not None
            if self.store.get(rt, "", str(meta(body)["name"])) is not None:
                self.store.delete(rt, "", str(meta(body)["name"]))

    def delete_module_resources(self) -> None:
        """DeleteAllOf ``managed-by=btp-manager`` for each applied kind: namespaced ones in
        kyma-system, cluster-scoped ones (webhook configurations, CRDs) cluster-wide (CRDs kept with
        ``crds_not_removed``)."""
        keys = [*MODULE_RESOURCE_KEYS, *(() if "crds_not_removed" in self.failures else (CRD_KEY,))]
        for key in keys:
            self._delete_managed(key)
        self._created = False

    def _delete_managed(self, key: str) -> None:
        """DeleteAllOf the kind ``key`` labelled ``managed-by=btp-manager`` (namespaced: in kyma-system)."""
        rt = self.store.type_for(key)
        assert rt is not None
        namespace = MANAGER_NAMESPACE if rt.namespaced else None
        for obj in list(self.store.list(rt, namespace)):
            labelled = (meta(obj).get("labels") or {}).get(MANAGED_BY_LABEL) == MANAGER
            if labelled and not meta(obj).get("deletionTimestamp"):
                self.store.delete(rt, *identity(obj))

    def policies_watch_state(self) -> tuple[tuple[str, str], ...]:
        """What btp-manager's NetworkPolicy watch reacts to: its policies (by name or by its labels)
        created, changed or deleted."""
        rt = self.store.type_for(NETWORK_POLICIES_KEY)
        assert rt is not None
        found = []
        for obj in self.store.list(rt, MANAGER_NAMESPACE):
            labels = meta(obj).get("labels") or {}
            ours = labels.get(MANAGED_BY_LABEL) == MANAGER and labels.get(MODULE_LABEL) == MODULE_NAME
            if ours or identity(obj)[1] in NETWORK_POLICIES:
                found.append((identity(obj)[1], str(meta(obj).get("resourceVersion"))))
        return tuple(sorted(found))
