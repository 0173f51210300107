"""The stages that make a release: draft (the draft release and its tag), build (the manager image
and the module artifact, recorded in the provenance) and upload (the files rendered from the module
in the registry).

Each makes only what is missing: what the registries and the draft already hold is checked against
this release and kept.
"""

from __future__ import annotations

import functools

from btp_release.errors import AlreadyExists, Conflict, DigestMismatch, NotFound
from btp_release.github.assets import TEMP_SUFFIX
from btp_release.module import push_module, read_module
from btp_release.pipeline.context import ReleaseContext
from btp_release.pipeline.outcomes import StageLog, StageResult
from btp_release.pipeline.provenance import PROVENANCE_ASSET, sha256_bytes
from btp_release.pipeline.records import (
    REVISION_LABEL,
    put_provenance,
    registry_digest,
    render_assets,
    with_assets,
)

__all__ = ["build", "draft", "upload"]


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
    elif (tagged := ctx.tag_commit()) != commit:
        raise Conflict(
            f"tag {ctx.tag} points at {tagged}, not at the release commit {commit}",
            hint="replace the release (btp-release replace) to start over",
        )
    else:
        run.note(f"tag {ctx.tag} exists at {commit[:12]}")
    if release is not None:
        run.outputs.update(release_id=str(release.id), release_url=release.html_url)
    return run.result()


def _build_image(ctx: ReleaseContext, run: StageLog, commit: str, recorded: str | None) -> str | None:
    """The image digest: kept when the registry holds what was recorded or an image of this commit,
    else built and pushed. Images are not reproducible (timestamps), so a rebuild is avoided."""
    ref = ctx.image_ref
    current = registry_digest(ctx, ref)
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
    current = registry_digest(ctx, module_ref)
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
        put_provenance(ctx, run, release, provenance)
    else:
        run.act(f"record the build in {PROVENANCE_ASSET} of the draft", lambda: None)
    run.outputs.update(module_digest=artifact.digest, image_digest=image_digest or "", commit=commit)
    return run.result()


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
    ctx.remember(release=with_assets(release, tuple(uploaded)))
    run.outputs.update(release_id=str(release.id), release_url=release.html_url)
    return run.result()
