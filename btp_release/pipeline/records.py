"""What several stages read and write: the files rendered from the module, the provenance asset in
the draft, a tag's digest in its registry, the label naming an image's commit.

The build stage makes these records and the later stages check against them (upload renders the files
again, e2e adds its verdict to the provenance, publish compares the digests), so each is made in one
place for all of them.
"""

from __future__ import annotations

import attrs

from btp_release.errors import InvalidInput
from btp_release.github import Release, ReleaseAsset
from btp_release.github.assets import TEMP_SUFFIX
from btp_release.module import template_files, to_yaml
from btp_release.module.template import BuiltModule
from btp_release.oci import Reference
from btp_release.pipeline.context import ReleaseContext
from btp_release.pipeline.outcomes import StageLog
from btp_release.pipeline.provenance import PROVENANCE_ASSET, Provenance

__all__ = ["REVISION_LABEL", "put_provenance", "registry_digest", "render_assets", "with_assets"]

# The OCI label that names the commit an image was built from (set by the image build).
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


def registry_digest(ctx: ReleaseContext, ref: Reference) -> str | None:
    """The digest ``ref``'s tag points at in its registry, or ``None`` when there is no such tag."""
    found = ctx.registry(ref.registry).head_manifest(ref)
    return found.digest if found else None


def put_provenance(ctx: ReleaseContext, run: StageLog, release: Release, provenance: Provenance) -> None:
    """Upload ``provenance`` as the draft's ``release-manifest.json`` (replacing the one there)."""
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
        ctx.remember(release=with_assets(release, assets), provenance=provenance)


def with_assets(release: Release, assets: tuple[ReleaseAsset, ...]) -> Release:
    return attrs.evolve(release, assets=assets)
