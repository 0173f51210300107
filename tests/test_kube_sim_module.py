"""The simulator's generic Kyma module model (``modules=[SimulatedModule(...)]``), with our KubeClient."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from btp_release.errors import Timeout
from btp_release.kube import KubeClient, KubeObject
from btp_release.testing import FakeClock
from btp_release.testing.kube_sim import KubeSimulator, SimulatedModule
from btp_release.wait import WaitPolicy

GROUP, VERSION, API = "operator.kyma-project.io", "v1alpha1", "operator.kyma-project.io/v1alpha1"
MANAGER_NS, MANAGER = "template-operator-system", "template-operator-controller-manager"
FINALIZER = "operator.kyma-project.io/template-operator"
SAMPLE = SimulatedModule(
    group=GROUP, version=VERSION, kind="Sample", plural="samples",
    manager_namespace=MANAGER_NS, manager_name=MANAGER, finalizer=FINALIZER, name="template-operator",
)  # fmt: skip
CLUSTER = SimulatedModule(
    group=GROUP, version=VERSION, kind="ClusterSample", plural="clustersamples",
    manager_namespace=MANAGER_NS, manager_name=MANAGER, finalizer=FINALIZER,
)  # fmt: skip
MODULE_LABEL = "kyma-project.io/module"


def crd(kind: str, plural: str, scope: str) -> dict[str, Any]:
    schema = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    version = {"name": VERSION, "served": True, "storage": True, "subresources": {"status": {}},
               "schema": {"openAPIV3Schema": schema}}  # fmt: skip
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{GROUP}"},
        "spec": {
            "group": GROUP,
            "names": {"kind": kind, "plural": plural},
            "scope": scope,
            "versions": [version],
        },
    }


def manager_deployment() -> dict[str, Any]:
    labels = {"app.kubernetes.io/name": "template-operator"}
    container = {
        "name": "manager",
        "image": "europe-docker.pkg.dev/kyma-project/prod/template-operator:1.0.4",
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": MANAGER, "namespace": MANAGER_NS},
        "spec": {"selector": {"matchLabels": labels},
                 "template": {"metadata": {"labels": labels}, "spec": {"containers": [container]}}},
    }  # fmt: skip


@pytest.fixture
def sim() -> Iterator[KubeSimulator]:
    with KubeSimulator(modules=[SAMPLE, CLUSTER]) as simulator:
        yield simulator


@pytest.fixture
def kube(sim: KubeSimulator, tmp_path: Path) -> KubeClient:
    clock = FakeClock()
    return KubeClient.from_kubeconfig(
        sim.kubeconfig(tmp_path / "kubeconfig"), clock=clock, sleeper=clock.sleep
    )


def passes(n: int) -> WaitPolicy:
    return WaitPolicy(timeout=n, interval=1.0, backoff=1.0)


def install(kube: KubeClient, *, manager: bool = True) -> None:
    kube.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": MANAGER_NS}})
    for body in (crd("Sample", "samples", "Namespaced"), crd("ClusterSample", "clustersamples", "Cluster")):
        kube.apply_manifest(yaml.safe_dump(body), policy=passes(5))
    if manager:
        kube.apply(manager_deployment())
        kube.wait_condition("apps/v1", "Deployment", MANAGER, MANAGER_NS, "Available", policy=passes(10))


def sample(kube: KubeClient, name: str = "sample-yaml", namespace: str | None = "default") -> None:
    kind = "Sample" if namespace else "ClusterSample"
    metadata = {"name": name, **({"namespace": namespace} if namespace else {})}
    kube.apply({"apiVersion": API, "kind": kind, "metadata": metadata, "spec": {}})


def module_objects(
    kube: KubeClient, module: str = "template-operator", namespace: str = "default"
) -> list[str]:
    return [o.name for o in kube.list_objects("v1", "ConfigMap", namespace, labels={MODULE_LABEL: module})]


def wait_state(kube: KubeClient, wanted: str, name: str = "sample-yaml", limit: int = 10) -> KubeObject:
    found = kube.wait_for(
        API, "Sample", name, "default", lambda o: o is not None and o.status.get("state") == wanted,
        what=f"Sample {name} {wanted}", policy=passes(limit),
    )  # fmt: skip
    assert found is not None
    return found


def test_simulated_module_validates_its_fields() -> None:
    assert SAMPLE.module_name == "template-operator" and CLUSTER.module_name == "clustersample"
    assert SAMPLE.object_name("x") == "template-operator-x"
    with pytest.raises(ValueError, match="plural"):
        SimulatedModule(group=GROUP, version=VERSION, kind="S", plural="Samples", manager_namespace="ns",
                        manager_name="m", finalizer="f")  # fmt: skip
    with pytest.raises(ValueError, match="finalizer"):
        SimulatedModule(group=GROUP, version=VERSION, kind="S", plural="samples", manager_namespace="ns",
                        manager_name="m", finalizer="")  # fmt: skip


def test_a_cr_gets_the_finalizer_is_processing_then_ready_and_its_deletion_cleans_up(
    kube: KubeClient, sim: KubeSimulator
) -> None:
    install(kube)
    sample(kube)
    processing = wait_state(kube, "Processing")
    assert processing.metadata["finalizers"] == [FINALIZER]
    assert processing.condition("Ready").reason == "Processing"  # type: ignore[union-attr]
    ready = wait_state(kube, "Ready")
    assert (ready.condition("Ready").status, ready.condition("Ready").reason) == ("True", "Ready")  # type: ignore[union-attr]
    [name] = module_objects(kube)
    found = kube.get("v1", "ConfigMap", name, "default")
    assert found is not None and found.labels["app.kubernetes.io/managed-by"] == MANAGER
    kube.delete(API, "Sample", "sample-yaml", "default")
    assert wait_state(kube, "Deleting").deleting
    kube.wait_gone(API, "Sample", "sample-yaml", "default", policy=passes(10))
    assert module_objects(kube) == []
    reasons = [e["reason"] for e in sim.events("default", involved="sample-yaml")]
    assert reasons == ["Processing", "Ready", "Deleting"]


def test_a_cluster_scoped_cr_keeps_its_object_in_the_managers_namespace(kube: KubeClient) -> None:
    install(kube)
    sample(kube, "cluster", namespace=None)
    kube.wait_for(
        API, "ClusterSample", "cluster", None,
        lambda o: o is not None and o.status.get("state") == "Ready", what="Ready", policy=passes(10),
    )  # fmt: skip
    assert module_objects(kube, "clustersample", MANAGER_NS) == ["clustersample-cluster"]
    kube.delete(API, "ClusterSample", "cluster")
    kube.wait_gone(API, "ClusterSample", "cluster", None, policy=passes(10))
    assert module_objects(kube, "clustersample", MANAGER_NS) == []


def test_nothing_happens_without_an_available_manager(kube: KubeClient) -> None:
    install(kube, manager=False)
    sample(kube)
    for _ in range(10):
        found = kube.get(API, "Sample", "sample-yaml", "default")
    assert found is not None and not found.status and not found.metadata.get("finalizers")
    assert module_objects(kube) == []


def test_failure_module_never_ready(kube: KubeClient, sim: KubeSimulator) -> None:
    sim.fail("module_never_ready")
    install(kube)
    sample(kube)
    wait_state(kube, "Processing")
    with pytest.raises(Timeout, match="Ready"):
        wait_state(kube, "Ready", limit=20)


def test_failure_finalizer_never_removed(kube: KubeClient, sim: KubeSimulator) -> None:
    sim.fail("finalizer_never_removed")
    install(kube)
    sample(kube)
    wait_state(kube, "Ready")
    kube.delete(API, "Sample", "sample-yaml", "default")
    with pytest.raises(Timeout, match="gone"):
        kube.wait_gone(API, "Sample", "sample-yaml", "default", policy=passes(20))
    found = kube.get(API, "Sample", "sample-yaml", "default")
    assert (
        found is not None
        and found.status["state"] == "Deleting"
        and found.metadata["finalizers"] == [FINALIZER]
    )


def test_failure_leaves_objects_behind(kube: KubeClient, sim: KubeSimulator) -> None:
    sim.fail("leaves_objects_behind")
    install(kube)
    sample(kube)
    wait_state(kube, "Ready")
    kube.delete(API, "Sample", "sample-yaml", "default")
    kube.wait_gone(API, "Sample", "sample-yaml", "default", policy=passes(10))
    assert module_objects(kube) == ["template-operator-sample-yaml"]
