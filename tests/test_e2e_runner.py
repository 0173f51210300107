"""The pipeline's E2E runner takes scenario time budgets from its caller or the environment
(``E2E_BUDGETS``), on top of the defaults, so a workflow can give a slow cluster more time."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from btp_release.e2e.run import ClusterRunner, kubeconfig_runner, parse_budgets, registry_client
from btp_release.errors import InvalidInput
from btp_release.kube import KubeClient
from btp_release.localservices.registry import registry_binary
from btp_release.oci import RegistryClient
from btp_release.pipeline.runner import E2ERequest
from btp_release.testing import FakeClock, LocalRegistry
from btp_release.testing.kube_sim import KubeSimulator

from . import e2e_support
from .e2e_support import junit_cases, push_example

sim = e2e_support.sim  # the simulator fixture


def test_budgets_are_parsed_and_bad_ones_named() -> None:
    assert parse_budgets(["main=900", " upgrade = 120.5"], source="X") == {"main": 900.0, "upgrade": 120.5}
    for bad in ("main", "main=", "=5", "main=0", "main=-1", "main=nan", "main=inf", "main=soon"):
        with pytest.raises(InvalidInput, match=f"invalid X '{bad}'"):
            parse_budgets([bad], source="X")


def test_the_kubeconfig_runner_reads_e2e_budgets(
    sim: KubeSimulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(sim.kubeconfig(tmp_path / "kubeconfig")))
    monkeypatch.setenv("E2E_BUDGETS", "main=900, upgrade=120")
    assert kubeconfig_runner()._budgets == {"main": 900.0, "upgrade": 120.0}
    monkeypatch.setenv("E2E_BUDGETS", "main=ten")
    with pytest.raises(InvalidInput, match="invalid E2E_BUDGETS 'main=ten'"):
        kubeconfig_runner()


@pytest.mark.skipif(registry_binary() is None, reason="docker-registry is not installed")
def test_a_budget_given_to_the_runner_limits_the_scenario(sim: KubeSimulator, tmp_path: Path) -> None:
    clock = FakeClock()
    kubeconfig = sim.kubeconfig(tmp_path / "kubeconfig")

    @contextlib.contextmanager
    def connect() -> Iterator[KubeClient]:
        yield KubeClient.from_kubeconfig(kubeconfig, clock=clock, sleeper=clock.sleep)

    with LocalRegistry() as registry, RegistryClient(registry.host) as client:
        reference = push_example(client)
        runner = ClusterRunner(
            connect, registry_client, environ={}, scenarios=("main",), budgets={"main": 5.0}
        )
        result = runner.run(
            E2ERequest(
                version="1.2.0",
                module_reference=reference,
                image_reference=None,
                credentials="dummy",
                upgrade_from=None,
                workdir=tmp_path / "e2e",
            )
        )
    assert not result.passed
    assert "the main scenario spent its time budget of 5s" in result.summary
    assert result.report is not None and "failed" in junit_cases(result.report).values()
