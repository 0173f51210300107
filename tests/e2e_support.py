"""What the E2E scenario tests share: the example module, credentials, settings, and reading a report."""

from __future__ import annotations

import base64
import xml.etree.ElementTree as ET
from pathlib import Path

from btp_release.e2e import E2ESettings, ServiceCredentials
from btp_release.e2e.run import ModuleManifests
from btp_release.kube import KubeClient
from btp_release.testing import FakeClock
from btp_release.testing.kube_sim import KubeSimulator

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "btp-operator"
MANIFEST = (EXAMPLE / "manifests" / "btp-manager.yaml").read_bytes()
DEFAULT_CR = (EXAMPLE / "examples" / "btp-operator.yaml").read_bytes()
# The previous release: the simulator's operand chart version follows the manager image's tag.
PREVIOUS = MANIFEST.replace(b"btp-manager:1.2.0", b"btp-manager:1.1.0")
PLAIN = {
    "SM_CLIENT_ID": "the-client-id",
    "SM_CLIENT_SECRET": "real-secret-value",
    "SM_URL": "https://sm.example",
    "SM_TOKEN_URL": "https://token.example",
}
# As btp-manager's CI keeps them: base64, put into the Secret's data as they are.
ENCODED = {name: base64.b64encode(value.encode()).decode() for name, value in PLAIN.items()}
REAL = ServiceCredentials.from_environ(ENCODED)
SETTINGS = E2ESettings(
    run_id="4711",
    poll_interval=1.0,
    deployment_timeout=60,
    ready_timeout=60,
    instance_timeout=60,
    deletion_timeout=60,
)


def kube_client(sim: KubeSimulator, tmp_path: Path, clock: FakeClock | None = None) -> KubeClient:
    clock = clock or FakeClock()
    return KubeClient.from_kubeconfig(
        sim.kubeconfig(tmp_path / "kubeconfig"), clock=clock, sleeper=clock.sleep
    )


def module(manifest: bytes = MANIFEST, reference: str = "registry/module@sha256:new") -> ModuleManifests:
    return ModuleManifests(reference, manifest, DEFAULT_CR)


def previous() -> ModuleManifests:
    return module(PREVIOUS, "registry/module:v1.1.0")


def junit_cases(path: Path) -> dict[str, str]:
    """``scenario: step`` → passed/failed/skipped, in the file's order."""
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
