"""The simulator's btp-manager model (btp-manager at c70cd184) through its HTTP API, with our KubeClient.

Each test drives the simulator as the E2E scenarios do (apply, get, delete, label, wait); every
request runs one reconcile pass, and the waits run on a fake clock, so a wait of ``n`` seconds
at one-second intervals is about ``n`` passes.
"""

from __future__ import annotations

import base64
import copy
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest
from cryptography import x509
from lightkube import Client, KubeConfig
from lightkube.resources.apps_v1 import Deployment
from lightkube.types import PatchType

from btp_release.errors import Timeout
from btp_release.kube import KubeClient, KubeObject
from btp_release.testing import FakeClock
from btp_release.testing.kube_sim import (
    CA_CERT_SECRET,
    CHART_VERSION_LABEL,
    CONFIG_MAP,
    CREDENTIAL_KEYS,
    CREDENTIALS_SECRET,
    DEFAULT_OPERAND_IMAGE,
    DISABLE_NETWORK_POLICIES,
    DUMMY_CREDENTIALS,
    FAILURE_DESCRIPTIONS,
    FAILURE_MODES,
    MANAGED_BY_LABEL,
    MANAGER_DEPLOYMENT,
    MODULE_LABEL,
    MUTATING_WEBHOOK,
    NETWORK_POLICIES,
    OPERAND_DEPLOYMENT,
    OPERATOR_CR_NAME,
    OPERATOR_FINALIZER,
    SERVICES_FINALIZER,
    VALIDATING_WEBHOOK,
    WEBHOOK_CERT_SECRET,
    WEBHOOK_SERVICE,
    KubeSimulator,
    ModelDelays,
)
from btp_release.testing.kube_sim.durations import parse_go_duration
from btp_release.wait import WaitPolicy

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "btp-operator"
MANIFEST = (EXAMPLE / "manifests" / "btp-manager.yaml").read_text()
NS = "kyma-system"
OPERATOR_API, SERVICES_API, CRD_API = (
    "operator.kyma-project.io/v1alpha1",
    "services.cloud.sap.com/v1",
    "apiextensions.k8s.io/v1",
)
SERVICE_CRDS = ("serviceinstances.services.cloud.sap.com", "servicebindings.services.cloud.sap.com")
REAL = {key: f"real-{key}" for key in CREDENTIAL_KEYS}
KEB = {MANAGED_BY_LABEL: "kcp-kyma-environment-broker"}
NOT_CLEANED = "ServiceInstancesAndBindingsNotCleaned"
T = TypeVar("T")


@pytest.fixture
def sim() -> Iterator[KubeSimulator]:
    with KubeSimulator() as simulator:
        yield simulator


def connect(sim: KubeSimulator, tmp_path: Path) -> KubeClient:
    clock = FakeClock()
    return KubeClient.from_kubeconfig(
        sim.kubeconfig(tmp_path / "kubeconfig"), clock=clock, sleeper=clock.sleep
    )


@pytest.fixture
def kube(sim: KubeSimulator, tmp_path: Path) -> KubeClient:
    return connect(sim, tmp_path)


def passes(n: int) -> WaitPolicy:
    """A wait of about ``n`` polls (one pass each) on the fake clock."""
    return WaitPolicy(timeout=n, interval=1.0, backoff=1.0)


def until(check: Callable[[], T | None], what: str, limit: int = 40) -> T:
    for _ in range(limit):
        value = check()
        if value:
            return value
    pytest.fail(f"{what}: not reached after {limit} polls")


def install(kube: KubeClient, manifest: str = MANIFEST) -> None:
    """The prerequisite (namespace kyma-system only) and the module manifest; the manager Available."""
    kube.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
    kube.apply_manifest(manifest, policy=passes(10))
    kube.wait_condition("apps/v1", "Deployment", MANAGER_DEPLOYMENT, NS, "Available", policy=passes(20))


def upgraded(tag: str, operand_image: str | None = None) -> str:
    """The manifest with another manager image (and optionally the operand image env)."""
    manifest = MANIFEST.replace("btp-manager:1.2.0", f"btp-manager:{tag}")
    if operand_image:
        env = (
            "\n          env:\n            - name: SAP_BTP_SERVICE_OPERATOR"
            f'\n              value: "{operand_image}"'
        )
        manifest = manifest.replace('args: ["--leader-elect"]', 'args: ["--leader-elect"]' + env)
    return manifest


def secret(kube: KubeClient, values: dict[str, str], labels: dict[str, str] | None = None) -> None:
    data = {k: base64.b64encode(v.encode()).decode() for k, v in values.items()}
    metadata = {"name": CREDENTIALS_SECRET, "namespace": NS, "labels": KEB if labels is None else labels}
    kube.apply({"apiVersion": "v1", "kind": "Secret", "metadata": metadata, "type": "Opaque", "data": data})


def config_map(kube: KubeClient, data: dict[str, str], labels: dict[str, str] | None = None) -> None:
    metadata = {"name": CONFIG_MAP, "namespace": NS, "labels": labels or {}}
    kube.apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": data})


def operator(kube: KubeClient, name: str = OPERATOR_CR_NAME, namespace: str = NS) -> None:
    kube.apply(
        {
            "apiVersion": OPERATOR_API,
            "kind": "BtpOperator",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {},
        }
    )


def cr(kube: KubeClient, name: str = OPERATOR_CR_NAME, namespace: str = NS) -> KubeObject | None:
    return kube.get(OPERATOR_API, "BtpOperator", name, namespace)


def state(found: KubeObject | None) -> tuple[str, str, str] | None:
    """(state, reason, message) of a BtpOperator."""
    if found is None:
        return None
    ready = found.condition("Ready")
    return (str(found.status.get("state")), ready.reason if ready else "", ready.message if ready else "")


def wait_state(
    kube: KubeClient, wanted: str, reason: str, limit: int = 40, name: str = OPERATOR_CR_NAME
) -> KubeObject:
    def holds(found: KubeObject | None) -> bool:
        current = state(found)
        return current is not None and current[:2] == (wanted, reason)

    found = kube.wait_for(
        OPERATOR_API, "BtpOperator", name, NS, holds, what=f"{wanted}/{reason}", policy=passes(limit)
    )
    assert found is not None
    return found


def operand(kube: KubeClient) -> KubeObject | None:
    return kube.get("apps/v1", "Deployment", OPERAND_DEPLOYMENT, NS)


def ready_module(kube: KubeClient, values: dict[str, str] = REAL) -> KubeObject:
    install(kube)
    secret(kube, values)
    operator(kube)
    return wait_state(kube, "Ready", "ReconcileSucceeded")


def service_pair(kube: KubeClient, suffix: str) -> tuple[str, str]:
    si, sb = f"si-{suffix}", f"sb-{suffix}"
    spec = {"serviceOfferingName": "auditlog-management", "servicePlanName": "default"}
    kube.apply(
        {
            "apiVersion": SERVICES_API,
            "kind": "ServiceInstance",
            "metadata": {"name": si, "namespace": NS},
            "spec": spec,
        }
    )
    kube.apply(
        {
            "apiVersion": SERVICES_API,
            "kind": "ServiceBinding",
            "metadata": {"name": sb, "namespace": NS},
            "spec": {"serviceInstanceName": si},
        }
    )
    return si, sb


def events(sim: KubeSimulator, name: str = OPERATOR_CR_NAME) -> list[str]:
    return [str(e["reason"]) for e in sim.events(NS, involved=name)]


def lightkube(sim: KubeSimulator) -> Client:
    return Client(config=KubeConfig.from_dict(sim.kubeconfig_dict()), field_manager="btp-release")


# -- pure parts -------------------------------------------------------------------------------


def test_go_durations_and_passes() -> None:
    cases = {
        "10s": 10.0,
        "1h30m": 5400.0,
        "1.5m": 90.0,
        "-2s": -2.0,
        "0": 0.0,
        "300ms": 0.3,
        "2h0m0.5s": 7200.5,
    }
    assert {text: parse_go_duration(text) for text in cases} == cases
    assert [parse_go_duration(text) for text in ("10", "10 s", "1d", "", "s", "1.2.3s")] == [None] * 6
    delays = ModelDelays()
    assert (delays.passes(10), delays.passes(1200), delays.passes(0), delays.passes(11)) == (1, 120, 1, 2)
    with pytest.raises(ValueError, match="seconds_per_pass"):
        ModelDelays(seconds_per_pass=0)


def test_failure_modes_are_all_described_and_unknown_ones_rejected() -> None:
    assert set(FAILURE_DESCRIPTIONS) == FAILURE_MODES
    with pytest.raises(ValueError, match="unknown failure mode"):
        KubeSimulator().fail("nope")  # type: ignore[arg-type]


# -- by name ------------------------------------------------------------------------------------


def test_only_kyma_system_btpoperator_is_reconciled(kube: KubeClient, sim: KubeSimulator) -> None:
    install(kube)
    secret(kube, REAL)
    kube.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "other"}})
    operator(kube, "e2e-test-btpoperator")  # older than the right one: no longer matters
    operator(kube, OPERATOR_CR_NAME, "other")
    operator(kube)
    ready = wait_state(kube, "Ready", "ReconcileSucceeded")
    assert ready.metadata["finalizers"] == [OPERATOR_FINALIZER]
    assert state(ready) == ("Ready", "ReconcileSucceeded", "Module provisioning succeeded")
    message = "Your resource must be in the kyma-system namespace. The resource's name must be btpoperator."
    for name, namespace in (("e2e-test-btpoperator", NS), (OPERATOR_CR_NAME, "other")):
        wrong = cr(kube, name, namespace)
        assert state(wrong) == ("Warning", "WrongNamespaceOrName", message)
        assert not wrong.metadata.get("finalizers") and wrong.condition("Ready").status == "False"  # type: ignore[union-attr]
        kube.delete(OPERATOR_API, "BtpOperator", name, namespace)
        assert cr(kube, name, namespace) is None  # no finalizer: gone at once
    assert "WrongNamespaceOrName" in events(sim, "e2e-test-btpoperator")
    assert state(cr(kube)) == ("Ready", "ReconcileSucceeded", "Module provisioning succeeded")


def test_failure_reconciles_any_name(kube: KubeClient, sim: KubeSimulator) -> None:
    sim.fail("reconciles_any_name")
    install(kube)
    secret(kube, REAL)
    operator(kube, "e2e-test-btpoperator")
    found = wait_state(kube, "Ready", "ReconcileSucceeded", name="e2e-test-btpoperator")
    assert found.metadata["finalizers"] == [OPERATOR_FINALIZER]  # the pre-1.2.6 "oldest wins"
    operator(kube)
    until(lambda: state(cr(kube)) and state(cr(kube))[1] == "OlderCRExists", "the newer one is not leader")  # type: ignore[index]


# -- credentials ---------------------------------------------------------------------------------


def test_secret_missing_unlabelled_labelled_then_ready(kube: KubeClient, sim: KubeSimulator) -> None:
    install(kube)
    operator(kube)
    missing = wait_state(kube, "Warning", "MissingSecret")
    assert state(missing) == (
        "Warning",
        "MissingSecret",
        "sap-btp-manager Secret in kyma-system namespace not found",
    )
    assert missing.metadata["finalizers"] == [OPERATOR_FINALIZER]
    secret(kube, REAL, labels={})  # btp-manager's cache filter does not let it through
    for _ in range(10):
        assert state(cr(kube))[:2] == ("Warning", "MissingSecret")  # type: ignore[index]
    secret(kube, REAL, labels={MANAGED_BY_LABEL: "btp-manager"})
    wait_state(kube, "Ready", "ReconcileSucceeded")
    assert events(sim)[:4] == ["Initialized", "MissingSecret", "Updated", "ReconcileSucceeded"]
    updated = next(e for e in sim.events(NS, involved=OPERATOR_CR_NAME) if e["reason"] == "Updated")
    assert updated["message"] == "CR has been updated"
    deployment = operand(kube)
    assert deployment is not None
    assert {k: deployment.labels[k] for k in (CHART_VERSION_LABEL, MANAGED_BY_LABEL, MODULE_LABEL)} == {
        CHART_VERSION_LABEL: "1.2.0", MANAGED_BY_LABEL: "btp-manager", MODULE_LABEL: "btp-operator"
    }  # fmt: skip
    assert deployment.body["spec"]["template"]["spec"]["containers"][0]["image"] == DEFAULT_OPERAND_IMAGE
    operand_secret = kube.get("v1", "Secret", "sap-btp-service-operator", NS)
    assert operand_secret is not None and set(operand_secret.body["data"]) == set(CREDENTIAL_KEYS) - {
        "cluster_id"
    }
    for crd in SERVICE_CRDS:
        found = kube.get(CRD_API, "CustomResourceDefinition", crd)
        assert found is not None and found.labels[CHART_VERSION_LABEL] == "1.2.0"


def test_invalid_secret_is_an_error_until_fixed(kube: KubeClient) -> None:
    install(kube)
    secret(kube, {**{k: v for k, v in REAL.items() if k != "tokenurl"}, "sm_url": ""})
    operator(kube)
    invalid = wait_state(kube, "Error", "InvalidSecret")
    assert state(invalid)[2] == "key(s) tokenurl not found, missing value(s) for sm_url key(s)"  # type: ignore[index]
    secret(kube, REAL)
    wait_state(kube, "Ready", "ReconcileSucceeded")


def test_secret_deleted_while_ready_then_recreated(kube: KubeClient, sim: KubeSimulator) -> None:
    ready_module(kube)
    kube.delete("v1", "Secret", CREDENTIALS_SECRET, NS)
    wait_state(kube, "Warning", "MissingSecret")
    secret(kube, REAL)
    wait_state(kube, "Ready", "ReconcileSucceeded")
    assert events(sim)[-3:] == ["MissingSecret", "Updated", "ReconcileSucceeded"]


def test_failure_no_secret_recovery(kube: KubeClient, sim: KubeSimulator) -> None:
    sim.fail("no_secret_recovery")
    ready_module(kube)
    kube.delete("v1", "Secret", CREDENTIALS_SECRET, NS)
    wait_state(kube, "Warning", "MissingSecret")
    secret(kube, REAL)
    with pytest.raises(Timeout, match="Ready/ReconcileSucceeded"):
        wait_state(kube, "Ready", "ReconcileSucceeded", limit=30)


# -- the operand -----------------------------------------------------------------------------------


def test_deleted_operand_is_recreated_and_the_cr_stays_ready(kube: KubeClient) -> None:
    ready_module(kube)
    before = operand(kube)
    assert before is not None
    kube.delete("apps/v1", "Deployment", OPERAND_DEPLOYMENT, NS)
    again = until(
        lambda: (d := operand(kube)) and d.metadata["uid"] != before.metadata["uid"] and d,
        "operand re-created",
    )
    assert again.labels[CHART_VERSION_LABEL] == "1.2.0"
    kube.wait_condition("apps/v1", "Deployment", OPERAND_DEPLOYMENT, NS, "Available", policy=passes(10))
    assert state(cr(kube))[:2] == ("Ready", "ReconcileSucceeded")  # type: ignore[index]


def test_failure_no_operand_recovery(kube: KubeClient, sim: KubeSimulator) -> None:
    sim.fail("no_operand_recovery")
    ready_module(kube)
    kube.delete("apps/v1", "Deployment", OPERAND_DEPLOYMENT, NS)
    for _ in range(40):
        assert operand(kube) is None
    assert state(cr(kube))[:2] == ("Error", "ReconcileFailed")  # type: ignore[index]  # after ReadyTimeout


def test_ready_timeout_from_a_labelled_config_map_fails_then_recovers(
    kube: KubeClient, sim: KubeSimulator
) -> None:
    ready_module(kube)
    config_map(kube, {"ReadyTimeout": "10s"}, labels={MANAGED_BY_LABEL: "btp-manager"})
    kube.delete("apps/v1", "Deployment", OPERAND_DEPLOYMENT, NS)
    failed = wait_state(kube, "Error", "ReconcileFailed")
    assert state(failed)[2] == (  # type: ignore[index]
        "timed out while waiting for resources readiness: "
        "timeout waiting for sap-btp-operator-controller-manager Deployment to be ready"
    )
    wait_state(kube, "Ready", "ReconcileSucceeded")
    assert events(sim)[-3:] == ["ReconcileFailed", "Updated", "ReconcileSucceeded"]


def break_image(sim: KubeSimulator, kube: KubeClient, *, delete_pods: bool = True) -> None:
    """What btp-manager's own E2E does: a non-existing image, then the operand's pods deleted."""
    container = {"name": "manager", "image": "non-existing-image:0.0.00000"}
    with lightkube(sim) as client:
        patch = {"spec": {"template": {"spec": {"containers": [container]}}}}
        client.patch(Deployment, OPERAND_DEPLOYMENT, patch, namespace=NS, patch_type=PatchType.STRATEGIC)
    if delete_pods:
        for pod in kube.list_objects("v1", "Pod", NS, labels={"app.kubernetes.io/name": "sap-btp-operator"}):
            kube.delete("v1", "Pod", pod.name, NS)


def operand_image(kube: KubeClient) -> str:
    found = operand(kube)
    assert found is not None
    return str(found.body["spec"]["template"]["spec"]["containers"][0]["image"])


def test_broken_operand_image_is_restored_once_available_flips(kube: KubeClient, sim: KubeSimulator) -> None:
    ready_module(kube)
    generation = operand(kube).metadata["generation"]  # type: ignore[union-attr]
    break_image(sim, kube, delete_pods=False)
    for _ in range(20):  # the old pod keeps it Available: no event btp-manager reacts to
        assert operand_image(kube) == "non-existing-image:0.0.00000"
    for pod in kube.list_objects("v1", "Pod", NS, labels={"app.kubernetes.io/name": "sap-btp-operator"}):
        kube.delete("v1", "Pod", pod.name, NS)
    until(lambda: operand_image(kube) == DEFAULT_OPERAND_IMAGE, "image restored")
    assert operand(kube).metadata["generation"] == generation + 2  # type: ignore[union-attr]
    kube.wait_condition("apps/v1", "Deployment", OPERAND_DEPLOYMENT, NS, "Available", policy=passes(10))
    assert state(cr(kube))[:2] == ("Ready", "ReconcileSucceeded")  # type: ignore[index]


def test_failure_image_not_restored(kube: KubeClient, sim: KubeSimulator) -> None:
    sim.fail("image_not_restored")
    ready_module(kube)
    break_image(sim, kube)
    for _ in range(30):
        assert operand_image(kube) == "non-existing-image:0.0.00000"
    found = operand(kube)
    assert found is not None and found.condition("Available").status == "False"  # type: ignore[union-attr]


def test_failure_cr_stuck(kube: KubeClient, sim: KubeSimulator) -> None:
    sim.fail("cr_stuck")
    install(kube)
    secret(kube, REAL)
    operator(kube)
    for _ in range(40):
        found = cr(kube)
    assert state(found)[:2] == ("Processing", "Initialized")  # type: ignore[index]


# -- instances and bindings --------------------------------------------------------------------------


def test_real_credentials_provision_instances_and_bindings(kube: KubeClient) -> None:
    ready_module(kube)
    si, sb = service_pair(kube, "run1")
    kube.wait_condition(
        SERVICES_API, "ServiceBinding", sb, NS, "Ready", "True", "Provisioned", policy=passes(20)
    )
    instance = kube.get(SERVICES_API, "ServiceInstance", si, NS)
    assert (
        instance is not None
        and instance.status["instanceID"]
        and SERVICES_FINALIZER in instance.metadata["finalizers"]
    )
    binding_secret = kube.get("v1", "Secret", sb, NS)
    assert binding_secret is not None and set(binding_secret.body["data"]) == {
        "clientid",
        "clientsecret",
        "url",
    }


def test_dummy_credentials_never_provision(kube: KubeClient) -> None:
    ready_module(kube, dict(DUMMY_CREDENTIALS))
    si, sb = service_pair(kube, "run2")
    for _ in range(6):
        instance = kube.get(SERVICES_API, "ServiceInstance", si, NS)
    assert instance is not None
    assert (instance.condition("Ready").reason, instance.condition("Succeeded").reason) == (
        "NotProvisioned",
        "CreateInProgress",
    )  # type: ignore[union-attr]
    binding = kube.get(SERVICES_API, "ServiceBinding", sb, NS)
    assert binding is not None and binding.condition("Ready").reason == "NotProvisioned"  # type: ignore[union-attr]


def module_gone(kube: KubeClient, sim: KubeSimulator) -> None:
    """Nothing of the module but the manager's manifest and the credentials Secret is left."""
    assert operand(kube) is None
    for crd in SERVICE_CRDS:
        kube.wait_gone(CRD_API, "CustomResourceDefinition", crd, None, policy=passes(5))
    left = [e for e in sim.inventory() if e[0].startswith("services.cloud.sap.com/")]
    managed = [o for o in sim.list_objects("configmaps", NS) + sim.list_objects("secrets", NS)
               if (o["metadata"].get("labels") or {}).get(MANAGED_BY_LABEL) == "btp-manager"]  # fmt: skip
    assert left == [] and managed == [] and policies(kube) == []
    assert [name for kind, name in WEBHOOKS if kube.get(WEBHOOK_API, kind, name)] == []  # DeleteAllOf, too
    assert kube.get("v1", "Secret", CREDENTIALS_SECRET, NS) is not None  # KEB's: not btp-manager's to delete
    assert kube.get("apps/v1", "Deployment", MANAGER_DEPLOYMENT, NS) is not None


# -- network policies ------------------------------------------------------------------------------


def policies(kube: KubeClient) -> list[str]:
    return sorted(p.name for p in kube.list_objects("networking.k8s.io/v1", "NetworkPolicy", NS))


def test_network_policies_come_with_the_operand_and_follow_the_annotation(kube: KubeClient) -> None:
    ready_module(kube)
    assert policies(kube) == sorted(NETWORK_POLICIES)
    found = kube.get("networking.k8s.io/v1", "NetworkPolicy", NETWORK_POLICIES[0], NS)
    assert found is not None
    assert found.labels[MANAGED_BY_LABEL] == "btp-manager" and found.labels[MODULE_LABEL] == "btp-operator"
    assert found.body["spec"]["podSelector"] == {"matchLabels": {MODULE_LABEL: "btp-operator"}}
    kube.annotate(OPERATOR_API, "BtpOperator", OPERATOR_CR_NAME, NS, {DISABLE_NETWORK_POLICIES: "True"})
    until(lambda: policies(kube) == [] or None, "policies deleted")
    assert state(cr(kube))[:2] == ("Ready", "ReconcileSucceeded")  # type: ignore[index]
    kube.annotate(OPERATOR_API, "BtpOperator", OPERATOR_CR_NAME, NS, {DISABLE_NETWORK_POLICIES: None})
    until(lambda: policies(kube) == sorted(NETWORK_POLICIES) or None, "policies back")


def test_a_deleted_network_policy_is_reapplied_and_others_are_left_alone(kube: KubeClient) -> None:
    ready_module(kube)
    deny_all = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                "metadata": {"name": "deny-all", "namespace": NS},
                "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}}  # fmt: skip
    kube.apply(deny_all)
    kube.delete("networking.k8s.io/v1", "NetworkPolicy", NETWORK_POLICIES[2], NS)
    until(lambda: NETWORK_POLICIES[2] in policies(kube) or None, "policy re-applied (a watch event)")
    kube.annotate(OPERATOR_API, "BtpOperator", OPERATOR_CR_NAME, NS, {DISABLE_NETWORK_POLICIES: "true"})
    until(lambda: policies(kube) == ["deny-all"] or None, "only btp-manager's policies deleted")


def operand_config(kube: KubeClient) -> str | None:
    found = kube.get("v1", "ConfigMap", "sap-btp-operator-config", NS)
    return None if found is None else found.body["data"].get("ENABLE_LIMITED_CACHE")


@pytest.mark.parametrize("failure", [None, "limited_cache_not_propagated"])
def test_enable_limited_cache_reaches_the_operand_config(
    kube: KubeClient, sim: KubeSimulator, failure: str | None
) -> None:
    if failure:
        sim.fail(failure)  # type: ignore[arg-type]
    ready_module(kube)
    assert operand_config(kube) == "true"
    config_map(kube, {"EnableLimitedCache": "false"}, {MANAGED_BY_LABEL: "btp-manager"})
    if failure:
        for _ in range(10):
            assert operand_config(kube) == "true"
        return
    until(lambda: operand_config(kube) == "false" or None, "false propagated")
    kube.merge_patch("v1", "ConfigMap", CONFIG_MAP, NS, {"data": {"EnableLimitedCache": "true"}})
    until(lambda: operand_config(kube) == "true" or None, "true propagated")


@pytest.mark.parametrize(
    ("failure", "after_disabling"), [("no_network_policies", []), ("network_policies_not_disabled", None)]
)
def test_failures_of_the_network_policies(
    kube: KubeClient, sim: KubeSimulator, failure: str, after_disabling: list[str] | None
) -> None:
    sim.fail(failure)  # type: ignore[arg-type]
    ready_module(kube)
    present = policies(kube)
    assert present == ([] if failure == "no_network_policies" else sorted(NETWORK_POLICIES))
    kube.annotate(OPERATOR_API, "BtpOperator", OPERATOR_CR_NAME, NS, {DISABLE_NETWORK_POLICIES: "true"})
    for _ in range(10):
        assert policies(kube) == (present if after_disabling is None else after_disabling)


# -- webhook certificates --------------------------------------------------------------------------

WEBHOOK_API = "admissionregistration.k8s.io/v1"
WEBHOOKS = (
    ("MutatingWebhookConfiguration", MUTATING_WEBHOOK),
    ("ValidatingWebhookConfiguration", VALIDATING_WEBHOOK),
)


def cert_data(kube: KubeClient, name: str) -> dict[str, bytes]:
    """The decoded data of a certificate Secret ({} when it is gone)."""
    found = kube.get("v1", "Secret", name, NS)
    return {k: base64.b64decode(v) for k, v in (found.body.get("data") or {}).items()} if found else {}


def bundles(kube: KubeClient) -> list[bytes]:
    """The decoded caBundle of every webhook of both configurations."""
    out = []
    for kind, name in WEBHOOKS:
        found = kube.get(WEBHOOK_API, kind, name)
        assert found is not None, name
        out += [base64.b64decode(w["clientConfig"]["caBundle"]) for w in found.body["webhooks"]]
    return out


def signed(ca_pem: bytes, leaf_pem: bytes) -> bool:
    """The leaf verifies against the CA (signature and issuer), and only the CA is one."""
    ca, leaf = x509.load_pem_x509_certificate(ca_pem), x509.load_pem_x509_certificate(leaf_pem)
    leaf.verify_directly_issued_by(ca)
    constraints = [c.extensions.get_extension_for_class(x509.BasicConstraints).value.ca for c in (ca, leaf)]
    return constraints == [True, False]


def test_webhook_configurations_carry_the_ca_of_the_certificate_secrets(kube: KubeClient) -> None:
    ready_module(kube)
    ca, tls = cert_data(kube, CA_CERT_SECRET), cert_data(kube, WEBHOOK_CERT_SECRET)
    assert set(ca) == {"ca.crt", "ca.key"} and set(tls) == {"tls.crt", "tls.key"}
    assert signed(ca["ca.crt"], tls["tls.crt"])
    names = x509.load_pem_x509_certificate(tls["tls.crt"]).extensions.get_extension_for_class(
        x509.SubjectAlternativeName
    )
    assert f"{WEBHOOK_SERVICE}.{NS}.svc" in names.value.get_values_for_type(x509.DNSName)
    assert bundles(kube) == [ca["ca.crt"]] * 4  # two webhooks in each configuration
    for name in (CA_CERT_SECRET, WEBHOOK_CERT_SECRET):  # made after the others are labelled: one label
        found = kube.get("v1", "Secret", name, NS)
        assert found is not None and found.labels == {MANAGED_BY_LABEL: "btp-manager"}
    for kind, name in WEBHOOKS:
        found = kube.get(WEBHOOK_API, kind, name)
        assert found is not None and found.labels[MODULE_LABEL] == "btp-operator"
        assert found.labels[CHART_VERSION_LABEL] == "1.2.0"
        service = found.body["webhooks"][0]["clientConfig"]["service"]
        assert (service["name"], service["namespace"]) == (WEBHOOK_SERVICE, NS)


@pytest.mark.parametrize("failure", [None, "ca_bundle_not_rotated"])
def test_a_deleted_ca_secret_brings_a_new_ca_into_both_webhook_configurations(
    kube: KubeClient, sim: KubeSimulator, failure: str | None
) -> None:
    if failure:
        sim.fail(failure)  # type: ignore[arg-type]
    ready_module(kube)
    old = cert_data(kube, CA_CERT_SECRET)["ca.crt"]
    kube.delete("v1", "Secret", CA_CERT_SECRET, NS)
    new = until(lambda: cert_data(kube, CA_CERT_SECRET).get("ca.crt"), "ca-server-cert re-created")
    assert new != old and signed(new, cert_data(kube, WEBHOOK_CERT_SECRET)["tls.crt"])
    if failure:
        for _ in range(10):
            assert bundles(kube) == [old] * 4
    else:
        until(lambda: bundles(kube) == [new] * 4 or None, "both caBundles rotated")
    assert state(cr(kube))[:2] == ("Ready", "ReconcileSucceeded")  # type: ignore[index]


def test_a_lost_webhook_certificate_or_ca_bundle_is_restored_with_the_same_ca(kube: KubeClient) -> None:
    ready_module(kube)
    ca = cert_data(kube, CA_CERT_SECRET)["ca.crt"]
    old_tls = cert_data(kube, WEBHOOK_CERT_SECRET)["tls.crt"]
    kube.delete("v1", "Secret", WEBHOOK_CERT_SECRET, NS)
    tls = until(lambda: cert_data(kube, WEBHOOK_CERT_SECRET).get("tls.crt"), "webhook-server-cert re-created")
    assert tls != old_tls and signed(ca, tls) and cert_data(kube, CA_CERT_SECRET)["ca.crt"] == ca
    found = kube.get(WEBHOOK_API, "ValidatingWebhookConfiguration", VALIDATING_WEBHOOK)
    assert found is not None
    webhooks = copy.deepcopy(found.body["webhooks"])
    webhooks[0]["clientConfig"]["caBundle"] = base64.b64encode(b"not a certificate").decode()
    kube.merge_patch(
        WEBHOOK_API, "ValidatingWebhookConfiguration", VALIDATING_WEBHOOK, None, {"webhooks": webhooks}
    )
    until(lambda: bundles(kube) == [ca] * 4 or None, "caBundle restored (a watch event)")


# -- deleting the BtpOperator ----------------------------------------------------------------------


def not_cleaned(kube: KubeClient, sim: KubeSimulator, values: dict[str, str]) -> tuple[str, str]:
    """A provisioned module with an instance and a binding, its BtpOperator deleted: NotCleaned."""
    ready_module(kube, values)
    pair = service_pair(kube, "dep")
    expected = "Provisioned" if values == REAL else "NotProvisioned"
    kube.wait_condition(
        SERVICES_API,
        "ServiceBinding",
        pair[1],
        NS,
        "Ready",
        reason=expected,
        status="True" if values == REAL else "False",
        policy=passes(20),
    )
    kube.delete(OPERATOR_API, "BtpOperator", OPERATOR_CR_NAME, NS)
    blocked = wait_state(kube, "Warning", NOT_CLEANED)
    assert (
        state(blocked)[2]
        == "All service instances and bindings must be removed: 1 instance(s) and 1 binding(s)"
    )  # type: ignore[index]
    assert blocked.deleting and blocked.metadata["finalizers"] == [OPERATOR_FINALIZER]
    assert events(sim)[-2:] == ["HardDeleting", NOT_CLEANED]
    hard = [e for e in sim.events(NS, involved=OPERATOR_CR_NAME) if e["reason"] == "HardDeleting"]
    assert hard[-1]["message"] == "BtpOperator is to be deleted"
    return pair


def test_not_cleaned_keeps_everything_and_recreates_a_deleted_operand(
    kube: KubeClient, sim: KubeSimulator
) -> None:
    si, sb = not_cleaned(kube, sim, dict(DUMMY_CREDENTIALS))
    for _ in range(10):
        blocked = cr(kube)
    assert state(blocked)[:2] == ("Warning", NOT_CLEANED)  # type: ignore[index]
    for kind, name in (("ServiceInstance", si), ("ServiceBinding", sb)):
        found = kube.get(SERVICES_API, kind, name, NS)
        assert found is not None and not found.deleting
    before = operand(kube)
    assert before is not None
    kube.delete("apps/v1", "Deployment", OPERAND_DEPLOYMENT, NS)
    until(lambda: (d := operand(kube)) and d.metadata["uid"] != before.metadata["uid"], "operand re-created")
    assert state(cr(kube))[:2] == ("Warning", NOT_CLEANED)  # type: ignore[index]  # no status change


def test_failure_not_cleaned_as_deleting(kube: KubeClient, sim: KubeSimulator) -> None:
    sim.fail("not_cleaned_as_deleting")
    ready_module(kube, dict(DUMMY_CREDENTIALS))
    service_pair(kube, "old")
    kube.delete(OPERATOR_API, "BtpOperator", OPERATOR_CR_NAME, NS)
    until(
        lambda: (
            state(cr(kube))
            == (
                "Deleting",
                NOT_CLEANED,
                "All service instances and bindings must be removed: 1 instance(s) and 1 binding(s)",
            )
        ),
        "Deleting/NotCleaned",
    )


def test_force_delete_with_dummy_credentials_times_out_into_a_soft_delete(
    kube: KubeClient, sim: KubeSimulator
) -> None:
    _, sb = not_cleaned(kube, sim, dict(DUMMY_CREDENTIALS))
    config_map(kube, {"HardDeleteTimeout": "30s"}, labels=KEB)  # labelled: seen after the start too
    kube.label(OPERATOR_API, "BtpOperator", OPERATOR_CR_NAME, NS, {"force-delete": "true"})
    hard = wait_state(kube, "Deleting", "HardDeleting", limit=5)
    assert (
        state(hard)[2] == "BtpOperator is to be deleted after cleaning service instance and binding resources"
    )  # type: ignore[index]
    kube.wait_gone(OPERATOR_API, "BtpOperator", OPERATOR_CR_NAME, NS, policy=passes(10))
    assert events(sim)[-2:] == ["HardDeleting", "SoftDeleting"]
    soft = [e for e in sim.events(NS, involved=OPERATOR_CR_NAME) if e["reason"] == "SoftDeleting"]
    assert soft[-1]["message"] == "Being soft deleted"
    assert sim.hard_delete_timeout == "30s"
    assert kube.get("v1", "Secret", sb, NS) is None
    module_gone(kube, sim)


def test_hard_delete_timeout_defaults_to_twenty_minutes(tmp_path: Path) -> None:
    with KubeSimulator(delays=ModelDelays(seconds_per_pass=60)) as sim:  # 20m = 20 passes
        kube = connect(sim, tmp_path)
        not_cleaned(kube, sim, dict(DUMMY_CREDENTIALS))
        config_map(kube, {"HardDeleteTimeout": "10s"})  # unlabelled and after the start: not seen
        kube.label(OPERATOR_API, "BtpOperator", OPERATOR_CR_NAME, NS, {"force-delete": "true"})
        wait_state(kube, "Deleting", "HardDeleting", limit=5)
        for _ in range(15):
            assert cr(kube) is not None
        kube.wait_gone(OPERATOR_API, "BtpOperator", OPERATOR_CR_NAME, NS, policy=passes(10))
        assert sim.hard_delete_timeout is None and "SoftDeleting" in events(sim)


def test_a_config_map_present_when_the_manager_starts_is_read_whatever_its_labels(
    kube: KubeClient, sim: KubeSimulator
) -> None:
    kube.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
    config_map(kube, {"HardDeleteTimeout": "10s", "ReadyTimeout": "not a duration"})
    not_cleaned(kube, sim, dict(DUMMY_CREDENTIALS))
    kube.label(OPERATOR_API, "BtpOperator", OPERATOR_CR_NAME, NS, {"force-delete": "true"})
    kube.wait_gone(OPERATOR_API, "BtpOperator", OPERATOR_CR_NAME, NS, policy=passes(6))
    assert sim.hard_delete_timeout == "10s"


def test_instances_removed_by_the_user_end_not_cleaned_with_a_hard_delete(
    kube: KubeClient, sim: KubeSimulator
) -> None:
    si, sb = not_cleaned(kube, sim, REAL)
    kube.delete(SERVICES_API, "ServiceBinding", sb, NS)
    kube.delete(SERVICES_API, "ServiceInstance", si, NS)
    kube.wait_gone(OPERATOR_API, "BtpOperator", OPERATOR_CR_NAME, NS, policy=passes(20))
    assert events(sim)[-2:] == [NOT_CLEANED, "HardDeleting"]  # by its second controller, on the last deletion
    hard = [e for e in sim.events(NS, involved=OPERATOR_CR_NAME) if e["reason"] == "HardDeleting"]
    assert hard[-1]["message"] == "BtpOperator is to be deleted"
    module_gone(kube, sim)


def test_force_delete_with_real_credentials_hard_deletes(kube: KubeClient, sim: KubeSimulator) -> None:
    ready_module(kube)
    service_pair(kube, "x")
    kube.label(OPERATOR_API, "BtpOperator", OPERATOR_CR_NAME, NS, {"force-delete": "true"})
    kube.delete(OPERATOR_API, "BtpOperator", OPERATOR_CR_NAME, NS)
    kube.wait_gone(OPERATOR_API, "BtpOperator", OPERATOR_CR_NAME, NS, policy=passes(20))
    assert "SoftDeleting" not in events(sim) and NOT_CLEANED not in events(sim)
    module_gone(kube, sim)


def test_failure_crds_not_removed(kube: KubeClient, sim: KubeSimulator) -> None:
    sim.fail("crds_not_removed")
    ready_module(kube)
    kube.delete(OPERATOR_API, "BtpOperator", OPERATOR_CR_NAME, NS)
    kube.wait_gone(OPERATOR_API, "BtpOperator", OPERATOR_CR_NAME, NS, policy=passes(10))
    assert operand(kube) is None
    for _ in range(3):
        crd = kube.get(CRD_API, "CustomResourceDefinition", SERVICE_CRDS[0])
    assert crd is not None and not crd.deleting


# -- upgrades ------------------------------------------------------------------------------------------


def rolled_to(kube: KubeClient, tag: str) -> Callable[[], bool]:
    def done() -> bool:
        found = operand(kube)
        return found is not None and found.labels.get(CHART_VERSION_LABEL) == tag

    return done


def test_upgrade_while_not_cleaned_changes_chart_version_and_resource_version(
    kube: KubeClient, sim: KubeSimulator
) -> None:
    not_cleaned(kube, sim, dict(DUMMY_CREDENTIALS))
    before = operand(kube)
    assert before is not None and before.labels[CHART_VERSION_LABEL] == "1.2.0"
    image = DEFAULT_OPERAND_IMAGE.replace(":v0.11.10", ":v0.11.11")
    kube.apply_manifest(upgraded("1.3.0", image), policy=passes(5))
    until(rolled_to(kube, "1.3.0"), "operand re-applied with the new chart version")
    after = operand(kube)
    assert after is not None and int(after.metadata["resourceVersion"]) > int(
        before.metadata["resourceVersion"]
    )
    assert operand_image(kube) == image
    assert state(cr(kube))[:2] == ("Warning", NOT_CLEANED)  # type: ignore[index]


def test_failure_no_upgrade_while_deleting(kube: KubeClient, sim: KubeSimulator) -> None:
    sim.fail("no_upgrade_while_deleting")
    not_cleaned(kube, sim, dict(DUMMY_CREDENTIALS))
    before = operand(kube)
    assert before is not None
    kube.apply_manifest(upgraded("1.3.0"), policy=passes(5))
    for _ in range(40):
        after = operand(kube)
    assert after is not None and after.labels[CHART_VERSION_LABEL] == "1.2.0"
    assert after.metadata["resourceVersion"] == before.metadata["resourceVersion"]


def test_upgrade_when_ready_keeps_services_and_uses_the_chart_versions_mapping(tmp_path: Path) -> None:
    with KubeSimulator(chart_versions={"1.2.0": "v0.11.9", "1.3.0": "v0.11.10"}) as sim:
        kube = connect(sim, tmp_path)
        ready_module(kube)
        si, sb = service_pair(kube, "old")
        kube.wait_condition(SERVICES_API, "ServiceBinding", sb, NS, "Ready", policy=passes(20))
        assert operand(kube).labels[CHART_VERSION_LABEL] == "v0.11.9"  # type: ignore[union-attr]
        kube.apply_manifest(upgraded("1.3.0"), policy=passes(5))
        until(rolled_to(kube, "v0.11.10"), "operand re-applied with the mapped chart version")
        pods = kube.list_objects("v1", "Pod", NS, labels={"control-plane": "controller-manager"})
        managers = [p for p in pods if p.name.startswith(MANAGER_DEPLOYMENT)]
        assert "btp-manager:1.3.0" in kube.pod_logs(managers[-1].name, NS)
        assert state(cr(kube))[:2] == ("Ready", "ReconcileSucceeded")  # type: ignore[index]
        for kind, name in (("ServiceInstance", si), ("ServiceBinding", sb)):
            found = kube.get(SERVICES_API, kind, name, NS)
            assert found is not None and found.condition("Ready").status == "True"  # type: ignore[union-attr]
        _, new = service_pair(kube, "new")
        kube.wait_condition(SERVICES_API, "ServiceBinding", new, NS, "Ready", policy=passes(20))


def test_failure_deployment_never_available_reconciles_nothing(kube: KubeClient, sim: KubeSimulator) -> None:
    sim.fail("deployment_never_available")
    kube.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
    kube.apply_manifest(MANIFEST, policy=passes(10))
    secret(kube, REAL)
    operator(kube)
    with pytest.raises(Timeout, match="Available"):
        kube.wait_condition("apps/v1", "Deployment", MANAGER_DEPLOYMENT, NS, "Available", policy=passes(10))
    found = cr(kube)
    assert found is not None and not found.status and operand(kube) is None
