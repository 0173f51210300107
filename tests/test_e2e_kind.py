"""The E2E main scenario on a real kind cluster (through pytest-kind), where kind and Docker exist.

Skipped here with the reason: this machine has neither kind nor node images. It needs a module
whose manager really reconciles (the example module's image is a stub), named by
``BTP_RELEASE_E2E_MODULE`` (an OCI reference of a published btp-operator module); the workflow
``.github/workflows/e2e.yaml`` runs the same scenarios on k3s.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from btp_release.cluster import KindCluster
from btp_release.e2e import E2ESettings, ServiceCredentials
from btp_release.e2e.run import fetch_module, run_scenarios
from btp_release.kube import KubeClient
from btp_release.oci import Reference, RegistryClient

MODULE = os.environ.get("BTP_RELEASE_E2E_MODULE")

pytestmark = [
    pytest.mark.skipif(
        shutil.which("kind") is None, reason="kind is not installed (and no node image is reachable)"
    ),
    pytest.mark.skipif(shutil.which("docker") is None, reason="kind needs Docker"),
    pytest.mark.skipif(MODULE is None, reason="BTP_RELEASE_E2E_MODULE names no module artifact to test"),
]


def test_main_scenario_on_kind(tmp_path: Path) -> None:
    assert MODULE is not None
    with RegistryClient(Reference.parse(MODULE).registry) as registry:
        module = fetch_module(registry, MODULE)
    with KindCluster("btp-release-e2e", work_dir=tmp_path / "kind") as cluster:
        kube = KubeClient.from_kubeconfig(cluster.kubeconfig, context=cluster.context)
        report = run_scenarios(
            kube,
            module,
            ServiceCredentials.dummy(),
            tmp_path / "report",
            settings=E2ESettings(run_id="kind"),
            scenarios=("main",),
        )
    assert report.passed, report.summary
