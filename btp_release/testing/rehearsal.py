"""A release rehearsal against the GitHub simulator: no credentials, no network beyond 127.0.0.1.

It walks the GitHub half of a release through the public API — tag, draft, four assets, wait,
publish, latest, then delete release and tag — and runs the draft/tag/upload steps twice to show
that a re-run changes nothing. Used by ``btp-release rehearse`` and the docs' REPL example.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

import attrs

from btp_release.github import GitHubClient
from btp_release.testing.github_sim import GitHubSimulator
from btp_release.version import Version
from btp_release.wait import WaitPolicy

__all__ = ["RehearsalResult", "rehearse"]

ASSET_NAMES = (
    "template.yaml",
    "template_control_plane.yaml",
    "btp-manager.yaml",
    "btp-operator-default-cr.yaml",
)


@attrs.frozen
class RehearsalResult:
    version: str
    release_id: int
    html_url: str
    tag_sha: str
    assets: tuple[str, ...]
    latest_tag: str
    api_calls: int


def _write_assets(directory: Path, version: Version) -> list[Path]:
    paths = []
    for name in ASSET_NAMES:
        path = directory / name
        path.write_text(f"# rehearsal asset {name} for btp-operator {version}\nversion: {version}\n")
        paths.append(path)
    return paths


def rehearse(
    version: str,
    *,
    workdir: Path | None = None,
    say: Callable[[str], None] = print,
    cleanup: bool = True,
) -> RehearsalResult:
    """Rehearse the GitHub steps of releasing ``version``; raises the library's typed errors."""
    parsed = Version.parse(version)
    with (
        GitHubSimulator(owner="kyma-project", repo="btp-manager") as sim,
        tempfile.TemporaryDirectory(prefix="btp-release-rehearsal-") as scratch,
        GitHubClient("kyma-project/btp-manager", token=sim.token, api_url=sim.api_url) as github,
    ):
        directory = workdir or Path(scratch)
        directory.mkdir(parents=True, exist_ok=True)
        say(f"GitHub simulator at {sim.api_url} (kyma-project/btp-manager)")
        sha = github.resolve_commit("main")
        for attempt in ("first run", "re-run"):
            tag = github.create_tag(parsed.image_tag, sha)
            draft = github.create_draft_release(parsed.image_tag, target_commitish=sha)
            uploaded = [github.upload_asset(draft, path) for path in _write_assets(directory, parsed)]
            say(
                f"{attempt}: tag {tag.short_name} at {tag.sha[:12]}, draft id {draft.id}, "
                f"assets {', '.join(a.name for a in uploaded)}"
            )
        github.wait_for_assets(draft, list(ASSET_NAMES), policy=WaitPolicy(timeout=30, interval=0.2))
        published = github.publish_release(draft)
        say(f"published {published.tag_name}: {published.html_url}")
        latest = github.latest_release()
        if latest is None or latest.id != published.id:
            raise AssertionError("the simulator does not report the published release as latest")
        say(f"latest release by SemVer: {latest.tag_name}")
        result = RehearsalResult(
            version=str(parsed),
            release_id=published.id,
            html_url=published.html_url,
            tag_sha=sha,
            assets=tuple(a.name for a in github.list_assets(published)),
            latest_tag=latest.tag_name,
            api_calls=len(sim.requests),
        )
        if cleanup:
            github.delete_release(published.id)
            github.delete_tag(parsed.image_tag)
            github.wait_until_tag_deleted(parsed.image_tag, policy=WaitPolicy(timeout=30, interval=0.2))
            say(f"deleted release {published.id} and tag {parsed.image_tag}")
        say(f"{result.api_calls} GitHub API calls in all")
        return result
