"""``--snapshot``: the whole build of a release into a directory, with no credentials and no network.

The result is what a release would publish, laid out locally (default ``./dist``)::

    module/                  OCI layout: the module artifact, tag vX.Y.Z (skopeo: oci:dist/module:vX.Y.Z)
    image/                   OCI layout: the manager image, tag X.Y.Z (only when a Docker daemon answers)
    assets/                  template.yaml, template_control_plane.yaml, the manifest, the default CR
    sec-scanners-config.yaml the security scanners config for this version
    release-manifest.json    the provenance: commit, digests, asset checksums

The module digest is the one a real release of the same commit pushes (the build is deterministic).
"""

from __future__ import annotations

from pathlib import Path

from btp_release.errors import InvalidInput, Transient
from btp_release.module import push_module
from btp_release.oci import OciLayout
from btp_release.pipeline.context import ReleaseContext, StageLog, StageResult
from btp_release.pipeline.provenance import PROVENANCE_ASSET
from btp_release.pipeline.stages import render_assets

__all__ = ["snapshot"]


def _image(ctx: ReleaseContext, run: StageLog, out: Path, commit: str) -> str | None:
    ref = ctx.image_ref
    if not ctx.config.build_image:
        images = ", ".join(ctx.release_images(commit)) or "none"
        run.note(f"no image built here (no Dockerfile): the manifest's images are built elsewhere: {images}")
        return None
    if not ctx.has_image_builder:
        run.note(f"image {ref} not built (no Docker daemon wanted); its reference is recorded")
        return None
    try:
        ctx.images.ping()
    except Transient as exc:
        run.warn(f"no Docker daemon reachable ({exc.message}); image {ref} not built, its reference recorded")
        return None
    spec = ctx.image_build(commit)
    run.act(f"build image {ref}", lambda: ctx.images.build(spec))
    layout = OciLayout(out / "image")
    saved = run.act(
        f"save image {ref} into {layout.root}", lambda: ctx.images.save_to_layout(ref, layout, tag=ref.tag)
    )
    return saved.digest if saved is not None else None


def snapshot(
    ctx: ReleaseContext,
    out: Path,
    *,
    commit: str | None = None,
    allow_dirty: bool = False,
    dry_run: bool = False,
) -> StageResult:
    """Build the release into ``out``; idempotent for the module (same digest on every run).

    ``commit`` defaults to the checkout's ``HEAD``. The files must be a clean checkout of that commit
    (a snapshot records it as the release would); ``allow_dirty`` builds them anyway and records in
    ``release-manifest.json`` why they are not (``source.problems``).
    """
    run = StageLog(ctx, "snapshot", dry_run=dry_run)
    tree = ctx.worktree()
    commit = commit or tree.head
    if commit is None:
        raise InvalidInput(
            "; ".join(tree.problems(None)),
            hint="run it in a git checkout, or give the commit to record: --commit SHA --allow-dirty",
        )
    unverified = tuple(ctx.source_problems(commit))
    if unverified and not allow_dirty:
        raise InvalidInput(
            f"a snapshot of commit {commit[:12]} would record files that are not that commit's: "
            + "; ".join(unverified),
            hint="commit the changes (or check out the commit), or pass --allow-dirty to build them "
            "anyway (recorded in release-manifest.json)",
        )
    if unverified:
        run.warn("--allow-dirty: the files are not those of the recorded commit: " + "; ".join(unverified))
    run.note(f"snapshot of commit {commit} into {out}")
    for warning in [*ctx.module_config_warnings(), ctx.unserved_template_warning()]:
        if warning:
            run.warn(warning)
    spec, artifact = ctx.build_artifact(commit)
    layout = OciLayout(out / "module")
    module_ref = ctx.module_ref
    run.act(
        f"write module {spec.component_version} ({artifact.digest}) into {layout.root}",
        lambda: push_module(layout, module_ref.repository, spec.component_version, artifact, overwrite=True),
    )
    image_digest = _image(ctx, run, out, commit)
    files = render_assets(ctx, artifact, commit)
    if not dry_run:
        (out / "assets").mkdir(parents=True, exist_ok=True)
        for name, data in files.items():
            (out / "assets" / name).write_bytes(data)
        run.note(f"wrote {', '.join(files)} into {out / 'assets'}")
        if ctx.config.security_config is not None:
            security = ctx.release_security(commit)  # as the build made it for this release
            if security is not None:
                security.write(out / "sec-scanners-config.yaml")
    provenance = ctx.provenance(
        commit,
        artifact.digest,
        image_digest,
        files,
        snapshot=True,
        unverified_source=unverified,
        images=ctx.release_images(commit),
    )
    run.act(f"write {PROVENANCE_ASSET}", lambda: (out / PROVENANCE_ASSET).write_bytes(provenance.to_bytes()))
    run.outputs.update(
        snapshot_dir=str(out), module_digest=artifact.digest, image_digest=image_digest or "", commit=commit
    )
    return run.result()
