"""One preflight: for every failure an outside audit found, ``validate`` fails and ``run`` leaves
nothing behind — no release, no tag, no registry tag, no mutating GitHub call.

Before the preflight, ``validate`` passed these cases and ``run`` created the draft, the tag and the
module's registry tag before stopping.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable

import attrs
import pytest

from btp_release.localservices.registry import registry_binary
from btp_release.testing.release import commit_checkout

from .test_cli_release import EMPTY_GITHUB, MUTATING, Cli, make_cli  # noqa: F401

pytestmark = pytest.mark.skipif(registry_binary() is None, reason="docker-registry is not installed")


@attrs.frozen
class Finding:
    """An audit finding: how to make it, the exit code, words the error names."""

    id: str
    code: int
    says: tuple[str, ...]
    prepare: Callable[[Cli], tuple[str, ...] | None]
    docker: bool = True
    stand_in: bool = True  # without docker: the image another job pushed is in the registry


def image_missing_without_docker(cli: Cli) -> None:
    """--no-docker (the default of a Cli without a daemon) and no image in the registry."""


def unknown_ref_sha(cli: Cli) -> tuple[str, ...]:
    return ("--ref", "0123456789abcdef0123456789abcdef01234567")


def default_cr_kind_typo(cli: Cli) -> None:
    path = cli.module_dir / "examples" / "btp-operator.yaml"
    path.write_text(path.read_text().replace("kind: BtpOperator", "kind: BtpOperatr"))
    cli.sim.add_commit(
        "typo", sha=commit_checkout(cli.module_dir, "typo")
    )  # committed: only the kind is wrong


def dirty_module_file(cli: Cli) -> None:
    path = cli.module_dir / "manifests" / "btp-manager.yaml"
    path.write_text(path.read_text() + "# edited after the commit\n")


def untracked_file_in_build_context(cli: Cli) -> None:
    (cli.module_dir / "bin" / "leftover").write_text("not committed\n")


def head_is_not_the_release_commit(cli: Cli) -> None:
    cli.sim.add_commit("merged on GitHub, not checked out here")


def not_a_git_checkout(cli: Cli) -> None:
    shutil.rmtree(cli.module_dir / ".git")


FINDINGS = [
    Finding(
        "image-missing-no-docker",
        3,
        ("not in the registry and no Docker daemon",),
        image_missing_without_docker,
        docker=False,
        stand_in=False,
    ),
    Finding("unknown-ref-sha", 3, ("is not a commit, branch or tag",), unknown_ref_sha),
    Finding(
        "default-cr-kind-without-crd",
        2,
        ("kind BtpOperatr", "has no CustomResourceDefinition"),
        default_cr_kind_typo,
    ),
    Finding(
        "dirty-module-file", 2, ("not a clean checkout", "manifests/btp-manager.yaml"), dirty_module_file
    ),
    Finding(
        "untracked-file-in-build-context",
        2,
        ("not a clean checkout", "bin/leftover"),
        untracked_file_in_build_context,
    ),
    Finding("head-is-not-the-release-commit", 2, ("not the release commit",), head_is_not_the_release_commit),
    Finding("not-a-git-checkout", 2, ("is not a git checkout",), not_a_git_checkout),
]


@pytest.mark.parametrize("command", ["validate", "run"])
@pytest.mark.parametrize("finding", FINDINGS, ids=[f.id for f in FINDINGS])
def test_validate_fails_and_run_leaves_nothing(
    finding: Finding, command: str, make_cli: Callable[..., Cli]
) -> None:
    cli = make_cli(docker=finding.docker, stand_in=finding.stand_in)
    cli.configure(e2e_required=False)
    argv = finding.prepare(cli) or ()
    before = cli.state()
    cli.sim.clear_requests()

    outcome = cli(command, *argv)

    assert outcome.code == finding.code, outcome.text
    for words in finding.says:
        assert words in outcome.err, outcome.err
    assert "Traceback" not in outcome.text
    assert cli.state() == before
    assert {k: v for k, v in before.items() if k != "registry"} == EMPTY_GITHUB
    assert before["registry"] == [[] for _ in cli.registries]
    changed = [r for r in cli.sim.requests if r.method in MUTATING]
    assert not changed, changed


def test_every_problem_is_listed_at_once(make_cli: Callable[..., Cli]) -> None:
    """A typo in the default CR, a dirty file, a missing image and an unknown ref: one run names all."""
    cli = make_cli(docker=False, stand_in=False)
    cli.configure(e2e_required=False)
    default_cr_kind_typo(cli)
    dirty_module_file(cli)

    outcome = cli("validate", *unknown_ref_sha(cli))

    assert outcome.code == 12, outcome.text
    assert "the preflight found 4 problems; nothing was changed" in outcome.err
    for words in ("kind BtpOperatr", "not a clean checkout", "is not a commit", "no Docker daemon"):
        assert words in outcome.err


def test_plan_agrees_with_validate(make_cli: Callable[..., Cli]) -> None:
    """What validate refuses, the plan shows as the reason the release cannot start."""
    cli = make_cli(docker=False, stand_in=False)
    cli.configure(e2e_required=False)
    validated = cli("validate")
    planned = cli("plan")
    assert validated.code == planned.code == 3
    assert "no Docker daemon is used to build it" in validated.err
    assert "no Docker daemon is used to build it" in planned.err


def test_offline_validate_checks_the_files_and_reports_the_network_part_apart(
    make_cli: Callable[..., Cli],
) -> None:
    """With a token but GitHub out of reach, the files are reported valid and the failure is GitHub's.
    (A host under .invalid never resolves, so this needs no network and fails at once.)"""
    cli = make_cli(docker=True)
    cli.configure(e2e_required=False, github_api_url="https://api.github.invalid")

    outcome = cli("validate")

    assert outcome.code == 2, outcome.text
    assert "module files valid" in outcome.out
    assert outcome.err.startswith("error: GitHub"), outcome.err  # the failure is GitHub's, not the files'
    assert "api.github.invalid" in outcome.err and "github-api-url" in outcome.err
