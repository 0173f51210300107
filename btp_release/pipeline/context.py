"""What every stage shares: the config, the clients, the observed remote state and the step log.

Stages are stateless: each one observes the release in GitHub and the registries and does only what
is missing. Within one process the observation is cached and kept current from the results of our
own calls (a full ``run`` costs well under 30 GitHub calls besides polling); ``refresh()`` forgets it,
and ``publish`` always looks again before it decides.
"""

from __future__ import annotations

import datetime
import re
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar

import attrs

from btp_release.config import CONFIG_FILE, ReleaseConfig
from btp_release.errors import BtpReleaseError, Conflict, InvalidInput, NotFound
from btp_release.git import WorkTree, inspect_worktree
from btp_release.github import GitHubClient, GitRef, Release
from btp_release.images import ImageBuild, ImageBuilder
from btp_release.module import ModuleArtifact, ModuleInputs, ModuleSpec, build_module
from btp_release.module.manifest import set_manager_image
from btp_release.module.security import SecurityConfig
from btp_release.module.validate import manifest_images, parse_documents
from btp_release.oci import Reference, RegistryClient
from btp_release.pipeline.provenance import PROVENANCE_ASSET, ArtifactRecord, Provenance, sha256_bytes
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
T = TypeVar("T")
StageStatus = Literal["changed", "unchanged", "planned", "skipped"]
_SHA = re.compile(r"^[0-9a-f]{40}$")


class EarlierStageMissing(NotFound):
    """A stage needs what an earlier one makes (the draft, the build record) and it is not there yet.

    A plan lists such a stage as waiting; a run names the stage to run first.
    """


class PreflightFailed(BtpReleaseError):
    """The preflight found several problems before changing anything; ``problems`` holds each typed
    error and the message lists them all. (A single problem is raised as itself, with its own code.)"""

    exit_code = 12

    def __init__(self, problems: list[BtpReleaseError]) -> None:
        self.problems = tuple(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(
            f"the preflight found {len(self.problems)} problems; nothing was changed:\n{lines}",
            hint="fix them all and run again",
        )


@attrs.frozen
class Event:
    """Progress for whoever renders it (terminal, GitHub Actions, JSON lines): one line each."""

    kind: Literal["stage", "step", "note", "warning", "wait"]
    stage: str
    message: str


@attrs.frozen(kw_only=True)
class StageResult:
    """What a stage did (or, in a plan, would do). ``outputs`` are strings for ``$GITHUB_OUTPUT``."""

    stage: str
    status: StageStatus
    actions: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    outputs: dict[str, str] = attrs.field(factory=dict)

    def to_json(self) -> dict[str, Any]:
        return attrs.asdict(self)


class StageLog:
    """Collects a stage's steps; in a dry run ``act`` describes the step instead of doing it."""

    def __init__(self, ctx: ReleaseContext, stage: str, *, dry_run: bool) -> None:
        self.ctx = ctx
        self.stage = stage
        self.dry_run = dry_run
        self.actions: list[str] = []
        self.warnings: list[str] = []
        self.outputs: dict[str, str] = {}
        self.changed = False

    def act(self, text: str, do: Callable[[], T]) -> T | None:
        if self.dry_run:
            self.actions.append(f"would {text}")
            self.ctx.emit("step", self.stage, f"would {text}")
            return None
        self.ctx.emit("step", self.stage, text)
        result = do()
        self.actions.append(text)
        self.changed = True
        return result

    def note(self, text: str) -> None:
        self.actions.append(text)
        self.ctx.emit("note", self.stage, text)

    def warn(self, text: str) -> None:
        self.warnings.append(text)
        self.ctx.emit("warning", self.stage, text)

    def result(self, *, skipped: bool = False) -> StageResult:
        status: StageStatus = (
            "skipped"
            if skipped
            else "planned"
            if self.dry_run
            else "changed"
            if self.changed
            else "unchanged"
        )
        return StageResult(
            stage=self.stage,
            status=status,
            actions=tuple(self.actions),
            warnings=tuple(self.warnings),
            outputs=dict(self.outputs),
        )


@attrs.frozen
class RemoteState:
    """The release as GitHub shows it: the release (draft or published), the tag, the provenance."""

    release: Release | None
    tag: GitRef | None
    provenance: Provenance | None
    releases: tuple[Release, ...]  # every release of the repository (for "latest published")


class ReleaseContext:
    """One version of one module, with the clients to release it.

    ``registries`` maps registry hosts to clients (the module and the image registry may be one);
    ``other_registry`` makes a client for another host (where images built elsewhere live; never
    with the release's registry credentials), closed with the context;
    ``images`` builds the manager image and may be ``None`` when no Docker daemon is wanted;
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
        e2e_runner: E2ERunner | None = None,
        ref: str = "main",
        overwrite: bool = False,
        reporter: Callable[[Event], None] | None = None,
        workdir: Path | None = None,
        tool_versions: dict[str, str] | None = None,
        now: Callable[[], datetime.datetime] = lambda: datetime.datetime.now(datetime.UTC),
        verify_source: bool = True,
    ) -> None:
        self.config = config
        self.version = version if isinstance(version, Version) else Version.parse(version)
        self._github = github
        self.registries = registries
        self._other_registry = other_registry
        self._others: dict[str, RegistryClient] = {}
        self._images_factory = images
        self._images: ImageBuilder | None = None
        self.e2e_runner = e2e_runner
        self.ref = ref
        self.overwrite = overwrite
        self._reporter = reporter
        self._scratch: tempfile.TemporaryDirectory[str] | None = None
        self._workdir = workdir
        self.tool_versions = tool_versions or {}
        self._now = now
        self._state: RemoteState | None = None
        self._commit: str | None = None
        self._artifact: ModuleArtifact | None = None
        self._artifact_commit: str | None = None
        self._security: SecurityConfig | None = None
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

    # -- names ---------------------------------------------------------------------------------

    @property
    def tag(self) -> str:
        return self.version.image_tag

    @property
    def image_ref(self) -> Reference:
        return Reference.parse(f"{self.config.image_repo}:{self.version.image_tag}")

    def module_spec(self, commit: str) -> ModuleSpec:
        """The module's spec: settings from the config, the rest of the ModuleTemplate from the
        module-config (icons, manager, labels, associatedResources, resources, requiresDowntime…)."""
        c = self.config
        return ModuleSpec(
            **_from_module_config(c),
            component_name=c.module_name,
            version=self.version,
            registry_base_url=c.module_registry,
            source_repo_url=c.source_repo_url,
            source_commit=commit,
            manifest_path=c.path(c.manifest),
            default_cr_path=c.path(c.default_cr) if c.default_cr else None,
            security_config_path=c.path(c.security_config) if c.security_config else None,
            channel=c.channel,
            shape=c.template_shape,
            template_api_version=c.template_api_version,
            default_cr_crd_external=c.default_cr_crd_external,
            doc_url=c.documentation_url,
        )

    def module_config_warnings(self) -> list[str]:
        """What a run says once about the module-config: a version other than the one released
        (``--version`` wins), keys modulectl no longer reads (and so neither does the release)."""
        module = self.config.module_config
        if module is None:
            return []
        warnings = []
        if module.version != self.version:
            warnings.append(
                f"{module.source} says version {module.version}; releasing {self.version} (--version)"
            )
        if module.ignored:
            warnings.append(
                f"{module.source}: {', '.join(module.ignored)} ignored (modulectl no longer reads them)"
            )
        if module.unknown:
            warnings.append(f"{module.source}: unknown key(s) {', '.join(module.unknown)} ignored (a typo?)")
        return warnings

    def unserved_template_warning(self) -> str | None:
        """A word for runs that write v1beta1 ModuleTemplates, which current lifecycle-manager does not
        serve (its CRD marks v1beta1 ``served: false`` since 2024): they are for the 2023 flow only."""
        if self.config.template_api_version != "v1beta1":
            return None
        return (
            "the templates are operator.kyma-project.io/v1beta1 (2023 shape), which current "
            "lifecycle-manager does not serve; a module of today uses template-shape: modulectl (v1beta2)"
        )

    def image_build(self, commit: str) -> ImageBuild:
        """The manager image build: ``VERSION`` build arg, OCI labels with version, commit, source."""
        c = self.config
        return ImageBuild(
            context=c.path(c.build_context),
            dockerfile=c.dockerfile,
            reference=self.image_ref,
            build_args={"VERSION": str(self.version), **c.build_args},
            version=str(self.version),
            revision=commit,
            source=f"https://{c.source_repo_url}",
        )

    def provenance(
        self,
        commit: str,
        module_digest: str,
        image_digest: str | None,
        assets: Mapping[str, bytes],
        *,
        snapshot: bool,
        unverified_source: tuple[str, ...] = (),
        images: tuple[str, ...] = (),
    ) -> Provenance:
        """The record of a build of this release: digests and the checksum of every rendered file
        (and, for a snapshot allowed to be dirty, why its files are not those of ``commit``)."""
        return Provenance(
            version=str(self.version),
            commit=commit,
            github_repo=self.config.github_repo,
            module=ArtifactRecord(str(self.module_ref), module_digest),
            # Without an image built here there is no release image: the manifest's images are all.
            image=ArtifactRecord(str(self.image_ref) if self.config.build_image else "", image_digest),
            images=images,
            assets={name: sha256_bytes(data) for name, data in assets.items()},
            tools=self.tool_versions,
            snapshot=snapshot,
            unverified_source=unverified_source,
        )

    @property
    def module_ref(self) -> Reference:
        spec = self.module_spec("0" * 40)
        return Reference(self.config.module_registry_host, spec.module_repository, spec.component_version)

    def release_security(self, commit: str) -> SecurityConfig | None:
        """The scanner config as this release ships it (``rc-tag``, its images), if the module has one."""
        self.build_artifact(commit)
        return self._security

    def release_images(self, commit: str) -> tuple[str, ...]:
        """The images the built module's manifest deploys (after the manager image was set)."""
        spec, artifact = self.build_artifact(commit)
        if artifact.raw_manifest is None:
            return ()
        documents, _ = parse_documents(artifact.raw_manifest, file="raw manifest")
        return tuple(manifest_images(documents, shape=spec.shape))

    def build_artifact(self, commit: str) -> tuple[ModuleSpec, ModuleArtifact]:
        """The module built from the files (validated; deterministic, so cached per commit)."""
        spec = self.module_spec(commit)
        if self._artifact is None or self._artifact_commit != commit:
            inputs = ModuleInputs.load(spec)
            if self.config.build_image and self.config.set_manager_image and inputs.manifest is not None:
                manifest, replaced = set_manager_image(
                    inputs.manifest,
                    str(self.image_ref),
                    names=self.config.manager_image_names,
                    file=inputs.manifest_name,
                )
                if replaced:
                    log.info("manifest: manager image %s set to %s", ", ".join(replaced), self.image_ref)
                inputs = attrs.evolve(inputs, manifest=manifest)
            if inputs.security is not None:
                # Today's scanner config lists the manifest's images; the 2023 one the release image.
                images = (
                    self.manifest_images(spec, inputs) if spec.shape == "modulectl" else [str(self.image_ref)]
                )
                inputs = attrs.evolve(inputs, security=inputs.security.for_release(self.version, images))
            self._security = inputs.security
            self._artifact = build_module(spec, inputs, image_mismatch=self.config.image_mismatch)
            self._artifact_commit = commit
        return spec, self._artifact

    @staticmethod
    def manifest_images(spec: ModuleSpec, inputs: ModuleInputs) -> list[str]:
        """Every image the manifest deploys (today's shape: containers, init containers and
        environment values of Deployments and StatefulSets, as modulectl counts them)."""
        if inputs.manifest is None:
            return []
        documents, _ = parse_documents(inputs.manifest, file=inputs.manifest_name)
        return manifest_images(documents, shape=spec.shape)

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
        if state.tag is not None and state.tag.object_type == "commit" and state.tag.sha != resolved:
            raise Conflict(
                f"tag {self.tag} already exists at commit {state.tag.sha} (no release yet), "
                f"not at {resolved} ({self.ref})",
                hint=f"release that commit (--ref {state.tag.sha}), "
                "or delete the tag (btp-release replace --yes)",
            )
        self._commit = resolved
        return resolved

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

    def assets_to_render(self) -> tuple[str, ...]:
        spec = self.module_spec("0" * 40)
        names = ["template.yaml"]
        if spec.target_emitted:
            names.append("template_control_plane.yaml")
        names.append(self.config.manifest_asset)
        if self.config.default_cr is not None:
            names.append(self.config.default_cr_asset)
        return tuple(names)

    def release_assets(self) -> tuple[str, ...]:
        """Every asset a finished release has: the rendered files and ``release-manifest.json``."""
        return (*self.assets_to_render(), PROVENANCE_ASSET)


def _from_module_config(config: ReleaseConfig) -> dict[str, Any]:
    """ModuleSpec fields only a module-config gives (none without one)."""
    module = config.module_config
    if module is None:
        return {}
    return {
        "repository_url": module.repository,
        "icons": module.icons,
        "requires_downtime": module.requires_downtime,
        "associated_resources": module.associated_resources,
        "resources": module.resources,
        "manifest_url": module.manifest.url,
        "team": module.team,
        "security_scan_enabled": module.security_scan_enabled,
        "labels": module.labels,
        "annotations": module.annotations,
        "manager": module.manager,
        "beta": module.beta,
        "internal": module.internal,
    }
