"""Routes of pull requests, issue comments and labels (rules: :mod:`.pulls`)."""

from __future__ import annotations

from typing import cast

from .errors import ApiError, invalid_request, validation_failed
from .protocol import Ctx, Reply, Route, json_reply, page_of, take_fields
from .pulls import MERGE_METHODS, MergeMethod
from .render_pulls import comment, label, pull

_PULL_FIELDS: dict[str, type] = {
    "title": str,
    "head": str,
    "base": str,
    "body": str,
    "draft": bool,
    "maintainer_can_modify": bool,
    "issue": int,
    "head_repo": str,
}


def _created(payload: dict[str, object]) -> Reply:
    return json_reply(201, payload, ("Location", str(payload["url"])))


def create_pull(ctx: Ctx, _p: dict[str, str]) -> Reply:
    fields = take_fields(ctx.request.json(), _PULL_FIELDS, ("head", "base"), ("body",))
    if not fields.get("title"):
        raise validation_failed("PullRequest", "missing_field", "title")
    store = ctx.state.pulls
    pr = store.create(
        title=fields["title"],
        head=fields["head"],
        base=fields["base"],
        body=fields.get("body"),
        draft=fields.get("draft", False),
        maintainer_can_modify=fields.get("maintainer_can_modify", True),
    )
    return _created(pull(ctx.render, store, pr))


def list_pulls(ctx: Ctx, _p: dict[str, str]) -> Reply:
    """``state`` (open, closed, all), ``head`` (``owner:branch`` only), ``base``, ``sort``,
    ``direction``; paginated."""
    query = ctx.request.query
    store = ctx.state.pulls
    state = query.get("state", "open")
    found = store.find(
        state=state if state in ("open", "closed", "all") else "open",
        head=query.get("head"),
        base=query.get("base"),
        sort=query.get("sort", "created"),
        direction=query.get("direction"),
    )
    chunk, links = page_of(ctx, found)
    return json_reply(200, [pull(ctx.render, store, pr, full=False) for pr in chunk], *links)


def get_pull(ctx: Ctx, p: dict[str, str]) -> Reply:
    store = ctx.state.pulls
    return json_reply(200, pull(ctx.render, store, store.get(int(p["pull_number"]))))


def update_pull(ctx: Ctx, p: dict[str, str]) -> Reply:
    types = {"title": str, "body": str, "state": str, "base": str, "maintainer_can_modify": bool}
    fields = take_fields(ctx.request.json(), types, (), ("body",))
    store = ctx.state.pulls
    pr = store.update(int(p["pull_number"]), fields)
    return json_reply(200, pull(ctx.render, store, pr))


def merge_pull(ctx: Ctx, p: dict[str, str]) -> Reply:
    """``PUT /pulls/{n}/merge``: ``merge`` or ``squash`` (``rebase`` is not modelled: 405)."""
    types = {"commit_title": str, "commit_message": str, "sha": str, "merge_method": str}
    fields = take_fields(ctx.request.json(), types)
    method = fields.get("merge_method", "merge")
    if method not in ("merge", "squash", "rebase"):
        raise invalid_request(f"For 'properties/merge_method', \"{method}\" is not a member of enum.")
    if method not in MERGE_METHODS:
        raise ApiError(405, "The simulator does not model rebase merges")
    pr = ctx.state.pulls.merge(
        int(p["pull_number"]),
        cast("MergeMethod", method),
        title=fields.get("commit_title"),
        message=fields.get("commit_message"),
        sha=fields.get("sha"),
    )
    body = {"sha": pr.merge_commit_sha, "merged": True, "message": "Pull Request successfully merged"}
    return json_reply(200, body)


def request_reviewers(ctx: Ctx, p: dict[str, str]) -> Reply:
    fields = take_fields(ctx.request.json(), {"reviewers": list, "team_reviewers": list})
    logins = [str(login) for login in fields.get("reviewers", [])]
    teams = [str(slug) for slug in fields.get("team_reviewers", [])]
    store = ctx.state.pulls
    pr = store.request_reviewers(int(p["pull_number"]), logins, teams)
    return _created(pull(ctx.render, store, pr, full=False))


def create_comment(ctx: Ctx, p: dict[str, str]) -> Reply:
    fields = take_fields(ctx.request.json(), {"body": str}, ("body",))
    number = int(p["issue_number"])
    store = ctx.state.pulls
    made = store.comment(number, fields["body"])
    return _created(comment(ctx.render, made, store.is_pull(number)))


def list_comments(ctx: Ctx, p: dict[str, str]) -> Reply:
    number = int(p["issue_number"])
    store = ctx.state.pulls
    pull_request = store.is_pull(number)
    chunk, links = page_of(ctx, store.comments(number))
    return json_reply(200, [comment(ctx.render, c, pull_request) for c in chunk], *links)


def list_labels(ctx: Ctx, p: dict[str, str]) -> Reply:
    chunk, links = page_of(ctx, ctx.state.pulls.labels(int(p["issue_number"])))
    return json_reply(200, [label(ctx.render, value) for value in chunk], *links)


def add_labels(ctx: Ctx, p: dict[str, str]) -> Reply:
    fields = take_fields(ctx.request.json(), {"labels": list}, ("labels",))
    names = fields["labels"]
    if not all(isinstance(name, str) for name in names):
        raise invalid_request("For 'items', labels are names.")
    added = ctx.state.pulls.add_labels(int(p["issue_number"]), names)
    return json_reply(200, [label(ctx.render, value) for value in added])


REPO = "/repos/{owner}/{repo}"
PULL_ROUTES: tuple[Route, ...] = (
    Route("GET", REPO + "/pulls", list_pulls),
    Route("POST", REPO + "/pulls", create_pull, write=True),
    Route("GET", REPO + "/pulls/{pull_number}", get_pull),
    Route("PATCH", REPO + "/pulls/{pull_number}", update_pull, write=True),
    Route("PUT", REPO + "/pulls/{pull_number}/merge", merge_pull, write=True, in_openapi=False),
    Route(
        "POST",
        REPO + "/pulls/{pull_number}/requested_reviewers",
        request_reviewers,
        write=True,
        in_openapi=False,
    ),
    Route("POST", REPO + "/issues/{issue_number}/comments", create_comment, write=True),
    Route("GET", REPO + "/issues/{issue_number}/comments", list_comments, in_openapi=False),
    Route("GET", REPO + "/issues/{issue_number}/labels", list_labels),
    Route("POST", REPO + "/issues/{issue_number}/labels", add_labels, write=True, in_openapi=False),
)
