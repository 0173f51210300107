"""Submit, promote and withdraw: the pull requests to the module-manifests repository after a release.

Each stage reads what the manifests repository holds on its base branch, asks
:mod:`btp_release.manifests.plans` what to change, and makes the pull request say exactly that:

- the change goes on the plan's branch as **one commit on the base branch's head** (git data API; no
  clone). An open pull request whose branch already holds the change is left as it is; otherwise the branch
  is (re)written and force-moved — it is the tool's own branch — and an open pull request gets a comment
  saying so;
- **one pull request** per branch: the open one is updated (title, body, reviewers, labels), else one is
  opened. A closed, unmerged one is not reopened: a re-run after a reviewer closed it opens a new one
  and says so;
- ``unchanged`` when the base branch already says what the release wants (merged, or done by someone else);
  a ``conflict`` or a refusal is a typed error that says what differs and what to do.

So a re-run after any failure — a crash between two requests included — ends with one branch, one open pull
request and the expected files, and touches nothing else: a commit that never reached the branch is
unreachable. ``dry_run`` reads everything and says what it would do.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING

from btp_release.config import ReleaseConfig
from btp_release.errors import AuthenticationFailed, InvalidInput, NotFound, PermissionDenied
from btp_release.github import GitHubClient, PullRequest, Release
from btp_release.manifests import (
    ManifestsModule,
    Plan,
    PublishedRelease,
    PullRequestText,
    build_submission,
    layout_of,
    plan_promote,
    plan_submit,
    plan_withdraw,
    pull_request_text,
    web_url_of,
)
from btp_release.pipeline.outcomes import EarlierStageMissing, StageLog, StageResult
from btp_release.secret import credential
from btp_release.version import Version

__all__ = ["MANIFESTS_TOKEN", "manifests_client", "promote", "submit", "withdraw"]

if TYPE_CHECKING:
    from btp_release.pipeline.context import ReleaseContext

MANIFESTS_TOKEN = "BTP_RELEASE_MANIFESTS_TOKEN"  # noqa: S105 (the variable's name)


def manifests_client(config: ReleaseConfig, environ: Mapping[str, str]) -> GitHubClient:
    """The client for the module-manifests repository: its token is ``BTP_RELEASE_MANIFESTS_TOKEN``; when that
    is unset and the repository is on the module's own GitHub, ``GITHUB_TOKEN`` / ``GH_TOKEN`` serve (a token
    is never sent to another host than the one it was given for)."""
    if not config.manifests_repo:
        raise InvalidInput(
            "no module-manifests repository is configured",
            hint="set manifests-repo: OWNER/NAME in btp-release.yaml (or --manifests-repo, "
            "BTP_RELEASE_MANIFESTS_REPO)",
        )
    same_host = config.manifests_api_url.rstrip("/") == config.github_api_url.rstrip("/")
    if environ.get(MANIFESTS_TOKEN):
        token = credential(environ[MANIFESTS_TOKEN], source=f"environment {MANIFESTS_TOKEN}")
        return GitHubClient(config.manifests_repo, api_url=config.manifests_api_url, token=token, environ={})
    return GitHubClient(
        config.manifests_repo, api_url=config.manifests_api_url, environ=environ if same_host else {}
    )


# -- what the stages read ------------------------------------------------------------------------------


def _module(ctx: ReleaseContext) -> ManifestsModule:
    return ManifestsModule(name=ctx.config.module_name, repo=ctx.config.github_repo)


def _where(ctx: ReleaseContext) -> str:
    return f"{ctx.config.manifests_base_branch} of {ctx.config.manifests_repo}"


def _require_write(ctx: ReleaseContext, log: StageLog) -> None:
    """Before anything is read for a change: a token that can push to the manifests repository."""
    if log.dry_run:
        return
    m, repo = ctx.manifests, ctx.config.manifests_repo
    if not m.authenticated:
        raise AuthenticationFailed(
            f"no token for the module-manifests repository {repo}",
            hint=f"set {MANIFESTS_TOKEN} to a token that can push to {repo} and open pull requests there",
        )
    owner = str(repo).partition("/")[0]
    if foreign := [r for r in ctx.config.manifests_reviewers if "/" in r and r.partition("/")[0] != owner]:
        raise InvalidInput(
            f"manifests-reviewers: {', '.join(foreign)}: GitHub can only ask teams of {owner} to review "
            f"pull requests in {repo}",
            hint=f"name teams of {owner} (ORG/team) or people (logins)",
        )
    if m.get_repository().can_push is False:
        raise PermissionDenied(
            f"the token for {repo} cannot push to it",
            hint=f"set {MANIFESTS_TOKEN} to a token with contents: write and pull-requests: write there",
        )


def _base_head(ctx: ReleaseContext) -> str:
    base = ctx.config.manifests_base_branch
    head = ctx.manifests.branch_head(base)
    if head is None:
        raise NotFound(
            f"the module-manifests repository {ctx.config.manifests_repo} has no branch {base!r}",
            hint="check manifests-base-branch and manifests-repo (and that the token can read it)",
        )
    return head


def _published(ctx: ReleaseContext, stage: str, *, version: Version | None = None) -> Release:
    """The published GitHub release of ``version`` (default: the context's)."""
    if version is None or version == ctx.version:
        release = ctx.observe().release
    else:
        release = ctx.github.find_release_by_tag(version.image_tag, include_drafts=False)
    shown = version or ctx.version
    if release is None or release.draft:
        state = "only a draft" if release is not None else "no release"
        raise EarlierStageMissing(
            f"{stage}: {ctx.config.github_repo} has {state} for {shown}; a version is "
            f"{'submitted' if stage == 'submit' else 'promoted'} once it is published",
            hint=f"finish the release first (btp-release run --version {shown})",
        )
    return release


def _release_links(ctx: ReleaseContext, release: Release, version: Version) -> PublishedRelease:
    """What the pull requests link to. The web address comes from the configured API when it is GitHub's or
    a GitHub Enterprise Server's, else from the release page GitHub reported."""
    config = ctx.config
    return PublishedRelease(
        repo=config.github_repo,
        version=version,
        tag=release.tag_name,
        manifest_asset=config.manifest_asset,
        default_cr_asset=config.default_cr_asset if config.default_cr is not None else None,
        web_url=_web(config, release.html_url),
        html_url=release.html_url,
    )


def _web(config: ReleaseConfig, release_page: str | None) -> str:
    """The module's GitHub web address: from the API URL when it is GitHub's or a GitHub Enterprise
    Server's, else from the release page GitHub reported (a simulator), else the API's origin."""
    try:
        return web_url_of(config.github_api_url)
    except InvalidInput:
        if release_page and f"/{config.github_repo}/" in release_page:
            return release_page.split(f"/{config.github_repo}/", 1)[0]
        return config.github_api_url.rstrip("/")


def _submitted(ctx: ReleaseContext, base_head: str, module: ManifestsModule) -> list[Version]:
    """The versions the repository holds a module-config for (the directory of the config pattern)."""
    layout = layout_of(ctx.config)
    probe = Version(0, 0, 0)
    directory = layout.version_dir(module, probe)
    parent, _, leaf = directory.rpartition("/")
    if leaf != str(probe) or not parent:  # {version} is not a whole path element: nothing to list
        return []
    found = []
    for path in ctx.manifests.list_files(parent, ref=base_head):
        name = path[len(parent) + 1 :].split("/", 1)[0]
        version = Version.try_parse(name)
        if version is not None and path == layout.config_file(module, version):
            found.append(version)
    return sorted(set(found))


# -- the pull request ----------------------------------------------------------------------------------


def _branch_holds(ctx: ReleaseContext, plan: Plan, head: str) -> bool:
    for change in plan.changes:
        current = ctx.manifests.get_file(change.path, ref=head)
        if (current.content if current else None) != change.content:
            return False
    return True


def _apply(ctx: ReleaseContext, log: StageLog, plan: Plan, text: PullRequestText, base_head: str) -> None:
    """Make the repository's pull request for ``plan`` what ``text`` says (see the module docstring)."""
    m, config = ctx.manifests, ctx.config
    base = config.manifests_base_branch
    log.outputs["manifests_verdict"] = "unchanged" if plan.verdict == "unchanged" else "changed"
    plan.raise_for_conflict()
    prs = m.find_pull_requests(plan.branch, base=base, state="all")
    open_pr = next((p for p in prs if p.state == "open"), None)
    if plan.verdict == "unchanged":
        log.note(plan.message)
        if open_pr is not None:
            log.warn(
                f"pull request #{open_pr.number} ({open_pr.html_url}) is still open although {_where(ctx)} "
                "already has its change: close it"
            )
        return
    log.note(f"{plan.action} {plan.module.short_name} {plan.version}: {plan.message}")
    head = m.branch_head(plan.branch)
    rewrite = not (open_pr is not None and head is not None and _branch_holds(ctx, plan, head))
    if not rewrite:
        log.note(f"branch {plan.branch} already holds the change ({head})")
    else:
        verb = "write" if head is None else "rewrite"

        def commit() -> str:
            sha = m.create_commit(base_head, [(c.path, c.content) for c in plan.changes], message=text.title)
            m.set_branch(plan.branch, sha)
            return sha

        new_head = log.act(f"{verb} branch {plan.branch}: one commit on {base} ({base_head[:12]})", commit)
        if open_pr is not None and new_head is not None:
            note = (
                f"btp-release rewrote `{plan.branch}` as one commit on `{base}`: {plan.message} ({new_head})."
            )
            log.act(f"comment on pull request #{open_pr.number}", lambda: m.comment(open_pr.number, note))
    if open_pr is None:
        if closed := [p for p in prs if not p.merged]:
            log.note(
                f"pull request #{closed[0].number} of {plan.branch} was closed unmerged; opening a new one"
            )
        opened = log.act(
            f"open a pull request {plan.branch} -> {base}: {text.title}",
            lambda: m.create_pull_request(head=plan.branch, base=base, title=text.title, body=text.body),
        )
        pr = opened
    else:
        pr = open_pr
        if (open_pr.title, _normal(open_pr.body)) != (text.title, _normal(text.body)):
            pr = log.act(
                f"update the title and body of pull request #{open_pr.number}",
                lambda: m.update_pull_request(open_pr.number, title=text.title, body=text.body),
            )
            pr = pr or open_pr
        else:
            log.note(f"pull request #{open_pr.number} is open: {open_pr.html_url}")
    _reviewers_and_labels(ctx, log, pr, changed=log.changed or log.dry_run)
    if pr is not None:
        log.outputs["pull_request_number"] = str(pr.number)
        log.outputs["pull_request_url"] = pr.html_url


def _normal(body: str) -> str:
    """A body as compared: GitHub keeps what the web editor saves with CRLF line ends."""
    return "\n".join(line.rstrip() for line in body.replace("\r\n", "\n").split("\n")).strip()


def _reviewers_and_labels(
    ctx: ReleaseContext, log: StageLog, pr: PullRequest | None, *, changed: bool
) -> None:
    """Ask the configured reviewers when the pull request was opened or changed in this run, or when an
    interrupted run opened it (none of them asked, labels missing: reviewers are asked before labelling);
    a re-run that finds it as it should be asks nobody again (who reviewed is no longer "requested")."""
    m, config = ctx.manifests, ctx.config
    # GitHub compares logins, team slugs and label names without case.
    have_reviewers = {r.lower() for r in pr.requested_reviewers} if pr else set()
    have_labels = {label.lower() for label in pr.labels} if pr else set()
    labels = [label for label in config.manifests_labels if label.lower() not in have_labels]
    wanted = [r for r in config.manifests_reviewers if r.lower() not in have_reviewers]
    interrupted = len(wanted) == len(config.manifests_reviewers) and (labels or not config.manifests_labels)
    reviewers = wanted if changed or interrupted else []
    number = pr.number if pr else 0
    if reviewers:
        log.act(
            f"request reviews from {', '.join(reviewers)}", lambda: m.request_reviewers(number, reviewers)
        )
    if labels:
        log.act(f"label it {', '.join(labels)}", lambda: m.add_labels(number, labels))


# -- the stages ----------------------------------------------------------------------------------------


def submit(ctx: ReleaseContext, *, dry_run: bool = False) -> StageResult:
    """Propose the published release's module-config.yaml (``modules/<short>/<version>/``)."""
    log = StageLog(ctx, "submit", dry_run=dry_run)
    config = ctx.config
    source = config.module_config
    if source is None:
        raise InvalidInput(
            f"submit needs the module's {config.module_config_file or 'module-config.yaml'}: the catalog "
            "builds the version from it (icons, team, manager… are not release settings)",
            hint="add a modulectl module-config.yaml to the module (docs/adopting.md) and release again",
        )
    _require_write(ctx, log)
    release = _published(ctx, "submit")
    record = ctx.observe().provenance
    commit = record.commit if record is not None else ctx.tag_commit() or release.target_commitish
    # What is submitted is the released commit's module-config, never an edited copy of it.
    ctx.require_source(commit)
    links = _release_links(ctx, release, ctx.version)
    missing = [a for a in (links.manifest_asset, links.default_cr_asset) if a and release.asset(a) is None]
    if missing:
        raise NotFound(
            f"release {release.tag_name} of {config.github_repo} has no asset {', '.join(missing)}",
            hint="check manifest-asset / default-cr-asset, or re-run the release's upload stage",
        )
    submission = build_submission(source, links, asset_links=config.manifests_asset_links)
    layout = layout_of(config)
    base_head = _base_head(ctx)
    current = ctx.manifests.get_file(layout.config_file(submission.module, ctx.version), ref=base_head)
    plan = plan_submit(layout, submission, current.content if current else None, where=_where(ctx))
    text = pull_request_text(plan, links, record, submission=submission)
    _apply(ctx, log, plan, text, base_head)
    return log.result()


def promote(
    ctx: ReleaseContext, channel: str, *, allow_downgrade: bool = False, dry_run: bool = False
) -> StageResult:
    """Point ``channel`` at the version in the module's channel mapping; the version must be published on
    GitHub and held by the manifests repository. The ModuleReleaseMeta it gives is the ``release_meta``
    output (JSON)."""
    log = StageLog(ctx, "promote", dry_run=dry_run)
    _require_write(ctx, log)
    release = _published(ctx, "promote")
    module, layout = _module(ctx), layout_of(ctx.config)
    base_head = _base_head(ctx)
    mapping = ctx.manifests.get_file(layout.mapping_file(module), ref=base_head)
    plan = plan_promote(
        layout,
        module,
        ctx.version,
        channel,
        current=mapping.content if mapping else None,
        submitted=_submitted(ctx, base_head, module),
        allow_downgrade=allow_downgrade,
        where=_where(ctx),
    )
    if plan.release_meta is not None:
        log.outputs["release_meta"] = json.dumps(plan.release_meta, sort_keys=True)
    text = pull_request_text(plan, _release_links(ctx, release, ctx.version), ctx.observe().provenance)
    _apply(ctx, log, plan, text, base_head)
    return log.result()


def withdraw(ctx: ReleaseContext, *, dry_run: bool = False) -> StageResult:
    """Remove the version's directory from the manifests repository; refused while a channel points at it.
    The GitHub release itself is left as it is (``replace`` deletes releases)."""
    log = StageLog(ctx, "withdraw", dry_run=dry_run)
    _require_write(ctx, log)
    module, layout = _module(ctx), layout_of(ctx.config)
    base_head = _base_head(ctx)
    mapping = ctx.manifests.get_file(layout.mapping_file(module), ref=base_head)
    plan = plan_withdraw(
        layout,
        module,
        ctx.version,
        files=ctx.manifests.list_files(layout.version_dir(module, ctx.version), ref=base_head),
        mapping=mapping.content if mapping else None,
        submitted=_submitted(ctx, base_head, module),
        where=_where(ctx),
    )
    if plan.verdict == "unchanged":
        log.outputs["manifests_verdict"] = "unchanged"
        log.note(plan.message)
        return log.result()
    release = ctx.observe().release
    record = ctx.observe().provenance if release is not None else None
    links = (
        _release_links(ctx, release, ctx.version)
        if release is not None
        else PublishedRelease(
            repo=ctx.config.github_repo,
            version=ctx.version,
            manifest_asset=ctx.config.manifest_asset,
            web_url=_web(ctx.config, None),
        )
    )
    _apply(ctx, log, plan, pull_request_text(plan, links, record), base_head)
    return log.result()
