"""JSON bodies in the shapes of GitHub's OpenAPI description (``release``, ``release-asset``, …).

URLs inside the bodies are built per request from :class:`Origins`, so the same state renders
``http://127.0.0.1:<port>`` links for a direct client and ``http://api.github.localhost`` links
for ``gh`` talking through ``HTTP_PROXY``.
"""

from __future__ import annotations

import base64
import hashlib
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import attrs

from .models import Asset, CheckRun, Commit, CommitStatus, GitRef, Release, TagObject
from .objects import Signature

if TYPE_CHECKING:
    from .gitdb import GitDatabase

Json = dict[str, Any]
REPO_ID = 1_296_269
OWNER_ID = 39_153_523
BOT_LOGIN = "github-actions[bot]"
BOT_ID = 41_898_282


@attrs.frozen
class Origins:
    """Scheme + host (+ port) of each simulated host, as the current request should see them."""

    api: str
    uploads: str
    storage: str
    web: str


def iso(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(timestamp))


def node_id(kind: str, number: int | str) -> str:
    return kind + "_" + base64.b64encode(f"{kind}{number}".encode()).decode().rstrip("=")


@attrs.frozen
class Renderer:
    """Renders state values for one repository under one set of origins."""

    owner: str
    repo: str
    origins: Origins
    repo_id: int = REPO_ID
    default_branch: str = "main"

    @classmethod
    def of(cls, state: GitDatabase, origins: Origins) -> Renderer:
        return cls(state.owner, state.repo, origins, state.repo_id, state.default_branch)

    @property
    def repo_api(self) -> str:
        return f"{self.origins.api}/repos/{self.owner}/{self.repo}"

    @property
    def repo_web(self) -> str:
        return f"{self.origins.web}/{self.owner}/{self.repo}"

    def user(self, login: str = BOT_LOGIN, user_id: int = BOT_ID, kind: str = "Bot") -> Json:
        api = f"{self.origins.api}/users/{quote(login)}"
        return {
            "login": login,
            "id": user_id,
            "node_id": node_id("U", user_id),
            "avatar_url": f"{self.origins.web}/avatars/u/{user_id}?v=4",
            "gravatar_id": "",
            "url": api,
            "html_url": f"{self.origins.web}/{quote(login)}",
            "followers_url": f"{api}/followers",
            "following_url": f"{api}/following{{/other_user}}",
            "gists_url": f"{api}/gists{{/gist_id}}",
            "starred_url": f"{api}/starred{{/owner}}{{/repo}}",
            "subscriptions_url": f"{api}/subscriptions",
            "organizations_url": f"{api}/orgs",
            "repos_url": f"{api}/repos",
            "events_url": f"{api}/events{{/privacy}}",
            "received_events_url": f"{api}/received_events",
            "type": kind,
            "user_view_type": "public",
            "site_admin": False,
        }

    def owner_user(self) -> Json:
        return self.user(self.owner, OWNER_ID, "Organization")

    def _untagged(self, release: Release) -> str:
        """Drafts link to ``untagged-<hash>`` on GitHub: their tag does not exist yet."""
        digest = hashlib.sha1(str(release.id).encode(), usedforsecurity=False).hexdigest()
        return f"untagged-{digest[:20]}"

    def _web_tag(self, release: Release) -> str:
        return self._untagged(release) if release.draft else release.tag_name

    def release(self, release: Release, assets: list[Asset]) -> Json:
        url = f"{self.repo_api}/releases/{release.id}"
        tag = release.tag_name
        return {
            "url": url,
            "assets_url": f"{url}/assets",
            "upload_url": (
                f"{self.origins.uploads}/repos/{self.owner}/{self.repo}/releases/{release.id}"
                "/assets{?name,label}"
            ),
            "html_url": f"{self.repo_web}/releases/tag/{quote(self._web_tag(release))}",
            "id": release.id,
            "author": self.user(),
            "node_id": node_id("RE", release.id),
            "tag_name": tag,
            "target_commitish": release.target_commitish,
            "name": release.name,
            "draft": release.draft,
            "immutable": release.immutable,
            "prerelease": release.prerelease,
            "created_at": iso(release.created_at),
            "updated_at": iso(release.updated_at),
            "published_at": iso(release.published_at),
            "assets": [self.asset(a, release) for a in assets],
            "tarball_url": None if release.draft else f"{self.repo_api}/tarball/{quote(tag)}",
            "zipball_url": None if release.draft else f"{self.repo_api}/zipball/{quote(tag)}",
            "body": release.body,
        }

    def asset(self, asset: Asset, release: Release) -> Json:
        download = f"{self.repo_web}/releases/download/{quote(self._web_tag(release))}/{quote(asset.name)}"
        return {
            "url": f"{self.repo_api}/releases/assets/{asset.id}",
            "id": asset.id,
            "node_id": node_id("RA", asset.id),
            "name": asset.name,
            "label": asset.label,
            "uploader": self.user(),
            "content_type": asset.content_type,
            "state": asset.state,
            "size": asset.size,
            "digest": asset.digest,
            "download_count": asset.download_count,
            "created_at": iso(asset.created_at),
            "updated_at": iso(asset.updated_at),
            "browser_download_url": download,
        }

    def ref(self, ref: GitRef) -> Json:
        kind = "tags" if ref.object_type == "tag" else "commits"
        return {
            "ref": ref.ref,
            "node_id": node_id("REF", ref.ref),
            "url": f"{self.repo_api}/git/{quote(ref.ref)}",
            "object": {
                "sha": ref.sha,
                "type": ref.object_type,
                "url": f"{self.repo_api}/git/{kind}/{ref.sha}",
            },
        }

    def tag_object(self, tag: TagObject) -> Json:
        return {
            "node_id": node_id("TAG", tag.sha),
            "sha": tag.sha,
            "url": f"{self.repo_api}/git/tags/{tag.sha}",
            "tag": tag.tag,
            "message": tag.message,
            "tagger": {"name": tag.tagger_name, "email": tag.tagger_email, "date": iso(tag.tagged_at)},
            "object": {
                "sha": tag.object_sha,
                "type": "commit",
                "url": f"{self.repo_api}/git/commits/{tag.object_sha}",
            },
            "verification": {
                "verified": False,
                "reason": "unsigned",
                "signature": None,
                "payload": None,
                "verified_at": None,
            },
        }

    @staticmethod
    def git_user(who: Signature) -> Json:
        return {"name": who.name, "email": who.email, "date": iso(who.date)}

    def commit(self, commit: Commit, files: list[Json] | None = None) -> Json:
        """``GET /commits/{ref}``: ``files`` are the changes against the first parent."""
        url = f"{self.repo_api}/commits/{commit.sha}"
        tree = commit.tree
        changes = files or []
        additions = sum(int(f["additions"]) for f in changes)
        deletions = sum(int(f["deletions"]) for f in changes)
        return {
            "sha": commit.sha,
            "node_id": node_id("C", commit.sha),
            "url": url,
            "html_url": f"{self.repo_web}/commit/{commit.sha}",
            "comments_url": f"{url}/comments",
            "commit": {
                "url": f"{self.repo_api}/git/commits/{commit.sha}",
                "author": self.git_user(commit.author),
                "committer": self.git_user(commit.committer),
                "message": commit.message,
                "comment_count": 0,
                "tree": {"sha": tree, "url": f"{self.repo_api}/git/trees/{tree}"},
            },
            "author": self.user(),
            "committer": self.user(),
            "parents": [
                {
                    "sha": p,
                    "url": f"{self.repo_api}/commits/{p}",
                    "html_url": f"{self.repo_web}/commit/{p}",
                }
                for p in commit.parents
            ],
            "stats": {"additions": additions, "deletions": deletions, "total": additions + deletions},
            "files": changes,
        }

    def status(self, status: CommitStatus) -> Json:
        return {
            "url": f"{self.repo_api}/statuses/{status.sha}",
            "avatar_url": f"{self.origins.web}/avatars/u/{BOT_ID}?v=4",
            "id": status.id,
            "node_id": node_id("SC", status.id),
            "state": status.state,
            "description": status.description,
            "target_url": status.target_url,
            "context": status.context,
            "created_at": iso(status.created_at),
            "updated_at": iso(status.updated_at),
            "creator": self.user(),
        }

    def simple_status(self, status: CommitStatus) -> Json:
        out = self.status(status)
        del out["creator"]
        out["required"] = False
        return out

    def combined_status(self, sha: str, state: str, statuses: list[CommitStatus]) -> Json:
        return {
            "state": state,
            "statuses": [self.simple_status(s) for s in statuses],
            "sha": sha,
            "total_count": len(statuses),
            "repository": self.minimal_repository(),
            "commit_url": f"{self.repo_api}/commits/{sha}",
            "url": f"{self.repo_api}/commits/{sha}/status",
        }

    def check_run(self, run: CheckRun) -> Json:
        return {
            "id": run.id,
            "head_sha": run.head_sha,
            "node_id": node_id("CR", run.id),
            "external_id": str(run.id),
            "url": f"{self.repo_api}/check-runs/{run.id}",
            "html_url": f"{self.repo_web}/runs/{run.id}",
            "details_url": f"{self.repo_web}/actions/runs/{run.id}/job/{run.id}",
            "status": run.status,
            "conclusion": run.conclusion,
            "started_at": iso(run.started_at),
            "completed_at": iso(run.completed_at),
            "output": {
                "title": None,
                "summary": None,
                "text": None,
                "annotations_count": 0,
                "annotations_url": f"{self.repo_api}/check-runs/{run.id}/annotations",
            },
            "name": run.name,
            "check_suite": {"id": run.id},
            "app": None,
            "pull_requests": [],
        }

    def minimal_repository(self) -> Json:
        api = self.repo_api
        templates = {
            "archive_url": "/{archive_format}{/ref}",
            "assignees_url": "/assignees{/user}",
            "blobs_url": "/git/blobs{/sha}",
            "branches_url": "/branches{/branch}",
            "collaborators_url": "/collaborators{/collaborator}",
            "comments_url": "/comments{/number}",
            "commits_url": "/commits{/sha}",
            "compare_url": "/compare/{base}...{head}",
            "contents_url": "/contents/{+path}",
            "contributors_url": "/contributors",
            "deployments_url": "/deployments",
            "downloads_url": "/downloads",
            "events_url": "/events",
            "forks_url": "/forks",
            "git_commits_url": "/git/commits{/sha}",
            "git_refs_url": "/git/refs{/sha}",
            "git_tags_url": "/git/tags{/sha}",
            "hooks_url": "/hooks",
            "issue_comment_url": "/issues/comments{/number}",
            "issue_events_url": "/issues/events{/number}",
            "issues_url": "/issues{/number}",
            "keys_url": "/keys{/key_id}",
            "labels_url": "/labels{/name}",
            "languages_url": "/languages",
            "merges_url": "/merges",
            "milestones_url": "/milestones{/number}",
            "notifications_url": "/notifications{?since,all,participating}",
            "pulls_url": "/pulls{/number}",
            "releases_url": "/releases{/id}",
            "stargazers_url": "/stargazers",
            "statuses_url": "/statuses/{sha}",
            "subscribers_url": "/subscribers",
            "subscription_url": "/subscription",
            "tags_url": "/tags",
            "teams_url": "/teams",
            "trees_url": "/git/trees{/sha}",
        }
        out: Json = {
            "id": self.repo_id,
            "node_id": node_id("R", self.repo_id),
            "name": self.repo,
            "full_name": f"{self.owner}/{self.repo}",
            "owner": self.owner_user(),
            "private": False,
            "html_url": self.repo_web,
            "description": None,
            "fork": False,
            "url": api,
        }
        out.update({key: api + suffix for key, suffix in templates.items()})
        return out

    def full_repository(self, permissions: dict[str, bool] | None) -> Json:
        created = "2020-01-01T00:00:00Z"
        host = self.origins.web.split("://", 1)[-1]
        out = self.minimal_repository()
        out.update(
            {
                "git_url": f"git://{host}/{self.owner}/{self.repo}.git",
                "ssh_url": f"git@{host}:{self.owner}/{self.repo}.git",
                "clone_url": f"{self.repo_web}.git",
                "svn_url": self.repo_web,
                "mirror_url": None,
                "homepage": None,
                "language": "Go",
                "forks": 0,
                "forks_count": 0,
                "stargazers_count": 0,
                "watchers_count": 0,
                "watchers": 0,
                "size": 0,
                "default_branch": self.default_branch,
                "open_issues": 0,
                "open_issues_count": 0,
                "is_template": False,
                "topics": [],
                "has_issues": True,
                "has_projects": False,
                "has_wiki": False,
                "has_pages": False,
                "has_downloads": True,
                "has_discussions": False,
                "archived": False,
                "disabled": False,
                "visibility": "public",
                "pushed_at": created,
                "created_at": created,
                "updated_at": created,
                "allow_forking": True,
                "web_commit_signoff_required": False,
                "license": None,
                "network_count": 0,
                "subscribers_count": 0,
                "organization": self.owner_user(),
            }
        )
        if permissions is not None:
            out["permissions"] = permissions
        return out
