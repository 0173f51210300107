"""What the E2E scenario tests share: the example modules (btp-operator; sample-operator, a module without a
plugin, with its model for the simulator), credentials, settings, the simulator fixtures (import ``sim`` and
``kube`` into a test module to use them) and reading a report."""

from __future__ import annotations

import base64
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from btp_release.e2e import E2ESettings, ServiceCredentials
from btp_release.e2e.run import ModuleManifests
from btp_release.kube import KubeClient
from btp_release.module import ModuleConfig, ModuleSpec, build_module, push_module
from btp_release.oci import RegistryClient
from btp_release.testing import FakeClock
from btp_release.testing.kube_sim import KubeSimulator, SimulatedModule

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


SAMPLE_DIR = Path(__file__).resolve().parents[1] / "examples" / "sample-operator"
# sample-operator's manager as the simulator's generic module model runs it (its module-config's manager).
SAMPLE_MODULE = SimulatedModule(
    group="operator.kyma-project.io",
    version="v1alpha1",
    kind="Sample",
    plural="samples",
    manager_namespace="kyma-system",
    manager_name="sample-operator-controller-manager",
    finalizer="operator.kyma-project.io/sample-finalizer",
    name="sample-operator",
)


@pytest.fixture
def sim() -> Iterator[KubeSimulator]:
    with KubeSimulator() as simulator:
        yield simulator


@pytest.fixture
def kube(sim: KubeSimulator, tmp_path: Path) -> KubeClient:
    return kube_client(sim, tmp_path)


def sample_operator() -> ModuleManifests:
    """The second module as test-module --module-config reads it: files and manager from its config."""
    config = ModuleConfig.load(SAMPLE_DIR / "module-config.yaml")
    assert config.default_cr is not None
    return ModuleManifests(
        "examples/sample-operator",
        config.manifest.local_path(config.base_dir).read_bytes(),
        config.default_cr.local_path(config.base_dir).read_bytes(),
        name=config.short_name,
        manager=config.manager,
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


def push_example(
    client: RegistryClient,
    *,
    component: str = "kyma-project.io/module/btp-operator",
    version: str = "1.2.0",
    manifest: Path = EXAMPLE / "manifests" / "btp-manager.yaml",
    default_cr: Path = EXAMPLE / "examples" / "btp-operator.yaml",
) -> str:
    """Build an example module and push it to ``client``'s registry; its reference by digest."""
    spec = ModuleSpec(
        component_name=component,
        version=version,
        registry_base_url=f"{client.host}/unsigned",
        source_repo_url="github.com/kyma-project/" + component.rsplit("/", 1)[-1],
        source_commit="0" * 40,
        manifest_path=manifest,
        default_cr_path=default_cr,
    )
    pushed = push_module(client, spec.module_repository, spec.component_version, build_module(spec))
    return f"{client.host}/{spec.module_repository}@{pushed.digest}"
