"""Replacing a release: delete it and its tag so the version can be released again — guarded.

The preview lists exactly what would be deleted. A published release in a repository with immutable
releases is refused: GitHub never lets that tag name be used again, so the honest answer is a new
version. Tag deletion is eventually consistent; the stage waits until GitHub no longer shows it.
"""

from __future__ import annotations

import functools

from btp_release.errors import Conflict
from btp_release.github import Release
from btp_release.pipeline.context import ReleaseContext, StageLog, StageResult

__all__ = ["replace"]


def _describe(release: Release) -> str:
    kind = "draft" if release.draft else "published release"
    assets = ", ".join(a.name for a in release.assets) or "no assets"
    return f"{kind} {release.tag_name} (id {release.id}, {assets})"


def replace(ctx: ReleaseContext, *, dry_run: bool = True, tag_timeout: float = 120.0) -> StageResult:
    """Delete every release of the version (drafts included) and the tag, then wait until the tag is
    gone. ``dry_run`` (the default) only lists what would be deleted. Registry tags are kept: the
    next build reuses them when the content is unchanged (``--overwrite`` otherwise)."""
    run = StageLog(ctx, "replace", dry_run=dry_run)
    ctx.refresh()
    state = ctx.observe()
    ours = [r for r in state.releases if r.tag_name == ctx.tag]
    for release in ours:
        if not release.draft and release.immutable:
            raise Conflict(
                f"release {ctx.tag} of {ctx.config.github_repo} is published and immutable "
                f"({release.html_url}); GitHub will never accept tag {ctx.tag} again",
                hint="release a new version instead",
            )
    if not ours and state.tag is None:
        run.note(f"no release and no tag {ctx.tag}: nothing to replace")
        return run.result()
    for release in ours:
        run.act(f"delete {_describe(release)}", functools.partial(ctx.github.delete_release, release.id))
    if state.tag is not None:
        run.act(f"delete tag {ctx.tag} (at {state.tag.sha[:12]})", lambda: ctx.github.delete_tag(ctx.tag))
        run.act(
            f"wait until tag {ctx.tag} is gone",
            lambda: ctx.github.wait_until_tag_deleted(
                ctx.tag,
                policy=ctx.wait_policy(tag_timeout),
                on_progress=ctx.progress("replace", "tag deletion"),
            ),
        )
    run.note(
        f"registry tags {ctx.module_ref} and {ctx.image_ref} are kept (a rebuild reuses or overwrites them)"
    )
    if not dry_run:
        ctx.refresh()
    return run.result()
