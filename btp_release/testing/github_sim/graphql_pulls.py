"""Just enough GraphQL for ``gh pr list``, ``gh pr view`` and ``gh pr create`` (gh 2.23).

Not a GraphQL implementation: the operation is recognised by its name as gh sends it
(``RepositoryInfo``, ``PullRequestForBranch``, ``PullRequestList``, ``PullRequestByNumber`` and
the ``PullRequestCreate`` mutation); a pull request node carries the fields gh asks for (the top
level of its selection or fragment), from the same state the REST routes serve.
"""

from __future__ import annotations

import base64
import re
from typing import Any

from .errors import ApiError
from .models import Access, PullRequest
from .protocol import Ctx, Reply, json_reply
from .render import Renderer, iso, node_id
from .render_git import line_changes
from .state import RepoState

PULL_OPERATIONS = frozenset(
    {"RepositoryInfo", "PullRequestForBranch", "PullRequestList", "PullRequestByNumber", "PullRequestCreate"}
)
_STATES = {"OPEN", "CLOSED", "MERGED"}


def _block(text: str, start: int) -> str:
    """The text inside the braces opening at or after ``start`` (without them)."""
    opening = text.index("{", start)
    depth = 0
    for index in range(opening, len(text)):
        depth += {"{": 1, "}": -1}.get(text[index], 0)
        if depth == 0:
            return text[opening + 1 : index]
    return text[opening + 1 :]


def top_fields(selection: str, query: str) -> list[str]:
    """Field names at the top level of a selection; ``...name`` spreads expand their fragment,
    ``... on Type { }`` is skipped."""
    out: list[str] = []
    depth = 0
    for found in re.finditer(r"\.\.\.\s*on\s+\w+|\.\.\.\s*\w+|[A-Za-z_]\w*|[{}()]", selection):
        token = found.group(0)
        if token in ("{", "("):
            depth += 1
        elif token in ("}", ")"):
            depth -= 1
        elif depth == 0 and token.startswith("...") and not re.match(r"\.\.\.\s*on\b", token):
            name = token[3:].strip()
            fragment = re.search(rf"fragment\s+{name}\s+on\s+\w+\s*\{{", query)
            if fragment is not None:
                out.extend(top_fields(_block(query, fragment.end() - 1), query))
        elif depth == 0 and not token.startswith("..."):
            out.append(token)
    return out


def _selection(query: str, field: str) -> str:
    found = re.search(rf"\b{field}\b\s*(\([^)]*\))?\s*\{{", query)
    return _block(query, found.end() - 1) if found else ""


def _state(pr: PullRequest) -> str:
    return "MERGED" if pr.merged else pr.state.upper()


def _node(state: RepoState, render: Renderer, pr: PullRequest) -> dict[str, Any]:
    store = state.pulls
    mergeable = store.mergeable(pr)
    owner = {"id": node_id("O", state.owner), "login": state.owner, "name": None}
    labels = [
        {
            "id": node_id("LA", value.id),
            "name": value.name,
            "description": value.description,
            "color": value.color,
        }
        for value in store.labels(pr.number)
    ]
    return {
        "id": node_id("PR", pr.id),
        "databaseId": pr.id,
        "number": pr.number,
        "state": _state(pr),
        "title": pr.title,
        "body": pr.body or "",
        "url": f"{render.repo_web}/pull/{pr.number}",
        "headRefName": pr.head,
        "baseRefName": pr.base,
        "headRefOid": store.head_sha(pr),
        "baseRefOid": store.base_sha(pr),
        "isDraft": pr.draft,
        "isCrossRepository": False,
        "closed": pr.state == "closed",
        "locked": False,
        "createdAt": iso(pr.created_at),
        "updatedAt": iso(pr.updated_at),
        "closedAt": iso(pr.closed_at),
        "mergedAt": iso(pr.merged_at),
        "mergeable": "UNKNOWN" if mergeable is None else ("MERGEABLE" if mergeable else "CONFLICTING"),
        "maintainerCanModify": pr.maintainer_can_modify,
        "author": {"login": "github-actions", "id": node_id("BOT", 41898282), "name": None},
        "headRepositoryOwner": owner,
        "headRepository": {"id": node_id("R", state.repo_id), "name": state.repo},
        "labels": {"nodes": labels, "totalCount": len(labels)},
        **_changes(state, pr),
        "comments": {"nodes": [], "totalCount": len(store.comments(pr.number))},
        "commits": {"totalCount": len(store.ahead(pr))},
        "assignees": {"nodes": [], "totalCount": 0},
        "reviewRequests": {"nodes": [], "totalCount": 0},
        "milestone": None,
        "mergeCommit": {"oid": pr.merge_commit_sha} if pr.merge_commit_sha else None,
    }


def _changes(state: RepoState, pr: PullRequest) -> dict[str, int]:
    """``additions``, ``deletions``, ``changedFiles`` between the merge base and the head."""
    db, store = state, state.pulls
    head = store.head_sha(pr)
    common = db.merge_base(store.base_sha(pr), head)
    before = db.commit(common).tree if common else None
    counts = {"additions": 0, "deletions": 0, "changedFiles": 0}
    for _path, old, new in db.objects.diff(before, db.commit(head).tree):
        counts["changedFiles"] += 1
        added, removed = line_changes(db, old, new)
        counts["additions"] += added
        counts["deletions"] += removed
    return counts


def _pick(node: dict[str, Any], fields: list[str]) -> dict[str, Any]:
    return {f: node.get(f) for f in fields} if fields else node


def _cursor(offset: int) -> str:
    return base64.b64encode(f"cursor:{offset}".encode()).decode()


def _offset(cursor: object) -> int:
    try:
        return int(base64.b64decode(str(cursor)).decode().partition(":")[2]) if cursor else 0
    except ValueError:
        return 0


def _pull_requests(state: RepoState, ctx: Ctx, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    """``pullRequests(states:, headRefName:, baseRefName:, first:, after:)``, newest first."""
    wanted = variables.get("state") or variables.get("states") or ["OPEN"]
    states = {s for s in (wanted if isinstance(wanted, list) else [wanted]) if s in _STATES}
    head = variables.get("headBranch") or variables.get("headRefName")
    base = variables.get("baseBranch") or variables.get("baseRefName")
    found = [
        pr
        for pr in state.pulls.find(state="all")
        if _state(pr) in states and (not head or pr.head == head) and (not base or pr.base == base)
    ]
    limit = variables.get("limit")
    first = min(limit if isinstance(limit, int) and limit > 0 else 30, 100)
    start = _offset(variables.get("endCursor"))
    chunk = found[start : start + first]
    fields = top_fields(_selection(_selection(query, "pullRequests"), "nodes"), query)
    render = Renderer.of(state, ctx.render.origins)
    return {
        "totalCount": len(found),
        "nodes": [_pick(_node(state, render, pr), fields) for pr in chunk],
        "pageInfo": {
            "hasNextPage": start + len(chunk) < len(found),
            "endCursor": _cursor(start + len(chunk)),
        },
    }


def _repository(state: RepoState, access: Access) -> dict[str, Any]:
    return {
        "id": node_id("R", state.repo_id),
        "name": state.repo,
        "owner": {"login": state.owner},
        "hasIssuesEnabled": True,
        "hasWikiEnabled": False,
        "description": None,
        "viewerPermission": "WRITE" if access.can_push else "READ",
        "defaultBranchRef": {"name": state.default_branch},
        "parent": None,
        "mergeCommitAllowed": True,
        "rebaseMergeAllowed": True,
        "squashMergeAllowed": True,
    }


def _not_found(owner: object, name: object) -> Reply:
    message = f"Could not resolve to a Repository with the name '{owner}/{name}'."
    return json_reply(
        200, {"data": {"repository": None}, "errors": [{"type": "NOT_FOUND", "message": message}]}
    )


def _create(ctx: Ctx, query: str, variables: dict[str, Any]) -> Reply:
    """``createPullRequest(input: {repositoryId, headRefName, baseRefName, title, body, draft})``."""
    given = variables.get("input")
    fields: dict[str, Any] = given if isinstance(given, dict) else {}
    state = next((s for s in ctx.repos if node_id("R", s.repo_id) == fields.get("repositoryId")), None)
    access = ctx.access_to(state) if state is not None else None
    if state is None or access is None:
        return json_reply(
            200, {"data": None, "errors": [{"type": "NOT_FOUND", "message": "Repository not found"}]}
        )
    if not access.can_push:
        message = "Resource not accessible by integration"
        return json_reply(200, {"data": None, "errors": [{"type": "FORBIDDEN", "message": message}]})
    try:
        pr = state.pulls.create(
            title=str(fields.get("title") or ""),
            head=str(fields.get("headRefName") or ""),
            base=str(fields.get("baseRefName") or ""),
            body=fields.get("body"),
            draft=bool(fields.get("draft", False)),
            maintainer_can_modify=bool(fields.get("maintainerCanModify", True)),
        )
    except ApiError as error:
        details = [str(e.get("message", e.get("field", ""))) for e in error.errors or []]
        message = details[0] if details else error.message
        return json_reply(200, {"data": None, "errors": [{"type": "UNPROCESSABLE", "message": message}]})
    node = _node(state, Renderer.of(state, ctx.render.origins), pr)
    selected = top_fields(_selection(_selection(query, "createPullRequest"), "pullRequest"), query)
    return json_reply(200, {"data": {"createPullRequest": {"pullRequest": _pick(node, selected)}}})


def answer(ctx: Ctx, operation: str, query: str, variables: dict[str, Any]) -> Reply:
    if operation == "PullRequestCreate":
        return _create(ctx, query, variables)
    owner = variables.get("owner")
    name = variables.get("name", variables.get("repo"))
    state = ctx.repos.find(str(owner), str(name))
    access = ctx.access_to(state) if state is not None else None
    if state is None or access is None:
        return _not_found(owner, name)
    repository: dict[str, Any]
    if operation == "RepositoryInfo":
        repository = _repository(state, access)
    elif operation == "PullRequestByNumber":
        number = variables.get("pr_number")
        try:
            pr = state.pulls.get(int(number)) if isinstance(number, int) else None
        except ApiError:
            pr = None
        if pr is None:
            message = f"Could not resolve to a PullRequest with the number of {number}."
            errors = [{"type": "NOT_FOUND", "path": ["repository", "pullRequest"], "message": message}]
            return json_reply(200, {"data": {"repository": {"pullRequest": None}}, "errors": errors})
        fields = top_fields(_selection(query, "pullRequest"), query)
        repository = {"pullRequest": _pick(_node(state, Renderer.of(state, ctx.render.origins), pr), fields)}
    else:
        repository = {
            "pullRequests": _pull_requests(state, ctx, query, variables),
            "defaultBranchRef": {"name": state.default_branch},
        }
    return json_reply(200, {"data": {"repository": repository}})
