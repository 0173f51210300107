"""The composite action: its inputs reach the CLI only through ``env:``, and its main step, run here
as the runner would run it (inputs substituted into ``env:``, ``$GITHUB_OUTPUT`` and
``$GITHUB_STEP_SUMMARY`` files), produces the outputs the action declares. With a stand-in
``btp-release`` first on ``PATH``, the argv and environment ``run.sh`` hands the CLI are checked exactly."""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from btp_release.cli import OUTPUTS, build_parser
from btp_release.localservices.registry import registry_binary
from btp_release.testing import GitHubSimulator, LocalRegistry
from btp_release.testing.release import commit_checkout, prepare_example_module

ROOT = Path(__file__).resolve().parents[1]
ACTION = ROOT / "action" / "action.yml"
SPEC: dict[str, Any] = yaml.safe_load(ACTION.read_text())
STEPS: list[dict[str, Any]] = SPEC["runs"]["steps"]
MAIN = next(step for step in STEPS if step.get("id") == "btp-release")
EXPRESSION = re.compile(r"\$\{\{\s*inputs\.([a-z0-9-]+)\s*\}\}")
WORKFLOWS = ROOT / ".github" / "workflows"
# Written by submit, promote and withdraw; cli.OUTPUTS lists them once those commands are in the CLI.
MANIFESTS_OUTPUTS = {"pull_request_url", "pull_request_number", "manifests_verdict"}


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
    assert written == set(OUTPUTS) | MANIFESTS_OUTPUTS


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


# A stand-in for the CLI: records the argv and the environment run.sh gives it, and does nothing else.
FAKE_CLI = """
import json, os, sys
with open(os.environ["FAKE_CLI_RECORD"], "w") as record:
    json.dump({"argv": sys.argv[1:], "env": dict(os.environ)}, record)
"""


def run_with_fake_cli(
    inputs: dict[str, str], tmp_path: Path, **extra_env: str
) -> tuple[int, str, list[str] | None, dict[str, str]]:
    """The main step with the stand-in ``btp-release``: exit code, log, its argv (None: not started), env."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    fake = bin_dir / "btp-release"
    fake.write_text(f"#!{sys.executable}\n{FAKE_CLI}")
    fake.chmod(0o755)
    record = tmp_path / "fake-cli.json"
    record.unlink(missing_ok=True)
    code, log, _ = run_main_step(
        inputs,
        tmp_path,
        PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        FAKE_CLI_RECORD=str(record),
        **extra_env,
    )
    if not record.exists():
        return code, log, None, {}
    called = json.loads(record.read_text())
    return code, log, called["argv"], called["env"]


ARGV_CASES = [
    pytest.param(
        {"command": "submit", "version": "1.2.0"},
        ["submit", "--version", "1.2.0", "--module-dir", "."],
        id="submit",
    ),
    pytest.param(
        # overwrite and credentials belong to the release stages (registry tags, E2E): not passed
        {
            "command": "submit",
            "version": "1.2.0",
            "module-dir": "module",
            "config": "module/release.yaml",
            "ref": "v1.2.0",
            "overwrite": "true",
            "credentials": "real",
        },
        [
            *("submit", "--version", "1.2.0", "--module-dir", "module"),
            *("--config", "module/release.yaml", "--ref", "v1.2.0"),
        ],
        id="submit-all-options",
    ),
    pytest.param(
        {"command": "promote", "version": "1.2.0", "channel": "fast"},
        ["promote", "--version", "1.2.0", "--module-dir", ".", "--channel", "fast"],
        id="promote",
    ),
    pytest.param(
        {"command": "promote", "version": "1.2.0", "channel": "regular", "allow-downgrade": "true"},
        ["promote", "--version", "1.2.0", "--module-dir", ".", "--channel", "regular", "--allow-downgrade"],
        id="promote-downgrade",
    ),
    pytest.param(
        {"command": "withdraw", "version": "1.2.0", "channel": "fast", "allow-downgrade": "true"},
        ["withdraw", "--version", "1.2.0", "--module-dir", "."],
        id="withdraw-ignores-promote-inputs",
    ),
    pytest.param(
        {"command": "plan", "version": "1.2.0", "channel": "fast"},
        ["plan", "--version", "1.2.0", "--module-dir", ".", "--credentials", "dummy", "--promote", "fast"],
        id="plan-channel",
    ),
    pytest.param(
        {"command": "plan", "version": "1.2.0"},
        ["plan", "--version", "1.2.0", "--module-dir", ".", "--credentials", "dummy"],
        id="plan",
    ),
    pytest.param(
        {"command": "publish", "version": "1.2.0", "channel": "fast", "allow-downgrade": "true"},
        ["publish", "--version", "1.2.0", "--module-dir", ".", "--credentials", "dummy"],
        id="publish-ignores-promote-inputs",
    ),
]


@pytest.mark.parametrize(("inputs", "argv"), ARGV_CASES)
def test_run_sh_builds_the_argv_of_each_command(
    inputs: dict[str, str], argv: list[str], tmp_path: Path
) -> None:
    code, log, called, _ = run_with_fake_cli(inputs, tmp_path)
    assert code == 0, log
    assert called == argv


TEST_MODULE_CASES = [
    pytest.param(
        {"command": "test-module", "module": "r.io/m@sha256:1", "scenarios": "main, upgrade-while-deleting,"},
        [
            *("test-module", "--module", "r.io/m@sha256:1", "--scenario", "main"),
            *("--scenario", "upgrade-while-deleting", "--credentials", "dummy"),
        ],
        id="test-module-scenarios",
    ),
    pytest.param(
        {"command": "test-module", "module-config": "module-config.yaml", "k3s-version": "v1.31.4+k3s1"},
        [
            *("test-module", "--module-config", "module-config.yaml", "--credentials", "dummy"),
            *("--kubeconfig", "/etc/rancher/k3s/k3s.yaml"),
        ],
        id="test-module-from-module-config",
    ),
]


@pytest.mark.parametrize(("inputs", "argv"), TEST_MODULE_CASES)
def test_run_sh_builds_the_argv_of_test_module(
    inputs: dict[str, str], argv: list[str], tmp_path: Path
) -> None:
    code, log, called, _ = run_with_fake_cli(inputs, tmp_path)
    assert code == 0, log
    assert called == argv
    args = build_parser().parse_args(argv)  # exits (SystemExit) on an argument the command does not take
    assert args.command == "test-module"


def test_test_module_without_module_or_module_config_fails_before_the_cli_starts(tmp_path: Path) -> None:
    code, log, called, _ = run_with_fake_cli({"command": "test-module"}, tmp_path)
    assert code == 2 and called is None
    assert "test-module needs the module input, the module-config input, or both" in log


def _cli_commands() -> set[str]:
    parser = build_parser()
    subcommands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return set(subcommands.choices)


@pytest.mark.parametrize(("inputs", "argv"), ARGV_CASES)
def test_the_cli_accepts_the_argv_run_sh_builds(inputs: dict[str, str], argv: list[str]) -> None:
    if not {"submit", "promote", "withdraw"} <= _cli_commands():
        pytest.skip("btp-release has no submit, promote and withdraw commands yet")
    args = build_parser().parse_args(argv)  # exits (SystemExit) on an argument the command does not take
    assert args.command == inputs["command"] and args.version == "1.2.0"
    # The channel input names the channel to promote to (promote, plan): it must never land in the
    # ModuleTemplate channel setting, which the release commands' --channel sets.
    assert getattr(args, "set_channel", None) is None
    if inputs["command"] in ("promote", "plan") and inputs.get("channel"):
        assert any(value in (inputs["channel"], [inputs["channel"]]) for value in vars(args).values())


def test_promote_without_a_channel_fails_before_the_cli_starts(tmp_path: Path) -> None:
    token = "ghs_manifests-token-value"
    code, log, called, _ = run_with_fake_cli(
        {"command": "promote", "version": "1.2.0", "manifests-token": token}, tmp_path
    )
    assert code != 0 and called is None
    assert "the channel input is required for promote" in log
    assert token not in log


@pytest.mark.parametrize("command", ["submit", "promote", "withdraw"])
def test_manifests_commands_need_a_version(command: str, tmp_path: Path) -> None:
    code, log, called, _ = run_with_fake_cli({"command": command, "channel": "fast"}, tmp_path)
    assert code != 0 and called is None
    assert f"the version input is required for {command}" in log


def test_the_manifests_token_reaches_the_cli_under_its_own_name_only(tmp_path: Path) -> None:
    token, module_token = "ghs_manifests-token-value", "ghs_module-token-value"
    code, log, called, env = run_with_fake_cli(
        {"command": "submit", "version": "1.2.0", "manifests-token": token, "token": module_token}, tmp_path
    )
    assert code == 0, log
    assert env["BTP_RELEASE_MANIFESTS_TOKEN"] == token
    assert env["GITHUB_TOKEN"] == module_token  # the module repository keeps its own token
    assert [name for name, value in env.items() if token in value] == ["BTP_RELEASE_MANIFESTS_TOKEN"]
    assert called is not None and token not in " ".join(called)
    assert token not in log


def test_an_empty_manifests_token_leaves_the_callers_variable_alone(tmp_path: Path) -> None:
    # The runner gives a composite step the env: of the step that uses the action, overridden by its own.
    _, _, _, env = run_with_fake_cli(
        {"command": "withdraw", "version": "1.2.0"}, tmp_path, BTP_RELEASE_MANIFESTS_TOKEN="from-the-job"
    )
    assert env["BTP_RELEASE_MANIFESTS_TOKEN"] == "from-the-job"
    _, _, _, env = run_with_fake_cli({"command": "withdraw", "version": "1.2.0"}, tmp_path)
    assert "BTP_RELEASE_MANIFESTS_TOKEN" not in env


WORKFLOW_EXPRESSION = re.compile(r"\$\{\{\s*(inputs|secrets)\.([A-Za-z0-9_-]+)\s*\}\}")


@pytest.mark.parametrize(
    ("workflow", "job", "dispatch", "argv"),
    [
        pytest.param(
            "release.yaml",
            "submit",
            {"version": "1.2.0", "credentials": "dummy", "submit": "true"},
            ["submit", "--version", "1.2.0", "--module-dir", "."],
            id="release-submit",
        ),
        pytest.param(
            "promote.yaml",
            "promote",
            {"version": "1.2.0", "channel": "fast", "allow-downgrade": "false"},
            ["promote", "--version", "1.2.0", "--module-dir", ".", "--channel", "fast"],
            id="promote",
        ),
        pytest.param(
            "promote.yaml",
            "promote",
            {"version": "1.2.0", "channel": "regular", "allow-downgrade": "true"},
            [
                "promote",
                "--version",
                "1.2.0",
                "--module-dir",
                ".",
                "--channel",
                "regular",
                "--allow-downgrade",
            ],
            id="promote-downgrade",
        ),
        pytest.param(
            "withdraw.yaml",
            "withdraw",
            {"version": "1.2.0"},
            ["withdraw", "--version", "1.2.0", "--module-dir", "."],
            id="withdraw",
        ),
    ],
)
def test_the_workflows_reach_the_cli_with_their_inputs_and_the_manifests_secret(
    workflow: str, job: str, dispatch: dict[str, str], argv: list[str], tmp_path: Path
) -> None:
    """The workflow's ``with:`` as the runner renders it (dispatch inputs, secrets), through the action."""
    secrets = {"BTP_RELEASE_MANIFESTS_TOKEN": "ghs_manifests-secret"}
    step = next(
        s
        for s in yaml.safe_load((WORKFLOWS / workflow).read_text())["jobs"][job]["steps"]
        if s.get("uses") == "./action"
    )
    values = {"inputs": dispatch, "secrets": secrets}
    inputs = {
        name: WORKFLOW_EXPRESSION.sub(lambda m: values[m.group(1)][m.group(2)], str(value))
        for name, value in step["with"].items()
    }
    code, log, called, env = run_with_fake_cli(inputs, tmp_path)
    assert code == 0, log
    assert called == argv
    assert env["BTP_RELEASE_MANIFESTS_TOKEN"] == "ghs_manifests-secret"
