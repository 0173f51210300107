"""The release pipeline: stages composed from the GitHub, OCI, module and image clients.

``ReleasePipeline`` is the entry point for scripts, notebooks and the CLI::

    config = load_config("path/to/module")
    with ReleasePipeline.from_config(config, "1.2.0") as release:
        print(release.plan())      # what each stage would do now; changes nothing
        release.run()              # validate → draft → build → upload → await → e2e → publish

Every stage is idempotent and finds its state in GitHub and the registries, so ``run`` (or any
single stage) can be repeated after a failure at any point. See ``docs/pipeline.md``.
"""

from __future__ import annotations

import contextlib
import functools
import os
import platform
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import httpx

from btp_release.config import ReleaseConfig
from btp_release.errors import BtpReleaseError, InvalidInput
from btp_release.github import GitHubClient
from btp_release.manifests import ManifestsConflict, VersionNotSubmitted, WithdrawRefused
from btp_release.oci import Credentials, RegistryClient
from btp_release.pipeline import catalog as _catalog
from btp_release.pipeline import stages as _stages
from btp_release.pipeline.context import (
    EarlierStageMissing,
    Event,
    PreflightFailed,
    ReleaseContext,
    RemoteState,
    StageResult,
)
from btp_release.pipeline.provenance import PROVENANCE_ASSET, Provenance
from btp_release.pipeline.replace import replace as _replace
from btp_release.pipeline.runner import E2ERequest, E2EResult, E2ERunner, load_runner
from btp_release.pipeline.snapshot import snapshot as _snapshot
from btp_release.pipeline.stages import STAGES
from btp_release.secret import credential
from btp_release.version import Version

__all__ = [
    "PROVENANCE_ASSET",
    "STAGES",
    "E2ERequest",
    "EarlierStageMissing",
    "E2EResult",
    "E2ERunner",
    "Event",
    "PreflightFailed",
    "Provenance",
    "ReleaseContext",
    "ReleasePipeline",
    "RemoteState",
    "StageResult",
    "tool_versions",
]

StageFunction = Callable[..., StageResult]
_FUNCTIONS: dict[str, StageFunction] = {
    "validate": _stages.validate,
    "draft": _stages.draft,
    "build": _stages.build,
    "upload": _stages.upload,
    "await": _stages.await_stage,
    "e2e": _stages.e2e,
    "publish": _stages.publish,
}


def tool_versions() -> dict[str, str]:
    """Recorded in the provenance: what made the release."""
    from btp_release import __version__

    return {"btp-release": __version__, "python": platform.python_version(), "httpx": httpx.__version__}


def registry_credentials(environ: Mapping[str, str]) -> Credentials | None:
    """``BTP_RELEASE_REGISTRY_USERNAME``/``_PASSWORD`` when set; else the Docker config decides."""
    user = environ.get("BTP_RELEASE_REGISTRY_USERNAME")
    password = environ.get("BTP_RELEASE_REGISTRY_PASSWORD")
    if password:  # checked (and registered for redaction) even when the user name is missing
        secret = credential(password, source="environment BTP_RELEASE_REGISTRY_PASSWORD", kind="password")
    if not user and not password:
        return None
    if not user or not password:
        given, missing = ("PASSWORD", "USERNAME") if password else ("USERNAME", "PASSWORD")
        raise InvalidInput(
            f"BTP_RELEASE_REGISTRY_{given} is set but BTP_RELEASE_REGISTRY_{missing} is not",
            hint="set both, or neither (the Docker config then decides)",
        )
    if user != user.strip() or not user.isprintable():
        raise InvalidInput("BTP_RELEASE_REGISTRY_USERNAME has surrounding whitespace or a control character")
    return Credentials.basic(user, secret)


class ReleasePipeline:
    """The stages of one release over one :class:`ReleaseContext`; use it as a context manager."""

    def __init__(self, ctx: ReleaseContext, *, resources: contextlib.ExitStack | None = None) -> None:
        self.ctx = ctx
        self._resources = resources or contextlib.ExitStack()

    @classmethod
    def from_config(
        cls,
        config: ReleaseConfig,
        version: Version | str,
        *,
        environ: Mapping[str, str] | None = None,
        ref: str | None = None,
        overwrite: bool = False,
        docker: bool = True,
        github: bool = True,
        e2e_runner: E2ERunner | None = None,
        reporter: Callable[[Event], None] | None = None,
        workdir: Path | None = None,
        verify_source: bool = True,
        other_registry: Callable[[str], RegistryClient] | None = None,
        manifests: Callable[[], GitHubClient] | None = None,
    ) -> ReleasePipeline:
        """Clients from the config and the environment: the GitHub token from ``GITHUB_TOKEN`` /
        ``GH_TOKEN``, registry credentials from ``BTP_RELEASE_REGISTRY_*`` or the Docker config,
        the daemon from ``DOCKER_HOST``. ``ref`` defaults to ``GITHUB_SHA``, else ``main``.
        ``verify_source`` off lets the module files differ from the released commit (only for
        rehearsals: a real release publishes what its commit holds).
        ``other_registry`` makes the client for a registry other than the release's own (where the
        manifest's images built elsewhere are awaited); default: that host, anonymous or with the
        Docker config's credentials for it. ``manifests`` makes the client of the module-manifests
        repository (default: ``manifests-repo`` with ``BTP_RELEASE_MANIFESTS_TOKEN``, see
        :func:`~btp_release.pipeline.catalog.manifests_client`)."""
        env = dict(os.environ if environ is None else environ)
        resources = contextlib.ExitStack()
        try:
            client = None
            if github:
                client = resources.enter_context(
                    GitHubClient(config.github_repo, api_url=config.github_api_url, environ=env)
                )
            credentials = registry_credentials(env)
            registries = {
                host: resources.enter_context(
                    RegistryClient(host, credentials=credentials, insecure=host in config.insecure_registries)
                )
                for host in dict.fromkeys((config.module_registry_host, config.image_registry_host))
            }

            def foreign_registry(host: str) -> RegistryClient:
                # Where images built elsewhere live: the Docker config's credentials for that host or
                # none, never BTP_RELEASE_REGISTRY_* (they are for the release's own registries).
                return RegistryClient(host, insecure=host in config.insecure_registries)

            images = None
            if docker and config.build_image:
                from btp_release.images import ImageBuilder

                images = lambda: ImageBuilder.from_environ(env)  # noqa: E731
            runner = e2e_runner
            if runner is None and config.e2e_runner:
                runner = load_runner(config.e2e_runner)
            ctx = ReleaseContext(
                config,
                version,
                github=client,
                registries=registries,
                other_registry=other_registry or foreign_registry,
                images=images,
                manifests=(manifests or (lambda: _catalog.manifests_client(config, env))) if github else None,
                e2e_runner=runner,
                ref=ref or env.get("GITHUB_SHA") or "main",
                overwrite=overwrite,
                reporter=reporter,
                workdir=workdir,
                tool_versions=tool_versions(),
                verify_source=verify_source,
            )
            resources.enter_context(ctx)
        except BaseException:
            resources.close()
            raise
        return cls(ctx, resources=resources)

    def close(self) -> None:
        self._resources.close()

    def __enter__(self) -> ReleasePipeline:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- stages ----------------------------------------------------------------------------------

    def stage(self, name: str, *, dry_run: bool = False, **options: bool) -> StageResult:
        """Run one stage by name (``validate`` … ``publish``); ``options`` go to its function
        (validate: ``require_github``)."""
        function = _FUNCTIONS.get(name)
        if function is None:
            raise BtpReleaseError(f"unknown stage {name!r}", hint=f"one of {', '.join(STAGES)}")
        self.ctx.emit("stage", name, "plan" if dry_run else "start")
        result = function(self.ctx, dry_run=dry_run, **options)
        self.ctx.emit("stage", name, result.status)
        return result

    def validate(self) -> StageResult:
        return self.stage("validate")

    def draft(self) -> StageResult:
        return self.stage("draft")

    def build(self) -> StageResult:
        return self.stage("build")

    def upload(self) -> StageResult:
        return self.stage("upload")

    def await_(self) -> StageResult:
        return self.stage("await")

    def e2e(self) -> StageResult:
        return self.stage("e2e")

    def publish(self) -> StageResult:
        return self.stage("publish")

    def run(
        self, stages: Iterable[str] = STAGES, *, on_result: Callable[[StageResult], None] | None = None
    ) -> list[StageResult]:
        """Run the stages in order; the first error stops the run (and propagates). Re-running
        after the cause is fixed continues where it stopped, doing nothing twice. The first stage,
        validate, is the whole preflight: when it finds a problem (or could not check GitHub),
        nothing has been changed."""
        results = []
        for name in stages:
            # The run's preflight must be complete: without a token it is a problem, not a skip.
            result = self.stage(name, require_github=True) if name == "validate" else self.stage(name)
            results.append(result)
            if on_result is not None:
                on_result(result)
        return results

    def plan(self, *, channels: Iterable[str] = (), withdraw: bool = False) -> list[StageResult]:
        """What each stage would do against the current state; changes nothing.

        A stage that depends on an earlier one's output (no draft yet, nothing built yet) is listed
        as waiting for it. With a module-manifests repository configured, ``submit`` follows; a
        ``promote`` for each of ``channels`` and, with ``withdraw``, the withdraw of this version.
        """
        steps: list[tuple[str, Callable[[], StageResult]]] = [
            (name, functools.partial(self.stage, name, dry_run=True)) for name in STAGES
        ]
        if self.ctx.config.manifests_repo:
            steps.append(("submit", functools.partial(self.submit, dry_run=True)))
        for channel in channels:
            steps.append(("promote", functools.partial(self.promote, channel, dry_run=True)))
        if withdraw:
            steps.append(("withdraw", functools.partial(self.withdraw, dry_run=True)))
        results = []
        for name, step in steps:
            try:
                results.append(step())
            except (EarlierStageMissing, VersionNotSubmitted) as exc:
                results.append(
                    StageResult(
                        stage=name,
                        status="planned",
                        actions=(f"would run after the earlier stages ({exc.message})",),
                    )
                )
            except (ManifestsConflict, WithdrawRefused) as exc:  # what the catalog says now: part of the plan
                hint = f" ({exc.hint})" if exc.hint else ""
                results.append(
                    StageResult(
                        stage=name, status="planned", actions=(f"would be refused: {exc.message}{hint}",)
                    )
                )
        return results

    # -- the module-manifests repository ------------------------------------------------------------

    def submit(self, *, dry_run: bool = False) -> StageResult:
        """Open (or update) the pull request that adds the published version's module-config.yaml to
        the module-manifests repository; see :mod:`btp_release.pipeline.catalog`."""
        self.ctx.emit("stage", "submit", "plan" if dry_run else "start")
        result = _catalog.submit(self.ctx, dry_run=dry_run)
        self.ctx.emit("stage", "submit", result.status)
        return result

    def promote(self, channel: str, *, allow_downgrade: bool = False, dry_run: bool = False) -> StageResult:
        """Open (or update) the pull request that points ``channel`` at this version."""
        self.ctx.emit("stage", "promote", "plan" if dry_run else "start")
        result = _catalog.promote(self.ctx, channel, allow_downgrade=allow_downgrade, dry_run=dry_run)
        self.ctx.emit("stage", "promote", result.status)
        return result

    def withdraw(self, *, dry_run: bool = False) -> StageResult:
        """Open (or update) the pull request that removes this version from the module-manifests
        repository (refused while a channel points at it)."""
        self.ctx.emit("stage", "withdraw", "plan" if dry_run else "start")
        result = _catalog.withdraw(self.ctx, dry_run=dry_run)
        self.ctx.emit("stage", "withdraw", result.status)
        return result

    def replace(self, *, dry_run: bool = True) -> StageResult:
        """Delete the release and its tag (see :func:`btp_release.pipeline.replace.replace`)."""
        self.ctx.emit("stage", "replace", "plan" if dry_run else "start")
        return _replace(self.ctx, dry_run=dry_run)

    def snapshot(
        self, out: Path | None = None, *, commit: str | None = None, allow_dirty: bool = False
    ) -> StageResult:
        """Build everything into ``out`` (default: the config's ``snapshot_dir``) without GitHub or
        registries; see :mod:`btp_release.pipeline.snapshot`."""
        target = out if out is not None else self.ctx.config.path(self.ctx.config.snapshot_dir)
        self.ctx.emit("stage", "snapshot", "start")
        return _snapshot(self.ctx, target, commit=commit, allow_dirty=allow_dirty)

    def provenance(self) -> Provenance | None:
        """The ``release-manifest.json`` of the release as GitHub holds it now."""
        self.ctx.refresh()
        return self.ctx.observe().provenance
