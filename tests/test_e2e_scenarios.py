"""The E2E scenarios against the Kubernetes API simulator and its scripted btp-manager.

Real clusters cannot run here; the simulator (btp_release/testing/kube_sim, cross-checked with
kubectl) models the API subset and btp-manager's behaviour for real and dummy credentials, and its
failure modes. Each failure must give the right failed step, a JUnit report and a diagnostics bundle.
"""

from __future__ import annotations

import contextlib
import gzip
import shutil
import tarfile
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

from btp_release.cluster import Completed
from btp_release.e2e import DUMMY_CREDENTIALS, E2ESettings, ServiceCredentials
from btp_release.e2e.run import (
    ClusterRunner,
    ModuleManifests,
    fetch_module,
    kubeconfig_runner,
    registry_client,
    run_scenarios,
)
from btp_release.errors import InvalidInput, NotFound
from btp_release.kube import KubeClient
from btp_release.localservices.registry import registry_binary
from btp_release.module import ModuleSpec, build_module, push_module
from btp_release.oci import RegistryClient
from btp_release.pipeline.runner import E2ERequest
from btp_release.testing import FakeClock, LocalRegistry
from btp_release.testing.kube_sim import DUMMY_CREDENTIALS as SIM_DUMMY
from btp_release.testing.kube_sim import KubeSimulator

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "btp-operator"
MANIFEST = (EXAMPLE / "manifests" / "btp-manager.yaml").read_bytes()
DEFAULT_CR = (EXAMPLE / "examples" / "btp-operator.yaml").read_bytes()
REAL = ServiceCredentials.from_environ(
    {
        "SM_CLIENT_ID": "id",
        "SM_CLIENT_SECRET": "real-secret",
        "SM_URL": "https://sm",
        "SM_TOKEN_URL": "https://t",
    }
)
SETTINGS = E2ESettings(
    run_id="4711",
    poll_interval=1.0,
    deployment_timeout=60,
    ready_timeout=60,
    instance_timeout=60,
    deletion_timeout=60,
)


@pytest.fixture
def sim() -> Iterator[KubeSimulator]:
    with KubeSimulator() as simulator:
        yield simulator


@pytest.fixture
def kube(sim: KubeSimulator, tmp_path: Path) -> KubeClient:
    clock = FakeClock()
    return KubeClient.from_kubeconfig(
        sim.kubeconfig(tmp_path / "kubeconfig"), clock=clock, sleeper=clock.sleep
    )


def module(manifest: bytes = MANIFEST, reference: str = "registry/module@sha256:new") -> ModuleManifests:
    return ModuleManifests(reference, manifest, DEFAULT_CR)


def junit_cases(path: Path) -> dict[str, str]:
    root = ET.parse(path).getroot()  # noqa: S314 - our own file
    cases = {}
    for case in root.iter("testcase"):
        outcome = (
            "failed"
            if case.find("failure") is not None
            else "skipped"
            if case.find("skipped") is not None
            else "passed"
        )
        cases[f"{case.get('classname')}: {case.get('name')}"] = outcome
    return cases


def test_the_dummy_credentials_are_the_ones_the_model_knows() -> None:
    assert dict(SIM_DUMMY) == DUMMY_CREDENTIALS


def test_main_scenario_with_dummy_credentials_passes_and_cleans_up(
    kube: KubeClient, sim: KubeSimulator, tmp_path: Path
) -> None:
    report = run_scenarios(kube, module(), ServiceCredentials.dummy(), tmp_path / "e2e", settings=SETTINGS)
    assert report.passed, report.summary
    assert report.diagnostics is None
    cases = junit_cases(report.junit)
    assert cases["main: BtpOperator e2e-test-btpoperator Ready (ReconcileSucceeded)"] == "passed"
    assert cases["main: ServiceInstance si-main-4711 not provisioned (dummy credentials)"] == "passed"
    assert cases["upgrade: upgrade from the latest release"] == "skipped"
    assert "skipped: upgrade" in report.summary
    # everything the scenario made is gone again
    assert sim.get("deployments.apps", "btp-manager-controller-manager", "kyma-system") is None
    assert sim.get("secrets", "sap-btp-manager", "kyma-system") is None
    assert (
        sim.get("customresourcedefinitions.apiextensions.k8s.io", "serviceinstances.services.cloud.sap.com")
        is None
    )


def test_main_and_upgrade_with_real_credentials(kube: KubeClient, sim: KubeSimulator, tmp_path: Path) -> None:
    old = MANIFEST.replace(b"btp-manager:1.2.0", b"btp-manager:1.1.0")
    report = run_scenarios(
        kube,
        module(),
        REAL,
        tmp_path / "e2e",
        previous=module(old, "registry/module:v1.1.0"),
        settings=SETTINGS,
    )
    assert report.passed, report.summary
    cases = junit_cases(report.junit)
    assert cases["main: ServiceInstance si-main-4711 Ready"] == "passed"
    assert cases["upgrade: ServiceInstance si-old-4711 Ready"] == "passed"
    assert cases["upgrade: a new ServiceBinding sb-new-4711 on the old instance"] == "passed"
    assert all(outcome == "passed" for outcome in cases.values())
    # the real secret value went to the cluster, but never into the report
    assert "real-secret" not in report.junit.read_text()


@pytest.mark.parametrize(
    ("failure", "failed_step", "awaited"),
    [
        (
            "deployment_never_available",
            "main: deployment btp-manager-controller-manager rolled out and Available",
            "to roll out and be Available",
        ),
        (
            "cr_stuck",
            "main: BtpOperator e2e-test-btpoperator Ready (ReconcileSucceeded)",
            "Ready=True with reason ReconcileSucceeded",
        ),
        ("crds_not_removed", "main: the service CRDs are removed", "to be gone"),
    ],
)
def test_each_failure_mode_fails_its_step_with_a_report_and_diagnostics(
    kube: KubeClient, sim: KubeSimulator, tmp_path: Path, failure: str, failed_step: str, awaited: str
) -> None:
    sim.fail(failure)  # type: ignore[arg-type]
    report = run_scenarios(kube, module(), ServiceCredentials.dummy(), tmp_path / "e2e", settings=SETTINGS)
    assert not report.passed
    cases = junit_cases(report.junit)
    assert cases[failed_step] == "failed"
    assert list(cases)[-1] == failed_step  # nothing ran after the failing step
    assert awaited in report.summary and "last observed" in report.summary
    assert report.diagnostics is not None
    files = set(report.diagnostics.files)
    assert {"events-kyma-system.txt", "deployments-kyma-system.txt", "applied-module-manifest.yaml"} <= files
    assert any(name.startswith("logs-kyma-system-btp-manager") for name in files)
    secrets = (report.diagnostics.directory / "secrets-kyma-system.json").read_text()
    assert "<redacted>" in secrets and "ZHVtbXk" not in secrets  # no base64 of the dummy values
    with tarfile.open(report.diagnostics.tarball) as archive:
        assert "diagnostics/events-kyma-system.txt" in archive.getnames()


def test_the_crash_looping_manager_shows_in_the_diagnostics(
    kube: KubeClient, sim: KubeSimulator, tmp_path: Path
) -> None:
    sim.fail("deployment_never_available")
    report = run_scenarios(kube, module(), ServiceCredentials.dummy(), tmp_path / "e2e", settings=SETTINGS)
    assert report.diagnostics is not None
    events = (report.diagnostics.directory / "events-kyma-system.txt").read_text()
    assert "BackOff" in events
    pods = (report.diagnostics.directory / "pods-kyma-system.txt").read_text()
    assert "btp-manager-controller-manager" in pods


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
        runner = ClusterRunner(connect, registry_client, environ={}, settings=SETTINGS, name="sim")
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
    monkeypatch.setenv("E2E_SCENARIOS", "upgrade")
    runner = kubeconfig_runner()
    assert runner.name == "k3s-v1.31" and runner._scenarios == ("upgrade",)
    monkeypatch.setenv("E2E_SCENARIOS", "main,smoke")
    with pytest.raises(InvalidInput, match="unknown scenario"):
        kubeconfig_runner()
