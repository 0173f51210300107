"""Title and body of the pull requests to the module-manifests repository, written for the reviewer.

A reviewer of the catalog approves what lands on every Kyma cluster, usually without opening the module's
repository. So each body says what changes in the catalog, links the GitHub release, and — from the
release's ``release-manifest.json`` — which commit, module artifact and images the version is, by digest,
and whether E2E passed on exactly those digests. A promote says how the channel moves (from → to) and shows
the resulting ModuleReleaseMeta; a withdraw says that no channel points at the version any more.

The last line is a hidden marker (``<!-- btp-release:submit … -->``) by which a re-run finds its own pull
request. The text is deterministic: the same plan and release give the same title and body.

The release record is taken structurally (:class:`ReleaseRecord`): a
:class:`~btp_release.pipeline.provenance.Provenance` fits as it is, without this package importing the
pipeline above it.
"""

from __future__ import annotations

from typing import Protocol

import attrs

from btp_release.errors import InvalidInput
from btp_release.manifests.plans import Plan
from btp_release.manifests.submission import PublishedRelease, Submission
from btp_release.module.releasemeta import release_meta_yaml

__all__ = ["ArtifactRecordLike", "PullRequestText", "ReleaseRecord", "marker", "pull_request_text"]


class ArtifactRecordLike(Protocol):
    """A built artifact: the reference it was pushed to and its digest (None: not built)."""

    @property
    def reference(self) -> str: ...

    @property
    def digest(self) -> str | None: ...


class ReleaseRecord(Protocol):
    """What a pull request quotes of ``release-manifest.json`` (a ``Provenance`` has all of it)."""

    @property
    def version(self) -> str: ...

    @property
    def commit(self) -> str: ...

    @property
    def module(self) -> ArtifactRecordLike: ...

    @property
    def image(self) -> ArtifactRecordLike: ...

    @property
    def images(self) -> tuple[str, ...]: ...

    def e2e_passed(self) -> list[str]: ...


@attrs.frozen
class PullRequestText:
    """A pull request's title and (Markdown) body."""

    title: str
    body: str


def marker(plan: Plan) -> str:
    """The hidden last line of the body that identifies the pull request of ``plan``."""
    parts = [f"btp-release:{plan.action}", plan.module.name, str(plan.version)]
    if plan.channel:
        parts.append(plan.channel)
    return f"<!-- {' '.join(parts)} -->"


def _code(value: str) -> str:
    return f"`{value}`"


def _provenance(record: ReleaseRecord | None, release: PublishedRelease) -> list[str]:
    if record is None:
        return [
            "The release has no `release-manifest.json`, so no digests were recorded for it "
            "(was it released without btp-release?).",
        ]
    if record.version != str(release.version):
        raise InvalidInput(
            f"release-manifest.json records version {record.version}, not {release.version}",
            hint=f"use the release-manifest.json asset of release {release.tag}",
        )
    rows = [
        "| | reference | digest |",
        "|---|---|---|",
        f"| module | {_code(record.module.reference)} | {_code(record.module.digest or 'not built')} |",
        f"| manager image | {_code(record.image.reference)} | {_code(record.image.digest or 'not built')} |",
    ]
    lines = [f"From the release's `release-manifest.json` (commit {_code(record.commit)}):", "", *rows, ""]
    if record.images:
        lines.append("Images the manifest deploys: " + ", ".join(_code(i) for i in record.images) + ".")
    passed = record.e2e_passed()
    lines.append(
        f"E2E passed on these digests: {', '.join(passed)}."
        if passed
        else "No E2E run is recorded as passed on these digests."
    )
    return lines


def _submit(plan: Plan, submission: Submission) -> tuple[str, list[str]]:
    config = submission.config
    path = plan.changes[0].path if plan.changes else "module-config.yaml"
    rows = [f"- manifest: {config.manifest.value}"]
    if config.default_cr is not None:
        rows.append(f"- defaultCR: {config.default_cr.value}")
    if config.security:
        rows.append(f"- security: {_code(config.security)}")
    lines = [
        f"Adds version {plan.version} of the module {plan.module.short_name} ({_code(plan.module.name)}) "
        f"to the catalog: {_code(path)}.",
        "",
        *rows,
        "",
        "Merging it makes the version available; no channel gets it until a promote pull request is merged.",
    ]
    return f"Submit {plan.module.short_name} {plan.version}", lines


def _promote(plan: Plan) -> tuple[str, list[str]]:
    assert plan.mapping is not None and plan.channel is not None  # plan_promote sets both
    change = plan.changes[0] if plan.changes else None
    path = change.path if change else "module-releases.yaml"
    if change is not None and change.kind == "add":
        moves = [f"- {e.channel}: (new) → {e.version}" for e in plan.mapping.channels]
        head = f"Creates {_code(path)}: every channel gets {plan.version}."
    else:
        moves = [f"- {plan.channel}: {plan.previous or '(not listed)'} → {plan.version}"]
        head = f"Edits {_code(path)}."
    unchanged = [
        f"- {e.channel}: {e.version} (unchanged)"
        for e in plan.mapping.channels
        if e.channel != plan.channel and (change is None or change.kind != "add")
    ]
    lines = [head, "", *moves, *unchanged]
    if plan.release_meta is not None:
        lines += [
            "",
            "The ModuleReleaseMeta this gives:",
            "",
            "```yaml",
            release_meta_yaml(plan.release_meta).rstrip(),
            "```",
        ]
    title = f"Promote {plan.module.short_name} {plan.version} to the {plan.channel} channel"
    return title, lines


def _withdraw(plan: Plan) -> tuple[str, list[str]]:
    files = [f"- {_code(change.path)}" for change in plan.changes]
    if plan.mapping is None:
        channels = "The module has no channel mapping, so no channel points at it."
    else:
        listed = ", ".join(f"{e.channel} → {e.version}" for e in plan.mapping.channels)
        channels = f"No channel points at it ({listed})."
    lines = [
        f"Removes version {plan.version} of the module {plan.module.short_name} ({_code(plan.module.name)}) "
        "from the catalog:",
        "",
        *files,
        "",
        channels,
    ]
    return f"Withdraw {plan.module.short_name} {plan.version}", lines


def pull_request_text(
    plan: Plan,
    release: PublishedRelease,
    record: ReleaseRecord | None = None,
    *,
    submission: Submission | None = None,
) -> PullRequestText:
    """The pull request of ``plan`` (a submit needs its ``submission``); ``record`` is the release's
    ``release-manifest.json`` (a ``Provenance``), None when the release has none."""
    if plan.version != release.version:
        raise InvalidInput(f"the {plan.action} plan is for {plan.version}, the release is {release.version}")
    if plan.action == "submit":
        if submission is None:
            raise InvalidInput("the text of a submit pull request needs the submission")
        title, lines = _submit(plan, submission)
    elif plan.action == "promote":
        title, lines = _promote(plan)
    else:
        title, lines = _withdraw(plan)
    body = [
        *lines,
        "",
        f"Release: [{release.repo} {release.tag}]({release.url})",
        "",
        *_provenance(record, release),
        "",
        marker(plan),
    ]
    return PullRequestText(title=title, body="\n".join(body) + "\n")
