"""The Kubernetes simulator, driven like a cluster: lightkube (the project's client), kubectl, raw HTTPS.

Model delays are reconcile passes and every request runs one, so the tests poll a bounded
number of times instead of sleeping.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import yaml
from lightkube import ApiError, Client, KubeConfig, codecs
from lightkube import operators as op
from lightkube.generic_resource import create_namespaced_resource
from lightkube.models.core_v1 import PodSpec
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.apiextensions_v1 import CustomResourceDefinition
from lightkube.resources.apps_v1 import Deployment
from lightkube.resources.core_v1 import ConfigMap, Event, Namespace, Pod, Secret
from lightkube.resources.scheduling_v1 import PriorityClass
from lightkube.types import CascadeType, PatchType

from btp_release.testing.kube_sim import (
    CREDENTIAL_KEYS,
    CREDENTIALS_SECRET,
    FORCE_DELETE_LABEL,
    MANAGER_DEPLOYMENT,
    MANAGER_NAMESPACE,
    Fault,
    KubeError,
    KubeSimulator,
    ModelDelays,
)
from btp_release.testing.kube_sim.patching import (
    ApplyTarget,
    json_patch,
    merge_patch,
    server_side_apply,
    strategic_merge_patch,
)
from btp_release.testing.kube_sim.selectors import labels_match, parse_label_selector
from btp_release.testing.kube_sim.tables import human_duration, json_path

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "btp-operator"
MANIFEST = EXAMPLE / "manifests" / "btp-manager.yaml"
DEFAULT_CR = EXAMPLE / "examples" / "btp-operator.yaml"
NS = MANAGER_NAMESPACE
OPERATOR_CRD = "btpoperators.operator.kyma-project.io"
BtpOperator = create_namespaced_resource(
    "operator.kyma-project.io", "v1alpha1", "BtpOperator", "btpoperators"
)
REAL = {key: f"real-{key}" for key in CREDENTIAL_KEYS}
DEPLOYMENT_YAML = "---\n" + MANIFEST.read_text().split("\n---\n")[-1]
T = TypeVar("T")


# -- helpers ------------------------------------------------------------------------------


def connect(sim: KubeSimulator) -> Client:
    return Client(config=KubeConfig.from_dict(sim.kubeconfig_dict()), field_manager="btp-release")


@pytest.fixture
def sim(kube_sim: KubeSimulator) -> KubeSimulator:
    return kube_sim


@pytest.fixture
def client(sim: KubeSimulator) -> Iterator[Client]:
    with connect(sim) as lightkube:
        yield lightkube


def poll(check: Callable[[], T | None], what: str, limit: int = 25) -> T:
    """Call ``check`` (each call makes requests, so passes run) until it returns something truthy."""
    for _ in range(limit):
        value = check()
        if value:
            return value
    pytest.fail(f"{what}: not reached after {limit} polls")


def cond(obj: Any, kind: str) -> dict[str, Any]:
    """One condition of an object's status (typed or generic), as a dict; {} when absent."""
    status = obj.status if isinstance(obj.status, dict) else obj.status.to_dict() if obj.status else {}
    return next((c for c in status.get("conditions") or [] if c.get("type") == kind), {})


def apply(client: Client, text: str, namespace: str | None = None) -> list[Any]:
    applied = []
    for obj in codecs.load_all_yaml(text, create_resources_for_crds=True):
        applied.append(client.apply(obj, namespace=namespace, field_manager="btp-release", force=True))
    return applied


def install(client: Client, image: str | None = None) -> None:
    """Prerequisites (the namespace) and the example module manifest (optionally another manager image)."""
    client.apply(Namespace(metadata=ObjectMeta(name=NS)), field_manager="btp-release")
    text = MANIFEST.read_text()
    if image:
        text = text.replace("europe-docker.pkg.dev/kyma-project/prod/btp-manager:1.2.0", image)
    apply(client, text)


def deployment_available(client: Client) -> Deployment | None:
    deployment = client.get(Deployment, MANAGER_DEPLOYMENT, namespace=NS)
    return deployment if cond(deployment, "Available").get("status") == "True" else None


def merge(client: Client, kind: Any, name: str, patch: Any, namespace: str | None = NS) -> Any:
    return client.patch(kind, name, patch, namespace=namespace, patch_type=PatchType.MERGE)


def cm(name: str, namespace: str = "default", **fields: Any) -> ConfigMap:
    return ConfigMap(metadata=ObjectMeta(name=name, namespace=namespace, **fields.pop("meta", {})), **fields)


def gone(client: Client, kind: Any, name: str, namespace: str | None = NS) -> bool:
    try:
        client.get(kind, name, namespace=namespace) if namespace else client.get(kind, name)
    except ApiError as error:
        return error.status.code == 404
    return False


def raw(sim: KubeSimulator, token: str | None = None) -> httpx.Client:
    """Plain HTTPS to the simulator; ``token=""`` sends no Authorization header."""
    headers = {} if token == "" else {"Authorization": f"Bearer {token or sim.token}"}
    verify = httpx.create_ssl_context()
    verify.load_verify_locations(cadata=sim.ca_pem.decode())
    return httpx.Client(base_url=sim.url, headers=headers, verify=verify, timeout=5)


# -- pure functions -------------------------------------------------------------------------


def test_label_selector_syntax() -> None:
    requirements = parse_label_selector("app=web,tier!=db,env in (prod, qa),!legacy,team")
    assert labels_match(requirements, {"app": "web", "env": "qa", "team": "x"})
    assert not labels_match(requirements, {"app": "web", "env": "dev", "team": "x"})
    assert not labels_match(requirements, {"app": "web", "env": "qa", "team": "x", "legacy": "1"})


def test_patch_flavours() -> None:
    doc = {"spec": {"containers": [{"name": "a", "image": "1"}, {"name": "b", "image": "1"}], "x": 1}}
    assert merge_patch(doc, {"spec": {"x": None}}) == {"spec": {"containers": doc["spec"]["containers"]}}
    smp = strategic_merge_patch(
        doc, {"spec": {"containers": [{"name": "b", "image": "2"}, {"name": "a", "$patch": "delete"}]}}
    )
    assert smp["spec"]["containers"] == [{"name": "b", "image": "2"}]
    patched = json_patch(
        doc, [{"op": "replace", "path": "/spec/x", "value": 2}, {"op": "add", "path": "/spec/y", "value": 3}]
    )
    assert patched["spec"]["x"] == 2 and patched["spec"]["y"] == 3


def test_server_side_apply_ownership() -> None:
    def ssa(live: dict[str, Any] | None, data: dict[str, str], manager: str, force: bool = False) -> Any:
        target = ApplyTarget("configmaps", "", "cm")
        config = {"data": data}
        return server_side_apply(
            live, config, manager=manager, force=force, api_version="v1", now="t", target=target
        )

    second = ssa(ssa(None, {"a": "1", "b": "1"}, "one"), {"c": "1"}, "two")
    with pytest.raises(KubeError, match=r'conflict with "one" using v1: \.data\.a'):
        ssa(second, {"a": "2"}, "two")
    forced = ssa(second, {"a": "2"}, "two", force=True)
    assert forced["data"] == {"a": "2", "b": "1"}  # "c" was two's and is no longer applied: removed
    assert ssa(forced, {}, "one")["data"] == {"a": "2"}  # one stops applying "b"; "a" is two's now
    assert ssa(forced, {"a": "2"}, "one")["data"]["a"] == "2"  # same value: shared, no conflict


def test_tables_helpers() -> None:
    assert [human_duration(s) for s in (5, 150, 4000, 90000)] == ["5s", "2m30s", "66m", "25h"]
    assert json_path({"status": {"conditions": [{"reason": "X"}]}}, ".status.conditions[0].reason") == "X"


# -- the API --------------------------------------------------------------------------------


def test_requires_the_bearer_token_and_never_records_or_logs_it(
    sim: KubeSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with raw(sim, token="") as anonymous, raw(sim, token="wrong") as wrong, raw(sim) as good:
        for http in (anonymous, wrong):
            answer = http.get("/api/v1/namespaces")
            assert answer.status_code == 401
            assert answer.json()["reason"] == "Unauthorized" and answer.json()["kind"] == "Status"
        assert good.get("/api/v1/namespaces").status_code == 200
    assert [r.status for r in sim.requests] == [401, 401, 200]
    assert sim.token not in repr(sim.requests) + caplog.text


def test_discovery_lists_crd_groups_once_established(sim: KubeSimulator, client: Client) -> None:
    with raw(sim) as http:
        assert http.get("/version").json()["major"] == "1"
        assert http.get("/api").json()["versions"] == ["v1"]
        kinds = {r["name"]: r for r in http.get("/api/v1").json()["resources"]}
        assert kinds["pods/log"]["kind"] == "Pod" and kinds["namespaces"]["namespaced"] is False
        groups = {g["name"] for g in http.get("/apis").json()["groups"]}
        assert {"apps", "rbac.authorization.k8s.io", "apiextensions.k8s.io", "scheduling.k8s.io"} <= groups
        assert "operator.kyma-project.io" not in groups
        assert http.get("/apis/operator.kyma-project.io/v1alpha1").status_code == 404
        install(client)
        listed = http.get("/apis/operator.kyma-project.io/v1alpha1").json()["resources"]
        assert [(r["name"], r["namespaced"]) for r in listed] == [
            ("btpoperators", True),
            ("btpoperators/status", True),
        ]
    crd = client.get(CustomResourceDefinition, OPERATOR_CRD)
    assert cond(crd, "Established")["status"] == "True" and cond(crd, "NamesAccepted")["status"] == "True"


def test_create_get_conflicts_and_kubernetes_status_errors(client: Client) -> None:
    created = client.create(cm("cm", data={"a": "1"}))
    assert (
        created.metadata.uid
        and created.metadata.creationTimestamp
        and int(created.metadata.resourceVersion) > 0
    )
    with pytest.raises(ApiError) as exists:
        client.create(cm("cm"))
    assert (exists.value.status.code, exists.value.status.reason) == (409, "AlreadyExists")
    with pytest.raises(ApiError) as missing:
        client.get(ConfigMap, "nope", namespace="default")
    assert (missing.value.status.code, missing.value.status.message) == (404, 'configmaps "nope" not found')
    with pytest.raises(ApiError) as invalid:
        client.create(cm("Not_Valid"))
    assert (invalid.value.status.code, invalid.value.status.reason) == (422, "Invalid")
    with pytest.raises(ApiError) as no_ns:
        client.create(cm("cm", "absent"))
    assert no_ns.value.status.message == 'namespaces "absent" not found'
    stale = client.get(ConfigMap, "cm", namespace="default")
    client.patch(ConfigMap, "cm", {"data": {"a": "2"}}, namespace="default")
    with pytest.raises(ApiError) as conflict:
        client.replace(stale)
    assert (conflict.value.status.code, conflict.value.status.reason) == (409, "Conflict")
    current = client.get(ConfigMap, "cm", namespace="default")
    assert int(current.metadata.resourceVersion) > int(stale.metadata.resourceVersion)


def test_list_selectors_and_pagination(sim: KubeSimulator, client: Client) -> None:
    for name, labels in (("a", {"app": "x", "tier": "web"}), ("b", {"app": "x"}), ("c", {"app": "y"})):
        client.create(cm(name, meta={"labels": labels}))

    def names(**kwargs: Any) -> list[str]:
        return [cm.metadata.name for cm in client.list(ConfigMap, namespace="default", **kwargs)]

    assert names(labels={"app": "x"}) == ["a", "b"]
    assert names(labels={"app": op.not_equal("x")}) == ["c"]
    assert names(labels={"app": op.in_(["x", "y"]), "tier": op.exists()}) == ["a"]
    assert names(labels={"tier": op.not_exists()}) == ["b", "c"]
    assert names(fields={"metadata.name": "b"}) == ["b"]
    sim.clear_requests()
    assert names(chunk_size=1) == ["a", "b", "c"]
    pages = [r.params for r in sim.requests]
    assert [p["limit"] for p in pages] == ["1", "1", "1"] and "continue" in pages[-1]
    with pytest.raises(ApiError) as bad:
        names(fields={"spec.nothing": "x"})
    assert bad.value.status.code == 400


def test_patch_types_and_server_side_apply_conflicts(client: Client) -> None:
    client.apply(cm("cm", data={"a": "1"}), field_manager="one")
    merge(client, ConfigMap, "cm", {"data": {"b": "2"}}, "default")
    client.patch(
        ConfigMap,
        "cm",
        [{"op": "add", "path": "/data/c", "value": "3"}],
        namespace="default",
        patch_type=PatchType.JSON,
    )
    client.patch(ConfigMap, "cm", {"data": {"d": "4"}}, namespace="default")  # strategic by default
    assert client.get(ConfigMap, "cm", namespace="default").data == {"a": "1", "b": "2", "c": "3", "d": "4"}
    with pytest.raises(ApiError) as conflict:
        client.apply(cm("cm", data={"a": "9"}), field_manager="two")
    assert (
        conflict.value.status.reason == "Conflict" and 'conflict with "one"' in conflict.value.status.message
    )
    forced = client.apply(cm("cm", data={"a": "9"}), field_manager="two", force=True)
    assert forced.data["a"] == "9"
    owners = {(entry.manager, entry.operation) for entry in forced.metadata.managedFields}
    assert owners == {("two", "Apply"), ("btp-release", "Update")}  # "one" lost its only field


def test_finalizers_hold_deletion_until_removed(client: Client) -> None:
    meta = ObjectMeta(name="held", namespace="default", finalizers=["example.com/hold"])
    client.create(ConfigMap(metadata=meta))
    client.delete(ConfigMap, "held", namespace="default")
    held = client.get(ConfigMap, "held", namespace="default")
    assert held.metadata.deletionTimestamp is not None
    merge(client, ConfigMap, "held", {"metadata": {"finalizers": None}}, "default")
    assert gone(client, ConfigMap, "held", "default")


def test_deleting_a_namespace_deletes_its_objects(sim: KubeSimulator, client: Client) -> None:
    client.create(Namespace(metadata=ObjectMeta(name="scratch")))
    client.create(cm("cm", "scratch"))
    client.delete(Namespace, "scratch")
    poll(lambda: gone(client, Namespace, "scratch", None), "namespace gone")
    assert not [entry for entry in sim.inventory() if entry[1] == "scratch"]
    with pytest.raises(ApiError) as protected:
        client.delete(Namespace, "default")
    assert protected.value.status.code == 403


def test_custom_resources_status_subresource_and_crd_deletion() -> None:
    with KubeSimulator(auto_reconcile=False) as sim, connect(sim) as client:  # no controller in the way
        apply(client, MANIFEST.read_text().split("---\napiVersion: v1\nkind: ServiceAccount")[0])
        with pytest.raises(ApiError) as not_yet:
            client.create(BtpOperator(metadata=ObjectMeta(name="x", namespace="default"), spec={}))
        assert not_yet.value.status.code == 404  # not served until Established
        sim.reconcile()
        cr = BtpOperator(
            metadata=ObjectMeta(name="x", namespace="default"), spec={}, status={"state": "Ready"}
        )
        assert client.create(cr).status is None  # ignored on create: status has its own subresource
        pruned = client.create(
            BtpOperator(metadata=ObjectMeta(name="y", namespace="default"), spec={"no": 1})
        )
        assert pruned.spec == {}  # not in the schema: dropped silently, as by the API server
        with raw(sim) as http:
            strict = http.post(
                "/apis/operator.kyma-project.io/v1alpha1/namespaces/default/btpoperators",
                params={"fieldValidation": "Strict"},
                json={"apiVersion": "operator.kyma-project.io/v1alpha1", "kind": "BtpOperator",
                      "metadata": {"name": "z"}, "spec": {"no": 1}},
            )  # fmt: skip
        assert strict.status_code == 400 and 'unknown field "spec.no"' in strict.json()["message"]
        status = {"status": {"state": "Warning"}}
        merge(client, BtpOperator.Status, "x", status, "default")
        assert client.get(BtpOperator, "x", namespace="default").status["state"] == "Warning"
        bogus = {"status": {"state": "Bogus"}}
        with pytest.raises(ApiError) as invalid:
            merge(client, BtpOperator.Status, "x", bogus, "default")
        assert (
            invalid.value.status.code == 422 and 'Unsupported value: "Bogus"' in invalid.value.status.message
        )
        client.patch(BtpOperator, "x", {"metadata": {"finalizers": ["x.io/y"]}}, namespace="default")
        client.delete(CustomResourceDefinition, OPERATOR_CRD)
        sim.reconcile()
        crd = client.get(CustomResourceDefinition, OPERATOR_CRD)
        assert (
            cond(crd, "Terminating")["reason"] == "InstanceDeletionInProgress"
        )  # the CR's finalizer holds it
        client.patch(BtpOperator, "x", {"metadata": {"finalizers": None}}, namespace="default")
        sim.reconcile()
        assert gone(client, CustomResourceDefinition, OPERATOR_CRD, None)
        with pytest.raises(ApiError) as no_api:
            client.get(BtpOperator, "x", namespace="default")
        assert no_api.value.status.code == 404


def test_validation_strategic_patch_and_cascading_delete(client: Client) -> None:
    install(client)
    broken = yaml.safe_load(DEPLOYMENT_YAML)
    broken["spec"]["selector"]["matchLabels"] = {"app": "other"}
    with pytest.raises(ApiError) as invalid:
        client.create(codecs.from_dict(broken))
    assert invalid.value.status.code == 422
    assert invalid.value.status.details.causes[0].field == "spec.template.metadata.labels"
    with pytest.raises(ApiError) as undecodable:
        client.create(Secret(metadata=ObjectMeta(name="s", namespace="default"), data={"k": "not base64!"}))
    assert undecodable.value.status.code == 400
    poll(lambda: deployment_available(client), "deployment Available")
    container = {"name": "manager", "image": "europe-docker.pkg.dev/kyma-project/prod/btp-manager:1.2.1"}
    patch = {"spec": {"template": {"spec": {"containers": [container]}}}}
    patched = client.patch(Deployment, MANAGER_DEPLOYMENT, patch, namespace=NS)  # strategic: merged by name
    [manager] = patched.spec.template.spec.containers
    assert manager.image.endswith(":1.2.1") and manager.args == ["--leader-elect"]
    assert patched.metadata.generation == 2 and manager.imagePullPolicy == "IfNotPresent"  # defaulted
    client.delete(Deployment, MANAGER_DEPLOYMENT, namespace=NS, cascade=CascadeType.ORPHAN)
    orphans = list(client.list(Pod, namespace=NS))
    assert orphans and all(pod.metadata.ownerReferences is None for pod in orphans)
    install(client)
    assert len(list(client.list(Pod, namespace=NS))) > len(orphans)
    client.delete(Deployment, MANAGER_DEPLOYMENT, namespace=NS)  # background: its pods go with it
    assert {p.metadata.name for p in client.list(Pod, namespace=NS)} == {p.metadata.name for p in orphans}


def test_pods_are_read_only_and_faults_are_injected(sim: KubeSimulator, client: Client) -> None:
    with pytest.raises(ApiError) as read_only:
        client.create(Pod(metadata=ObjectMeta(name="p", namespace="default"), spec=PodSpec(containers=[])))
    assert read_only.value.status.code == 405
    sim.add_fault(Fault("GET", r"/namespaces$", status=429, retry_after=3))
    with raw(sim) as http:
        limited = http.get("/api/v1/namespaces")
        assert limited.status_code == 429 and limited.headers["retry-after"] == "3"
        assert limited.json()["reason"] == "TooManyRequests"
        sim.add_fault(Fault("*", "/configmaps", kind="reset"))
        with pytest.raises(httpx.TransportError):
            http.get("/api/v1/namespaces/default/configmaps")
    assert sim.pending_faults() == []


# -- the manager Deployment (the Deployment model; btp-manager itself: test_kube_sim_btp.py) --------


def test_manager_deployment_starts_a_pod_with_logs_and_events(client: Client) -> None:
    install(client)
    deployment = poll(lambda: deployment_available(client), "deployment Available")
    assert (
        deployment.status.readyReplicas,
        deployment.status.availableReplicas,
        deployment.status.replicas,
    ) == (1, 1, 1)
    assert cond(deployment, "Progressing")["reason"] == "NewReplicaSetAvailable"
    [pod] = client.list(Pod, namespace=NS, labels={"control-plane": "controller-manager"})
    assert pod.status.phase == "Running" and pod.status.containerStatuses[0].ready
    log = "".join(client.log(pod.metadata.name, namespace=NS))
    assert "starting manager" in log and "btp-manager:1.2.0" in log
    reasons = {
        e.reason for e in client.list(Event, namespace=NS, fields={"involvedObject.name": pod.metadata.name})
    }
    assert {"Scheduled", "Pulled", "Created", "Started"} <= reasons


def test_plain_http_option_and_logs_of_a_pod_still_starting() -> None:
    with KubeSimulator(tls=False, delays=ModelDelays(pod_start=4)) as sim, connect(sim) as client:
        assert sim.url.startswith("http://")
        install(client)
        [pod] = client.list(Pod, namespace=NS)
        assert pod.status.phase == "Pending"
        with pytest.raises(ApiError) as waiting:
            list(client.log(pod.metadata.name, namespace=NS))
        assert waiting.value.status.code == 400 and "is waiting to start: ContainerCreating" in str(
            waiting.value
        )
        poll(lambda: deployment_available(client), "deployment Available")


def test_the_cluster_has_only_system_priority_classes_and_a_missing_one_fails_pod_creation(
    client: Client,
) -> None:
    names = {pc.metadata.name for pc in client.list(PriorityClass)}
    assert names == {"system-cluster-critical", "system-node-critical"}  # as on k3s: no kyma-system one
    client.apply(Namespace(metadata=ObjectMeta(name=NS)), field_manager="btp-release")
    documents = MANIFEST.read_text().split("\n---\n")
    apply(client, "\n---\n".join(d for d in documents if "kind: PriorityClass" not in d))
    deployment = client.get(Deployment, MANAGER_DEPLOYMENT, namespace=NS)
    assert cond(deployment, "ReplicaFailure")["reason"] == "FailedCreate"
    failure = cond(deployment, "ReplicaFailure")["message"]
    assert "no PriorityClass with name btp-manager-kyma-priority" in failure
    assert not list(client.list(Pod, namespace=NS))


def test_failure_deployment_never_available(sim: KubeSimulator, client: Client) -> None:
    sim.fail("deployment_never_available")
    install(client)
    for _ in range(8):
        deployment = client.get(Deployment, MANAGER_DEPLOYMENT, namespace=NS)
    assert cond(deployment, "Available")["status"] == "False"
    assert cond(deployment, "Progressing")["status"] == "True"
    [pod] = client.list(Pod, namespace=NS)
    assert pod.status.containerStatuses[0].state.waiting.reason == "CrashLoopBackOff"
    assert pod.status.containerStatuses[0].restartCount > 0
    assert "unable to start manager" in "".join(client.log(pod.metadata.name, namespace=NS))
    backoff = [e for e in client.list(Event, namespace=NS) if e.reason == "BackOff"]
    assert backoff and backoff[0].type == "Warning" and backoff[0].count > 1


# -- kubectl --------------------------------------------------------------------------------

KUBECTL = shutil.which("kubectl")
needs_kubectl = pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed")


@pytest.fixture
def kubectl(sim: KubeSimulator, tmp_path: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    config = sim.kubeconfig(tmp_path / "kubeconfig")
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "KUBECONFIG": str(config)}

    def run(*args: str, stdin: str | None = None, ok: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [str(KUBECTL), *args], input=stdin, capture_output=True, text=True, env=env, timeout=60
        )
        if ok:
            assert done.returncode == 0, done.stderr
        return done

    return run


@needs_kubectl
def test_kubectl_drives_the_whole_scenario(
    sim: KubeSimulator, kubectl: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    assert "kube-system" in kubectl("get", "ns").stdout
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}}
    kubectl("apply", "--server-side", "-f", "-", stdin=yaml.safe_dump(namespace))
    assert "serverside-applied" in kubectl("apply", "--server-side", "-f", str(MANIFEST)).stdout

    def available() -> bool:
        found = json.loads(kubectl("get", "deploy", "-n", NS, MANAGER_DEPLOYMENT, "-o", "json").stdout)
        conditions = found["status"].get("conditions", [])
        return any(c["type"] == "Available" and c["status"] == "True" for c in conditions)

    poll(available, "deployment Available (kubectl)")
    assert "starting manager" in kubectl("logs", "-n", NS, f"deploy/{MANAGER_DEPLOYMENT}").stdout
    labels = {"app.kubernetes.io/managed-by": "kcp-kyma-environment-broker"}  # else btp-manager cannot see it
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": CREDENTIALS_SECRET, "namespace": NS, "labels": labels},
    }
    kubectl("apply", "--server-side", "-f", "-", stdin=yaml.safe_dump({**secret, "stringData": REAL}))
    kubectl("apply", "--server-side", "-n", NS, "-f", str(DEFAULT_CR))
    poll(lambda: "Ready" in kubectl("get", "btpoperators", "-A").stdout, "btpoperators Ready (kubectl)")
    table = kubectl("get", "btpoperators", "-A").stdout.split()
    assert table == ["NAMESPACE", "NAME", "STATE", NS, "btpoperator", "Ready"]  # the CRD's printer columns
    labelled = kubectl("label", "btpoperators", "-n", NS, "btpoperator", f"{FORCE_DELETE_LABEL}=true")
    assert "labeled" in labelled.stdout
    kubectl("delete", "btpoperators", "-n", NS, "btpoperator", "--wait=false")
    poll(
        lambda: "No resources found" in kubectl("get", "btpoperators", "-A").stderr,
        "btpoperator gone (kubectl)",
    )
    assert "serviceinstances" not in kubectl("get", "crd").stdout
    kubectl("delete", "-f", str(MANIFEST))
    assert not [entry for entry in sim.inventory() if entry[0] in ("apps/deployments", "/pods")]  # collected
    assert sim.token not in repr(sim.requests)


@needs_kubectl
def test_kubectl_limits_are_explicit(kubectl: Callable[..., subprocess.CompletedProcess[str]]) -> None:
    created = kubectl("create", "namespace", "typed", ok=False)  # typed generators send protobuf
    assert created.returncode != 0 and "UnsupportedMediaType" in created.stderr
    cm = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "held", "namespace": "default", "finalizers": ["x.io/y"]},
    }
    kubectl("create", "-f", "-", stdin=yaml.safe_dump(cm))
    waited = kubectl("delete", "configmap", "held", "--timeout=1s", ok=False)  # waiting needs a watch
    assert waited.returncode != 0 and "watch is not supported" in waited.stderr
