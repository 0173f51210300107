"""btp-release as a user gets it: the wheel, installed with its runtime dependencies only.

``pip install btp-release`` (no ``[test]`` extra) must make every command work, and the pytest
plugin it registers (loaded into every test run of any project where btp-release is installed)
must neither break a foreign project's tests nor fail its fixtures. These tests build the wheel of
this checkout once, install it and pytest into a fresh virtual environment, and run the installed
``btp-release`` and ``pytest`` there, in temporary directories outside the checkout (so nothing is
imported from the source tree).

Needs ``python -m venv`` with pip and a package index that pip can reach (the build backend and
the runtime dependencies come from it); skips with the reason otherwise.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from btp_release.cli import build_parser

REPO = Path(__file__).resolve().parent.parent

# pip's messages when it cannot reach a package index: the environment, not btp-release, is at fault.
_UNREACHABLE = (
    "Failed to establish a new connection",
    "Temporary failure in name resolution",
    "Name or service not known",
    "Network is unreachable",
    "Could not fetch URL",
    "ProxyError",
)
PIP_TIMEOUT = 600.0
RUN_TIMEOUT = 120.0


def _why_not_installable() -> str:
    if not (REPO / "pyproject.toml").is_file():
        return f"no source checkout to build a wheel from (no pyproject.toml in {REPO})"
    if importlib.util.find_spec("ensurepip") is None:
        return "python -m venv cannot install pip here: no ensurepip (apt-get install python3-venv)"
    if os.environ.get("PIP_NO_INDEX", "").lower() in {"1", "true", "yes", "on"} and not os.environ.get(
        "PIP_FIND_LINKS"
    ):
        return "pip may use no package index (PIP_NO_INDEX) and has no find-links to build and install from"
    return ""


_REASON = _why_not_installable()

pytestmark = [
    pytest.mark.skipif(bool(_REASON), reason=_REASON or "installable"),
    # Building the wheel and installing it with its dependencies takes tens of seconds, more on a cold
    # pip cache; the module-scoped fixture runs inside the first test's time.
    pytest.mark.timeout(int(PIP_TIMEOUT * 2 + RUN_TIMEOUT)),
]


def _subcommands() -> list[str]:
    for action in build_parser()._actions:
        if isinstance(action, argparse._SubParsersAction):
            return sorted(action.choices)
    raise AssertionError("btp-release's parser has no subcommands")


@dataclass(frozen=True)
class Venv:
    """A virtual environment with the built wheel and pytest installed, nothing else of ours."""

    root: Path
    env: dict[str, str]

    @property
    def bin(self) -> Path:
        return self.root / "bin"

    def run(
        self, program: str, *args: str, cwd: Path, timeout: float = RUN_TIMEOUT
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.bin / program), *args],
            cwd=cwd,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


def _pip(args: Sequence[str], *, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run pip; skip the module when it cannot reach a package index, fail on anything else."""
    try:
        result = subprocess.run(
            list(args), cwd=cwd, env=env, capture_output=True, text=True, timeout=PIP_TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired:
        pytest.skip(f"pip did not finish within {PIP_TIMEOUT:.0f} s (is the package index reachable?)")
    if result.returncode != 0:
        output = result.stdout + result.stderr
        if any(sign in output for sign in _UNREACHABLE):
            pytest.skip(f"pip cannot reach a package index: {output.strip().splitlines()[-1]}")
        pytest.fail(f"{' '.join(args[:4])} … failed ({result.returncode}):\n{output[-4000:]}")
    return result


def _user_env() -> dict[str, str]:
    """This process's environment without what would steer the children's Python or pytest."""
    return {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("PYTHON", "PYTEST_", "VIRTUAL_ENV", "COV_CORE_"))
    }


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Venv:
    work = tmp_path_factory.mktemp("install")
    env = _user_env()
    wheels = work / "wheels"
    _pip(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-input", "-w", str(wheels), str(REPO)],
        cwd=work,
        env=env,
    )
    (wheel,) = wheels.glob("btp_release-*.whl")
    root = work / "venv"
    subprocess.run(
        [sys.executable, "-m", "venv", str(root)], cwd=work, env=env, check=True, timeout=RUN_TIMEOUT
    )
    env = {**env, "VIRTUAL_ENV": str(root), "PATH": f"{root / 'bin'}{os.pathsep}{env.get('PATH', '')}"}
    # Runtime dependencies only: what `pip install btp-release` gives a user, plus pytest.
    _pip(
        [str(root / "bin" / "python"), "-m", "pip", "install", "--no-input", str(wheel), "pytest"],
        cwd=work,
        env=env,
    )
    return Venv(root, env)


def test_the_venv_has_the_installed_wheel_and_no_test_extra(venv: Venv, tmp_path: Path) -> None:
    probe = textwrap.dedent(
        """
        import importlib.util, btp_release
        print(btp_release.__file__)
        print([m for m in ("hypothesis", "openapi_core", "pytest_timeout", "oras", "github", "ghapi")
               if importlib.util.find_spec(m)])
        """
    )
    result = venv.run("python", "-c", probe, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    location, extras = result.stdout.splitlines()
    assert Path(location).is_relative_to(venv.root)
    assert extras == "[]"


def test_help_exits_0(venv: Venv, tmp_path: Path) -> None:
    result = venv.run("btp-release", "--help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    for command in _subcommands():
        assert command in result.stdout


@pytest.mark.parametrize("command", _subcommands())
def test_every_command_help_exits_0(venv: Venv, tmp_path: Path, command: str) -> None:
    result = venv.run("btp-release", command, "--help", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert result.stdout.startswith("usage:")


def test_rehearse_runs(venv: Venv, tmp_path: Path) -> None:
    result = venv.run("btp-release", "rehearse", "--version", "1.2.0", cwd=tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Traceback" not in output
    assert "error:" not in output
    assert "published 1.2.0" in result.stdout


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["rehearse", "--version", "1.2"], "invalid release version '1.2'"),
        (["run", "--version", "1.2.0", "--snapshot", "--module-dir", "/nonexistent"], "/nonexistent"),
    ],
    ids=["bad-version", "missing-module-dir"],
)
def test_invalid_input_exits_2_with_an_error_line(
    venv: Venv, tmp_path: Path, args: list[str], says: str
) -> None:
    result = venv.run("btp-release", *args, cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert errors, result.stderr
    assert says in result.stderr


def _foreign_project(directory: Path, tests: str) -> Path:
    """A project that knows nothing of btp-release but has it installed beside pytest."""
    directory.mkdir()
    (directory / "pytest.ini").write_text("[pytest]\n")
    (directory / "test_foreign.py").write_text(textwrap.dedent(tests))
    return directory


def test_a_foreign_projects_tests_run_with_the_plugin_loaded(venv: Venv, tmp_path: Path) -> None:
    project = _foreign_project(
        tmp_path / "foreign",
        """
        def test_ok():
            assert 1 + 1 == 2
        """,
    )
    result = venv.run("pytest", "--trace-config", "-p", "no:cacheprovider", cwd=project)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "1 passed" in result.stdout
    registered = [line for line in output.splitlines() if "btp_release.testing.pytest_plugin" in line]
    assert registered, output
    assert str(venv.root) in registered[0]


def test_a_foreign_project_uses_the_simulator_fixtures(venv: Venv, tmp_path: Path) -> None:
    project = _foreign_project(
        tmp_path / "foreign",
        """
        import ssl

        import httpx

        from btp_release.github import GitHubClient


        def test_a_draft_release_is_listed(github_sim):
            with GitHubClient(
                f"{github_sim.owner}/{github_sim.repo}", token=github_sim.token, api_url=github_sim.api_url
            ) as github:
                draft = github.create_draft_release("1.2.0", target_commitish=github.resolve_commit("main"))
                assert draft.draft
                assert [release.id for release in github.list_releases()] == [draft.id]


        def test_the_kubernetes_simulator_serves_https(kube_sim):
            assert kube_sim.url.startswith("https://")
            trust = ssl.create_default_context(cadata=kube_sim.ca_pem.decode())
            response = httpx.get(f"{kube_sim.url}/version", verify=trust, timeout=10)
            assert response.status_code in (200, 401)
        """,
    )
    result = venv.run("pytest", "-p", "no:cacheprovider", "-rs", cwd=project)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "2 passed" in result.stdout


def test_loading_the_plugin_imports_no_server(venv: Venv, tmp_path: Path) -> None:
    probe = textwrap.dedent(
        """
        import sys
        import btp_release.testing.pytest_plugin
        heavy = ("cryptography", "httpx", "yaml", "docker", "lightkube", "btp_release.testing.")
        print(sorted(name for name in sys.modules if name.startswith(heavy)))
        """
    )
    result = venv.run("python", "-c", probe, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "['btp_release.testing.pytest_plugin']"


def test_a_fixture_whose_package_is_missing_skips_with_the_reason(venv: Venv, tmp_path: Path) -> None:
    project = _foreign_project(
        tmp_path / "foreign",
        """
        def test_uses_the_kubernetes_simulator(kube_sim):
            raise AssertionError("kube_sim should have skipped")
        """,
    )
    # As if cryptography were not installed: importing it raises ModuleNotFoundError.
    (project / "conftest.py").write_text("import sys\n\nsys.modules['cryptography'] = None\n")
    result = venv.run("pytest", "-p", "no:cacheprovider", "-rs", cwd=project)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "1 skipped" in result.stdout
    assert "needs the Python package 'cryptography'" in result.stdout
