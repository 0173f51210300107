"""JSON bodies of pull requests, issue comments and labels (``pull-request``,
``pull-request-simple``, ``issue-comment``, ``label``), in the shapes of GitHub's OpenAPI
description."""

from __future__ import annotations

import zlib
from urllib.parse import quote

from .models import IssueComment, Label, PullRequest
from .pulls import PullStore
from .render import Json, Renderer, iso, node_id
from .render_git import tree_changes


def label(r: Renderer, value: Label) -> Json:
    return {
        "id": value.id,
        "node_id": node_id("LA", value.id),
        "url": f"{r.repo_api}/labels/{quote(value.name)}",
        "name": value.name,
        "description": value.description,
        "color": value.color,
        "default": False,
    }


def reviewer(r: Renderer, login: str) -> Json:
    return r.user(login, 10_000_000 + zlib.crc32(login.encode()) % 10_000_000, "User")


def team(r: Renderer, slug: str) -> Json:
    """A team of the repository's organisation as ``requested_teams`` lists it: GitHub's team-simple (REST
    2022-11-28, with ``type`` and ``organization_id``; no ``ldap_dn``, which only GHES with LDAP has) plus
    ``parent``, which the full team in the pull request list has."""
    org = r.repo_web.rsplit("/", 2)[-2]
    team_id = 20_000_000 + zlib.crc32(f"{org}/{slug}".encode()) % 10_000_000
    api = r.repo_api.split("/repos/", 1)[0]
    return {
        "id": team_id,
        "node_id": node_id("T", team_id),
        "url": f"{api}/orgs/{org}/teams/{slug}",
        "html_url": f"{r.repo_web.rsplit('/', 2)[0]}/orgs/{org}/teams/{slug}",
        "name": slug,
        "slug": slug,
        "description": None,
        "privacy": "closed",
        "notification_setting": "notifications_enabled",
        "permission": "pull",
        "members_url": f"{api}/organizations/{team_id}/team/{team_id}/members{{/member}}",
        "repositories_url": f"{api}/organizations/{team_id}/team/{team_id}/repos",
        "type": "organization",
        "organization_id": 30_000_000 + zlib.crc32(org.encode()) % 10_000_000,
        "parent": None,  # the list's pull-request-simple lists full teams, which have it
    }


def comment(r: Renderer, value: IssueComment, pull: bool) -> Json:
    issue_url = f"{r.repo_api}/issues/{value.issue_number}"
    page = "pull" if pull else "issues"
    return {
        "id": value.id,
        "node_id": node_id("IC", value.id),
        "url": f"{r.repo_api}/issues/comments/{value.id}",
        "html_url": f"{r.repo_web}/{page}/{value.issue_number}#issuecomment-{value.id}",
        "body": value.body,
        "user": r.user(),
        "created_at": iso(value.created_at),
        "updated_at": iso(value.updated_at),
        "issue_url": issue_url,
        "author_association": "NONE",
        "performed_via_github_app": None,
    }


def _side(r: Renderer, branch: str, sha: str) -> Json:
    return {
        "label": f"{r.owner}:{branch}",
        "ref": branch,
        "sha": sha,
        "user": r.owner_user(),
        "repo": r.full_repository(None),
    }


def pull(r: Renderer, store: PullStore, pr: PullRequest, *, full: bool = True) -> Json:
    """``full``: the single pull request (merge state, counts); else a list item."""
    url = f"{r.repo_api}/pulls/{pr.number}"
    issue = f"{r.repo_api}/issues/{pr.number}"
    html = f"{r.repo_web}/pull/{pr.number}"
    head = store.head_sha(pr)
    links = {
        "self": url,
        "html": html,
        "issue": issue,
        "comments": f"{issue}/comments",
        "review_comments": f"{url}/comments",
        "review_comment": f"{r.repo_api}/pulls/comments{{/number}}",
        "commits": f"{url}/commits",
        "statuses": f"{r.repo_api}/statuses/{head}",
    }
    out: Json = {
        "url": url,
        "id": pr.id,
        "node_id": node_id("PR", pr.id),
        "html_url": html,
        "diff_url": f"{html}.diff",
        "patch_url": f"{html}.patch",
        "issue_url": issue,
        "commits_url": links["commits"],
        "review_comments_url": links["review_comments"],
        "review_comment_url": links["review_comment"],
        "comments_url": links["comments"],
        "statuses_url": links["statuses"],
        "number": pr.number,
        "state": pr.state,
        "locked": False,
        "title": pr.title,
        "user": r.user(),
        "body": pr.body,
        "labels": [label(r, value) for value in store.labels(pr.number)],
        "milestone": None,
        "active_lock_reason": None,
        "created_at": iso(pr.created_at),
        "updated_at": iso(pr.updated_at),
        "closed_at": iso(pr.closed_at),
        "merged_at": iso(pr.merged_at),
        "merge_commit_sha": pr.merge_commit_sha,
        "assignee": None,
        "assignees": [],
        "requested_reviewers": [reviewer(r, login) for login in pr.requested_reviewers],
        "requested_teams": [team(r, slug) for slug in pr.requested_teams],
        "head": _side(r, pr.head, head),
        "base": _side(r, pr.base, store.base_sha(pr)),
        "_links": {name: {"href": href} for name, href in links.items()},
        "author_association": "NONE",
        "auto_merge": None,
        "draft": pr.draft,
    }
    if full:
        mergeable = store.mergeable(pr)
        commits = store.ahead(pr)
        db = store.db
        common = db.merge_base(store.base_sha(pr), head)
        files = tree_changes(r, db, db.commit(common).tree if common else None, db.commit(head).tree, head)
        state = "unknown" if mergeable is None else ("clean" if mergeable else "dirty")
        if pr.draft and mergeable:
            state = "draft"
        out.update(
            merged=pr.merged,
            mergeable=mergeable,
            rebaseable=mergeable,
            mergeable_state=state,
            merged_by=r.user() if pr.merged else None,
            comments=len(store.comments(pr.number)),
            review_comments=0,
            maintainer_can_modify=pr.maintainer_can_modify,
            commits=len(commits),
            additions=sum(int(f["additions"]) for f in files),
            deletions=sum(int(f["deletions"]) for f in files),
            changed_files=len(files),
        )
    return out
