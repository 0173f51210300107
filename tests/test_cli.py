"""The ``btp-release`` command line: the README's main job and its error handling."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from btp_release.cli import main


def test_rehearse_json_reports_a_complete_release(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rehearse", "--version", "1.2.0", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["version"] == "1.2.0"
    assert result["latest_tag"] == "1.2.0"
    assert sorted(result["assets"]) == sorted(
        ["template.yaml", "template_control_plane.yaml", "btp-manager.yaml", "btp-operator-default-cr.yaml"]
    )
    assert len(result["tag_sha"]) == 40
    # both runs together stay well inside the call budget of a release
    assert 0 < result["api_calls"] <= 60


@pytest.mark.parametrize(
    ("version", "reason"),
    [
        ("v1.2.0", "drop the leading 'v'"),
        ("1.2", "three numbers"),
        ("1.2.0;rm -rf /", "only digits, letters"),
        ("$(id)", "only digits, letters"),
    ],
)
def test_bad_version_exits_2_without_traceback(
    version: str, reason: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["rehearse", "--version", version]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("error: invalid release version")
    assert reason in captured.err
    assert "Traceback" not in captured.err + captured.out


def test_entry_point_runs_as_a_program() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "btp_release.cli", "rehearse", "--version", "1.2.0"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "published 1.2.0" in done.stdout
    assert "re-run: tag 1.2.0" in done.stdout


@pytest.mark.skipif(shutil.which("docker-registry") is None, reason="docker-registry is not installed")
def test_rehearse_a_whole_release_of_the_example_module(capsys: pytest.CaptureFixture[str]) -> None:
    root = Path(__file__).resolve().parents[1]
    assert main(["rehearse", "--version", "1.2.0", "--module-dir", str(root), "--json"], environ={}) == 0
    results = json.loads(capsys.readouterr().out)  # the second run's results
    assert [r["stage"] for r in results] == [
        "validate",
        "draft",
        "build",
        "upload",
        "await",
        "e2e",
        "publish",
    ]
    assert {r["status"] for r in results} == {"unchanged"}
    assert results[-1]["outputs"]["release_url"].endswith("/releases/tag/1.2.0")
