"""Where a module's files live in the module-manifests repository, and the branches its pull requests use.

Kyma's catalog repository keeps one directory per module: ``modules/<short>/<version>/module-config.yaml``
per submitted version and ``modules/<short>/module-releases.yaml`` for the channel mapping
(``../shared/spec/kyma-today.md``, section 1). Each action proposes its change on a branch of its own, so
a re-run finds its pull request again by the branch name. Both are patterns with placeholders, settings of
the release (``manifests-config-path`` …), because a catalog or a team (btp-manager names its branches
after the repository: ``{repo}-{version}``) may lay things out differently.

A pattern is checked when a :class:`ManifestsLayout` is made (and by ``load_config``): placeholders it may
use, those it needs (a version directory per version, a branch per version and channel), a relative path
without ``.``/``..`` segments, and a branch name git accepts for every value the placeholders can take.
"""

from __future__ import annotations

import posixpath
import re
import string
from collections.abc import Iterable, Mapping, Sequence
from typing import Literal

import attrs

from btp_release.errors import InvalidInput
from btp_release.version import Version

__all__ = [
    "DEFAULT_CONFIG_PATH",
    "DEFAULT_MAPPING_PATH",
    "DEFAULT_PROMOTE_BRANCH",
    "DEFAULT_SUBMIT_BRANCH",
    "DEFAULT_WITHDRAW_BRANCH",
    "PLACEHOLDERS",
    "Action",
    "LayoutError",
    "ManifestsLayout",
    "ManifestsModule",
    "branch_name_problem",
    "pattern_problem",
]

Action = Literal["submit", "promote", "withdraw"]

DEFAULT_CONFIG_PATH = "modules/{short}/{version}/module-config.yaml"
DEFAULT_MAPPING_PATH = "modules/{short}/module-releases.yaml"
DEFAULT_SUBMIT_BRANCH = "{short}-{version}"
DEFAULT_PROMOTE_BRANCH = "{short}-{version}-{channel}"
DEFAULT_WITHDRAW_BRANCH = "{short}-module-removal-{version}"

# What a placeholder stands for (in messages and docs).
PLACEHOLDERS = {
    "short": "the module's short name, the last element of its OCM component name (btp-operator)",
    "repo": "the name of the module's GitHub repository (btp-manager)",
    "version": "the module version (1.3.20)",
    "channel": "the channel a version is promoted to (fast); promote branch only",
}

# Per pattern (field of ManifestsLayout): the setting that holds it, what it is, the placeholders it may
# use and those it must use.
_FIELDS: Mapping[str, tuple[str, str, frozenset[str], frozenset[str]]] = {
    "config_path": (
        "manifests-config-path",
        "path",
        frozenset({"short", "repo", "version"}),
        frozenset({"version"}),
    ),
    "mapping_path": ("manifests-mapping-path", "path", frozenset({"short", "repo"}), frozenset()),
    "submit_branch": (
        "manifests-submit-branch",
        "branch",
        frozenset({"short", "repo", "version"}),
        frozenset({"version"}),
    ),
    "promote_branch": (
        "manifests-promote-branch",
        "branch",
        frozenset({"short", "repo", "version", "channel"}),
        frozenset({"version", "channel"}),
    ),
    "withdraw_branch": (
        "manifests-withdraw-branch",
        "branch",
        frozenset({"short", "repo", "version"}),
        frozenset({"version"}),
    ),
}
_SETTING_FIELDS = {setting.replace("-", "_"): field for field, (setting, *_) in _FIELDS.items()}
# Values every placeholder is tried with: the characters a real value can hold (a version's '-' and '.').
_SAMPLE = {"short": "btp-operator", "repo": "btp-manager", "version": "1.3.20-rc.1", "channel": "fast"}
# git check-ref-format: no control characters, space, ~ ^ : ? * [ \ in a ref name.
_REF_FORBIDDEN = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]")


class LayoutError(InvalidInput):
    """A path or branch pattern of the module-manifests repository is unusable; ``problems`` lists why."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        super().__init__(
            "module-manifests layout: " + "; ".join(self.problems),
            hint="fix the manifests-* settings (docs/manifests.md lists the placeholders each may use)",
        )


def _placeholders(pattern: str) -> tuple[set[str], str | None]:
    """The placeholder names of ``pattern``, or a problem (unbalanced braces, conversions, format specs)."""
    names: set[str] = set()
    try:
        parsed = list(string.Formatter().parse(pattern))
    except ValueError as exc:
        return names, f"{pattern!r} is not a pattern: {exc} (write a literal brace as {{{{ or }}}})"
    for _, name, spec, conversion in parsed:
        if name is None:
            continue
        if not name.isidentifier():
            return names, f"{pattern!r}: {{{name}}} is not a placeholder name"
        if spec or conversion:
            return names, f"{pattern!r}: {{{name}}} takes no conversion or format spec"
        names.add(name)
    return names, None


def branch_name_problem(name: str, *, shown: str | None = None) -> str | None:
    """Why git would refuse ``name`` as a branch (``git check-ref-format --branch``), else None.
    ``shown`` is what the message names instead (the pattern ``name`` was made from)."""
    what = f"branch {shown or name!r}"
    if not name:
        return "a branch name must not be empty"
    if name.startswith("-"):
        return f"{what} starts with '-'"
    if found := _REF_FORBIDDEN.search(name):
        return f"{what} contains {found.group()!r} (no spaces, control characters or ~^:?*[\\)"
    if ".." in name or "@{" in name or "//" in name or name == "@":
        return f"{what} contains '..', '@{{' or '//', or is '@'"
    if name.startswith("/") or name.endswith(("/", ".")):
        return f"{what} starts with '/' or ends with '/' or '.'"
    if any(part.startswith(".") or part.endswith(".lock") for part in name.split("/")):
        return f"{what} has an element starting with '.' or ending with '.lock'"
    return None


def _path_problem(path: str, shown: str) -> str | None:
    """Why ``path`` (made from the pattern ``shown``) is no file path relative to the repository's root."""
    if path.startswith("/") or re.match(r"^[A-Za-z]:", path):
        return f"{shown!r} is absolute; paths are relative to the repository's root"
    if "\\" in path:
        return f"{shown!r} contains '\\'; use '/' between directories"
    if any(part in ("", ".", "..") for part in path.split("/")):
        return f"{shown!r} has an empty, '.' or '..' element"
    if any(ord(c) < 0x20 or c == "\x7f" for c in path):
        return f"{shown!r} contains a control character"
    return None


def _braced(names: Iterable[str]) -> str:
    return ", ".join(f"{{{name}}}" for name in sorted(names))


def pattern_problem(setting: str, pattern: str) -> str | None:
    """Why ``pattern`` cannot be the manifests setting ``setting`` (a field name such as
    ``manifests_config_path``, or its kebab-case key), else None."""
    field = _SETTING_FIELDS[setting.replace("-", "_")]
    _, kind, allowed, required = _FIELDS[field]
    names, problem = _placeholders(pattern)
    if problem:
        return problem
    if unknown := sorted(names - allowed):
        return f"{pattern!r}: unknown placeholder {_braced(unknown)} (this one takes {_braced(allowed)})"
    if missing := sorted(required - names):
        return f"{pattern!r} lacks {_braced(missing)}: one {kind} per {' and '.join(missing)}"
    sample = pattern.format(**_SAMPLE)
    if kind == "branch":
        return branch_name_problem(sample, shown=pattern)
    if problem := _path_problem(sample, pattern):
        return problem
    if field == "config_path" and "{version}" not in posixpath.dirname(pattern):
        return (
            f"{pattern!r}: {{version}} must be part of the directory, not only of the file name: "
            "withdrawing a version removes its directory"
        )
    return None


@attrs.frozen
class ManifestsModule:
    """The module as the manifests repository knows it: its OCM component name and its GitHub repository."""

    name: str  # kyma-project.io/module/btp-operator
    repo: str  # OWNER/NAME of the module's own repository, kyma-project/btp-manager

    @property
    def short_name(self) -> str:
        """``btp-operator``: the last element of the component name, the module's directory."""
        return self.name.rstrip("/").rpartition("/")[2]

    @property
    def repo_name(self) -> str:
        """``btp-manager``: the repository without its owner (the ``{repo}`` placeholder)."""
        return self.repo.rpartition("/")[2]


@attrs.frozen(kw_only=True)
class ManifestsLayout:
    """The path and branch patterns; constructing one checks them all (:class:`LayoutError`)."""

    config_path: str = DEFAULT_CONFIG_PATH
    mapping_path: str = DEFAULT_MAPPING_PATH
    submit_branch: str = DEFAULT_SUBMIT_BRANCH
    promote_branch: str = DEFAULT_PROMOTE_BRANCH
    withdraw_branch: str = DEFAULT_WITHDRAW_BRANCH

    def __attrs_post_init__(self) -> None:
        problems = [
            f"{setting}: {problem}"
            for field, (setting, *_) in _FIELDS.items()
            if (problem := pattern_problem(setting, getattr(self, field)))
        ]
        if not problems:
            problems = self._combination_problems()
        if problems:
            raise LayoutError(problems)

    def _combination_problems(self) -> list[str]:
        """Two actions on one branch would overwrite each other's pull request."""
        by_name: dict[str, list[str]] = {}
        for field, (setting, *_) in _FIELDS.items():
            if field.endswith("_branch"):
                by_name.setdefault(getattr(self, field).format(**_SAMPLE), []).append(setting)
        return [
            f"{' and '.join(settings)} give the same branch (e.g. {name!r}); each action needs its own"
            for name, settings in by_name.items()
            if len(settings) > 1
        ]

    # -- paths and branches of a module ------------------------------------------------------------------

    def config_file(self, module: ManifestsModule, version: Version | str) -> str:
        """``modules/btp-operator/1.3.20/module-config.yaml``: what submit writes."""
        return self.config_path.format(**_values(module, version))

    def version_dir(self, module: ManifestsModule, version: Version | str) -> str:
        """``modules/btp-operator/1.3.20``: what withdraw removes (every file in it)."""
        return posixpath.dirname(self.config_file(module, version))

    def mapping_file(self, module: ManifestsModule) -> str:
        """``modules/btp-operator/module-releases.yaml``: the channel mapping promote edits."""
        return self.mapping_path.format(short=module.short_name, repo=module.repo_name)

    def branch(
        self, action: Action, module: ManifestsModule, version: Version | str, channel: str | None = None
    ) -> str:
        """The branch of ``action``'s pull request; ``channel`` is needed for (and only for) promote."""
        if (channel is None) != (action != "promote"):
            raise InvalidInput(f"the {action} branch {'needs' if channel is None else 'takes no'} channel")
        pattern = {
            "submit": self.submit_branch,
            "promote": self.promote_branch,
            "withdraw": self.withdraw_branch,
        }[action]
        name = pattern.format(**_values(module, version), channel=channel or "")
        if problem := branch_name_problem(name):
            raise LayoutError([f"{action} branch of {module.short_name} {version}: {problem}"])
        return name


def _values(module: ManifestsModule, version: Version | str) -> dict[str, str]:
    return {"short": module.short_name, "repo": module.repo_name, "version": str(version)}
