"""The composite action: its inputs reach the CLI only through ``env:``, and its main step, run here
as the runner would run it (inputs substituted into ``env:``, ``$GITHUB_OUTPUT`` and
``$GITHUB_STEP_SUMMARY`` files), produces the outputs the action declares."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from btp_release.cli import OUTPUTS
from btp_release.localservices.registry import registry_binary
from btp_release.testing import GitHubSimulator, LocalRegistry
from btp_release.testing.release import commit_checkout, prepare_example_module

ROOT = Path(__file__).resolve().parents[1]
ACTION = ROOT / "action" / "action.yml"
SPEC: dict[str, Any] = yaml.safe_load(ACTION.read_text())
STEPS: list[dict[str, Any]] = SPEC["runs"]["steps"]
MAIN = next(step for step in STEPS if step.get("id") == "btp-release")
EXPRESSION = re.compile(r"\$\{\{\s*inputs\.([a-z0-9-]+)\s*\}\}")


def test_no_expression_is_interpolated_into_a_script() -> None:
    for step in STEPS:
        assert "${{" not in step.get("run", ""), step


def test_every_input_reaches_a_step_through_env() -> None:
    referenced = set()
    for step in STEPS:
        for value in (step.get("env") or {}).values():
            referenced.update(EXPRESSION.findall(str(value)))
        for value in (step.get("with") or {}).values():
            referenced.update(EXPRESSION.findall(str(value)))
    assert referenced == set(SPEC["inputs"])


def test_every_output_is_one_the_cli_writes() -> None:
    written = {
        re.fullmatch(r"\$\{\{ steps\.btp-release\.outputs\.(\w+) \}\}", out["value"]).group(1)  # type: ignore[union-attr]
        for out in SPEC["outputs"].values()
    }
    assert written == set(OUTPUTS)


def run_main_step(
    inputs: dict[str, str], tmp_path: Path, **extra_env: str
) -> tuple[int, str, dict[str, str]]:
    """The main step as the runner runs it: ``env:`` with the inputs (defaults filled in)."""
    values = {name: str(spec.get("default", "")) for name, spec in SPEC["inputs"].items()} | inputs
    env = {
        key: EXPRESSION.sub(lambda m: values[m.group(1)], str(value)) for key, value in MAIN["env"].items()
    }
    output, summary = tmp_path / "output", tmp_path / "summary.md"
    environ = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "GITHUB_ACTIONS": "true",
        "GITHUB_ACTION_PATH": str(ACTION.parent),
        "GITHUB_OUTPUT": str(output),
        "GITHUB_STEP_SUMMARY": str(summary),
        **env,
        **extra_env,
    }
    done = subprocess.run(
        ["bash", "-c", MAIN["run"]], env=environ, capture_output=True, text=True, timeout=300, check=False
    )
    outputs = dict(line.split("=", 1) for line in output.read_text().splitlines()) if output.exists() else {}
    return done.returncode, done.stdout + done.stderr, outputs


pytestmark = pytest.mark.skipif(shutil.which("btp-release") is None, reason="btp-release is not installed")


def test_a_snapshot_through_the_action_sets_its_outputs(tmp_path: Path) -> None:
    code, log, outputs = run_main_step(
        {"command": "run", "version": "1.2.0", "snapshot": "true", "module-dir": str(ROOT)},
        tmp_path,
        BTP_RELEASE_SNAPSHOT_DIR=str(tmp_path / "dist"),
        DOCKER_HOST=f"unix://{tmp_path}/no-daemon.sock",
    )
    assert code == 0, log
    assert outputs["snapshot_dir"] == str(tmp_path / "dist")
    assert outputs["module_digest"].startswith("sha256:") and len(outputs["commit"]) == 40
    assert (tmp_path / "dist" / "release-manifest.json").is_file()
    assert "::group::btp-release snapshot" in log


def test_unknown_command_and_missing_version_fail_clearly(tmp_path: Path) -> None:
    code, log, _ = run_main_step({"command": "deploy"}, tmp_path)
    assert code == 2 and "::error title=btp-release::unknown command 'deploy'" in log
    code, log, _ = run_main_step({"command": "publish"}, tmp_path)
    assert code != 0 and "the version input is required for publish" in log


@pytest.mark.skipif(registry_binary() is None, reason="docker-registry is not installed")
def test_validate_through_the_action_masks_the_token_and_reports(tmp_path: Path, docker_daemon: Any) -> None:
    with GitHubSimulator(owner="kyma-project", repo="btp-manager") as sim, LocalRegistry() as registry:
        module = prepare_example_module(ROOT / "examples" / "btp-operator", tmp_path / "module")
        (module / "btp-release.yaml").write_text(
            yaml.safe_dump(
                {
                    **yaml.safe_load((module / "btp-release.yaml").read_text()),  # the example's own
                    "github-api-url": sim.api_url,
                    "module-registry": f"{registry.host}/kyma-project/prod/unsigned",
                    "image-repo": f"{registry.host}/kyma-project/prod/btp-manager",
                    "e2e-required": False,
                }
            )
        )
        sim.add_commit("module files", sha=commit_checkout(module))  # the checkout the workflow made
        code, log, outputs = run_main_step(
            {"command": "validate", "version": "1.2.0", "module-dir": str(module), "token": sim.token},
            tmp_path,
            DOCKER_HOST=docker_daemon.host,
        )
    assert code == 0, log
    assert log.splitlines()[0] == f"::add-mask::{sim.token}"
    assert sim.token not in "\n".join(log.splitlines()[1:])
    assert len(outputs["commit"]) == 40
    assert "| validate | unchanged |" in (tmp_path / "summary.md").read_text()
