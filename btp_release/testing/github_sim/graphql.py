"""Just enough of ``POST /graphql`` for the ``gh release`` commands.

Not a GraphQL implementation: the query is recognised by its operation name, as ``gh`` 2.23
sends it (``RepositoryReleaseByTag`` to find drafts, ``RepositoryReleaseList`` for
``gh release list``), plus ``viewerPermission``. Anything else gets GraphQL's 200-with-errors.
"""

from __future__ import annotations

import base64
import re
from typing import Any

from .errors import ApiError
from .graphql_pulls import PULL_OPERATIONS
from .graphql_pulls import answer as pulls_answer
from .models import Access, Release
from .protocol import Ctx, Reply, json_reply
from .render import iso
from .state import RepoState

_OPERATION_RE = re.compile(r"\b(?:query|mutation)\s+(\w+)")
GRAPHQL_DOCS = "https://docs.github.com/graphql/guides/forming-calls-with-graphql"


def _selection(query: str, field: str) -> list[str] | None:
    """The scalar fields selected under ``field`` (gh's decoder rejects any field not asked for)."""
    found = re.search(rf"\b{field}\b(?:\([^)]*\))?\s*\{{([^{{}}]*)\}}", query)
    return re.findall(r"\w+", found.group(1)) if found else None


def _pick(node: dict[str, Any], fields: list[str] | None) -> dict[str, Any]:
    return node if fields is None else {f: node.get(f) for f in fields}


def _cursor(offset: int) -> str:
    return base64.b64encode(f"cursor:{offset}".encode()).decode()


def _offset(cursor: object) -> int:
    if not isinstance(cursor, str):
        return 0
    try:
        return int(base64.b64decode(cursor).decode().partition(":")[2])
    except ValueError:
        return 0


def _latest_id(state: RepoState) -> int | None:
    try:
        return state.latest_release().id
    except ApiError:
        return None


def _node(release: Release, latest: int | None) -> dict[str, Any]:
    return {
        "databaseId": release.id,
        "name": release.name,
        "tagName": release.tag_name,
        "isDraft": release.draft,
        "isLatest": release.id == latest,
        "isPrerelease": release.prerelease,
        "createdAt": iso(release.created_at),
        "publishedAt": iso(release.published_at),
    }


def _release_by_tag(
    state: RepoState, access: Access, query: str, variables: dict[str, Any]
) -> dict[str, Any]:
    """GraphQL's ``release(tagName:)`` also finds drafts (for pushers): how gh finds them."""
    tag = variables.get("tagName")
    matches = [r for r in state.releases(access) if r.tag_name == tag]
    published = [r for r in matches if not r.draft]
    found = published[0] if published else (matches[0] if matches else None)
    fields = _selection(query, "release")
    return {"release": _pick(_node(found, _latest_id(state)), fields) if found else None}


def _release_list(state: RepoState, access: Access, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    per_page = variables.get("perPage")
    first = min(per_page if isinstance(per_page, int) and per_page > 0 else 30, 100)
    start = _offset(variables.get("endCursor"))
    releases = state.releases(access)
    chunk = releases[start : start + first]
    latest = _latest_id(state)
    end = start + len(chunk)
    return {
        "releases": {
            "nodes": [_pick(_node(r, latest), _selection(query, "nodes")) for r in chunk],
            "pageInfo": _pick(
                {"hasNextPage": end < len(releases), "endCursor": _cursor(end)},
                _selection(query, "pageInfo"),
            ),
        }
    }


def graphql(ctx: Ctx, _p: dict[str, str]) -> Reply:
    if ctx.access is Access.ANONYMOUS:
        raise ApiError(401, "This endpoint requires you to be authenticated.", documentation_url=GRAPHQL_DOCS)
    payload = ctx.request.json()
    query = str(payload.get("query", ""))
    variables = payload.get("variables") or {}
    if not isinstance(variables, dict):
        variables = {}
    found = _OPERATION_RE.search(query)
    operation = found.group(1) if found else ""
    if operation in PULL_OPERATIONS:
        return pulls_answer(ctx, operation, query, variables)
    if (
        operation not in ("RepositoryReleaseByTag", "RepositoryReleaseList")
        and "viewerPermission" not in query
    ):
        message = f"The simulator does not model the GraphQL operation {operation or query[:40]!r}"
        return json_reply(200, {"errors": [{"message": message}]})
    owner, name = variables.get("owner"), variables.get("name")
    state = ctx.repos.find(str(owner), str(name))
    access = ctx.access_to(state) if state is not None else None
    if state is None or access is None:
        message = f"Could not resolve to a Repository with the name '{owner}/{name}'."
        return json_reply(
            200,
            {"data": {"repository": None}, "errors": [{"type": "NOT_FOUND", "message": message}]},
        )
    repository: dict[str, Any] = {}
    if operation == "RepositoryReleaseByTag":
        repository.update(_release_by_tag(state, access, query, variables))
    elif operation == "RepositoryReleaseList":
        repository.update(_release_list(state, access, query, variables))
    if "viewerPermission" in query:
        repository["viewerPermission"] = "WRITE" if access.can_push else "READ"
    return json_reply(200, {"data": {"repository": repository}})
