"""The generic module scenario (install, default CR Ready, delete, uninstall, nothing left) on the simulator.

btp-operator runs it with its plugin's prerequisite (the credentials Secret); sample-operator, a module
without a plugin, runs it from its module-config against the simulator's generic module model, whose
failure modes each fail their step. What a module leaves behind is found by comparing the cluster before
and after.
"""

from __future__ import annotations

import contextlib
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from btp_release.e2e import E2ESettings, ServiceCredentials
from btp_release.e2e.run import (
    ClusterRunner,
    E2EReport,
    ModuleManifests,
    ScenarioContext,
    ScenarioPlugin,
    available_scenarios,
    plugin_for,
    registry_client,
    run_scenarios,
)
from btp_release.errors import InvalidInput
from btp_release.kube import KubeClient
from btp_release.localservices.registry import registry_binary
from btp_release.module import ModuleConfig
from btp_release.oci import RegistryClient
from btp_release.pipeline.runner import E2ERequest
from btp_release.testing import FakeClock, LocalRegistry
from btp_release.testing.kube_sim import KubeSimulator

from . import e2e_support
from .e2e_support import (
    DEFAULT_CR,
    MANIFEST,
    SAMPLE_DIR,
    SAMPLE_MODULE,
    junit_cases,
    push_example,
    sample_operator,
)

sim, kube = e2e_support.sim, e2e_support.kube  # the simulator fixtures

SETTINGS = E2ESettings(
    run_id="4711", poll_interval=1.0, deployment_timeout=60, ready_timeout=60, deletion_timeout=60
)


def btp_operator(name: str = "btp-operator") -> ModuleManifests:
    return ModuleManifests("registry/btp-operator@sha256:new", MANIFEST, DEFAULT_CR, name=name)


def test_the_plugin_is_found_by_name_or_by_the_default_crs_kind() -> None:
    assert plugin_for(btp_operator()) is not None
    assert plugin_for(btp_operator(name="")) is not None  # by kind: BtpOperator
    other = ModuleManifests("r/x@sha256:1", b"", b"apiVersion: x.io/v1\nkind: Sample\nmetadata: {name: s}\n")
    assert plugin_for(other) is None and available_scenarios(other) == ("module",)
    assert available_scenarios(btp_operator()) == (
        "main",
        "upgrade",
        "upgrade-while-deleting",
        "recovery",
        "wrong-cr",
        "module",
    )


def test_btp_operator_passes_the_generic_scenario(kube: KubeClient, tmp_path: Path) -> None:
    report = run_scenarios(
        kube,
        btp_operator(),
        ServiceCredentials.dummy(),
        tmp_path / "e2e",
        settings=SETTINGS,
        scenarios=["module"],
    )
    assert report.passed, report.summary
    cases = junit_cases(report.junit)
    assert cases["module: default CR BtpOperator kyma-system/btpoperator Ready"] == "passed"
    assert cases["module: nothing of btp-operator is left"] == "passed"
    assert any(name.startswith("module: manager Deployment kyma-system/") for name in cases)


SAMPLE_CR = "Sample kyma-system/default"
SAMPLE_CRD = "samples.operator.kyma-project.io"
SAMPLE_LEFTOVER = "ConfigMap kyma-system/sample-operator-default"


@contextlib.contextmanager
def sample_cluster(tmp_path: Path, *failures: str) -> Iterator[KubeClient]:
    with KubeSimulator(modules=[SAMPLE_MODULE], failures=list(failures)) as simulator:
        clock = FakeClock()
        yield KubeClient.from_kubeconfig(
            simulator.kubeconfig(tmp_path / "kubeconfig"), clock=clock, sleeper=clock.sleep
        )


def run_sample(tmp_path: Path, *failures: str, **kwargs: Any) -> E2EReport:
    with sample_cluster(tmp_path, *failures) as kube:
        return run_scenarios(
            kube, sample_operator(), ServiceCredentials.dummy(), tmp_path / "e2e", settings=SETTINGS, **kwargs
        )


def test_a_second_module_passes_the_generic_scenario_from_its_module_config(tmp_path: Path) -> None:
    """sample-operator has no plugin: its module-config's manager is what 'installed' means, its CR gets a
    finalizer and a ConfigMap from the manager, and all of it goes again."""
    with sample_cluster(tmp_path) as kube:
        report = run_scenarios(
            kube, sample_operator(), ServiceCredentials.dummy(), tmp_path / "e2e", settings=SETTINGS
        )
        crd = kube.get("apiextensions.k8s.io/v1", "CustomResourceDefinition", SAMPLE_CRD)
        configmap = kube.get("v1", "ConfigMap", "sample-operator-default", namespace="kyma-system")
    assert report.passed, report.summary
    assert crd is None and configmap is None
    cases = junit_cases(report.junit)
    assert cases == {name: "passed" for name in cases}
    assert list(cases)[2:] == [
        "module: apply the manifest of sample-operator (6 objects)",
        "module: manager Deployment kyma-system/sample-operator-controller-manager rolled out",
        "module: default CR Sample kyma-system/default Ready",
        "module: delete Sample kyma-system/default: gone (finalizers honoured)",
        "module: uninstall sample-operator: every object of the manifest gone",
        "module: nothing of sample-operator is left",
        "module: remove the namespaces of the manifest and the scenario (kyma-system)",
    ]


def test_a_namespace_of_the_manifest_that_was_there_before_stays(tmp_path: Path) -> None:
    """On a Kyma cluster kyma-system holds other modules: uninstalling sample-operator must not remove it."""
    other = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "namespace": "kyma-system"}}
    with sample_cluster(tmp_path) as kube:
        kube.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "kyma-system"}})
        kube.apply(other)
        report = run_scenarios(
            kube, sample_operator(), ServiceCredentials.dummy(), tmp_path / "e2e", settings=SETTINGS
        )
        namespace = kube.get("v1", "Namespace", "kyma-system")
        kept = kube.get("v1", "ConfigMap", "x", namespace="kyma-system")
    assert report.passed, report.summary
    assert namespace is not None and kept is not None
    assert list(junit_cases(report.junit))[-1] == "module: nothing of sample-operator is left"


@pytest.mark.parametrize(
    ("failure", "step", "message"),
    [
        ("module_never_ready", f"default CR {SAMPLE_CR} Ready", "Processing"),
        (
            "finalizer_never_removed",
            "delete Sample kyma-system/default: gone (finalizers honoured)",
            "Deleting",
        ),
        ("leaves_objects_behind", "nothing of sample-operator is left", SAMPLE_LEFTOVER),
    ],
)
def test_each_failure_of_a_generic_module_is_caught_by_its_step(
    tmp_path: Path, failure: str, step: str, message: str
) -> None:
    report = run_sample(tmp_path, failure)
    assert not report.passed
    assert report.summary.startswith(f"module: {step}: "), report.summary
    assert message in report.summary
    cases = junit_cases(report.junit)
    assert cases[f"module: {step}"] == "failed"
    assert list(cases)[-1] == f"module: {step}"  # nothing runs after the failing step
    assert report.diagnostics is not None and report.diagnostics.tarball.is_file()
    with tarfile.open(report.diagnostics.tarball) as bundle:
        names = bundle.getnames()
    assert any(n.endswith("module-manifest.yaml") for n in names), names


def test_a_module_plugs_in_its_own_scenario_by_name(tmp_path: Path) -> None:
    """A plugin (here for sample-operator) adds a scenario; the generic one stays available."""
    ran: list[tuple[str, str]] = []

    def run(name: str, context: ScenarioContext) -> None:
        with context.steps.step(name, "the CRD is served"):
            ran.append((name, context.module.name))
            crd = context.kube.get("apiextensions.k8s.io/v1", "CustomResourceDefinition", SAMPLE_CRD)
            if crd is None:
                raise InvalidInput(f"{SAMPLE_CRD} is not installed")

    plugin = ScenarioPlugin(
        name="sample-operator", cr_kind="Sample", scenarios=("crd", "module"), default=("module",), run=run
    )
    plugins = {"sample-operator": plugin}
    assert available_scenarios(sample_operator(), plugins) == ("crd", "module")
    report = run_sample(tmp_path, scenarios=["crd"], plugins=plugins)
    assert not report.passed and ran == [("crd", "sample-operator")]
    assert report.summary == "crd: the CRD is served: samples.operator.kyma-project.io is not installed"
    report = run_sample(tmp_path / "default", plugins=plugins)
    assert report.passed and ran == [("crd", "sample-operator")], report.summary


def test_a_scenario_the_module_does_not_have_is_refused(kube: KubeClient, tmp_path: Path) -> None:
    other = ModuleManifests(
        "r/x@sha256:1", MANIFEST, b"apiVersion: x.io/v1\nkind: Sample\nmetadata: {name: s}\n"
    )
    with pytest.raises(InvalidInput, match="has no scenario main"):
        run_scenarios(kube, other, ServiceCredentials.dummy(), tmp_path / "e2e", scenarios=["main"])


@pytest.mark.skipif(registry_binary() is None, reason="docker-registry is not installed")
def test_the_pipeline_runner_runs_the_generic_scenario_for_a_module_without_a_plugin(tmp_path: Path) -> None:
    """The E2E stage's seam: sample-operator pushed to a real registry, read back by digest, its
    module-config's manager in the request; the generic scenario is what runs."""
    config = ModuleConfig.load(SAMPLE_DIR / "module-config.yaml")
    with (
        sample_cluster(tmp_path) as kube,
        LocalRegistry() as registry,
        RegistryClient(registry.host) as client,
    ):
        reference = push_example(
            client,
            component=config.name,
            version="0.3.0",
            manifest=SAMPLE_DIR / "sample-operator.yaml",
            default_cr=SAMPLE_DIR / "default-sample-cr.yaml",
        )

        @contextlib.contextmanager
        def connect() -> Iterator[KubeClient]:
            yield kube

        runner = ClusterRunner(connect, registry_client, environ={}, settings=SETTINGS, name="k3s")
        request = E2ERequest(
            version="0.3.0",
            module_reference=reference,
            image_reference=None,
            credentials="dummy",
            upgrade_from=None,
            workdir=tmp_path / "e2e",
            manager=config.manager,
        )
        result = runner.run(request)
    assert result.passed, result.summary
    assert result.report is not None
    cases = junit_cases(result.report)
    assert set(cases.values()) == {"passed"}
    assert "module: manager Deployment kyma-system/sample-operator-controller-manager rolled out" in cases
    assert "module: nothing of sample-operator is left" in cases
