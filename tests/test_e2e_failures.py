"""Each failure mode of the simulator's btp-manager model is caught by the step meant to catch it, with a
JUnit report that ends there and a diagnostics bundle; a scenario that outlives its time budget stops with
a message that says so."""

from __future__ import annotations

import tarfile
from pathlib import Path

import pytest

from btp_release.e2e import E2ESettings, ServiceCredentials
from btp_release.e2e.run import run_scenarios
from btp_release.kube import KubeClient
from btp_release.testing import FakeClock
from btp_release.testing.kube_sim import FAILURE_MODES, KubeSimulator

from . import e2e_support
from .e2e_support import SETTINGS, junit_cases, kube_client, module, previous

sim, kube = e2e_support.sim, e2e_support.kube  # the simulator fixtures

READY = "state Ready, Ready=True (ReconcileSucceeded)"
REJECTED = "rejected: state Warning, Ready=False (WrongNamespaceOrName), no finalizer"
REAPPLIED = "the new manager re-applies the operand: chart-version other than 1.1.0, a new resourceVersion"
# failure mode, scenario, the step that must fail, what its message says
CAUGHT = [
    (
        "deployment_never_available",
        "main",
        "deployment btp-manager-controller-manager rolled out and Available",
        "to roll out and be Available",
    ),
    ("cr_stuck", "main", f"BtpOperator kyma-system/btpoperator {READY}", "state=Processing"),
    ("crds_not_removed", "main", "the service CRDs and the operand are removed", "to be gone"),
    # main makes the wrong CRs beside the right one: the old rule calls the younger one OlderCRExists
    ("reconciles_any_name", "main", f"BtpOperator kyma-system/btpoperator-test {REJECTED}", "OlderCRExists"),
    # wrong-cr makes them first: the old rule takes on kyma-system/btpoperator-test, finalizer and all
    (
        "reconciles_any_name",
        "wrong-cr",
        f"BtpOperator kyma-system/btpoperator-test {REJECTED}",
        "state=Ready",
    ),
    (
        "no_operand_recovery",
        "main",
        "delete the operand Deployment sap-btp-operator-controller-manager: re-created (a new UID)",
        "sap-btp-operator-controller-manager not found",
    ),
    (
        "no_operand_recovery",
        "recovery",
        "delete the operand Deployment sap-btp-operator-controller-manager: re-created (a new UID)",
        "sap-btp-operator-controller-manager not found",
    ),
    (
        "image_not_restored",
        "main",
        "btp-manager restores the operand image: Deployment Available again",
        "Available=False",
    ),
    (
        "image_not_restored",
        "recovery",
        "btp-manager restores the operand image: Deployment Available again",
        "Available=False",
    ),
    (
        "no_secret_recovery",
        "main",
        f"re-create Secret sap-btp-manager: BtpOperator kyma-system/btpoperator {READY}",
        "(MissingSecret)",
    ),
    (
        "no_secret_recovery",
        "recovery",
        f"re-create Secret sap-btp-manager: BtpOperator kyma-system/btpoperator {READY}",
        "(MissingSecret)",
    ),
    (
        "not_cleaned_as_deleting",
        "main",
        "delete BtpOperator kyma-system/btpoperator: kept, state Warning, Ready=False "
        "(ServiceInstancesAndBindingsNotCleaned)",
        "state=Deleting",
    ),
    (
        "no_network_policies",
        "main",
        "the 4 network policies of btp-operator exist",
        "missing: kyma-project.io--btp-operator-allow-to-apiserver",
    ),
    (
        "no_network_policies",
        "recovery",
        "the 4 network policies of btp-operator exist after the operand's recovery",
        "present: none",
    ),
    (
        "network_policies_not_disabled",
        "main",
        "annotate BtpOperator kyma-system/btpoperator "
        "operator.kyma-project.io/btp-operator-disable-network-policies=true: the policies are deleted",
        "(none exists)",
    ),
    (
        "limited_cache_not_propagated",
        "main",
        "EnableLimitedCache=false in ConfigMap sap-btp-manager: ENABLE_LIMITED_CACHE=false in "
        "sap-btp-operator-config",
        "ENABLE_LIMITED_CACHE=false in ConfigMap kyma-system/sap-btp-operator-config",
    ),
    (
        "ca_bundle_not_rotated",
        "main",
        "the caBundle of sap-btp-operator-mutating-webhook-configuration changes to a new CA certificate",
        "caBundle of MutatingWebhookConfiguration sap-btp-operator-mutating-webhook-configuration to change",
    ),
    (
        "no_upgrade_while_deleting",
        "upgrade-while-deleting",
        REAPPLIED,
        "the operand now: chart-version=1.1.0",
    ),
]
# The generic module model's failure modes are the generic scenario's (tests/test_e2e_generic.py).
GENERIC_MODULE_FAILURES = {"module_never_ready", "finalizer_never_removed", "leaves_objects_behind"}


def test_every_failure_mode_of_btp_manager_is_meant_to_be_caught() -> None:
    assert {failure for failure, *_ in CAUGHT} == FAILURE_MODES - GENERIC_MODULE_FAILURES


@pytest.mark.parametrize(("failure", "scenario", "step", "said"), CAUGHT)
def test_each_failure_mode_fails_its_step_with_a_report_and_diagnostics(
    kube: KubeClient, sim: KubeSimulator, tmp_path: Path, failure: str, scenario: str, step: str, said: str
) -> None:
    sim.fail(failure)  # type: ignore[arg-type]
    report = run_scenarios(
        kube,
        module(),
        ServiceCredentials.dummy(),
        tmp_path / "e2e",
        previous=previous(),
        settings=SETTINGS,
        scenarios=[scenario],
    )
    assert not report.passed
    failed = f"{scenario}: {step}"
    cases = junit_cases(report.junit)
    assert cases[failed] == "failed"
    assert list(cases)[-1] == failed  # nothing ran after the failing step
    assert [name for name, outcome in cases.items() if outcome == "failed"] == [failed]
    assert report.summary.startswith(f"{failed}: ")
    assert said in report.summary
    assert "timed out after" in report.summary and "last observed" in report.summary
    assert report.diagnostics is not None
    files = set(report.diagnostics.files)
    assert {"events-kyma-system.txt", "deployments-kyma-system.txt", "applied-module-manifest.yaml"} <= files
    assert "applied-previous-module-manifest.yaml" in files
    assert any(name.startswith("logs-kyma-system-btp-manager") for name in files)
    secrets = (report.diagnostics.directory / "secrets-kyma-system.json").read_text()
    assert "ZHVtbXk" not in secrets  # no base64 of the dummy values
    with tarfile.open(report.diagnostics.tarball) as archive:
        assert "diagnostics/events-kyma-system.txt" in archive.getnames()


def test_the_crash_looping_manager_shows_in_the_diagnostics(
    kube: KubeClient, sim: KubeSimulator, tmp_path: Path
) -> None:
    sim.fail("deployment_never_available")
    report = run_scenarios(
        kube, module(), ServiceCredentials.dummy(), tmp_path / "e2e", settings=SETTINGS, scenarios=["main"]
    )
    assert report.diagnostics is not None
    events = (report.diagnostics.directory / "events-kyma-system.txt").read_text()
    assert "BackOff" in events
    pods = (report.diagnostics.directory / "pods-kyma-system.txt").read_text()
    assert "btp-manager-controller-manager" in pods


def test_a_scenario_stops_when_its_time_budget_is_spent(sim: KubeSimulator, tmp_path: Path) -> None:
    """The wait for Ready may take 60 s, but the scenario only has 20 s in all: the step fails at the
    budget, and its message names the budget and what was awaited."""
    clock = FakeClock()
    kube = kube_client(sim, tmp_path, clock)
    sim.fail("cr_stuck")
    settings = E2ESettings(
        run_id="4711", poll_interval=1.0, ready_timeout=60, deployment_timeout=60, budgets={"main": 20}
    )
    start = clock()
    report = run_scenarios(
        kube, module(), ServiceCredentials.dummy(), tmp_path / "e2e", settings=settings, scenarios=["main"]
    )
    assert not report.passed
    failed = f"main: BtpOperator kyma-system/btpoperator {READY}"
    assert list(junit_cases(report.junit))[-1] == failed
    assert report.summary.startswith(f"{failed}: the main scenario spent its time budget of 20s (")
    assert "waiting for BtpOperator kyma-system/btpoperator" in report.summary
    assert "E2ESettings.budgets['main']" in report.summary
    assert clock() - start <= 20  # no wait ran past the budget
    assert report.diagnostics is not None


def test_a_step_does_not_start_once_the_budget_is_spent(sim: KubeSimulator, tmp_path: Path) -> None:
    clock = FakeClock()
    kube = kube_client(sim, tmp_path, clock)
    settings = E2ESettings(run_id="4711", poll_interval=1.0, budgets={"wrong-cr": 0})
    report = run_scenarios(
        kube,
        module(),
        ServiceCredentials.dummy(),
        tmp_path / "e2e",
        settings=settings,
        scenarios=["wrong-cr"],
    )
    assert not report.passed
    assert report.summary == (
        "wrong-cr: namespace kyma-system present: the wrong-cr scenario spent its time budget of 0s "
        "(0s elapsed): this step did not start — the real job allows this long; find the slow step in "
        "junit.xml, or raise E2ESettings.budgets['wrong-cr'] (test-module --budget wrong-cr=SECONDS)"
    )
    assert sim.get("secrets", "sap-btp-manager", "kyma-system") is None  # nothing was done
