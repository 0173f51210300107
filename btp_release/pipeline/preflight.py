"""The validate stage: the preflight, which checks everything the later stages can know before any
of them changes anything, and lists every problem at once.

It is the one stage that collects problems instead of stopping at the first (:class:`PreflightFailed`
lists them), and it looks at all three places a release lives: the files on disk, GitHub and the
registries.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from btp_release.errors import AlreadyExists, AuthenticationFailed, BtpReleaseError, InvalidInput, NotFound
from btp_release.oci import Descriptor, Reference
from btp_release.pipeline.context import ReleaseContext
from btp_release.pipeline.outcomes import PreflightFailed, StageLog, StageResult
from btp_release.pipeline.provenance import ArtifactRecord, Provenance
from btp_release.pipeline.records import REVISION_LABEL

__all__ = ["PLACEHOLDER_COMMIT", "validate"]

T = TypeVar("T")

PLACEHOLDER_COMMIT = "0" * 40  # the module files are checked before the commit is known


class _Preflight:
    """Collects the problems of a preflight instead of stopping at the first, so a user learns
    everything that stands in the way in one run."""

    def __init__(self, run: StageLog) -> None:
        self.run = run
        self.problems: list[BtpReleaseError] = []

    def value(self, what: str, fn: Callable[[], T]) -> T | None:
        """``fn()``, or ``None`` after recording its error as a problem."""
        try:
            return fn()
        except BtpReleaseError as exc:
            self.fail(exc, what)
            return None

    def passes(self, what: str, fn: Callable[[], object]) -> bool:
        """Whether ``fn()`` raised nothing (its error is recorded as a problem)."""
        return self.value(what, lambda: (fn(),)) is not None

    def fail(self, error: BtpReleaseError, what: str = "") -> None:
        self.problems.append(error)
        self.run.note(f"problem: {what + ': ' if what else ''}{error.message}")

    def raise_problems(self) -> None:
        if len(self.problems) == 1:
            raise self.problems[0]
        if self.problems:
            raise PreflightFailed(self.problems)


def validate(ctx: ReleaseContext, *, dry_run: bool = False, require_github: bool = False) -> StageResult:
    """The preflight: everything the later stages can know before changing anything, every problem
    listed at once. Changes nothing, so a plan runs it as is.

    First the checks that need no network (module files and their CRDs, the Dockerfile, the E2E
    runner, the git checkout), then GitHub (token, release state, the ref, the files against the
    released commit) and the registries (reachable, writable, the image present or buildable). Without
    a GitHub token the GitHub part is reported as skipped (``outputs["preflight"] == "partial"``),
    not as a failure of the files — unless ``require_github`` (as ``run`` asks), when it is a problem.
    """
    run = StageLog(ctx, "validate", dry_run=False)
    check = _Preflight(run)
    config = ctx.config
    # -- offline --------------------------------------------------------------------------------
    for warning in ctx.module_config_warnings():
        run.warn(warning)
    built = check.value("module files", lambda: ctx.build_artifact(PLACEHOLDER_COMMIT))
    if built is not None:
        run.note(f"module files valid ({', '.join(ctx.assets_to_render())})")
    dockerfile = config.path(config.build_context) / config.dockerfile
    if ctx.has_image_builder and not dockerfile.is_file():
        check.fail(
            InvalidInput(f"Dockerfile {dockerfile} does not exist", hint="set dockerfile / build-context")
        )
    if ctx.e2e_runner is None and config.e2e_required:
        check.fail(
            InvalidInput(
                "no E2E runner configured, but E2E is required before publishing",
                hint="set e2e-runner (package.module:factory) or e2e-required: false",
            )
        )
    dirty = ctx.source_problems(None)
    if dirty:
        check.fail(
            InvalidInput(
                "the module files are not a clean checkout: " + "; ".join(dirty),
                hint="a release is built from the files of the commit it records: commit and push the "
                "changes, or run in a clean checkout of the commit to release",
            )
        )
    # -- GitHub -----------------------------------------------------------------------------------
    commit = None
    state = None
    if not ctx.github.authenticated and require_github:
        check.fail(
            AuthenticationFailed(
                f"no GitHub token: the release of {config.github_repo} cannot start",
                hint="set GITHUB_TOKEN (or GH_TOKEN) to a token that can write releases",
            )
        )
    elif not ctx.github.authenticated:
        run.warn("GitHub checks skipped: no token (set GITHUB_TOKEN or GH_TOKEN); the files were checked")
        run.outputs["preflight"] = "partial"
    elif check.passes("GitHub", lambda: _github_checks(ctx, run)):
        state = ctx.observe()
        commit = check.value("release commit", ctx.commit)
    if commit is not None:
        run.note(f"releasing commit {commit}")
        elsewhere = ctx.source_problems(commit)
        if elsewhere and not dirty:  # a dirty tree was reported above already
            check.fail(
                InvalidInput(
                    "; ".join(elsewhere),
                    hint=f"run the release in a checkout of that commit (git checkout {commit[:12]})",
                )
            )
        built = check.value("module files", lambda: ctx.build_artifact(commit)) if built else None
        if built is not None:
            run.note(f"module digest will be {built[1].digest}")
    # -- registries -------------------------------------------------------------------------------
    provenance = state.provenance if state else None
    module_digest = built[1].digest if built is not None and commit is not None else None
    _registry_checks(ctx, run, check, module_digest, commit, provenance)
    needs_daemon = ctx.has_image_builder and (provenance is None or provenance.image.digest is None)
    if needs_daemon and check.passes("Docker daemon", lambda: ctx.images.ping()):
        run.note(f"Docker daemon reachable ({ctx.images.docker_host})")
    check.raise_problems()
    if commit is not None:
        run.outputs["commit"] = commit
    return run.result()


def _github_checks(ctx: ReleaseContext, run: StageLog) -> None:
    """Token, permission and the release's state; raises the first problem (the rest would only repeat it)."""
    repo = ctx.github.require_push_access()
    run.note(f"token can write to {repo.full_name}")
    if ctx.github.immutable_releases_enabled():
        run.note("immutable releases are on: once published, the release and its tag are final")
    state = ctx.observe()
    release = state.release
    if release is not None and not release.draft:
        if state.provenance is None:
            raise AlreadyExists(
                f"release {ctx.tag} of {ctx.config.github_repo} is already published ({release.html_url})",
                hint="release a new version"
                + ("" if release.immutable else ", or replace the existing release first"),
            )
        run.note(f"release {ctx.tag} is already published ({release.html_url}); nothing left to do")
    elif release is not None:
        run.note(f"draft {ctx.tag} (id {release.id}) exists: the release will be completed, not restarted")
    elif state.tag is not None:
        run.note(f"tag {ctx.tag} exists at {(ctx.tag_commit() or '')[:12]} without a release")


def _registry_checks(
    ctx: ReleaseContext,
    run: StageLog,
    check: _Preflight,
    module_digest: str | None,
    commit: str | None,
    provenance: Provenance | None,
) -> None:
    """Each registry reachable and writable; what its tags hold; the image there when not built here."""
    records = (provenance.module, provenance.image) if provenance else (None, None)
    refs = (ctx.module_ref, ctx.image_ref) if ctx.config.build_image else (ctx.module_ref,)
    unreachable: set[str] = set()
    for ref, recorded in zip(refs, records, strict=False):
        if ref.registry in unreachable:  # its problem is listed once
            continue
        ours = module_digest if ref == ctx.module_ref else None
        if not _check_registry(ctx, run, check, ref, recorded, ours, commit):
            unreachable.add(ref.registry)


def _check_registry(
    ctx: ReleaseContext,
    run: StageLog,
    check: _Preflight,
    ref: Reference,
    recorded: ArtifactRecord | None,
    module_digest: str | None,
    commit: str | None,
) -> bool:
    """One tag of the release in its registry; ``False`` when the registry cannot be used at all."""
    client = ctx.registry(ref.registry)
    head: list[Descriptor | None] = []
    if not check.passes(f"registry {ref.registry}", lambda: head.append(client.head_manifest(ref))):
        return False
    found = head[0]
    if found is not None and (recorded is None or recorded.digest != found.digest):
        # What this release would push anyway (the deterministic module, an image built from this
        # commit) is adopted by the build stage, so it is no reason for a warning.
        if ref == ctx.module_ref:
            ours = module_digest is not None and found.digest == module_digest
        else:
            ours = commit is not None and (client.image_labels(ref) or {}).get(REVISION_LABEL) == commit
        if ours:
            run.note(f"{ref} already holds this release's content ({found.digest}); it will be kept")
        else:
            run.warn(f"{ref} already exists in the registry ({found.digest}) and is not this release's")
    built_elsewhere = ref == ctx.image_ref and not ctx.has_image_builder
    if built_elsewhere and found is None and (recorded is None or recorded.digest is None):
        check.fail(
            NotFound(
                f"image {ref} is not in the registry and no Docker daemon is used to build it",
                hint="push it from the job that builds it first, or run without --no-docker",
            )
        )
    if not check.passes(f"registry {ref.registry}", lambda: client.check_push_access(ref.repository)):
        return False
    run.note(f"registry {ref.registry} reachable; push to {ref.repository} allowed")
    return True
