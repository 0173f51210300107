"""The GitHub client: releases, tags, commit statuses and check runs here; release assets in
``assets``; files, commits and branches in ``repofiles``; pull requests and comments in ``pulls``.

Every creating call looks first and creates after, so it is safe to call again after any failure:
``create_draft_release`` returns the existing draft, ``create_tag`` the existing tag at the same
commit. Lookups that must see drafts list all pages (the by-tag endpoint never returns drafts).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

import attrs

from btp_release.errors import (
    AlreadyExists,
    AuthenticationFailed,
    CheckFailed,
    InvalidInput,
    NotFound,
    PermissionDenied,
)
from btp_release.github.assets import AssetOperations
from btp_release.github.models import (
    DRAFT_MARKER,
    CheckRun,
    CombinedStatus,
    GitRef,
    Release,
    Repository,
)
from btp_release.github.pulls import PullRequestOperations
from btp_release.github.repofiles import RepoFileOperations
from btp_release.redaction import get_logger
from btp_release.version import Version
from btp_release.wait import Poll, WaitPolicy, wait_until

__all__ = ["GitHubClient", "ReleaseNotes"]

log = get_logger("btp_release.github")

_PASSING = {"success", "neutral", "skipped"}
_MAX_TAG_DEPTH = 5
_FAILED_STATUS = {"failure", "error"}


@attrs.frozen
class ReleaseNotes:
    name: str
    body: str


def _tag(tag: str | Version) -> str:
    text = str(tag)
    if not text or any(c.isspace() or c in "~^:?*[\\" for c in text) or ".." in text:
        raise InvalidInput(f"invalid tag name {text!r}", hint="use the release version, e.g. 1.2.0")
    return text


class GitHubClient(AssetOperations, RepoFileOperations, PullRequestOperations):
    """Typed GitHub REST client for one repository (``owner/name``); see :class:`GitHubSession`
    for the injected I/O. The token comes from ``token`` or ``GITHUB_TOKEN`` / ``GH_TOKEN``.

    The operations of the mixins: :class:`AssetOperations` (release assets),
    :class:`RepoFileOperations` (files, commits, branches), :class:`PullRequestOperations`
    (pull requests, reviewers, labels, comments)."""

    # -- repository ------------------------------------------------------------------------

    def get_repository(self) -> Repository:
        body, _ = self.get_json(self.repo_url(), operation="get repository", subject=self.repo)
        return Repository.from_json(body)

    def resolve_commit(self, ref: str) -> str:
        """The commit SHA a branch, tag or SHA points at."""
        body, _ = self.get_json(
            self.repo_url(f"/commits/{ref}"), operation="resolve commit", subject=f"{ref!r} in {self.repo}"
        )
        return str(body["sha"])

    # -- releases --------------------------------------------------------------------------

    def iter_releases(self) -> Iterator[Release]:
        """Every release, newest first, drafts included when the token can push (all pages)."""
        for item in self.paginate(
            self.repo_url("/releases"), operation="list releases", subject=f"releases of {self.repo}"
        ):
            yield Release.from_json(item)

    def list_releases(self) -> list[Release]:
        return list(self.iter_releases())

    def get_release(self, release_id: int) -> Release:
        body, _ = self.get_json(
            self.repo_url(f"/releases/{release_id}"),
            operation="get release",
            subject=f"release id {release_id} of {self.repo}",
        )
        return Release.from_json(body)

    def find_releases_by_tag(self, tag: str | Version) -> list[Release]:
        """All releases (drafts too) whose ``tag_name`` is ``tag``; best candidate first:
        the published one, then drafts created by btp_release, oldest first."""
        name = _tag(tag)
        found = [r for r in self.iter_releases() if r.tag_name == name]
        return sorted(found, key=lambda r: (r.draft, not r.created_by_btp_release, r.id))

    def find_release_by_tag(self, tag: str | Version, *, include_drafts: bool = True) -> Release | None:
        """The release for ``tag`` or ``None``. With ``include_drafts`` (the default) all pages
        are listed, because GitHub's by-tag endpoint never returns drafts."""
        if include_drafts:
            return next(iter(self.find_releases_by_tag(tag)), None)
        try:
            body, _ = self.get_json(
                self.repo_url(f"/releases/tags/{_tag(tag)}"),
                operation="get release by tag",
                subject=f"release {tag} of {self.repo}",
            )
        except NotFound:
            return None
        return Release.from_json(body)

    def latest_release(self, *, include_prereleases: bool = False) -> Release | None:
        """The published release with the highest SemVer tag (GitHub's own "latest" is by date)."""
        best: tuple[Version, Release] | None = None
        for release in self.iter_releases():
            version = Version.try_parse(release.tag_name)
            if release.draft or version is None:
                continue
            if (release.prerelease or version.is_prerelease) and not include_prereleases:
                continue
            if best is None or version > best[0]:
                best = (version, release)
        return best[1] if best else None

    def generate_release_notes(
        self, tag: str | Version, *, target_commitish: str | None = None, previous_tag: str | None = None
    ) -> ReleaseNotes:
        """Release notes GitHub would generate (``.github/release.yml`` categories)."""
        payload: dict[str, Any] = {"tag_name": _tag(tag)}
        if target_commitish:
            payload["target_commitish"] = target_commitish
        if previous_tag:
            payload["previous_tag_name"] = _tag(previous_tag)
        # Creates nothing on GitHub, so it is safe to retry.
        body = self.request_json(
            "POST",
            self.repo_url("/releases/generate-notes"),
            operation="generate release notes",
            subject=f"tag {tag} of {self.repo}",
            json=payload,
        )
        return ReleaseNotes(name=str(body.get("name") or tag), body=str(body.get("body") or ""))

    def create_draft_release(
        self,
        tag: str | Version,
        *,
        target_commitish: str,
        name: str | None = None,
        body: str | None = None,
        generate_release_notes: bool = True,
        previous_tag: str | None = None,
        prerelease: bool | None = None,
    ) -> Release:
        """The draft release for ``tag``, created if there is none; idempotent.

        Raises :class:`AlreadyExists` if a *published* release has the tag. Duplicate drafts
        created by btp_release (GitHub allows several per tag) are deleted, keeping the oldest.
        With ``previous_tag`` the notes cover ``previous_tag..tag``.
        """
        tag_name = _tag(tag)
        subject = f"release {tag_name} of {self.repo}"
        version = Version.try_parse(tag_name)
        payload: dict[str, Any] = {
            "tag_name": tag_name,
            "target_commitish": target_commitish,
            "name": name or tag_name,
            "draft": True,
            "prerelease": prerelease if prerelease is not None else bool(version and version.is_prerelease),
        }

        def create() -> Release:
            if "body" not in payload:  # built once, only when a draft is really needed
                text = body or ""
                if generate_release_notes and previous_tag:
                    notes = self.generate_release_notes(
                        tag_name, target_commitish=target_commitish, previous_tag=previous_tag
                    )
                    text = f"{text}\n\n{notes.body}" if text else notes.body
                else:
                    payload["generate_release_notes"] = generate_release_notes
                payload["body"] = f"{DRAFT_MARKER}\n{text}" if text else DRAFT_MARKER
            data = self.request_json(
                "POST",
                self.repo_url("/releases"),
                operation="create draft release",
                subject=subject,
                expect=(201,),
                json=payload,
                idempotent=False,
            )
            release = Release.from_json(data)
            log.info("created draft release %s (id %d)", tag_name, release.id)
            return release

        return self.create_idempotently(
            find=lambda: self._draft_or_raise(tag_name), create=create, what=f"create draft {subject}"
        )

    def _draft_or_raise(self, tag_name: str) -> Release | None:
        found = self.find_releases_by_tag(tag_name)
        if not found:
            return None
        best = found[0]
        if not best.draft:
            raise AlreadyExists(
                f"release {tag_name} of {self.repo} is already published ({best.html_url})",
                hint="release a new version, or replace the existing release first",
            )
        for extra in found[1:]:
            if extra.draft and extra.created_by_btp_release:
                log.warning("deleting duplicate draft %s (id %d), keeping id %d", tag_name, extra.id, best.id)
                self.delete_release(extra.id)
            else:
                log.warning("another draft for %s exists (id %d); left alone", tag_name, extra.id)
        return best

    def update_release(self, release_id: int, **fields: Any) -> Release:
        """PATCH release fields (name, body, draft, prerelease, make_latest, tag_name…)."""
        data = self.request_json(
            "PATCH",
            self.repo_url(f"/releases/{release_id}"),
            operation="update release",
            subject=f"release id {release_id} of {self.repo}",
            json=fields,
        )
        return Release.from_json(data)

    def publish_release(self, release: Release | int, *, make_latest: str | None = None) -> Release:
        """Turn a draft into a published release (creates the tag if it does not exist yet);
        returns the release unchanged if it is already published."""
        current = release if isinstance(release, Release) else self.get_release(release)
        if not current.draft:
            return current
        fields: dict[str, Any] = {"draft": False}
        if make_latest is not None:
            fields["make_latest"] = make_latest
        published = self.update_release(current.id, **fields)
        log.info("published release %s (id %d)", published.tag_name, published.id)
        return published

    def delete_release(self, release_id: int) -> bool:
        """Delete a release (not its tag); ``False`` if it was already gone."""
        return self.delete(
            self.repo_url(f"/releases/{release_id}"),
            operation="delete release",
            subject=f"release id {release_id} of {self.repo}",
        )

    # -- tags ------------------------------------------------------------------------------

    def get_tag(self, tag: str | Version, *, conditional: bool = False) -> GitRef | None:
        """The ref ``refs/tags/<tag>`` or ``None``."""
        try:
            body, _ = self.get_json(
                self.repo_url(f"/git/ref/tags/{_tag(tag)}"),
                operation="get tag",
                subject=f"tag {tag} of {self.repo}",
                conditional=conditional,
            )
        except NotFound:
            return None
        return GitRef.from_json(body)

    def tagged_commit(self, ref: GitRef) -> str:
        """The commit a tag ref stands for: an annotated tag's ref points at a tag object
        (``object.type == "tag"``), which is read (``GET /git/tags/{sha}``) to reach the commit."""
        sha, kind = ref.sha, ref.object_type
        for _ in range(_MAX_TAG_DEPTH):  # a tag object may tag another tag object
            if kind != "tag":
                return sha
            body, _ = self.get_json(
                self.repo_url(f"/git/tags/{sha}"),
                operation="get tag object",
                subject=f"tag object {sha[:12]} of {ref.ref} in {self.repo}",
            )
            obj = body.get("object") or {}
            sha, kind = str(obj.get("sha") or ""), str(obj.get("type") or "")
        raise InvalidInput(f"{ref.ref} of {self.repo} nests more than {_MAX_TAG_DEPTH} tag objects")

    def create_tag(self, tag: str | Version, sha: str) -> GitRef:
        """A lightweight tag at ``sha``; idempotent when it already points there (also as an
        annotated tag of that commit, whose ref points at a tag object).

        Raises :class:`AlreadyExists` when the tag points at another commit.
        """
        tag_name = _tag(tag)
        subject = f"tag {tag_name} of {self.repo}"

        def find() -> GitRef | None:
            ref = self.get_tag(tag_name)
            if ref is None:
                return None
            commit = ref.sha if ref.object_type == "commit" else self.tagged_commit(ref)
            if commit != sha:
                raise AlreadyExists(
                    f"{subject} already points at {commit}, not {sha}",
                    hint="delete the tag (replace the release) or release a new version",
                )
            return ref

        def create() -> GitRef:
            try:
                data = self.request_json(
                    "POST",
                    self.repo_url("/git/refs"),
                    operation="create tag",
                    subject=subject,
                    expect=(201,),
                    json={"ref": f"refs/tags/{tag_name}", "sha": sha},
                    idempotent=False,
                )
            except AlreadyExists:
                existing = find()
                if existing is None:
                    raise
                return existing
            return GitRef.from_json(data)

        return self.create_idempotently(find=find, create=create, what=f"create {subject}")

    def delete_tag(self, tag: str | Version) -> bool:
        """Delete ``refs/tags/<tag>``; ``False`` if it did not exist. Deletion is eventually
        consistent: use :meth:`wait_until_tag_deleted` before creating it again."""
        tag_name = _tag(tag)
        return self.delete_ref(
            f"tags/{tag_name}", operation="delete tag", subject=f"tag {tag_name} of {self.repo}"
        )

    def wait_until_tag_deleted(
        self,
        tag: str | Version,
        *,
        policy: WaitPolicy = WaitPolicy(timeout=60),
        on_progress: Callable[[Poll[None], float], None] | None = None,
    ) -> None:
        """Poll the tag until GitHub no longer returns it (bounded)."""
        tag_name = _tag(tag)

        def probe() -> Poll[None]:
            ref = self.get_tag(tag_name, conditional=True)
            return Poll(ref is None, None, "gone" if ref is None else f"still present at {ref.sha}")

        wait_until(
            probe,
            what=f"tag {tag_name} of {self.repo} to be deleted",
            policy=policy,
            clock=self.clock,
            sleeper=self.sleeper,
            on_progress=on_progress,
        )

    # -- statuses and checks ---------------------------------------------------------------

    def combined_status(self, ref: str, *, conditional: bool = False) -> CombinedStatus:
        body, _ = self.get_json(
            self.repo_url(f"/commits/{ref}/status"),
            operation="get combined status",
            subject=f"{ref} of {self.repo}",
            params={"per_page": 100},
            conditional=conditional,
        )
        return CombinedStatus.from_json(body)

    def list_check_runs(self, ref: str, *, conditional: bool = False) -> list[CheckRun]:
        return [
            CheckRun.from_json(item)
            for item in self.paginate(
                self.repo_url(f"/commits/{ref}/check-runs"),
                operation="list check runs",
                subject=f"{ref} of {self.repo}",
                item_key="check_runs",
                conditional=conditional,
            )
        ]

    def create_commit_status(
        self,
        sha: str,
        context: str,
        state: str,
        *,
        description: str | None = None,
        target_url: str | None = None,
    ) -> None:
        """Report a commit status (setting the same context again only updates it: retry-safe)."""
        if state not in {"pending", "success", "failure", "error"}:
            raise InvalidInput(f"invalid commit status state {state!r}")
        payload = {"state": state, "context": context}
        payload |= {k: v for k, v in (("description", description), ("target_url", target_url)) if v}
        self.request_json(
            "POST",
            self.repo_url(f"/statuses/{sha}"),
            operation="create commit status",
            subject=f"{context} on {sha[:12]} of {self.repo}",
            expect=(201,),
            json=payload,
        )

    def check_states(self, ref: str, contexts: Iterable[str], *, conditional: bool = False) -> dict[str, str]:
        """For each context: ``success``, ``pending``, ``missing`` or the failing state,
        from commit statuses first, then check runs of that name (the newest run wins)."""
        combined = self.combined_status(ref, conditional=conditional)
        runs: dict[str, CheckRun] = {}
        wanted = list(contexts)
        if any(combined.get(c) is None for c in wanted):
            for check in self.list_check_runs(ref, conditional=conditional):
                if check.name not in runs or check.id > runs[check.name].id:
                    runs[check.name] = check
        states: dict[str, str] = {}
        for context in wanted:
            status = combined.get(context)
            run = runs.get(context)
            if status is not None:
                states[context] = status.state
            elif run is None:
                states[context] = "missing"
            elif run.status != "completed":
                states[context] = "pending"
            else:
                conclusion = run.conclusion or "unknown"
                states[context] = "success" if conclusion in _PASSING else conclusion
        return states

    def wait_for_checks(
        self,
        ref: str,
        contexts: Iterable[str],
        *,
        policy: WaitPolicy = WaitPolicy(timeout=600),
        on_progress: Callable[[Poll[dict[str, str]], float], None] | None = None,
    ) -> dict[str, str]:
        """Wait until every named status/check run succeeds; fail fast with :class:`CheckFailed`."""
        wanted = list(dict.fromkeys(contexts))

        def probe() -> Poll[dict[str, str]]:
            states = self.check_states(ref, wanted, conditional=True)
            failed = {c: s for c, s in states.items() if s not in ("success", "pending", "missing")}
            if failed:
                shown = ", ".join(f"{c}={s}" for c, s in failed.items())
                raise CheckFailed(
                    f"required checks failed on {ref} of {self.repo}: {shown}",
                    hint="fix the failing job and re-run it; waiting longer will not help",
                )
            waiting = [f"{c}={s}" for c, s in states.items() if s != "success"]
            return Poll(not waiting, states, "waiting for " + ", ".join(waiting) if waiting else "all passed")

        return wait_until(
            probe,
            what=f"checks {', '.join(wanted)} on {ref} of {self.repo}",
            policy=policy,
            clock=self.clock,
            sleeper=self.sleeper,
            on_progress=on_progress,
        )

    def immutable_releases_enabled(self) -> bool:
        """Whether the repository has immutable releases on (GitHub answers 404 when it is off):
        a published release then keeps its assets and its tag name forever."""
        try:
            body, _ = self.get_json(
                self.repo_url("/immutable-releases"),
                operation="get immutable releases setting",
                subject=self.repo,
            )
        except NotFound:
            return False
        return bool(body.get("enabled"))

    def require_push_access(self) -> Repository:
        """The repository; :class:`AuthenticationFailed` without a token (an anonymous read shows no
        permissions), :class:`PermissionDenied` when the token cannot write to it."""
        if not self.authenticated:
            raise AuthenticationFailed(
                f"no GitHub token: cannot write to {self.repo}",
                hint="set GITHUB_TOKEN or GH_TOKEN (in a workflow: env: GITHUB_TOKEN: ${{ github.token }})",
            )
        repo = self.get_repository()
        if repo.can_push is False:
            raise PermissionDenied(
                f"the token cannot write to {self.repo} (no push permission)",
                hint="use a token with contents: write",
            )
        return repo
