"""What every stage shares: the config, the clients and the observed remote state.

Stages are stateless: each one observes the release in GitHub and the registries and does only what
is missing. Within one process the observation is cached and kept current from the results of our
own calls (a full ``run`` costs well under 30 GitHub calls besides polling); ``refresh()`` forgets it,
and ``publish`` always looks again before it decides.

What the release builds from its files is :class:`~btp_release.pipeline.release_build.ReleaseBuild`
(which :class:`ReleaseContext` extends); what stages report is in :mod:`~btp_release.pipeline.outcomes`
(re-exported here).
"""

from __future__ import annotations

import datetime
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import attrs

from btp_release.config import CONFIG_FILE, ReleaseConfig
from btp_release.errors import Conflict, InvalidInput, NotFound
from btp_release.git import WorkTree, inspect_worktree
from btp_release.github import GitHubClient, GitRef, Release
from btp_release.images import ImageBuilder
from btp_release.oci import RegistryClient
from btp_release.pipeline.outcomes import (
    EarlierStageMissing,
    Event,
    PreflightFailed,
    StageLog,
    StageResult,
    StageStatus,
)
from btp_release.pipeline.provenance import PROVENANCE_ASSET, Provenance
from btp_release.pipeline.release_build import ReleaseBuild
from btp_release.pipeline.runner import E2ERunner
from btp_release.redaction import get_logger
from btp_release.version import Version
from btp_release.wait import Poll, WaitPolicy

__all__ = [
    "EarlierStageMissing",
    "Event",
    "PreflightFailed",
    "ReleaseContext",
    "RemoteState",
    "StageLog",
    "StageResult",
    "StageStatus",
]

log = get_logger("btp_release.pipeline")
_SHA = re.compile(r"^[0-9a-f]{40}$")


@attrs.frozen
class RemoteState:
    """The release as GitHub shows it: the release (draft or published), the tag, the provenance."""

    release: Release | None
    tag: GitRef | None
    provenance: Provenance | None
    releases: tuple[Release, ...]  # every release of the repository (for "latest published")


class ReleaseContext(ReleaseBuild):
    """One version of one module, with the clients to release it (what it builds: :class:`ReleaseBuild`).

    ``registries`` maps registry hosts to clients (the module and the image registry may be one);
    ``other_registry`` makes a client for another host (where images built elsewhere live; never
    with the release's registry credentials), closed with the context;
    ``images`` builds the manager image and may be ``None`` when no Docker daemon is wanted;
    ``manifests`` makes the client of the module-manifests repository (submit, promote, withdraw);
    ``reporter`` receives :class:`Event` values; ``now`` (timezone-aware) stamps E2E verdicts.
    ``ref`` is what to release (branch, tag or SHA) when no draft exists yet; a draft's own commit
    always wins, so a re-run after ``main`` moved finishes the release it started. ``overwrite``
    allows replacing unpublished registry tags that hold different content. ``verify_source``
    (default on) requires the module files to be those of the released commit: a clean git checkout
    of it (see :meth:`source_problems`).
    """

    def __init__(
        self,
        config: ReleaseConfig,
        version: Version | str,
        *,
        github: GitHubClient | None,
        registries: dict[str, RegistryClient],
        other_registry: Callable[[str], RegistryClient] | None = None,
        images: Callable[[], ImageBuilder] | None = None,
        manifests: Callable[[], GitHubClient] | None = None,
        e2e_runner: E2ERunner | None = None,
        ref: str = "main",
        overwrite: bool = False,
        reporter: Callable[[Event], None] | None = None,
        workdir: Path | None = None,
        tool_versions: dict[str, str] | None = None,
        now: Callable[[], datetime.datetime] = lambda: datetime.datetime.now(datetime.UTC),
        verify_source: bool = True,
    ) -> None:
        super().__init__(config, version, tool_versions=tool_versions)
        self._github = github
        self.registries = registries
        self._other_registry = other_registry
        self._others: dict[str, RegistryClient] = {}
        self._images_factory = images
        self._manifests_factory = manifests
        self._manifests: GitHubClient | None = None
        self._images: ImageBuilder | None = None
        self.e2e_runner = e2e_runner
        self.ref = ref
        self.overwrite = overwrite
        self._reporter = reporter
        self._scratch: tempfile.TemporaryDirectory[str] | None = None
        self._workdir = workdir
        self._now = now
        self._state: RemoteState | None = None
        self._commit: str | None = None
        self.verify_source = verify_source
        self._worktree: WorkTree | None = None

    # -- plumbing ------------------------------------------------------------------------------

    def emit(
        self, kind: Literal["stage", "step", "note", "warning", "wait"], stage: str, message: str
    ) -> None:
        if self._reporter is not None:
            log.debug("%s: %s", stage, message)
            self._reporter(Event(kind, stage, message))
        else:
            (log.warning if kind == "warning" else log.info)("%s: %s", stage, message)

    def timestamp(self) -> str:
        """Now, as recorded in the provenance (RFC 3339, UTC, seconds); the clock is injected."""
        return self._now().astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    def progress(self, stage: str, what: str) -> Callable[[Poll[Any], float], None]:
        """An ``on_progress`` callback for bounded waits: one ``wait`` event per poll."""

        def report(poll: Poll[Any], left: float) -> None:
            self.emit("wait", stage, f"waiting for {what}: {poll.state} ({left:.0f}s left)")

        return report

    @property
    def workdir(self) -> Path:
        if self._workdir is None:
            self._scratch = tempfile.TemporaryDirectory(prefix=f"btp-release-{self.version}-")
            self._workdir = Path(self._scratch.name)
        self._workdir.mkdir(parents=True, exist_ok=True)
        return self._workdir

    def close(self) -> None:
        for client in self._others.values():
            client.close()
        self._others.clear()
        if self._manifests is not None:
            self._manifests.close()
            self._manifests = None
        if self._images is not None:
            self._images.close()
        if self._scratch is not None:
            self._scratch.cleanup()

    def __enter__(self) -> ReleaseContext:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def github(self) -> GitHubClient:
        if self._github is None:
            raise InvalidInput("this run has no GitHub client (a snapshot builds locally only)")
        return self._github

    @property
    def manifests(self) -> GitHubClient:
        """The client of the module-manifests repository (made on first use: only submit, promote and
        withdraw need it, with their own token)."""
        if self._manifests is None:
            if self._manifests_factory is None:
                raise InvalidInput("this run has no client for the module-manifests repository")
            self._manifests = self._manifests_factory()
        return self._manifests

    @property
    def images(self) -> ImageBuilder:
        if self._images is None:
            if self._images_factory is None:
                raise InvalidInput("no Docker daemon configured for building the manager image")
            self._images = self._images_factory()
        return self._images

    @property
    def has_image_builder(self) -> bool:
        return self._images_factory is not None

    def registry(self, host: str) -> RegistryClient:
        client = self.registries.get(host) or self._others.get(host)
        if client is None:
            if self._other_registry is None:
                raise InvalidInput(f"no registry client for {host}", hint="pass one in registries=")
            client = self._others[host] = self._other_registry(host)
        return client

    def wait_policy(self, timeout: float | None = None) -> WaitPolicy:
        interval = self.config.poll_interval
        return WaitPolicy(
            timeout=self.config.await_timeout if timeout is None else max(timeout, 0.0),
            interval=interval,
            backoff=1.5,
            max_interval=max(interval, 30.0),
        )

    # -- remote state --------------------------------------------------------------------------

    def refresh(self) -> None:
        """Forget the observed state, the commit derived from it (a replace may have removed the
        draft and tag that pinned it) and the checkout's state; all are looked up again when needed."""
        self._state = None
        self._commit = None
        self._worktree = None

    def observe(self) -> RemoteState:
        """The release, tag and provenance in GitHub (cached until :meth:`refresh` or an update)."""
        if self._state is None:
            releases = tuple(self.github.iter_releases())
            ours = sorted(
                (r for r in releases if r.tag_name == self.tag),
                key=lambda r: (r.draft, not r.created_by_btp_release, r.id),
            )
            release = ours[0] if ours else None
            tag = self.github.get_tag(self.tag)
            provenance = self._download_provenance(release) if release else None
            self._state = RemoteState(release, tag, provenance, releases)
        return self._state

    def remember(self, **changes: Any) -> None:
        """Update the cached observation with what our own call just returned."""
        self._state = attrs.evolve(self.observe(), **changes)

    def _download_provenance(self, release: Release) -> Provenance | None:
        asset = release.asset(PROVENANCE_ASSET)
        if asset is None or not asset.complete:
            return None
        (self.workdir / "remote").mkdir(exist_ok=True)
        path = self.github.download_asset(asset, self.workdir / "remote" / PROVENANCE_ASSET)
        return Provenance.from_bytes(path.read_bytes())

    def require_release(self, stage: str) -> Release:
        release = self.observe().release
        if release is None:
            raise EarlierStageMissing(
                f"no release {self.tag} in {self.config.github_repo}",
                hint=f"run the draft stage before {stage}",
            )
        return release

    def require_provenance(self, stage: str) -> Provenance:
        provenance = self.observe().provenance
        if provenance is None:
            raise EarlierStageMissing(
                f"release {self.tag} of {self.config.github_repo} has no {PROVENANCE_ASSET}",
                hint=f"run the build stage before {stage}",
            )
        return provenance

    def latest_published(self) -> Release | None:
        """The published release with the highest SemVer below this version (for notes and upgrades)."""
        best: tuple[Version, Release] | None = None
        for release in self.observe().releases:
            version = Version.try_parse(release.tag_name)
            if release.draft or version is None or version.is_prerelease or not version < self.version:
                continue
            if best is None or version > best[0]:
                best = (version, release)
        return best[1] if best else None

    def commit(self) -> str:
        """The commit being released: the draft's; else the tag's, if ``ref`` points there too;
        else ``ref`` resolved. A draft pins its commit (a re-run after ``main`` moved finishes the
        release it started); a tag without a release does not (it is not ours: the draft comes
        first), so a tag at another commit than ``ref`` is a :class:`Conflict`."""
        if self._commit is not None:
            return self._commit
        state = self.observe()
        if state.release is not None and _SHA.match(state.release.target_commitish):
            pinned = state.release.target_commitish
            if _SHA.match(self.ref) and self.ref != pinned:
                raise Conflict(
                    f"release {self.tag} is already being made from commit {pinned}, not {self.ref}",
                    hint="finish it without --ref, or replace the release to start over from another commit",
                )
            self._commit = pinned
            return pinned
        try:  # a SHA is looked up too: an unknown one must not reach the draft
            resolved = self.github.resolve_commit(self.ref)
        except (NotFound, InvalidInput) as exc:
            raise NotFound(
                f"ref {self.ref!r} is not a commit, branch or tag of {self.config.github_repo}",
                hint="check --ref (or GITHUB_SHA): the commit must be pushed to GitHub",
            ) from exc
        tagged = self.tag_commit()
        if tagged is not None and tagged != resolved:
            raise Conflict(
                f"tag {self.tag} already exists at commit {tagged} (no release yet), "
                f"not at {resolved} ({self.ref})",
                hint=f"release that commit (--ref {tagged}), or delete the tag (btp-release replace --yes)",
            )
        self._commit = resolved
        return resolved

    def tag_commit(self) -> str | None:
        """The commit the version's tag stands for (``None``: no tag). An annotated tag's ref
        points at a tag object (``git tag -a``): the commit it tags is what counts."""
        tag = self.observe().tag
        return None if tag is None else self.github.tagged_commit(tag)

    # -- the files on disk ------------------------------------------------------------------------

    def source_paths(self) -> list[Path]:
        """The files and directories a release reads: module files, and the build context when the
        image is built here."""
        c = self.config
        paths = [c.path(p) for p in (c.manifest, c.default_cr, c.security_config) if p is not None]
        if c.module_config is not None:
            paths.append(Path(c.module_config.source))
        if c.build_image and self.has_image_builder:
            paths.append(c.path(c.build_context))
        return paths

    def worktree(self) -> WorkTree:
        """The git state of the module directory for :meth:`source_paths` (looked up once)."""
        if self._worktree is None:
            # The config file may sit in the build context; settings are not module files (the
            # environment and flags override them anyway), so editing it does not make files dirty.
            ignore = [self.config.module_dir / name for name in (CONFIG_FILE, "pyproject.toml")]
            self._worktree = inspect_worktree(self.config.module_dir, self.source_paths(), ignore=ignore)
        return self._worktree

    def source_problems(self, commit: str | None) -> list[str]:
        """Why the files on disk are not those of ``commit`` (``None``: only a clean checkout is
        asked); empty when they are or ``verify_source`` is off."""
        return self.worktree().problems(commit) if self.verify_source else []

    def require_source(self, commit: str) -> None:
        """Refuse to build from files that are not those of ``commit`` (publish what the commit says)."""
        if problems := self.source_problems(commit):
            raise InvalidInput(
                "the release records commit " + commit + ", but " + "; ".join(problems),
                hint=f"run it in a clean checkout of that commit (git checkout {commit[:12]}, with the "
                "changes committed and pushed first)",
            )
