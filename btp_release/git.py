"""The local git checkout a release is made from: which commit it holds and which module files differ.

A release records a commit and is built from files on disk; publishing what was tested needs the two
to agree. :func:`inspect_worktree` asks ``git`` (``rev-parse HEAD``, ``status --porcelain`` limited to
the files the release reads) and :meth:`WorkTree.problems` says, for a given release commit, what
stands between the files and that commit. Read-only: nothing here changes the checkout.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterable, Sequence
from pathlib import Path

import attrs

from btp_release.redaction import get_logger

__all__ = ["WorkTree", "inspect_worktree"]

log = get_logger(__name__)
_GIT_TIMEOUT = 30.0
_SHOWN = 10  # changed files listed in a message


@attrs.frozen
class WorkTree:
    """What ``git`` says of a module directory: its ``HEAD`` (``None``: not a checkout, ``reason`` says
    why) and the release's files that differ from ``HEAD`` (modified, staged, deleted or untracked)."""

    directory: Path
    head: str | None
    changed: tuple[str, ...] = ()
    reason: str = ""

    @property
    def clean(self) -> bool:
        return self.head is not None and not self.changed

    def problems(self, commit: str | None) -> list[str]:
        """Why the files are not those of ``commit`` (``None``: only "a clean checkout"); empty if so."""
        if self.head is None:
            return [
                f"{self.directory} is not a git checkout ({self.reason}), so its files cannot be tied to "
                "a commit"
            ]
        problems = []
        if commit is not None and self.head != commit:
            problems.append(
                f"{self.directory} has commit {self.head[:12]} checked out, not the release commit {commit}"
            )
        if self.changed:
            shown = ", ".join(self.changed[:_SHOWN]) + (
                f" and {len(self.changed) - _SHOWN} more" if len(self.changed) > _SHOWN else ""
            )
            problems.append(f"files the release reads differ from commit {self.head[:12]}: {shown}")
        return problems


def _git(directory: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", "-C", str(directory), *args],
        capture_output=True,
        text=True,
        timeout=_GIT_TIMEOUT,
        check=False,
    )


def inspect_worktree(directory: Path, paths: Iterable[Path], *, ignore: Iterable[Path] = ()) -> WorkTree:
    """The checkout state of ``directory`` for the files and directories in ``paths`` (absolute, or
    relative to ``directory``), less those in ``ignore``. Never raises for a missing ``git`` or a
    non-checkout: the result says so."""
    try:
        head = _git(directory, "rev-parse", "--verify", "HEAD")
    except (OSError, subprocess.TimeoutExpired) as exc:
        return WorkTree(directory, None, reason=f"cannot run git: {exc}")
    if head.returncode != 0:
        return WorkTree(
            directory, None, reason=head.stderr.strip().splitlines()[-1:][0] if head.stderr else ""
        )
    absolute = [str(p if p.is_absolute() else directory / p) for p in paths]
    absolute += [f":(exclude){p if p.is_absolute() else directory / p}" for p in ignore]
    status = _git(directory, "status", "--porcelain=v1", "-z", "--untracked-files=all", "--", *absolute)
    if status.returncode != 0:  # e.g. a configured file outside the repository
        return WorkTree(directory, head.stdout.strip(), (status.stderr.strip() or "git status failed",))
    return WorkTree(directory, head.stdout.strip(), _changed(status.stdout))


def _changed(porcelain: str) -> tuple[str, ...]:
    """Paths of ``git status --porcelain=v1 -z`` output (a rename's second, original path skipped)."""
    entries: Sequence[str] = porcelain.split("\0")
    paths: list[str] = []
    index = 0
    while index < len(entries):
        entry = entries[index]
        index += 1
        if len(entry) < 4:
            continue
        code, path = entry[:2], entry[3:]
        paths.append(path)
        if "R" in code or "C" in code:
            index += 1  # the original path of a rename or copy follows
    return tuple(sorted(paths))
