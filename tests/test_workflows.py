"""The project's workflows: the release job graph follows the pipeline's stages, least privilege, no
expression inside a script, every action pinned; the module-manifests pull requests (submit after
publish, opt-in; promote; withdraw) get their own token and read-only module access. (Lint:
``nox -s lint_actions`` runs zizmor and actionlint in CI.)"""

from __future__ import annotations

import graphlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from btp_release.pipeline import STAGES

WORKFLOWS = Path(__file__).resolve().parents[1] / ".github" / "workflows"
ALL = sorted(p.name for p in WORKFLOWS.glob("*.y*ml"))
MANIFESTS_SECRET = "${{ secrets.BTP_RELEASE_MANIFESTS_TOKEN }}"


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((WORKFLOWS / name).read_text())
    return data


def needs(job: dict[str, Any]) -> list[str]:
    value = job.get("needs") or []
    return [value] if isinstance(value, str) else list(value)


def action_commands(job: dict[str, Any]) -> list[str]:
    return [step["with"]["command"] for step in job["steps"] if step.get("uses") == "./action"]


def action_step(job: dict[str, Any]) -> dict[str, Any]:
    (step,) = (step for step in job["steps"] if step.get("uses") == "./action")
    return step


def strings(node: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], str]]:
    """Every string value in a parsed workflow, with the keys leading to it."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from strings(value, (*path, str(key)))
    elif isinstance(node, list):
        for value in node:
            yield from strings(value, path)
    elif isinstance(node, str):
        yield path, node


def test_the_expected_workflows_are_checked() -> None:
    assert ALL == ["ci.yaml", "e2e.yaml", "promote.yaml", "release.yaml", "withdraw.yaml"]


@pytest.mark.parametrize("name", ALL)
def test_every_action_is_pinned_to_a_commit(name: str) -> None:
    for job_name, job in load(name)["jobs"].items():
        for step in job["steps"]:
            uses = step.get("uses")
            if uses is not None and not uses.startswith("./"):
                assert re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", uses), f"{name} {job_name}: {uses}"


@pytest.mark.parametrize("name", ALL)
def test_least_privilege_and_no_expression_in_scripts(name: str) -> None:
    workflow = load(name)
    assert workflow["permissions"] == {}  # nothing by default; each job asks for what it needs
    for job_name, job in workflow["jobs"].items():
        assert "permissions" in job, job_name
        for step in job["steps"]:
            assert "${{" not in step.get("run", ""), (job_name, step)
            if str(step.get("uses", "")).startswith("actions/"):
                ref = step["uses"].split("@", 1)[1]
                assert len(ref) == 40, f"{job_name}: {step['uses']} is not pinned to a commit"
            if step.get("uses") == "actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683":
                assert step["with"]["persist-credentials"] is False


def test_the_release_jobs_run_the_stages_in_pipeline_order() -> None:
    jobs = load("release.yaml")["jobs"]
    order = list(graphlib.TopologicalSorter({name: needs(job) for name, job in jobs.items()}).static_order())
    commands = [command for name in order for command in action_commands(jobs[name]) if command in STAGES]
    # each stage once, in the pipeline's order (e2e three times: the matrix job and the two upgrade jobs)
    assert [c for i, c in enumerate(commands) if c not in commands[:i]] == list(STAGES)
    assert commands.count("e2e") == 3
    position = {name: order.index(name) for name in jobs}
    assert position["validate"] < position["draft"] < position["build"] < position["await"]
    assert position["await"] < position["e2e"] < position["publish"]
    assert set(needs(jobs["publish"])) >= {"e2e", "e2e-upgrade-while-deleting", "e2e-upgrade"}


def test_release_jobs_ask_only_for_what_their_stage_does() -> None:
    jobs = load("release.yaml")["jobs"]
    writers = {name for name, job in jobs.items() if job["permissions"].get("contents") == "write"}
    assert writers == {
        "validate",
        "draft",
        "build",
        "e2e",
        "e2e-upgrade-while-deleting",
        "e2e-upgrade",
        "publish",
    }
    assert jobs["await"]["permissions"] == {"contents": "read", "statuses": "read", "checks": "read"}
    assert jobs["k3s-versions"]["permissions"] == {"contents": "read"}
    # submit reads the published release; the manifests repository is written with its own token
    assert jobs["submit"]["permissions"] == {"contents": "read"}


def test_submit_is_an_opt_in_job_after_publish() -> None:
    workflow = load("release.yaml")
    opt_in = workflow[True]["workflow_dispatch"]["inputs"]["submit"]
    assert {"required": False, "type": "boolean", "default": False}.items() <= opt_in.items()
    jobs = workflow["jobs"]
    submit = jobs["submit"]
    assert submit["if"] == "inputs.submit"
    assert "publish" in needs(submit)
    assert not any("submit" in needs(job) for job in jobs.values())  # nothing waits for it
    step = action_step(submit)
    assert step["with"] == {
        "command": "submit",
        "version": "${{ inputs.version }}",
        "manifests-token": MANIFESTS_SECRET,
    }
    checkout = submit["steps"][0]
    assert checkout["with"]["ref"] == "${{ needs.validate.outputs.commit }}"  # the released commit's files
    assert submit["timeout-minutes"] <= 30
    # the manifests repository's token goes to the submit job and to no other
    holders = {
        name for name, job in jobs.items() if any("BTP_RELEASE_MANIFESTS_TOKEN" in v for _, v in strings(job))
    }
    assert holders == {"submit"}


@pytest.mark.parametrize(
    ("name", "inputs"),
    [
        (
            "promote.yaml",
            {
                "version": {"required": True, "type": "string"},
                "channel": {"required": True, "type": "choice", "options": ["fast", "regular"]},
                "allow-downgrade": {"required": False, "type": "boolean", "default": False},
            },
        ),
        ("withdraw.yaml", {"version": {"required": True, "type": "string"}}),
    ],
)
def test_promote_and_withdraw_open_one_pull_request_per_version(name: str, inputs: dict[str, Any]) -> None:
    workflow = load(name)
    command = name.removesuffix(".yaml")
    assert set(workflow[True]) == {"workflow_dispatch"}
    dispatch = workflow[True]["workflow_dispatch"]["inputs"]
    assert set(dispatch) == set(inputs)
    for input_name, expected in inputs.items():
        assert expected.items() <= dispatch[input_name].items(), input_name
    assert workflow["concurrency"] == {
        "group": f"module-manifests-{command}-${{{{ inputs.version }}}}",
        "cancel-in-progress": False,
    }
    (job,) = workflow["jobs"].values()
    assert workflow["permissions"] == {} and job["permissions"] == {"contents": "read"}
    assert "timeout-minutes" in job
    step = action_step(job)
    assert step["with"] == {
        "command": command,
        "manifests-token": MANIFESTS_SECRET,
        **{key: f"${{{{ inputs.{key} }}}}" for key in inputs},
    }
    # inputs reach commands only as the action's inputs (its env:) or a step's env:, never a script
    for path, value in strings(job):
        if "${{" in value:
            assert path[-2] in ("with", "env"), (path, value)


def test_release_runs_once_per_version_and_e2e_spans_k3s_versions() -> None:
    workflow = load("release.yaml")
    assert workflow["concurrency"] == {"group": "release-${{ inputs.version }}", "cancel-in-progress": False}
    assert workflow["env"]["BTP_RELEASE_E2E_RUNNER"] == "btp_release.e2e.run:kubeconfig_runner"
    jobs = workflow["jobs"]
    e2e = jobs["e2e"]
    assert e2e["strategy"]["matrix"]["k3s"] == "${{ fromJSON(needs.k3s-versions.outputs.k3s) }}"
    # the runner's name is the verdict's and part of every instance name: one per matrix entry
    assert action_step(e2e)["env"]["E2E_RUNNER_NAME"] == "k3s-${{ matrix.k3s }}"
    assert action_step(e2e)["env"]["E2E_SCENARIOS"] == "module,main"
    assert action_step(e2e)["with"]["credentials"] == "${{ inputs.credentials }}"
    while_deleting = action_step(jobs["e2e-upgrade-while-deleting"])
    assert while_deleting["env"]["E2E_SCENARIOS"] == "upgrade-while-deleting"
    assert while_deleting["with"]["credentials"] == "dummy"  # as btp-manager's job
    assert not any(key.startswith("SM_") for key in while_deleting["env"])
    upgrade = jobs["e2e-upgrade"]
    assert upgrade["if"] == "inputs.credentials == 'real'"
    step = action_step(upgrade)
    assert step["env"]["E2E_SCENARIOS"] == "upgrade" and step["with"]["credentials"] == "real"
    # btp-manager's time limits: main 10 min, upgrades 5 min each (plus k3s and the generic scenario here)
    assert e2e["timeout-minutes"] == 20
    assert (
        jobs["e2e-upgrade-while-deleting"]["timeout-minutes"] == jobs["e2e-upgrade"]["timeout-minutes"] == 10
    )
    # publish waits for all three; upgrade may be skipped (dummy credentials)
    publish_if = jobs["publish"]["if"]
    assert "needs.e2e-upgrade-while-deleting.result == 'success'" in publish_if
    assert "needs.e2e-upgrade.result != 'failure'" in publish_if


@pytest.mark.parametrize(("name", "jobs"), [("release.yaml", ("e2e", "e2e-upgrade")), ("e2e.yaml", ("e2e",))])
def test_real_credentials_reach_the_scenarios_under_our_names_or_btp_managers(
    name: str, jobs: tuple[str, ...]
) -> None:
    """The SM_* secrets, or btp-manager's repository secrets CLIENT_ID, CLIENT_SECRET, SM_URL, TOKENURL;
    base64 by default, as btp-manager keeps them (input credentials-encoding)."""
    workflow = load(name)
    encoding = workflow[True]["workflow_dispatch"]["inputs"]["credentials-encoding"]
    assert encoding["options"] == ["base64", "plain"] and encoding["default"] == "base64"
    for job in jobs:
        steps = workflow["jobs"][job]["steps"]
        step = next(s for s in steps if s.get("uses") == "./action" or s.get("name") == "Run the scenarios")
        assert {k: v for k, v in step["env"].items() if k.startswith("SM_")} == {
            "SM_CREDENTIALS_ENCODING": "${{ inputs.credentials-encoding }}",
            "SM_CLIENT_ID": "${{ secrets.SM_CLIENT_ID || secrets.CLIENT_ID }}",
            "SM_CLIENT_SECRET": "${{ secrets.SM_CLIENT_SECRET || secrets.CLIENT_SECRET }}",
            "SM_URL": "${{ secrets.SM_URL }}",
            "SM_TOKEN_URL": "${{ secrets.SM_TOKEN_URL || secrets.TOKENURL }}",
        }, (name, job)


def test_the_e2e_workflow_tests_the_module_on_every_k3s_version() -> None:
    workflow = load("e2e.yaml")
    assert set(workflow[True]) == {"workflow_dispatch", "workflow_call"}  # YAML 1.1 reads `on` as true
    assert set(workflow[True]["workflow_call"]["secrets"]) >= {"SM_CLIENT_ID", "CLIENT_ID", "TOKENURL"}
    job = workflow["jobs"]["e2e"]
    assert job["needs"] == "versions"
    assert job["strategy"]["matrix"]["k3s"] == "${{ fromJSON(needs.versions.outputs.k3s) }}"
    scenario = next(s for s in job["steps"] if s.get("name") == "Run the scenarios")
    assert scenario["env"]["MODULE"] == "${{ inputs.module }}"
    assert scenario["env"]["SCENARIOS"] == "${{ inputs.scenarios }}"
    assert scenario["env"]["MODULE_CONFIG"] == "${{ inputs.module-config }}"
    for trigger in ("workflow_dispatch", "workflow_call"):
        assert workflow[True][trigger]["inputs"]["module-config"]["default"] == ""
    assert "btp-release test-module" in scenario["run"]
    assert 'args+=(--module-config "$MODULE_CONFIG")' in scenario["run"]
    # Called from another repository the checkout is the caller's: what to install is an input.
    for job in workflow["jobs"].values():
        install = next(s for s in job["steps"] if s.get("name") == "Install btp-release")
        assert install["env"] == {"BTP_RELEASE": "${{ inputs.btp-release }}"}
        assert install["run"] == 'python -m pip install "${BTP_RELEASE:-.}"'
    for trigger in ("workflow_dispatch", "workflow_call"):
        assert workflow[True][trigger]["inputs"]["btp-release"]["default"] == ""
    # instance names carry the run and the matrix entry (btp-manager: JOB-K8S_VER-RUN_ID)
    assert '--run-id "$GITHUB_RUN_ID-k3s-$K3S_VERSION"' in scenario["run"]
    assert scenario["env"]["K3S_VERSION"] == "${{ matrix.k3s }}"


def test_ci_runs_the_readme_test_command_on_pull_requests() -> None:
    workflow = load("ci.yaml")
    assert "pull_request" in workflow[True]
    runs = [step.get("run", "") for step in workflow["jobs"]["checks"]["steps"]]
    readme = (WORKFLOWS.parents[1] / "README.md").read_text()
    assert "nox -s lint typecheck tests" in readme
    assert any("nox -s lint typecheck tests" in run for run in runs)
    assert any("nox -s lint_actions" in run for run in runs)
