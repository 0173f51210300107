"""The release stages. Each observes the current state, does only what is missing, and returns a
:class:`~btp_release.pipeline.context.StageResult`; with ``dry_run`` it only says what it would do.

validate → draft → build → upload → await → e2e → publish. Any stage may run again, alone or in
another job, after any failure: the state it needs lives in GitHub (draft, tag, ``release-manifest.json``)
and in the registries (tags and digests), never in the process that ran the stage before.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TypeVar

import attrs

from btp_release.errors import (
    AlreadyExists,
    AuthenticationFailed,
    BtpReleaseError,
    CheckFailed,
    Conflict,
    DigestMismatch,
    InvalidInput,
    NotFound,
)
from btp_release.github import Release, ReleaseAsset
from btp_release.github.assets import TEMP_SUFFIX
from btp_release.module import push_module, read_module, template_files, to_yaml
from btp_release.module.template import BuiltModule
from btp_release.oci import Descriptor, Reference
from btp_release.pipeline.context import PreflightFailed, ReleaseContext, StageLog, StageResult
from btp_release.pipeline.provenance import (
    PROVENANCE_ASSET,
    ArtifactRecord,
    E2ERecord,
    Provenance,
    sha256_bytes,
)
from btp_release.pipeline.runner import E2ERequest
from btp_release.wait import Poll, wait_until

__all__ = [
    "STAGES",
    "await_stage",
    "build",
    "draft",
    "e2e",
    "publish",
    "render_assets",
    "upload",
    "validate",
]

T = TypeVar("T")
STAGES = ("validate", "draft", "build", "upload", "await", "e2e", "publish")
REVISION_LABEL = "org.opencontainers.image.revision"


def render_assets(ctx: ReleaseContext, module: BuiltModule, commit: str) -> dict[str, bytes]:
    """The release's files, all derived from the module artifact: templates, manifest, default CR."""
    spec = ctx.module_spec(commit)
    files = {name: to_yaml(template).encode() for name, template in template_files(spec, module).items()}
    if module.raw_manifest is None:
        raise InvalidInput(f"module {spec.module_reference} has no raw manifest to publish as an asset")
    files[ctx.config.manifest_asset] = module.raw_manifest
    if ctx.config.default_cr is not None:
        if module.default_cr is None:
            raise InvalidInput(f"module {spec.module_reference} has no default CR layer")
        files[ctx.config.default_cr_asset] = module.default_cr
    return files


# -- validate -------------------------------------------------------------------------------------


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
        run.note(f"tag {ctx.tag} exists at {state.tag.sha[:12]} without a release")


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


# -- draft ----------------------------------------------------------------------------------------


def draft(ctx: ReleaseContext, *, dry_run: bool = False) -> StageResult:
    """The draft release (notes since the latest published release) and the lightweight tag."""
    run = StageLog(ctx, "draft", dry_run=dry_run)
    state = ctx.observe()
    commit = ctx.commit()
    release = state.release
    if release is not None and not release.draft:
        run.note(f"release {ctx.tag} is already published")
    elif release is None:
        previous = ctx.latest_published()
        created = run.act(
            f"create draft release {ctx.tag} at {commit[:12]}"
            + (f" (notes since {previous.tag_name})" if previous else ""),
            lambda: ctx.github.create_draft_release(
                ctx.tag,
                target_commitish=commit,
                previous_tag=previous.tag_name if previous else None,
            ),
        )
        if created is not None:
            ctx.remember(release=created, releases=(*state.releases, created))
            release = created
    else:
        run.note(f"draft {ctx.tag} exists (id {release.id})")
    if state.tag is None:
        tag = run.act(
            f"create tag {ctx.tag} at {commit[:12]}", lambda: ctx.github.create_tag(ctx.tag, commit)
        )
        if tag is not None:
            ctx.remember(tag=tag)
    elif state.tag.sha != commit:
        raise Conflict(
            f"tag {ctx.tag} points at {state.tag.sha}, not at the release commit {commit}",
            hint="replace the release (btp-release replace) to start over",
        )
    else:
        run.note(f"tag {ctx.tag} exists at {commit[:12]}")
    if release is not None:
        run.outputs.update(release_id=str(release.id), release_url=release.html_url)
    return run.result()


# -- build ----------------------------------------------------------------------------------------


def _registry_digest(ctx: ReleaseContext, ref: Reference) -> str | None:
    found = ctx.registry(ref.registry).head_manifest(ref)
    return found.digest if found else None


def _build_image(ctx: ReleaseContext, run: StageLog, commit: str, recorded: str | None) -> str | None:
    """The image digest: kept when the registry holds what was recorded or an image of this commit,
    else built and pushed. Images are not reproducible (timestamps), so a rebuild is avoided."""
    ref = ctx.image_ref
    current = _registry_digest(ctx, ref)
    if current is not None and current == recorded:
        run.note(f"image {ref} is in place ({current})")
        return current
    if not ctx.has_image_builder:
        # No Docker daemon wanted: the image is built elsewhere (another job, another CI system).
        if current is None:
            raise NotFound(
                f"image {ref} is not in the registry and no Docker daemon is used to build it",
                hint="push it from the job that builds it first, or run without --no-docker",
            )
        run.note(f"image {ref} taken from the registry as it is ({current}); not built here")
        return current
    if current is not None:
        labels = ctx.registry(ref.registry).image_labels(ref) or {}
        if labels.get(REVISION_LABEL) == commit:
            run.note(f"image {ref} was already built from {commit[:12]} ({current}); kept")
            return current
        if not ctx.overwrite:
            raise AlreadyExists(
                f"image {ref} exists ({current}) and was not built from {commit[:12]} "
                f"(revision label: {labels.get(REVISION_LABEL) or 'none'})",
                hint="release a new version, or pass --overwrite if this version was never published",
            )
        run.warn(f"image {ref} ({current}) will be overwritten")
    spec = ctx.image_build(commit)
    run.act(f"build image {ref}", lambda: ctx.images.build(spec))
    return run.act(f"push image {ref}", lambda: ctx.images.push(ref))


def build(ctx: ReleaseContext, *, dry_run: bool = False) -> StageResult:
    """Build and push the manager image and the module artifact; record them in the provenance."""
    run = StageLog(ctx, "build", dry_run=dry_run)
    release = ctx.require_release("build") if not dry_run else ctx.observe().release
    if release is not None and not release.draft:
        run.note(f"release {ctx.tag} is published; nothing to build")
        return run.result()
    previous = ctx.observe().provenance
    commit = ctx.commit()
    ctx.require_source(commit)  # the files built are those of the commit recorded
    spec, artifact = ctx.build_artifact(commit)
    if warning := ctx.unserved_template_warning():
        run.warn(warning)
    module_ref = ctx.module_ref
    store = ctx.registry(module_ref.registry)
    current = _registry_digest(ctx, module_ref)
    if current == artifact.digest:
        run.note(f"module {module_ref} is in place ({current})")
    else:
        if current is not None and not ctx.overwrite:
            raise AlreadyExists(
                f"module {module_ref} exists with other content (registry {current}, this build "
                f"{artifact.digest})",
                hint="release a new version, or pass --overwrite if this version was never published",
            )
        run.act(
            f"push module {module_ref} ({artifact.digest})",
            lambda: push_module(
                store, module_ref.repository, spec.component_version, artifact, overwrite=True
            ),
        )
    images = ctx.release_images(commit)
    if ctx.config.build_image:
        image_digest = _build_image(ctx, run, commit, previous.image.digest if previous else None)
    else:
        image_digest = None
        built_elsewhere = ", ".join(images) or "none"
        run.note(f"no image built here (no Dockerfile); images built elsewhere: {built_elsewhere}")
    assets = render_assets(ctx, artifact, commit)
    provenance = ctx.provenance(commit, artifact.digest, image_digest, assets, snapshot=False, images=images)
    if previous is not None and previous.same_build(provenance):
        run.note(f"{PROVENANCE_ASSET} already records this build")
    elif release is not None:
        if previous is not None:
            run.warn(f"{PROVENANCE_ASSET} recorded another build; replacing it (E2E verdicts are dropped)")
        _put_provenance(ctx, run, release, provenance)
    else:
        run.act(f"record the build in {PROVENANCE_ASSET} of the draft", lambda: None)
    run.outputs.update(module_digest=artifact.digest, image_digest=image_digest or "", commit=commit)
    return run.result()


def _put_provenance(ctx: ReleaseContext, run: StageLog, release: Release, provenance: Provenance) -> None:
    path = ctx.workdir / "local" / PROVENANCE_ASSET
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(provenance.to_bytes())
    uploaded = run.act(
        f"upload {PROVENANCE_ASSET}",
        lambda: ctx.github.upload_asset(release, path, replace=True, existing=release.assets),
    )
    if uploaded is not None:
        stale = (PROVENANCE_ASSET, PROVENANCE_ASSET + TEMP_SUFFIX)  # upload_asset removed a leftover copy
        assets = (*(a for a in release.assets if a.name not in stale), uploaded)
        ctx.remember(release=_with_assets(release, assets), provenance=provenance)


def _with_assets(release: Release, assets: tuple[ReleaseAsset, ...]) -> Release:
    return attrs.evolve(release, assets=assets)


# -- upload ---------------------------------------------------------------------------------------


def upload(ctx: ReleaseContext, *, dry_run: bool = False) -> StageResult:
    """Upload the rendered files, re-derived from the module *in the registry* by the recorded digest
    and checked against the recorded checksums — so the assets describe what was pushed."""
    run = StageLog(ctx, "upload", dry_run=dry_run)
    release = ctx.require_release("upload")
    if not release.draft:
        run.note(f"release {ctx.tag} is published; assets are final")
        return run.result()
    provenance = ctx.require_provenance("upload")
    module_ref = ctx.module_ref
    digest = provenance.module.digest or ""
    content = read_module(ctx.registry(module_ref.registry), module_ref.repository, digest)
    files = render_assets(ctx, content, provenance.commit)
    directory = ctx.workdir / "assets"
    directory.mkdir(parents=True, exist_ok=True)
    present = {a.name: a for a in release.assets}
    uploaded = list(release.assets)
    for name, data in files.items():
        checksum = sha256_bytes(data)
        if provenance.assets.get(name) != checksum:
            raise DigestMismatch(
                f"{name} rendered from {module_ref.repository}@{digest} is {checksum}, but "
                f"{PROVENANCE_ASSET} recorded {provenance.assets.get(name) or 'nothing'}",
                hint="the configuration changed since the build; re-run the build stage",
            )
        asset = present.get(name)
        if asset is not None and asset.digest == checksum and asset.complete:
            run.note(f"{name} is uploaded")
            continue
        path = directory / name
        path.write_bytes(data)
        result = run.act(
            f"upload {name}",
            functools.partial(ctx.github.upload_asset, release, path, replace=True, existing=list(uploaded)),
        )
        if result is not None:
            uploaded = [a for a in uploaded if a.name not in (name, name + TEMP_SUFFIX)] + [result]
    ctx.remember(release=_with_assets(release, tuple(uploaded)))
    run.outputs.update(release_id=str(release.id), release_url=release.html_url)
    return run.result()


# -- await ----------------------------------------------------------------------------------------


def await_stage(ctx: ReleaseContext, *, dry_run: bool = False) -> StageResult:
    """Wait (bounded, one overall deadline) for the assets, both registry tags with the recorded
    digests, and the required commit statuses / check runs."""
    run = StageLog(ctx, "await", dry_run=dry_run)
    release = ctx.require_release("await")
    provenance = ctx.require_provenance("await")
    names = list(ctx.release_assets())
    if dry_run:
        run.act(f"wait for assets {', '.join(names)}", lambda: None)
        if ctx.config.build_image:
            run.act(f"wait for {ctx.module_ref} and {ctx.image_ref}", lambda: None)
        else:
            images = ", ".join(provenance.images) or "none"
            run.act(f"wait for {ctx.module_ref} and the images built elsewhere: {images}", lambda: None)
        if ctx.config.required_checks:
            run.act(f"wait for checks {', '.join(ctx.config.required_checks)}", lambda: None)
        return run.result()
    clock = ctx.github.clock
    deadline = clock() + ctx.config.await_timeout

    if release.draft:
        found = ctx.github.wait_for_assets(
            release,
            names,
            policy=ctx.wait_policy(deadline - clock()),
            on_progress=ctx.progress("await", "assets"),
        )
        run.note(f"assets present: {', '.join(found)}")
    for record in (provenance.module, provenance.image):
        if not record.reference:  # no release image: the manifest's images are built elsewhere
            continue
        if record.digest is None:
            run.warn(f"{record.reference} has no recorded digest; not awaited")
            continue
        ref = Reference.parse(record.reference)
        expected = record.digest

        def probe(ref: Reference = ref, expected: str = expected) -> Poll[str]:
            found = ctx.registry(ref.registry).head_manifest(ref)
            if found is not None and found.digest != expected:
                raise DigestMismatch(
                    f"{ref} has digest {found.digest}, but the build recorded {expected}",
                    hint="the tag was overwritten after the build; re-run the build stage",
                )
            return Poll(found is not None, expected, f"{ref} {'present' if found else 'not found'}")

        wait_until(
            probe,
            what=f"{ref} in the registry",
            policy=ctx.wait_policy(deadline - clock()),
            clock=clock,
            sleeper=ctx.github.sleeper,
            on_progress=ctx.progress("await", str(ref)),
        )
        run.note(f"{ref} present with {expected}")
    if not ctx.config.build_image:
        for image in provenance.images:
            digest = _await_image(ctx, image, deadline)
            run.note(f"{image} present ({digest})")
    if ctx.config.required_checks:
        states = ctx.github.wait_for_checks(
            provenance.commit,
            ctx.config.required_checks,
            policy=ctx.wait_policy(deadline - clock()),
            on_progress=ctx.progress("await", "checks"),
        )
        run.note("checks passed: " + ", ".join(states))
    return run.result()


def _await_image(ctx: ReleaseContext, image: str, deadline: float) -> str:
    """Wait for an image the manifest deploys but no stage here builds (its own workflow pushes it):
    a release must not publish a manifest whose images cannot be pulled. Returns its digest."""
    ref = Reference.from_image_name(image)

    def probe() -> Poll[str]:
        client = ctx.registry(ref.registry)  # may be a mirror (a rehearsal's local registry)
        found = client.head_manifest(attrs.evolve(ref, registry=client.host))
        digest = found.digest if found is not None else ""
        return Poll(found is not None, digest, f"{ref} {'present' if found else 'not found'}")

    clock = ctx.github.clock
    digest: str = wait_until(
        probe,
        what=f"image {image} (built elsewhere) in its registry",
        policy=ctx.wait_policy(deadline - clock()),
        clock=clock,
        sleeper=ctx.github.sleeper,
        on_progress=ctx.progress("await", image),
    )
    return digest


# -- e2e ------------------------------------------------------------------------------------------


def _verify_registry(ctx: ReleaseContext, provenance: Provenance) -> None:
    """Every recorded digest is still what its tag points at (publish what was tested)."""
    for record in (provenance.module, provenance.image):
        if record.digest is None:
            continue
        ref = Reference.parse(record.reference)
        current = _registry_digest(ctx, ref)
        if current is None:
            raise NotFound(f"{ref} is gone from the registry", hint="re-run the build stage")
        if current != record.digest:
            raise DigestMismatch(
                f"{ref} now has digest {current}, but {record.digest} was built and recorded",
                hint="someone pushed over the tag; re-run the build (and E2E) stages",
            )


def e2e(ctx: ReleaseContext, *, dry_run: bool = False) -> StageResult:
    """Run the E2E runner on the module and image *by digest*; record its verdict in the provenance.

    A verdict already recorded as passed for exactly these digests is not run again. A failed run
    is recorded too and raises :class:`CheckFailed`.
    """
    run = StageLog(ctx, "e2e", dry_run=dry_run)
    runner = ctx.e2e_runner
    if runner is None:
        if ctx.config.e2e_required:
            raise InvalidInput("no E2E runner configured", hint="set e2e-runner or e2e-required: false")
        run.note("no E2E runner configured and E2E not required: skipped")
        return run.result(skipped=True)
    release = ctx.require_release("e2e")
    provenance = ctx.require_provenance("e2e")
    if runner.name in provenance.e2e_passed():
        run.note(f"E2E {runner.name} already passed on these digests")
        return run.result()
    if provenance.module.digest is None:
        raise NotFound(f"{PROVENANCE_ASSET} records no module digest", hint="re-run the build stage")
    _verify_registry(ctx, provenance)
    module = Reference.parse(provenance.module.reference).with_digest(provenance.module.digest)
    image = None
    if provenance.image.digest:
        image = str(Reference.parse(provenance.image.reference).with_digest(provenance.image.digest))
    previous = ctx.latest_published()
    upgrade_from = None
    if previous is not None:
        upgrade_from = str(ctx.module_ref.with_tag(f"v{previous.tag_name.removeprefix('v')}"))
    request = E2ERequest(
        version=str(ctx.version),
        module_reference=str(module),
        image_reference=image,
        credentials=ctx.config.credentials,
        upgrade_from=upgrade_from,
        workdir=ctx.workdir / "e2e" / runner.name,
    )
    outcome = run.act(f"run E2E {runner.name} on {module}", lambda: runner.run(request))
    if outcome is None:
        return run.result()
    record = E2ERecord(
        result="passed" if outcome.passed else "failed",
        module_digest=provenance.module.digest,
        image_digest=provenance.image.digest,
        summary=outcome.summary,
        at=ctx.timestamp(),
    )
    _put_provenance(ctx, run, release, provenance.with_e2e(runner.name, record))
    if not outcome.passed:
        raise CheckFailed(
            f"E2E {runner.name} failed on {module}: {outcome.summary}",
            hint=f"see {outcome.report}" if outcome.report else "see the runner's output",
        )
    run.outputs["e2e"] = record.result
    return run.result()


# -- publish --------------------------------------------------------------------------------------


def _check_assets(release: Release, provenance: Provenance, names: tuple[str, ...]) -> None:
    problems = []
    for name in names:
        asset = release.asset(name)
        if asset is None or not asset.complete:
            problems.append(f"{name} missing")
        elif name in provenance.assets and asset.digest and asset.digest != provenance.assets[name]:
            problems.append(f"{name} is {asset.digest}, recorded {provenance.assets[name]}")
    if problems:
        raise DigestMismatch(
            f"release {release.tag_name} assets do not match the build: {'; '.join(problems)}",
            hint="re-run the upload stage",
        )


def publish(ctx: ReleaseContext, *, dry_run: bool = False) -> StageResult:
    """Publish the draft — only if the registries and the assets still hold exactly what was built,
    E2E passed on those digests (when required) and the required checks passed."""
    run = StageLog(ctx, "publish", dry_run=dry_run)
    ctx.refresh()  # decide on fresh state only
    release = ctx.require_release("publish")
    provenance = ctx.require_provenance("publish")
    _verify_registry(ctx, provenance)
    if not release.draft:
        run.note(f"release {ctx.tag} is published ({release.html_url}) and matches its build")
        run.outputs.update(release_id=str(release.id), release_url=release.html_url)
        return run.result()
    _check_assets(release, provenance, ctx.release_assets())
    if ctx.config.e2e_required:
        passed = provenance.e2e_passed()
        if not passed:
            failed = [n for n, r in provenance.e2e.items() if r.result == "failed"]
            raise CheckFailed(
                f"no E2E run passed on module {provenance.module.digest}"
                + (f" (failed: {', '.join(failed)})" if failed else ""),
                hint="run the e2e stage; publishing untested digests is refused",
            )
        run.note(f"E2E passed on these digests: {', '.join(passed)}")
    if ctx.config.required_checks:
        states = ctx.github.check_states(provenance.commit, ctx.config.required_checks)
        bad = {c: s for c, s in states.items() if s != "success"}
        if bad:
            raise CheckFailed(
                "required checks not passed: " + ", ".join(f"{c}={s}" for c, s in bad.items()),
                hint="wait for them (await stage) or fix the failing job",
            )
    published = run.act(f"publish release {ctx.tag}", lambda: ctx.github.publish_release(release))
    final = published or release
    if published is not None:
        ctx.remember(release=published)
    run.outputs.update(release_id=str(final.id), release_url=final.html_url)
    return run.result()
