"""The docs' Python examples run as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"


def _python_blocks(path: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", path.read_text(), flags=re.DOTALL)


def test_repl_walkthrough_runs(capsys: pytest.CaptureFixture[str]) -> None:
    blocks = _python_blocks(DOCS / "github.md")
    assert blocks, "docs/github.md lost its example"
    exec(compile(blocks[-1], "docs/github.md", "exec"), {})  # noqa: S102 - our own documentation
    assert capsys.readouterr().out.strip().endswith("1.2.0")


def test_testing_on_k3s_example_runs_against_the_simulator(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    blocks = _python_blocks(DOCS / "testing-on-k3s.md")
    assert len(blocks) == 2, "docs/testing-on-k3s.md lost its example"
    monkeypatch.chdir(DOCS.parent)  # the example reads examples/btp-operator
    namespace: dict[str, object] = {}
    exec(compile(blocks[0], "docs/testing-on-k3s.md", "exec"), namespace)  # noqa: S102 - our own docs
    try:
        exec(compile(blocks[1], "docs/testing-on-k3s.md", "exec"), namespace)  # noqa: S102
    finally:
        namespace["sim"].stop()  # type: ignore[attr-defined]
    out = capsys.readouterr().out
    assert out.startswith("True ")
    assert "passed   " in out
    assert "BtpOperator kyma-system/btpoperator state Ready, Ready=True (ReconcileSucceeded)" in out
    assert "JUnit:" in out and "diagnostics:" not in out


def test_todays_flow_example_prints_what_the_page_shows(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Release, submit, merge, promote fast and a refused withdraw against the simulators and a local
    registry; the output is the page's, port aside."""
    from btp_release.localservices.registry import registry_binary

    if registry_binary() is None:
        pytest.skip("docker-registry is not installed")
    page = (DOCS / "todays-flow.md").read_text()
    (block,) = _python_blocks(DOCS / "todays-flow.md")
    shown = page.split(block, 1)[1].split("```text\n", 1)[1].split("```", 1)[0]
    monkeypatch.chdir(DOCS.parent)  # the example copies examples/sample-operator
    exec(compile(block, "docs/todays-flow.md", "exec"), {})  # noqa: S102 - our own documentation
    out = re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:PORT", capsys.readouterr().out)
    assert out == shown
    assert "withdraw refused, exit 4" in out and "publish changed" in out


def test_manifests_example_runs(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    (block,) = _python_blocks(DOCS / "manifests.md")
    monkeypatch.chdir(DOCS.parent)  # the example reads examples/sample-operator
    exec(compile(block, "docs/manifests.md", "exec"), {})  # noqa: S102 - our own documentation
    out = capsys.readouterr().out
    assert out.startswith("change sample-operator-0.3.0 ['modules/sample-operator/0.3.0/module-config.yaml']")
    assert "Submit sample-operator 0.3.0" in out and "  - channel: fast\n    version: 0.3.0" in out


def test_the_cli_reference_is_generated_from_the_parser() -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("mkdocs_hooks", DOCS.parent / "mkdocs_hooks.py")
    assert spec is not None and spec.loader is not None
    hooks = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hooks)
    page = hooks.on_page_markdown("# CLI\n\n<!-- cli-reference -->\n")
    for command in (
        "validate",
        "run",
        "plan",
        "replace",
        "rehearse",
        "test-module",
        "k3s-versions",
        "k3s-up",
        "submit",
        "promote",
        "withdraw",
    ):
        assert f"## btp-release {command}" in page
    assert "--snapshot" in page and "--github-repo" in page and "<!-- cli-reference -->" not in page
    assert "--allow-downgrade" in page and "--manifests-repo" in page and "--withdraw" in page


def test_every_page_is_in_the_site_navigation() -> None:
    import yaml

    config = yaml.safe_load((DOCS.parent / "mkdocs.yml").read_text())

    def pages(items: object) -> list[str]:
        found: list[str] = []
        for item in items if isinstance(items, list) else []:
            for value in item.values():
                found += pages(value) if isinstance(value, list) else [value]
        return found

    assert sorted(pages(config["nav"])) == sorted(p.name for p in DOCS.glob("*.md"))


def test_troubleshooting_lists_every_error_class() -> None:
    import btp_release.cluster
    import btp_release.config
    import btp_release.module
    import btp_release.pipeline
    from btp_release.errors import BtpReleaseError

    assert btp_release.cluster and btp_release.config and btp_release.module and btp_release.pipeline

    def subclasses(cls: type) -> set[type]:
        found = set(cls.__subclasses__())
        for sub in list(found):
            found |= subclasses(sub)
        return found

    page = (DOCS / "errors.md").read_text()
    ours = {c for c in subclasses(BtpReleaseError) if c.__module__.startswith("btp_release.")}
    missing = sorted(c.__name__ for c in ours if f"`{c.__name__}`" not in page)
    assert not missing, f"docs/errors.md lacks {missing}"
