"""The repository as GitHub keeps it: releases, assets, statuses and check runs over git data.

Pure in-memory model, no HTTP: every rule of github-api.md that a client can observe (draft
visibility, tag creation on publish, the "latest" pointer, immutable releases, duplicate names,
asset limits) lives here and raises :class:`ApiError` the way GitHub answers. The git side
(commits, refs, tag objects, eventually consistent ref deletion) is :class:`~.gitdb.GitDatabase`.
Not thread-safe by itself: the simulator holds one lock around every call.
"""

from __future__ import annotations

import hashlib
import itertools
import re
from collections.abc import Callable
from typing import cast

import attrs

from .errors import ApiError, not_found, validation_failed
from .gitdb import DEFAULT_BRANCH, FileChanges, GitDatabase, valid_ref_name
from .models import (
    Access,
    Asset,
    CheckConclusion,
    CheckRun,
    CheckStatus,
    CommitStatus,
    Release,
    StatusState,
)
from .pulls import PullStore

# Characters GitHub keeps in asset names; anything else becomes a dot.
_UNSAFE_NAME_RE = re.compile(r"[^A-Za-z0-9._+@-]+")
_SEMVER_RE = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$")
# GitHub's documented limits: "each file included in a release must be under 2 GiB", and at most
# 1000 assets per release.
MAX_ASSET_SIZE = 2 * 1024**3
MAX_ASSETS_PER_RELEASE = 1000


def normalize_asset_name(name: str) -> str:
    """GitHub renames assets with special characters: runs of them become one dot."""
    cleaned = re.sub(r"\.{2,}", ".", _UNSAFE_NAME_RE.sub(".", name)).strip(".")
    return cleaned or "default"


def semver_key(tag: str) -> tuple[int, int, int, int, tuple[tuple[int, int | str], ...]]:
    """Order of SemVer 2.0 precedence (a leading ``v`` allowed); anything else sorts first."""
    found = _SEMVER_RE.match(tag)
    if found is None:
        return (-1, -1, -1, -1, ())
    major, minor, patch, pre = found.groups()
    identifiers = tuple((0, int(p)) if p.isdigit() else (1, p) for p in (pre or "").split(".") if p)
    return (int(major), int(minor), int(patch), 0 if pre else 1, identifiers)


def _list_key(release: Release) -> tuple[float, int]:
    return (release.created_at, release.id)


def _legacy_key(release: Release) -> tuple[float, tuple[object, ...], int]:
    """``make_latest: legacy``: "based on the release creation date and higher semantic version"."""
    return (release.created_at, semver_key(release.tag_name), release.id)


class RepoState(GitDatabase):
    """One repository; ids, times and shas are deterministic given the clock."""

    def __init__(
        self,
        owner: str,
        repo: str,
        *,
        clock: Callable[[], float],
        immutable_releases: bool,
        max_assets_per_release: int = MAX_ASSETS_PER_RELEASE,
        max_asset_size: int = MAX_ASSET_SIZE,
        default_branch: str = DEFAULT_BRANCH,
        files: FileChanges | None = None,
        repo_id: int = 1_296_269,
    ) -> None:
        super().__init__(
            owner, repo, clock=clock, default_branch=default_branch, files=files, repo_id=repo_id
        )
        self.immutable_releases = immutable_releases
        self.max_assets_per_release = max_assets_per_release
        self.max_asset_size = max_asset_size
        self._release_ids = itertools.count(170_000_001)
        self._asset_ids = itertools.count(230_000_001)
        self._status_ids = itertools.count(31_000_001)
        self._check_ids = itertools.count(41_000_001)
        self._releases: dict[int, Release] = {}
        self._assets: dict[int, Asset] = {}
        self._blobs: dict[int, bytes] = {}
        self._statuses: list[CommitStatus] = []
        self._check_runs: dict[int, CheckRun] = {}
        # Tags ever used by a published immutable release: never reusable.
        self._immutable_tags: set[str] = set()
        # The release GitHub shows as "latest" (set by make_latest); None: the legacy rule decides.
        self._latest_id: int | None = None
        self.pulls = PullStore(self)

    def _branch_deleted(self, name: str, sha: str) -> None:
        self.pulls.branch_deleted(name, sha)

    # -- tags of immutable releases ------------------------------------------------------

    def _guard_ref_creation(self, full: str) -> None:
        if full.startswith("refs/tags/") and full[10:] in self._immutable_tags:
            raise ApiError(
                422, f"Reference cannot be created: tag {full[10:]} was used by an immutable release"
            )

    def _guard_ref_change(self, full: str, action: str) -> None:
        tag = full.removeprefix("refs/tags/")
        if full.startswith("refs/tags/") and any(
            r.immutable and r.tag_name == tag for r in self._releases.values()
        ):
            raise ApiError(422, f"Cannot {action} {full}: it belongs to an immutable release")

    # -- releases -----------------------------------------------------------------------

    def releases(self, access: Access = Access.WRITE) -> list[Release]:
        """Newest first (by ``created_at``, the commit date); drafts only for callers that can push."""
        visible = [r for r in self._releases.values() if access.can_push or not r.draft]
        return sorted(visible, key=_list_key, reverse=True)

    def release(self, release_id: int, access: Access = Access.WRITE) -> Release:
        release = self._releases.get(release_id)
        if release is None or (release.draft and not access.can_push):
            raise not_found()
        return release

    def release_by_tag(self, tag: str) -> Release:
        """Never a draft: a draft's tag is only intended."""
        published = [r for r in self._releases.values() if not r.draft and r.tag_name == tag]
        if not published:
            raise not_found()
        return max(published, key=_list_key)

    @staticmethod
    def _can_be_latest(release: Release) -> bool:
        """ "Drafts and prereleases cannot be set as latest."""
        return not release.draft and not release.prerelease

    def latest_release(self) -> Release:
        """The release ``make_latest`` last pointed at; without one (or once it is deleted, or
        became a draft or prerelease), the legacy rule over the releases not marked ``false``."""
        pointed = self._releases.get(self._latest_id) if self._latest_id is not None else None
        if pointed is not None and self._can_be_latest(pointed):
            return pointed
        eligible = [r for r in self._releases.values() if self._can_be_latest(r) and r.make_latest != "false"]
        if not eligible:
            raise not_found()
        return max(eligible, key=_legacy_key)

    def _apply_make_latest(self, release: Release, sent: str | None, newly_published: bool) -> None:
        """``true`` (the default for a newly published release) points "latest" here, ``legacy``
        hands the choice to the date-and-SemVer rule, ``false`` leaves the pointer elsewhere."""
        if sent is None and newly_published:
            sent = release.make_latest or "true"
        if sent is None or release.draft:
            return
        if sent == "true" and self._can_be_latest(release):
            self._latest_id = release.id
        elif sent == "legacy" or (sent == "false" and self._latest_id == release.id):
            self._latest_id = None

    def _check_tag_usable(self, tag: str, *, publishing: bool, exclude: int | None) -> None:
        if not valid_ref_name(tag):
            raise validation_failed("Release", "invalid", "tag_name")
        if tag in self._immutable_tags:
            raise validation_failed(
                "Release", "custom", "tag_name", "tag_name was used by an immutable release"
            )
        if publishing and any(
            not r.draft and r.tag_name == tag and r.id != exclude for r in self._releases.values()
        ):
            raise validation_failed("Release", "already_exists", "tag_name")

    def _check_target(self, target: str) -> None:
        if self.resolve(target) is None:
            raise validation_failed("Release", "invalid", "target_commitish")

    def _commit_date(self, release: Release) -> float:
        """The date of the release's commit: its tag's (peeled) once the tag exists, else its target's."""
        sha = self.resolve(f"refs/tags/{release.tag_name}") if not release.draft else None
        sha = sha or self.resolve(release.target_commitish)
        return self.commit(sha).created_at if sha is not None else release.created_at

    def _ensure_tag(self, release: Release) -> None:
        """Publishing creates the tag at ``target_commitish`` unless it already exists."""
        ref = f"refs/tags/{release.tag_name}"
        if ref not in self._refs:
            sha = self.resolve(release.target_commitish)
            if sha is None:
                raise validation_failed("Release", "invalid", "target_commitish")
            self._refs[ref] = sha
            self._ghost_refs.pop(ref, None)

    def _publish(self, release: Release, now: float) -> Release:
        """Create the tag if needed and stamp the release published (immutable if enabled)."""
        self._ensure_tag(release)
        if self.immutable_releases:
            self._immutable_tags.add(release.tag_name)
        published = attrs.evolve(release, draft=False, published_at=now, immutable=self.immutable_releases)
        return attrs.evolve(published, created_at=self._commit_date(published))

    def create_release(
        self,
        *,
        tag_name: str,
        target_commitish: str | None,
        name: str | None,
        body: str | None,
        draft: bool,
        prerelease: bool,
        generate_release_notes: bool,
        make_latest: str | None,
    ) -> Release:
        target = target_commitish or self.default_branch
        self._check_tag_usable(tag_name, publishing=not draft, exclude=None)
        if target_commitish is not None:
            self._check_target(target)
        if generate_release_notes:
            notes_name, notes_body = self.generate_notes(tag_name, target, None)
            body = f"{body}\n\n{notes_body}" if body else notes_body
            name = name or notes_name
        now = self._touch()
        release = Release(
            id=next(self._release_ids),
            tag_name=tag_name,
            target_commitish=target,
            name=name,
            body=body,
            draft=True,
            prerelease=prerelease,
            created_at=now,
            updated_at=now,
            make_latest=make_latest,
        )
        release = attrs.evolve(release, created_at=self._commit_date(release))
        if not draft:
            release = self._publish(release, now)
        self._releases[release.id] = release
        self._apply_make_latest(release, make_latest, newly_published=not draft)
        return release

    def update_release(self, release_id: int, changes: dict[str, object]) -> Release:
        """PATCH: ``changes`` holds only the fields the caller sent (already type-checked)."""
        release = self.release(release_id)
        tag = str(changes.get("tag_name", release.tag_name))
        target = str(changes.get("target_commitish", release.target_commitish))
        draft = bool(changes.get("draft", release.draft))
        if release.immutable:
            if tag != release.tag_name or target != release.target_commitish or draft:
                raise ApiError(422, "Cannot change the tag, target or draft state of an immutable release.")
        elif tag != release.tag_name or (release.draft and not draft):
            self._check_tag_usable(tag, publishing=not draft, exclude=release.id)
        if "target_commitish" in changes:
            self._check_target(target)
        now = self._touch()
        sent = cast("str | None", changes.get("make_latest"))
        updated = attrs.evolve(
            release,
            tag_name=tag,
            target_commitish=target,
            name=cast("str | None", changes.get("name", release.name)),
            body=cast("str | None", changes.get("body", release.body)),
            prerelease=bool(changes.get("prerelease", release.prerelease)),
            make_latest=sent if sent is not None else release.make_latest,
            updated_at=now,
        )
        if release.draft and not draft:
            updated = self._publish(updated, now)
        elif not release.draft and draft:
            updated = attrs.evolve(updated, draft=True, published_at=None)
        elif not draft and tag != release.tag_name:
            self._ensure_tag(updated)
        updated = attrs.evolve(updated, created_at=self._commit_date(updated))
        self._releases[release_id] = updated
        self._apply_make_latest(updated, sent, newly_published=release.draft and not draft)
        return updated

    def delete_release(self, release_id: int) -> None:
        """The tag stays (GitHub never deletes it with the release); assets go."""
        self.release(release_id)
        del self._releases[release_id]
        if self._latest_id == release_id:
            self._latest_id = None
        for asset in self.assets(release_id):
            del self._assets[asset.id]
            self._blobs.pop(asset.id, None)
        self._touch()

    def generate_notes(
        self, tag_name: str, target_commitish: str | None, previous_tag_name: str | None
    ) -> tuple[str, str]:
        """``(name, body)`` as GitHub generates them, with commits standing in for pull requests."""
        if previous_tag_name is not None and f"refs/tags/{previous_tag_name}" not in self._refs:
            raise validation_failed("Release", "invalid", "previous_tag_name")
        head = self.resolve(f"refs/tags/{tag_name}") or self.resolve(target_commitish or self.default_branch)
        if head is None:
            raise validation_failed("Release", "invalid", "target_commitish")
        previous = previous_tag_name
        if previous is None:
            candidates = [
                r for r in self.releases() if not r.draft and not r.prerelease and r.tag_name != tag_name
            ]
            previous = candidates[0].tag_name if candidates else None
        base = self.resolve(f"refs/tags/{previous}") if previous else None
        lines = [f"* {c.message} ({c.sha[:7]})" for c in self.commits_between(base, head)]
        web = f"https://github.com/{self.owner}/{self.repo}"
        parts = ["## What's Changed", *lines, ""] if lines else []
        if previous:
            parts.append(f"**Full Changelog**: {web}/compare/{previous}...{tag_name}")
        else:
            parts.append(f"**Full Changelog**: {web}/commits/{tag_name}")
        return tag_name, "\n".join(parts)

    # -- assets -------------------------------------------------------------------------

    def assets(self, release_id: int) -> list[Asset]:
        return sorted((a for a in self._assets.values() if a.release_id == release_id), key=lambda a: a.id)

    def asset(self, asset_id: int, access: Access = Access.WRITE) -> Asset:
        asset = self._assets.get(asset_id)
        if asset is None:
            raise not_found()
        self.release(asset.release_id, access)
        return asset

    def blob(self, asset_id: int) -> bytes:
        return self._blobs.get(asset_id, b"")

    def _guard_mutable_assets(self, release: Release, verb: str) -> None:
        if release.immutable:
            raise ApiError(422, f"Cannot {verb} assets of an immutable release.")

    def _check_name_free(self, release_id: int, name: str, exclude: int | None) -> None:
        if any(a.name == name and a.id != exclude for a in self.assets(release_id)):
            raise validation_failed("ReleaseAsset", "already_exists", "name")

    def begin_upload(
        self, release_id: int, name: str, label: str | None, content_type: str, size: int
    ) -> Asset:
        """Take the name with an ``open`` asset; it stays open if the upload never completes.

        ``size`` is the declared ``Content-Length``: GitHub's limits are checked before any byte.
        """
        release = self.release(release_id)
        if release.immutable:
            raise ApiError(422, "Cannot upload assets to an immutable release.")
        name = normalize_asset_name(name)
        if size >= self.max_asset_size:
            raise validation_failed(
                "ReleaseAsset", "custom", "size", f"size must be less than {self.max_asset_size} bytes"
            )
        self._check_name_free(release_id, name, None)
        if len(self.assets(release_id)) >= self.max_assets_per_release:
            raise validation_failed(
                "ReleaseAsset",
                "custom",
                "release",
                f"a release can have at most {self.max_assets_per_release} assets",
            )
        now = self._touch()
        asset = Asset(
            id=next(self._asset_ids),
            release_id=release_id,
            name=name,
            label=label,
            content_type=content_type,
            size=0,
            state="open",
            digest=None,
            created_at=now,
            updated_at=now,
        )
        self._assets[asset.id] = asset
        return asset

    def leave_starter(self, release_id: int, name: str, label: str | None, content_type: str) -> None:
        """What an upload answered 5xx may leave: an empty ``starter`` asset that holds the name
        (github-api.md). Nothing when the upload could not have started (name taken, no release…)."""
        try:
            asset = self.begin_upload(release_id, name, label, content_type, 0)
        except ApiError:
            return
        self._assets[asset.id] = attrs.evolve(asset, state="starter")

    def finish_upload(self, asset_id: int, data: bytes) -> Asset:
        asset = self._assets.get(asset_id)
        if asset is None:  # deleted (with its release) while the body was streaming
            raise not_found()
        done = attrs.evolve(
            asset,
            state="uploaded",
            size=len(data),
            digest="sha256:" + hashlib.sha256(data).hexdigest(),
            updated_at=self._touch(),
        )
        self._assets[asset_id] = done
        self._blobs[asset_id] = data
        return done

    def update_asset(self, asset_id: int, name: str | None, label: str | None) -> Asset:
        asset = self.asset(asset_id)
        self._guard_mutable_assets(self.release(asset.release_id), "update")
        new_name = normalize_asset_name(name) if name is not None else asset.name
        self._check_name_free(asset.release_id, new_name, asset_id)
        updated = attrs.evolve(
            asset,
            name=new_name,
            label=label if label is not None else asset.label,
            updated_at=self._touch(),
        )
        self._assets[asset_id] = updated
        return updated

    def delete_asset(self, asset_id: int) -> None:
        asset = self.asset(asset_id)
        self._guard_mutable_assets(self.release(asset.release_id), "delete")
        del self._assets[asset_id]
        self._blobs.pop(asset_id, None)
        self._touch()

    def count_download(self, asset_id: int) -> None:
        asset = self._assets.get(asset_id)
        if asset is not None:
            self._assets[asset_id] = attrs.evolve(asset, download_count=asset.download_count + 1)

    # -- statuses and check runs --------------------------------------------------------

    def create_status(
        self,
        sha: str,
        state: StatusState,
        context: str,
        description: str | None,
        target_url: str | None,
    ) -> CommitStatus:
        if sha not in self._commits:
            raise ApiError(422, f"No commit found for SHA: {sha}")
        now = self._touch()
        status = CommitStatus(next(self._status_ids), sha, context, state, description, target_url, now, now)
        self._statuses.append(status)
        return status

    def statuses(self, sha: str) -> list[CommitStatus]:
        """Newest first, every status ever posted (several per context)."""
        return sorted((s for s in self._statuses if s.sha == sha), key=lambda s: -s.id)

    def combined_status(self, sha: str) -> tuple[str, list[CommitStatus]]:
        """GitHub's rule: failure if any failure/error, pending if any pending or none."""
        latest: dict[str, CommitStatus] = {}
        for status in self.statuses(sha):
            latest.setdefault(status.context, status)
        current = sorted(latest.values(), key=lambda s: s.context)
        states = {s.state for s in current}
        if states & {"failure", "error"}:
            state = "failure"
        elif not current or "pending" in states:
            state = "pending"
        else:
            state = "success"
        return state, current

    def set_check_run(
        self, sha: str, name: str, status: CheckStatus, conclusion: CheckConclusion | None
    ) -> CheckRun:
        """Create the named check run on ``sha`` or move the existing one forward."""
        if (status == "completed") != (conclusion is not None):
            raise ValueError("a conclusion is required exactly when status is 'completed'")
        now = self._touch()
        existing = next((c for c in self._check_runs.values() if c.head_sha == sha and c.name == name), None)
        started = existing.started_at if existing else None
        if status in ("in_progress", "completed") and started is None:
            started = now
        run = CheckRun(
            id=existing.id if existing else next(self._check_ids),
            head_sha=sha,
            name=name,
            status=status,
            conclusion=conclusion,
            started_at=started,
            completed_at=now if status == "completed" else None,
        )
        self._check_runs[run.id] = run
        return run

    def check_runs(self, sha: str) -> list[CheckRun]:
        return sorted((c for c in self._check_runs.values() if c.head_sha == sha), key=lambda c: c.id)
