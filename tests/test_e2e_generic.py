"""The generic module scenario (install, default CR Ready, delete, uninstall, nothing left) on the simulator.

btp-operator runs it with its plugin's prerequisite (the credentials Secret); what a module leaves behind is
found by comparing the cluster before and after.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from btp_release.e2e import E2ESettings, ServiceCredentials
from btp_release.e2e.run import ModuleManifests, available_scenarios, plugin_for, run_scenarios
from btp_release.errors import InvalidInput
from btp_release.kube import KubeClient
from btp_release.testing import FakeClock
from btp_release.testing.kube_sim import KubeSimulator

from .test_e2e_scenarios import DEFAULT_CR, MANIFEST, junit_cases

SETTINGS = E2ESettings(
    run_id="4711", poll_interval=1.0, deployment_timeout=60, ready_timeout=60, deletion_timeout=60
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


def test_an_object_left_behind_fails_the_last_step(
    kube: KubeClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The module makes a ConfigMap while it runs (here: once its CR is Ready) and never removes it; the
    scenario's own namespace would take it along, so the comparison runs before that namespace goes."""
    import btp_release.e2e.generic as generic

    leftover = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "btp-operator-cache", "namespace": "kyma-system"},
        "data": {"k": "v"},
    }
    scenario = generic.module_scenario

    def leaving(kube_: KubeClient, module: Any, steps: Any, settings: Any, **_: Any) -> None:
        def make_leftover(_: Any) -> None:
            kube_.apply(leftover)

        scenario(kube_, module, steps, settings, after_ready=make_leftover)

    monkeypatch.setattr("btp_release.e2e.run.module_scenario", leaving)
    report = run_scenarios(
        kube,
        btp_operator(),
        ServiceCredentials.dummy(),
        tmp_path / "e2e",
        settings=SETTINGS,
        scenarios=["module"],
    )
    assert not report.passed
    assert report.summary.startswith("module: nothing of btp-operator is left: ")
    assert "left 1 object(s) behind: ConfigMap kyma-system/btp-operator-cache" in report.summary
    assert report.diagnostics is not None


def test_a_scenario_the_module_does_not_have_is_refused(kube: KubeClient, tmp_path: Path) -> None:
    other = ModuleManifests(
        "r/x@sha256:1", MANIFEST, b"apiVersion: x.io/v1\nkind: Sample\nmetadata: {name: s}\n"
    )
    with pytest.raises(InvalidInput, match="has no scenario main"):
        run_scenarios(kube, other, ServiceCredentials.dummy(), tmp_path / "e2e", scenarios=["main"])
