"""Release rehearsals: no credentials, no network beyond 127.0.0.1.

``rehearse`` walks the GitHub half of a release through the public API — tag, draft, four assets,
wait, publish, latest, then delete release and tag — twice, to show that a re-run changes nothing
(``btp-release rehearse``, the docs' REPL example). ``rehearse_release`` runs the whole pipeline of
a configured module against the GitHub simulator and a real local registry
(``btp-release rehearse --module-dir DIR``): the adoption walk-through of docs/adopting.md — and, for a
module of today, its submit and promote through pull requests to a simulated module-manifests repository.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from btp_release.config import ReleaseConfig
from btp_release.git import inspect_worktree
from btp_release.github import GitHubClient
from btp_release.oci import Reference, RegistryClient
from btp_release.testing.github_sim import GitHubSimulator
from btp_release.version import Version
from btp_release.wait import WaitPolicy

if TYPE_CHECKING:
    from btp_release.pipeline import ReleasePipeline, StageResult

__all__ = ["RehearsalResult", "rehearse", "rehearse_release"]

DEFAULT_CATALOG = "kyma/module-manifests"

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


def _manifest_images(config: ReleaseConfig) -> list[str]:
    """The images the module's manifest deploys (none without a manifest)."""
    from btp_release.module.validate import manifest_images, parse_documents

    if config.manifest is None:
        return []
    path = config.path(config.manifest)
    documents, _ = parse_documents(path.read_bytes(), file=str(path))
    return manifest_images(documents, shape=config.template_shape)


def rehearse_release(
    config: ReleaseConfig,
    version: str,
    *,
    say: Callable[[str], None] = print,
    docker_host: str | None = None,
    manifests: bool | None = None,
) -> list[StageResult]:
    """The whole release of the configured module against local servers: the GitHub simulator, a
    real registry on 127.0.0.1 (``docker-registry``), the module's own files, a scripted E2E runner.
    With ``manifests`` (default: when the module has a module-config or a ``manifests-repo``) the
    release is then submitted and promoted to its channel in a module-manifests repository on a second
    simulator in GitHub Enterprise Server's layout, each pull request merged as a reviewer would.

    The registries of the config are replaced by the local one (same paths); the manager image is
    built with the Docker daemon at ``docker_host`` when given, else a labelled stand-in image is
    pushed so that the build stage adopts it. The pipeline runs twice: the second run changes nothing.
    """
    from btp_release.localservices.registry import LocalRegistry
    from btp_release.pipeline import ReleasePipeline
    from btp_release.testing.release import ScriptedRunner, push_stand_in_image

    owner, _, repo = config.github_repo.partition("/")
    if manifests is None:
        manifests = bool(config.manifests_repo) or config.module_config is not None
    with contextlib.ExitStack() as stack:
        sim = stack.enter_context(GitHubSimulator(owner=owner, repo=repo))
        registry = stack.enter_context(LocalRegistry())
        scratch = stack.enter_context(tempfile.TemporaryDirectory(prefix="btp-release-rehearsal-"))
        catalog = (
            stack.enter_context(GitHubSimulator(owner="kyma", repo="catalog", ghes=True))
            if manifests
            else None
        )
        if catalog is not None:
            catalog.add_repository(
                config.manifests_repo or DEFAULT_CATALOG, files={"README.md": "Module catalog.\n"}
            )
            config = _catalog_settings(config, catalog.api_url)
        module_path = config.module_registry.partition("/")[2]
        image_path = config.image_repo.partition("/")[2]
        local = attrs.evolve(
            config,
            github_api_url=sim.api_url,
            module_registry=f"{registry.host}/{module_path}" if module_path else registry.host,
            image_repo=f"{registry.host}/{image_path}",
            required_checks=(),
            poll_interval=0.2,
            await_timeout=60.0,
            insecure_registries=(),
        )
        say(f"GitHub simulator at {sim.api_url} ({config.github_repo}); registry at {registry.host}")
        # The simulator's main is the checkout's HEAD, as after a push; files that are not a clean
        # checkout are rehearsed anyway, with the word that a real run refuses them.
        read = [config.manifest, config.default_cr, config.security_config]
        read += [config.build_context] if config.build_image else []
        paths = [config.path(p) for p in read if p is not None]
        if config.module_config is not None:
            paths.append(Path(config.module_config.source))
        worktree = inspect_worktree(config.module_dir, paths)
        if worktree.head is not None:
            sim.add_commit("the module's checked-out commit", sha=worktree.head)
        if problems := worktree.problems(None):
            say(f"note: a real release would refuse these files: {'; '.join(problems)}")
        environ = {"GITHUB_TOKEN": sim.token, **({"DOCKER_HOST": docker_host} if docker_host else {})}
        other_registry = None
        if not config.build_image:
            # The manifest's images are built elsewhere: the local registry plays their registries,
            # with a stand-in for each at the same repository and tag.
            images = _manifest_images(config)
            with RegistryClient(registry.host) as client:
                for image in images:
                    ref = Reference.from_image_name(image)
                    stand_in = attrs.evolve(ref, registry=registry.host)
                    push_stand_in_image(client, str(stand_in), sim.head_sha, Path(scratch))
            say(f"images built elsewhere, stand-ins pushed to {registry.host}: {', '.join(images) or 'none'}")
            other_registry = lambda host: RegistryClient(registry.host)  # noqa: E731
        elif docker_host is None:
            with RegistryClient(registry.host) as client:
                digest = push_stand_in_image(
                    client, f"{local.image_repo}:{version}", sim.head_sha, Path(scratch)
                )
            say(f"no Docker daemon: a stand-in image {local.image_repo}:{version} ({digest}) was pushed")
        results: list[StageResult] = []
        for run in ("first run", "re-run"):

            def report(result: StageResult, run: str = run) -> None:
                say(f"{run}: {result.stage} {result.status}")

            with ReleasePipeline.from_config(
                local,
                version,
                environ=environ,
                docker=docker_host is not None,
                e2e_runner=ScriptedRunner(),
                workdir=Path(scratch) / run,
                verify_source=not problems,
                other_registry=other_registry,
            ) as pipeline:
                results = pipeline.run(on_result=report)
        release = next(r for r in sim.releases() if r.tag_name == version)
        assets = ", ".join(sorted(a.name for a in sim.assets(release.id)))
        say(f"released {version} ({'draft' if release.draft else 'published'}); assets: {assets}")
        if catalog is not None:
            say(f"module-manifests repository {local.manifests_repo} at {catalog.api_url} (GHES layout)")
            manifests_env = {**environ, "BTP_RELEASE_MANIFESTS_TOKEN": catalog.token}
            with ReleasePipeline.from_config(
                local, version, environ=manifests_env, docker=False, verify_source=not problems
            ) as pipeline:
                results += _rehearse_catalog(pipeline, local, catalog, say)
        return results


def _catalog_settings(config: ReleaseConfig, api_url: str) -> ReleaseConfig:
    """The module-manifests settings pointed at the rehearsal's catalog (GitHub Enterprise Server layout)."""
    return attrs.evolve(
        config,
        manifests_repo=config.manifests_repo or DEFAULT_CATALOG,
        manifests_api_url=api_url,
        # The simulators serve plain http, which modulectl refuses in a URL: the rehearsal links by name.
        manifests_asset_links="name",
    )


def _rehearse_catalog(
    pipeline: ReleasePipeline, config: ReleaseConfig, catalog: GitHubSimulator, say: Callable[[str], None]
) -> list[StageResult]:
    """Submit, then promote to the config's channel, each run twice and then merged by a "reviewer"."""
    repo = config.manifests_repo or DEFAULT_CATALOG
    results = []
    steps: list[tuple[str, Callable[[], StageResult]]] = [
        ("submit", pipeline.submit),
        (f"promote to {config.channel}", lambda: pipeline.promote(config.channel)),
    ]
    for name, step in steps:
        for run in ("first run", "re-run"):
            result = step()
            results.append(result)
            url = result.outputs.get("pull_request_url")
            say(f"{run}: {name} {result.status}" + (f" ({url})" if url else ""))
        number = result.outputs.get("pull_request_number")
        if number:
            catalog.merge_pull_request(repo, int(number))
            say(f"a reviewer merged pull request #{number} of {repo}")
    files = sorted(catalog.files(repo))
    say(f"{repo} now holds: {', '.join(files)}")
    return results
