"""What submit, promote and withdraw would change in the module-manifests repository — decided without I/O.

Each plan function takes what the repository holds now (read by the caller, usually from the base branch)
and what the release wants, and returns a :class:`Plan`: the files to add, update or delete, and a verdict —

- ``unchanged``: the repository already says what the release wants (a re-run, or another job was first);
  nothing to propose;
- ``conflict``: it says something else that the release must not overwrite; the message says exactly what
  differs (a unified diff of the YAML) and what to do; :meth:`Plan.raise_for_conflict` turns it into a
  :class:`ManifestsConflict`;
- ``change``: the pull request to open (or update) on the plan's branch.

Refusals that no content can resolve are errors: promoting a version the repository does not hold
(:class:`VersionNotSubmitted`), withdrawing a version a channel still points at (:class:`WithdrawRefused`).
"""

from __future__ import annotations

import difflib
from collections.abc import Collection, Iterable
from typing import Any, Literal

import attrs
import yaml

from btp_release.errors import Conflict, InvalidInput, NotFound
from btp_release.manifests.layout import Action, ManifestsLayout, ManifestsModule
from btp_release.manifests.submission import Submission
from btp_release.module.releasemeta import ChannelMapping, render_release_meta
from btp_release.version import Version

__all__ = [
    "ChangeKind",
    "FileChange",
    "ManifestsConflict",
    "Plan",
    "Verdict",
    "VersionNotSubmitted",
    "WithdrawRefused",
    "plan_promote",
    "plan_submit",
    "plan_withdraw",
]

ChangeKind = Literal["add", "update", "delete"]
Verdict = Literal["unchanged", "conflict", "change"]
_BASE = "the base branch"


class ManifestsConflict(Conflict):
    """The module-manifests repository already holds something else than the release would propose."""


class VersionNotSubmitted(NotFound):
    """A promote names a version the module-manifests repository does not hold (not submitted or merged)."""


class WithdrawRefused(Conflict):
    """A withdraw names a version that a channel still points at; ``channels`` are those channels."""

    def __init__(self, message: str, *, channels: tuple[str, ...], hint: str) -> None:
        self.channels = channels
        super().__init__(message, hint=hint)


@attrs.frozen
class FileChange:
    """One file of a pull request: ``content`` is the new bytes (None for a delete)."""

    path: str
    kind: ChangeKind
    content: bytes | None = None

    def __attrs_post_init__(self) -> None:
        if (self.content is None) != (self.kind == "delete"):
            raise InvalidInput(
                f"{self.kind} of {self.path}: content is required for add/update, none for delete"
            )


@attrs.frozen(kw_only=True)
class Plan:
    """One action's change to the manifests repository; see the module docstring for the verdicts."""

    action: Action
    module: ManifestsModule
    version: Version
    branch: str  # the pull request's head branch
    verdict: Verdict
    message: str  # what the verdict means, for a log line or a step summary
    changes: tuple[FileChange, ...] = ()  # only for the verdict "change"
    channel: str | None = None  # promote: the channel
    previous: Version | None = None  # promote: the channel's version before (None: not listed yet)
    mapping: ChannelMapping | None = None  # promote: the mapping after; withdraw: the current one, if any
    release_meta: dict[str, Any] | None = attrs.field(default=None, eq=False)  # promote: rendered, valid

    def raise_for_conflict(self) -> None:
        """Raise :class:`ManifestsConflict` with the plan's message when the verdict is ``conflict``."""
        if self.verdict == "conflict":
            raise ManifestsConflict(self.message, hint=_CONFLICT_HINTS[self.action].format(plan=self) or None)


_CONFLICT_HINTS = {
    "submit": (
        "a submitted version is not rewritten: release a new version, or withdraw {plan.version} first "
        "(btp-release withdraw --version {plan.version}) and submit again"
    ),
    "promote": (
        "lifecycle-manager does not move an installed module to a lower version; promote a newer version, "
        "or, if the channel must go back, promote with --allow-downgrade (allow_downgrade=True)"
    ),
    "withdraw": "",  # never a conflict: a withdraw is done or refused (WithdrawRefused)
}


def _diff(path: str, current: bytes, wanted: bytes, where: str) -> str:
    lines = difflib.unified_diff(
        current.decode("utf-8", "replace").splitlines(keepends=True),
        wanted.decode("utf-8", "replace").splitlines(keepends=True),
        fromfile=f"{path} ({where})",
        tofile=f"{path} (this release)",
    )
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def _same_yaml(current: bytes, wanted: bytes) -> bool:
    try:
        return bool(yaml.safe_load(current) == yaml.safe_load(wanted))
    except yaml.YAMLError:
        return False


def plan_submit(
    layout: ManifestsLayout, submission: Submission, current: bytes | None, *, where: str = _BASE
) -> Plan:
    """Submit: add the version's module-config.yaml. ``current``: that file now (None: absent).

    The same YAML in other formatting counts as unchanged; any other content is a conflict with its diff.
    """
    module, version = submission.module, submission.version
    path = layout.config_file(module, version)
    plan = Plan(
        action="submit",
        module=module,
        version=version,
        branch=layout.branch("submit", module, version),
        verdict="change",
        message=f"add {path}",
        changes=(FileChange(path, "add", submission.data),),
    )
    if current is None:
        return plan
    if current == submission.data or _same_yaml(current, submission.data):
        same = "" if current == submission.data else " (the same YAML, formatted differently)"
        return attrs.evolve(
            plan,
            verdict="unchanged",
            changes=(),
            message=f"{module.short_name} {version} is already submitted: {path} on {where} is what this "
            f"release submits{same}",
        )
    return attrs.evolve(
        plan,
        verdict="conflict",
        changes=(),
        message=f"{path} on {where} differs from what release {submission.release.tag} submits:\n"
        + _diff(path, current, submission.data, where),
    )


def _core(version: Version) -> tuple[int, int, int]:
    return (version.major, version.minor, version.patch)


def _versions(values: Iterable[Version | str]) -> set[Version]:
    return {v if isinstance(v, Version) else Version.parse(v) for v in values}


def plan_promote(
    layout: ManifestsLayout,
    module: ManifestsModule,
    version: Version | str,
    channel: str,
    *,
    current: bytes | None,
    submitted: Collection[Version | str],
    allow_downgrade: bool = False,
    where: str = _BASE,
) -> Plan:
    """Promote: point ``channel`` at ``version`` in the module's module-releases.yaml.

    ``current`` is that file (None: absent; a new file gives every default channel the version, as
    btp-manager's ``update_channel_mapping.sh`` does, plus ``channel``), ``submitted`` the versions the
    repository holds a module-config for. Moving a channel to a lower version is a conflict unless
    ``allow_downgrade``. Raises :class:`VersionNotSubmitted`, or ``ValidationFailed`` for an invalid
    mapping file, channel or resulting ModuleReleaseMeta.
    """
    version = Version.parse(version) if isinstance(version, str) else version
    path = layout.mapping_file(module)
    ChannelMapping.of([(channel, version)], file=f"promote {module.short_name} {version} to {channel!r}")
    if version not in _versions(submitted):
        config = layout.config_file(module, version)
        raise VersionNotSubmitted(
            f"cannot promote {module.short_name} {version} to {channel}: {config} is not on {where}",
            hint=f"submit it first (btp-release submit --version {version}) and merge that pull request",
        )
    before = None if current is None else ChannelMapping.parse(current, file=f"{path} ({where})")
    previous = None if before is None else before.version(channel)
    if before is None:
        after = ChannelMapping.initial(version, file=path).with_channel(channel, version)
    else:
        after = attrs.evolve(before.with_channel(channel, version), file=path)
    release_meta = render_release_meta(module.short_name, module.name, after)
    plan = Plan(
        action="promote",
        module=module,
        version=version,
        branch=layout.branch("promote", module, version, channel),
        verdict="change",
        message="",
        channel=channel,
        previous=previous,
        mapping=after,
        release_meta=release_meta,
    )
    if before is None:
        channels = ", ".join(entry.channel for entry in after.channels)
        return attrs.evolve(
            plan,
            message=f"add {path}: {channels} get {version}",
            changes=(FileChange(path, "add", after.to_yaml().encode()),),
        )
    if previous == version:
        return attrs.evolve(
            plan, verdict="unchanged", message=f"{channel} already gets {version} in {path} on {where}"
        )
    # lifecycle-manager compares MAJOR.MINOR.PATCH only and keeps an installed module from going lower
    # (lifecycle-manager pkg/templatelookup/regular.go@c5b83f1, markInvalidSkewUpdate).
    if previous is not None and _core(version) < _core(previous) and not allow_downgrade:
        return attrs.evolve(
            plan,
            verdict="conflict",
            message=f"{path} on {where}: {channel} has {previous}; promoting {version} would move it to a "
            "lower version:\n" + _diff(path, current or b"", after.to_yaml().encode(), where),
        )
    return attrs.evolve(
        plan,
        message=f"update {path}: {channel} {previous or '(not listed)'} -> {version}",
        changes=(FileChange(path, "update", after.to_yaml().encode()),),
    )


def plan_withdraw(
    layout: ManifestsLayout,
    module: ManifestsModule,
    version: Version | str,
    *,
    files: Iterable[str],
    mapping: bytes | None,
    submitted: Collection[Version | str] = (),
    where: str = _BASE,
) -> Plan:
    """Withdraw: delete every file of the version's directory (``files``: their paths in the repository).

    ``mapping`` is the module-releases.yaml (None: absent). Refused with :class:`WithdrawRefused` while a
    channel points at the version; the hint names the promote that frees it, with the highest other
    version of ``submitted`` when there is one.
    """
    version = Version.parse(version) if isinstance(version, str) else version
    directory = layout.version_dir(module, version)
    paths = sorted(set(files))
    if outside := [p for p in paths if not p.startswith(directory + "/")]:
        raise InvalidInput(
            f"withdraw of {module.short_name} {version}: {', '.join(outside)} not in {directory}/"
        )
    mapping_path = layout.mapping_file(module)
    current = None if mapping is None else ChannelMapping.parse(mapping, file=f"{mapping_path} ({where})")
    blocked = tuple(e.channel for e in current.channels if e.version == version) if current else ()
    if blocked:
        others = sorted(_versions(submitted) - {version})
        replacement = str(others[-1]) if others else "VERSION"
        # A lower version is a downgrade, which promote refuses unless told (see plan_promote).
        lower = " --allow-downgrade" if others and _core(others[-1]) < _core(version) else ""
        commands = "; ".join(
            f"btp-release promote --version {replacement} --channel {c}{lower}" for c in blocked
        )
        names = ", ".join(blocked)
        several = len(blocked) > 1
        raise WithdrawRefused(
            f"cannot withdraw {module.short_name} {version}: channel{'s' if several else ''} {names} "
            f"still point{'' if several else 's'} at it in {mapping_path} on {where}",
            channels=blocked,
            hint=f"promote another version to {names} first and merge that pull request: {commands}",
        )
    plan = Plan(
        action="withdraw",
        module=module,
        version=version,
        branch=layout.branch("withdraw", module, version),
        verdict="change",
        message=f"delete {directory}/ ({len(paths)} file{'s' if len(paths) != 1 else ''})",
        changes=tuple(FileChange(p, "delete") for p in paths),
        mapping=current,
    )
    if not paths:
        return attrs.evolve(
            plan,
            verdict="unchanged",
            message=f"{module.short_name} {version} is not in the repository: no files in {directory}/ "
            f"on {where}",
        )
    return plan
