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
