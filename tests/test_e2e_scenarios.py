"""The btp-operator E2E scenarios pass against the Kubernetes API simulator and its btp-manager model.

Real clusters cannot run here; the simulator (btp_release/testing/kube_sim, modelled on btp-manager at
c70cd184) plays btp-manager for real and dummy credentials. What each failure mode of the model does to
the scenarios is in tests/test_e2e_failures.py.
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

from btp_release.cluster import Completed
from btp_release.e2e import DUMMY_CREDENTIALS, ServiceCredentials
from btp_release.e2e.btp_checks import install
from btp_release.e2e.report import Steps
from btp_release.e2e.run import (
    ClusterRunner,
    fetch_module,
    kubeconfig_runner,
    registry_client,
    run_scenarios,
)
from btp_release.e2e.scenarios import ScenarioRun
from btp_release.errors import InvalidInput, NotFound
from btp_release.kube import KubeClient
from btp_release.localservices.registry import registry_binary
from btp_release.module import ModuleSpec, build_module, push_module
from btp_release.oci import RegistryClient
from btp_release.pipeline.runner import E2ERequest
from btp_release.testing import FakeClock, LocalRegistry
from btp_release.testing.kube_sim import DUMMY_CREDENTIALS as SIM_DUMMY
from btp_release.testing.kube_sim import KubeSimulator

from . import e2e_support
from .e2e_support import (
    ENCODED,
    EXAMPLE,
    MANIFEST,
    PLAIN,
    REAL,
    SETTINGS,
    junit_cases,
    module,
    previous,
)

sim, kube = e2e_support.sim, e2e_support.kube  # the simulator fixtures


def test_the_dummy_credentials_are_the_ones_the_model_knows() -> None:
    assert dict(SIM_DUMMY) == DUMMY_CREDENTIALS


READY = "state Ready, Ready=True (ReconcileSucceeded)"


def test_the_default_scenarios_with_dummy_credentials_pass_and_clean_up(
    kube: KubeClient, sim: KubeSimulator, tmp_path: Path
) -> None:
    """The generic scenario, main and upgrade-while-deleting run; upgrade needs real credentials."""
    report = run_scenarios(
        kube, module(), ServiceCredentials.dummy(), tmp_path / "e2e", previous=previous(), settings=SETTINGS
    )
    assert report.passed, report.summary
    assert report.diagnostics is None
    cases = junit_cases(report.junit)
    assert list(dict.fromkeys(case.split(":")[0] for case in cases)) == [
        "module",
        "main",
        "upgrade-while-deleting",
        "upgrade",
    ]
    # the default CR as shipped: kyma-system/btpoperator, the only one btp-manager reconciles
    assert cases[f"main: BtpOperator kyma-system/btpoperator {READY}"] == "passed"
    assert cases["main: ServiceInstance si-main-4711 not provisioned (dummy credentials)"] == "passed"
    for check in (
        "BtpOperator default/btpoperator rejected: state Warning, Ready=False (WrongNamespaceOrName), "
        "no finalizer",
        "BtpOperator kyma-system/btpoperator-test rejected: state Warning, Ready=False "
        "(WrongNamespaceOrName), no finalizer",
        "btp-manager restores the operand image: Deployment Available again",
        "delete the operand Deployment sap-btp-operator-controller-manager: re-created (a new UID)",
        "re-create Secret sap-btp-manager: BtpOperator kyma-system/btpoperator " + READY,
        "delete BtpOperator kyma-system/btpoperator: kept, state Warning, Ready=False "
        "(ServiceInstancesAndBindingsNotCleaned)",
        "delete the operand Deployment while ServiceInstancesAndBindingsNotCleaned: re-created, "
        "CR still held",
        "the 4 network policies of btp-operator exist",
        "deny-all NetworkPolicy deny-all-test-4711, btp-operator's pods deleted: both "
        "Deployments rolled out again, BtpOperator kyma-system/btpoperator " + READY,
        "annotate BtpOperator kyma-system/btpoperator "
        "operator.kyma-project.io/btp-operator-disable-network-policies=true: the policies are deleted",
        "remove the annotation operator.kyma-project.io/btp-operator-disable-network-policies: the "
        "policies are back",
        "the 4 network policies of btp-operator exist after the operand's recovery",
        "remove the deny-all NetworkPolicy deny-all-test-4711",
        "ENABLE_LIMITED_CACHE in ConfigMap sap-btp-operator-config is true (the default)",
        "EnableLimitedCache=false in ConfigMap sap-btp-manager: ENABLE_LIMITED_CACHE=false in "
        "sap-btp-operator-config",
        "MutatingWebhookConfiguration sap-btp-operator-mutating-webhook-configuration has a caBundle",
        "delete Secret ca-server-cert: re-created (a new UID)",
        "the caBundle of sap-btp-operator-mutating-webhook-configuration changes to a new CA certificate",
        "the caBundle of sap-btp-operator-validating-webhook-configuration is the same",
        f"BtpOperator kyma-system/btpoperator {READY} after the certificate rotation",
    ):
        assert cases[f"main: {check}"] == "passed", check
    # btp-manager's order: EnableLimitedCache, the certificate rotation, then the Secret deletion test
    names = list(cases)
    first = [
        next(i for i, name in enumerate(names) if name.startswith(f"main: {prefix}"))
        for prefix in (
            "EnableLimitedCache=true",
            "delete Secret ca-server-cert",
            "delete Secret sap-btp-manager",
        )
    ]
    assert first == sorted(first)
    assert (
        cases[
            "upgrade-while-deleting: the new manager re-applies the operand: chart-version other than 1.1.0, "
            "a new resourceVersion"
        ]
        == "passed"
    )
    # dummy credentials bring the ConfigMap (HardDeleteTimeout): the check patches it and leaves it
    assert "main: remove ConfigMap sap-btp-manager (made for this check)" not in cases
    assert cases["upgrade: upgrade from the latest release"] == "skipped"
    assert (
        "skipped: " in report.summary and "upgrade (needs real Service Manager credentials)" in report.summary
    )
    # everything the scenarios made is gone again
    assert sim.get("deployments.apps", "btp-manager-controller-manager", "kyma-system") is None
    assert sim.get("deployments.apps", "sap-btp-operator-controller-manager", "kyma-system") is None
    assert sim.get("secrets", "sap-btp-manager", "kyma-system") is None
    assert sim.get("configmaps", "sap-btp-manager", "kyma-system") is None
    assert sim.list_objects("networkpolicies.networking.k8s.io", "kyma-system") == []
    # btp-manager's DeleteAllOf (managed-by=btp-manager) takes the webhook configurations and their Secrets
    assert sim.list_objects("mutatingwebhookconfigurations.admissionregistration.k8s.io") == []
    assert sim.list_objects("validatingwebhookconfigurations.admissionregistration.k8s.io") == []
    for name in ("ca-server-cert", "webhook-server-cert"):
        assert sim.get("secrets", name, "kyma-system") is None
    assert (
        sim.get("customresourcedefinitions.apiextensions.k8s.io", "serviceinstances.services.cloud.sap.com")
        is None
    )


@pytest.mark.parametrize("scenario", ["recovery", "wrong-cr"])
def test_the_parts_of_main_pass_alone(
    kube: KubeClient, sim: KubeSimulator, tmp_path: Path, scenario: str
) -> None:
    report = run_scenarios(
        kube, module(), ServiceCredentials.dummy(), tmp_path / "e2e", settings=SETTINGS, scenarios=[scenario]
    )
    assert report.passed, report.summary
    cases = junit_cases(report.junit)
    assert {case.split(":")[0] for case in cases} == {scenario}
    assert sim.get("deployments.apps", "btp-manager-controller-manager", "kyma-system") is None
    if scenario == "wrong-cr":  # made before the right one, as btp-manager's multiple_btpoperators.sh does
        names = list(cases)
        rejected = names.index(
            "wrong-cr: BtpOperator kyma-system/btpoperator-test rejected: state Warning, Ready=False "
            "(WrongNamespaceOrName), no finalizer"
        )
        assert rejected < names.index(
            f"wrong-cr: BtpOperator kyma-system/btpoperator {READY} beside the wrong ones"
        )


def test_every_scenario_with_real_credentials(kube: KubeClient, sim: KubeSimulator, tmp_path: Path) -> None:
    report = run_scenarios(
        kube,
        module(),
        REAL,
        tmp_path / "e2e",
        previous=previous(),
        settings=SETTINGS,
        scenarios=["main", "upgrade", "upgrade-while-deleting", "recovery", "wrong-cr"],
    )
    assert report.passed, report.summary
    cases = junit_cases(report.junit)
    assert cases["main: ServiceInstance si-main-4711 Ready"] == "passed"
    assert cases["upgrade: ServiceInstance si-old-4711 Ready"] == "passed"
    assert cases["upgrade: ServiceBinding sb-new-4711 Ready"] == "passed"
    assert cases[f"upgrade: BtpOperator kyma-system/btpoperator {READY} (the new version)"] == "passed"
    # btp-manager's upgrade-while-deleting job always runs with dummy credentials
    assert (
        cases["upgrade-while-deleting: create Secret sap-btp-manager (dummy credentials, given plain)"]
        == "passed"
    )
    assert cases["main: create Secret sap-btp-manager (real credentials, given base64)"] == "passed"
    # no ConfigMap sap-btp-manager with real credentials: the EnableLimitedCache check makes one, then
    # removes it again
    for value in ("false", "true"):
        step = f"EnableLimitedCache={value} in ConfigMap sap-btp-manager: ENABLE_LIMITED_CACHE={value} in "
        assert cases[f"main: {step}sap-btp-operator-config"] == "passed"
    assert cases["main: remove ConfigMap sap-btp-manager (made for this check)"] == "passed"
    assert sim.get("configmaps", "sap-btp-manager", "kyma-system") is None
    assert all(outcome in ("passed", "skipped") for outcome in cases.values())
    # the real secret went to the cluster, but never into the report
    junit = report.junit.read_text()
    assert "real-secret-value" not in junit and ENCODED["SM_CLIENT_SECRET"] not in junit


@pytest.mark.parametrize("encoding", ["base64", "plain"])
def test_the_secret_holds_the_credentials_once_encoded(
    kube: KubeClient, sim: KubeSimulator, tmp_path: Path, encoding: str
) -> None:
    """btp-manager's CI hands over base64 values and puts them into data as they are; plain values are
    encoded here. Either way the cluster's Secret decodes to the plain values, labelled for btp-manager."""
    given = ENCODED if encoding == "base64" else PLAIN
    credentials = ServiceCredentials.from_environ(
        {**given, "SM_CREDENTIALS_ENCODING": encoding}, cluster_id="c-9"
    )
    run = ScenarioRun(kube, Steps(kube.clock), SETTINGS, "main")
    install(run, MANIFEST, credentials)
    secret = sim.get("secrets", "sap-btp-manager", "kyma-system")
    assert secret is not None
    decoded = {key: base64.b64decode(value).decode() for key, value in secret["data"].items()}
    assert decoded == {
        "clientid": PLAIN["SM_CLIENT_ID"],
        "clientsecret": PLAIN["SM_CLIENT_SECRET"],
        "sm_url": PLAIN["SM_URL"],
        "tokenurl": PLAIN["SM_TOKEN_URL"],
        "cluster_id": "c-9",
    }
    assert secret["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "kcp-kyma-environment-broker"}


def test_no_priority_class_of_others_is_created_or_deleted(
    kube: KubeClient, sim: KubeSimulator, tmp_path: Path
) -> None:
    """btp-manager ships its own PriorityClass (btp-manager-kyma-priority, since 1.1.17); the scenarios
    touch no other one, so an existing cluster's kyma-system PriorityClass is never deleted."""
    sim_classes = {c["metadata"]["name"] for c in sim.list_objects("priorityclasses.scheduling.k8s.io")}
    before = len(sim.requests)
    report = run_scenarios(
        kube,
        module(),
        ServiceCredentials.dummy(),
        tmp_path / "e2e",
        previous=previous(),
        settings=SETTINGS,
        scenarios=["module", "main", "upgrade-while-deleting", "recovery", "wrong-cr"],
    )
    assert report.passed, report.summary
    touched = {
        r.path.rsplit("/", 1)[1]
        for r in sim.requests[before:]
        if "/priorityclasses/" in r.path and r.method in ("POST", "PUT", "PATCH", "DELETE")
    }
    assert touched == {"btp-manager-kyma-priority"}  # the manifest's own, applied and deleted with it
    after = {c["metadata"]["name"] for c in sim.list_objects("priorityclasses.scheduling.k8s.io")}
    assert after == sim_classes and "kyma-system" not in after


@pytest.mark.skipif(registry_binary() is None, reason="docker-registry is not installed")
def test_the_pipeline_runner_installs_the_module_by_digest_from_the_registry(
    sim: KubeSimulator, tmp_path: Path
) -> None:
    clock = FakeClock()
    kubeconfig = sim.kubeconfig(tmp_path / "kubeconfig")

    @contextlib.contextmanager
    def connect() -> Iterator[KubeClient]:
        yield KubeClient.from_kubeconfig(kubeconfig, clock=clock, sleeper=clock.sleep)

    with LocalRegistry() as registry, RegistryClient(registry.host) as client:
        spec = ModuleSpec(
            component_name="kyma-project.io/module/btp-operator",
            version="1.2.0",
            registry_base_url=f"{registry.host}/unsigned",
            source_repo_url="github.com/kyma-project/btp-manager",
            source_commit="0" * 40,
            manifest_path=EXAMPLE / "manifests/btp-manager.yaml",
            default_cr_path=EXAMPLE / "examples/btp-operator.yaml",
        )
        pushed = push_module(client, spec.module_repository, spec.component_version, build_module(spec))
        # no settings: the runner's own, whose instance names carry the version, digest and runner name
        runner = ClusterRunner(connect, registry_client, environ={}, name="k3s-v1.31.4+k3s1")
        request = E2ERequest(
            version="1.2.0",
            module_reference=f"{registry.host}/{spec.module_repository}@{pushed.digest}",
            image_reference=None,
            credentials="dummy",
            upgrade_from=None,
            workdir=tmp_path / "e2e",
        )
        result = runner.run(request)
        assert result.passed, result.summary
        assert result.report == tmp_path / "e2e" / "junit.xml"
        instance = f"si-main-1-2-0-{pushed.digest[7:19]}-k3s-v1-31-4-k3s1"
        assert f"main: ServiceInstance {instance} not provisioned (dummy credentials)" in junit_cases(
            result.report
        )
        with pytest.raises(InvalidInput, match="by digest"):
            runner.run(
                attrs.evolve(request, module_reference=f"{registry.host}/{spec.module_repository}:v1.2.0")
            )
        with pytest.raises(InvalidInput, match="SM_CLIENT_ID"):  # before touching the cluster
            runner.run(attrs.evolve(request, credentials="real"))


class HelmTemplate:
    """Stands in for ``helm template``: records the argv and prints the example manifest."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def run(self, argv: Any, *, env: Any = None, input: Any = None, timeout: float = 0) -> Completed:
        self.calls.append(list(argv))
        assert Path(argv[3]).read_bytes().startswith(b"\x1f\x8b")  # the chart, as a .tgz file
        return Completed(0, MANIFEST.decode())


@pytest.mark.skipif(registry_binary() is None, reason="docker-registry is not installed")
def test_a_module_with_a_helm_chart_is_rendered_with_helm_template_and_installed(
    kube: KubeClient, tmp_path: Path
) -> None:
    chart = tmp_path / "btp-manager-1.2.0.tgz"
    chart.write_bytes(gzip.compress(b"a chart archive"))
    helm = HelmTemplate()
    with LocalRegistry() as registry, RegistryClient(registry.host) as client:
        spec = ModuleSpec(
            component_name="kyma-project.io/module/btp-operator",
            version="1.2.0",
            registry_base_url=f"{registry.host}/unsigned",
            source_repo_url="github.com/kyma-project/btp-manager",
            source_commit="0" * 40,
            chart_path=chart,
            default_cr_path=EXAMPLE / "examples/btp-operator.yaml",
        )
        pushed = push_module(client, spec.module_repository, spec.component_version, build_module(spec))
        reference = f"{registry.host}/{spec.module_repository}@{pushed.digest}"
        module = fetch_module(client, reference, runner=helm)
        with (
            pytest.raises(NotFound, match="helm")
            if shutil.which("helm") is None
            else contextlib.nullcontext()
        ):
            fetch_module(client, reference)  # the real runner: helm is not installed here
    assert helm.calls == [
        ["helm", "template", "btp-manager", helm.calls[0][3], "--namespace", "kyma-system", "--include-crds"]
    ]
    assert module.manifest == MANIFEST
    report = run_scenarios(
        kube, module, ServiceCredentials.dummy(), tmp_path / "e2e", settings=SETTINGS, scenarios=("main",)
    )
    assert report.passed, report.summary


def test_the_kubeconfig_runner_takes_its_cluster_name_and_scenarios_from_the_environment(
    sim: KubeSimulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(sim.kubeconfig(tmp_path / "kubeconfig")))
    monkeypatch.setenv("E2E_RUNNER_NAME", "k3s-v1.31")
    monkeypatch.setenv("E2E_SCENARIOS", "module, main,upgrade-while-deleting,recovery,wrong-cr,upgrade")
    runner = kubeconfig_runner()
    assert runner.name == "k3s-v1.31"
    assert runner._scenarios == (
        "module",
        "main",
        "upgrade-while-deleting",
        "recovery",
        "wrong-cr",
        "upgrade",
    )
    monkeypatch.setenv("E2E_SCENARIOS", "main,smoke")
    with pytest.raises(InvalidInput, match="unknown scenario"):
        kubeconfig_runner()
