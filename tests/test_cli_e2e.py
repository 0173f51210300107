"""``btp-release test-module`` and ``k3s-versions`` through main(), against the Kubernetes simulator,
a real registry and the GitHub simulator."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from btp_release.cli import main
from btp_release.github import GitHubClient
from btp_release.localservices.registry import registry_binary
from btp_release.oci import RegistryClient
from btp_release.testing import GitHubSimulator, LocalRegistry
from btp_release.testing.kube_sim import KubeSimulator

from .e2e_support import SAMPLE_DIR, SAMPLE_MODULE, push_example

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "btp-operator"
FILES = [
    "--manifest",
    str(EXAMPLE / "manifests/btp-manager.yaml"),
    "--default-cr",
    str(EXAMPLE / "examples/btp-operator.yaml"),
]
FAST = ["--poll-interval", "0.05", "--timeout", "3", "--run-id", "cli"]


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[tuple[KubeSimulator, Path]]:
    with KubeSimulator() as simulator:
        yield simulator, simulator.kubeconfig(tmp_path / "kubeconfig")


def test_the_main_scenario_from_files_passes(
    sim: tuple[KubeSimulator, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, kubeconfig = sim
    code = main(
        [
            "test-module",
            *FILES,
            "--kubeconfig",
            str(kubeconfig),
            "--scenario",
            "main",
            *FAST,
            "--out",
            str(tmp_path / "r"),
        ],
        environ={},
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert "[main] passed" in out
    assert "BtpOperator kyma-system/btpoperator state Ready, Ready=True (ReconcileSucceeded)" in out
    assert (tmp_path / "r" / "junit.xml").is_file()


def test_a_failing_step_exits_9_with_the_diagnostics(
    sim: tuple[KubeSimulator, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    simulator, kubeconfig = sim
    simulator.fail("cr_stuck")
    code = main(
        [
            "test-module",
            *FILES,
            "--kubeconfig",
            str(kubeconfig),
            "--json",
            *FAST,
            "--out",
            str(tmp_path / "r"),
        ],
        environ={},
    )
    captured = capsys.readouterr()
    assert code == 9
    report = json.loads(captured.out)
    assert report["passed"] is False and report["diagnostics"].endswith("diagnostics.tar.gz")
    assert [s["outcome"] for s in report["steps"]][-1] == "failed"
    # the default scenarios start with the generic one
    assert captured.err.startswith(
        "error: E2E failed: module: default CR BtpOperator kyma-system/btpoperator Ready"
    )
    assert "Traceback" not in captured.err


def test_real_credentials_missing_exit_2_before_the_cluster_is_touched(
    sim: tuple[KubeSimulator, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    simulator, kubeconfig = sim
    before = len(simulator.requests)
    code = main(
        ["test-module", *FILES, "--kubeconfig", str(kubeconfig), "--credentials", "real"],
        environ={"SM_URL": "x"},
    )
    assert code == 2
    err = capsys.readouterr().err
    assert "SM_CLIENT_ID" in err and "SM_URL," not in err
    assert len(simulator.requests) == before


@pytest.mark.parametrize(
    ("environ", "said"),
    [
        (
            {
                "SM_CLIENT_ID": "plain-id",
                "SM_CLIENT_SECRET": "c2VjcmV0",
                "SM_URL": "dXJs",
                "SM_TOKEN_URL": "dA==",
            },
            "SM_CLIENT_ID is not base64",
        ),
        ({"SM_CREDENTIALS_ENCODING": "rot13"}, "SM_CREDENTIALS_ENCODING must be base64 or plain"),
    ],
)
def test_credentials_in_the_wrong_encoding_exit_2_before_the_cluster_is_touched(
    sim: tuple[KubeSimulator, Path], capsys: pytest.CaptureFixture[str], environ: dict[str, str], said: str
) -> None:
    simulator, kubeconfig = sim
    before = len(simulator.requests)
    code = main(
        ["test-module", *FILES, "--kubeconfig", str(kubeconfig), "--credentials", "real"], environ=environ
    )
    assert code == 2
    assert said in capsys.readouterr().err
    assert len(simulator.requests) == before


def test_plain_credentials_when_told_so(
    sim: tuple[KubeSimulator, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, kubeconfig = sim
    environ = {
        "SM_CREDENTIALS_ENCODING": "plain",
        "SM_CLIENT_ID": "id",
        "SM_CLIENT_SECRET": "a-plain-secret",
        "SM_URL": "https://sm",
        "SM_TOKEN_URL": "https://t",
    }
    argv = ["test-module", *FILES, "--kubeconfig", str(kubeconfig), "--credentials", "real"]
    code = main([*argv, "--scenario", "main", *FAST, "--out", str(tmp_path / "r")], environ=environ)
    out = capsys.readouterr().out
    assert code == 0, out
    assert "create Secret sap-btp-manager (real credentials, given plain)" in out
    assert "ServiceInstance si-main-cli Ready" in out


def test_a_missing_kubeconfig_exits_3(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["test-module", *FILES, "--kubeconfig", str(tmp_path / "none")], environ={}) == 3
    assert "kubeconfig" in capsys.readouterr().err


@pytest.mark.skipif(registry_binary() is None, reason="docker-registry is not installed")
def test_the_module_is_read_by_reference_from_its_registry(
    sim: tuple[KubeSimulator, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, kubeconfig = sim
    with LocalRegistry() as registry, RegistryClient(registry.host) as client:
        reference = push_example(client)
        code = main(
            [
                "test-module",
                "--module",
                reference,
                "--kubeconfig",
                str(kubeconfig),
                "--scenario",
                "main",
                *FAST,
                "--out",
                str(tmp_path / "r"),
            ],
            environ={},
        )
    assert code == 0, capsys.readouterr()


def test_k3s_versions_prints_the_newest_patch_per_minor(capsys: pytest.CaptureFixture[str]) -> None:
    with GitHubSimulator(owner="k3s-io", repo="k3s") as gh:
        with GitHubClient("k3s-io/k3s", token=gh.token, api_url=gh.api_url, environ={}) as client:
            sha = client.resolve_commit("main")
            for tag in ("v1.29.9+k3s1", "v1.30.5+k3s1", "v1.30.6+k3s1", "v1.31.1+k3s1", "v1.31.2+k3s2"):
                draft = client.create_draft_release(tag, target_commitish=sha, generate_release_notes=False)
                client.publish_release(draft)
        environ = {"GITHUB_API_URL": gh.api_url, "GITHUB_TOKEN": gh.token}
        assert main(["k3s-versions", "--minors", "2"], environ=environ) == 0
    assert json.loads(capsys.readouterr().out) == ["v1.31.2+k3s2", "v1.30.6+k3s1"]


def test_k3s_up_refuses_a_malformed_mirror(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["k3s-up", "--k3s-version", "v1.31.4+k3s1", "--mirror", "no-equals-sign"], environ={}) == 2
    assert "NAME=URL" in capsys.readouterr().err


def test_a_module_without_a_plugin_runs_the_generic_scenario_from_its_module_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The module-config alone names what to install (its manifest and defaultCR files) and the manager."""
    with KubeSimulator(modules=[SAMPLE_MODULE]) as simulator:
        kubeconfig = simulator.kubeconfig(tmp_path / "kubeconfig")
        argv = ["test-module", "--module-config", str(SAMPLE_DIR / "module-config.yaml")]
        code = main([*argv, "--kubeconfig", str(kubeconfig), *FAST, "--out", str(tmp_path / "r")], environ={})
    out = capsys.readouterr().out
    assert code == 0, out
    assert "[module] passed" in out and "[main]" not in out
    assert "manager Deployment kyma-system/sample-operator-controller-manager rolled out" in out
    assert "default CR Sample kyma-system/default Ready" in out
    assert "nothing of sample-operator is left" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "test-module needs the module: --module REFERENCE"),
        (["--manifest", "m.yaml"], "--manifest needs --default-cr"),
        ([*FILES, "--budget", "main"], "invalid --budget 'main'"),
        ([*FILES, "--budget", "main=-5"], "invalid --budget 'main=-5'"),
        (["--module-config", "missing/module-config.yaml"], "missing/module-config.yaml"),
    ],
)
def test_test_module_input_errors_exit_2(
    argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["test-module", *argv, "--kubeconfig", str(tmp_path / "none")], environ={})
    err = capsys.readouterr().err
    assert (code, message in err) == (2, True), err


def test_a_module_config_with_a_url_manifest_needs_the_files_some_other_way(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = (
        (SAMPLE_DIR / "module-config.yaml")
        .read_text()
        .replace(
            "manifest: sample-operator.yaml",
            "manifest: https://github.com/kyma-project/sample-operator/releases/download/0.3.0/sample-operator.yaml",
        )
    )
    (tmp_path / "module-config.yaml").write_text(config)
    code = main(["test-module", "--module-config", str(tmp_path / "module-config.yaml")], environ={})
    err = capsys.readouterr().err
    assert code == 2, err
    assert "manifest is a URL" in err and "--module REFERENCE or --manifest/--default-cr" in err


def test_a_budget_from_the_command_line_limits_the_scenario(
    sim: tuple[KubeSimulator, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, kubeconfig = sim
    argv = [*FILES, "--kubeconfig", str(kubeconfig), "--scenario", "main", "--budget", "main=0.001"]
    code = main(["test-module", *argv, *FAST, "--out", str(tmp_path / "r")], environ={})
    err = capsys.readouterr().err
    assert code == 9, err
    assert "the main scenario spent its time budget of 0.001s" in err
