"""Routes of the git data API (blobs, trees, commits), branches, tags and the contents API.

Together with the refs routes (:mod:`.routes`) these are what a client needs to commit a set of
file changes on a branch in one commit (blobs → tree with ``base_tree`` → commit → ref update)
or one file through the contents API.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import json
import re
from collections.abc import Container
from typing import Any, cast

from .contents import read_path, write_file
from .errors import ApiError, invalid_request, not_found
from .gitdb import GitDatabase
from .objects import ENTRY_TYPES, Change, ObjectType, Signature
from .protocol import Ctx, Reply, Route, json_reply, page_of, take_fields
from .render_git import (
    blob,
    branch,
    content_entry,
    content_file,
    diff_entries,
    file_commit,
    git_commit,
    tag,
    tree,
)

_SHA40 = re.compile(r"^[0-9a-f]{40}$")
_RAW_TYPES = ("application/vnd.github.raw", "application/vnd.github.v3.raw")
_OBJECT_TYPE = "application/vnd.github.object"


def _created(payload: dict[str, Any]) -> Reply:
    return json_reply(201, payload, ("Location", payload["url"]))


def _signature(db: GitDatabase, value: object, field: str) -> Signature | None:
    """``author``/``committer`` of a request: name and email, ``date`` in ISO 8601 (default now)."""
    if value is None:
        return None
    if not isinstance(value, dict) or not all(isinstance(value.get(k), str) for k in ("name", "email")):
        raise invalid_request(f"For 'properties/{field}', name and email are required.")
    date = value.get("date")
    when = None
    if date is not None:
        try:
            when = datetime.datetime.fromisoformat(str(date)).timestamp()
        except ValueError as exc:
            raise invalid_request(
                f"For 'properties/{field}', {json.dumps(date)} is not a date-time."
            ) from exc
    return db.signature((value["name"], value["email"]), when)


def _wants(ctx: Ctx, media: tuple[str, ...] | str) -> bool:
    accept = ctx.request.header("accept") or ""
    return any(m in accept for m in ((media,) if isinstance(media, str) else media))


def _raw(data: bytes) -> Reply:
    return Reply(200, data, "text/plain; charset=utf-8")


# -- blobs, trees, commits ------------------------------------------------------------------


def create_blob(ctx: Ctx, _p: dict[str, str]) -> Reply:
    fields = take_fields(ctx.request.json(), {"content": str, "encoding": str}, ("content",))
    encoding = fields.get("encoding", "utf-8")
    if encoding in ("utf-8", "utf8"):
        data = fields["content"].encode()
    elif encoding == "base64":
        try:
            data = base64.b64decode("".join(fields["content"].split()), validate=True)
        except binascii.Error as exc:
            raise invalid_request("content is not valid Base64") from exc
    else:
        raise invalid_request(f"encoding {encoding} is not supported")  # GitHub: utf-8 or base64
    sha = ctx.state.objects.put_blob(data)
    ctx.state.touch()
    return _created({"url": f"{ctx.render.repo_api}/git/blobs/{sha}", "sha": sha})


def get_blob(ctx: Ctx, p: dict[str, str]) -> Reply:
    data = ctx.state.objects.blobs.get(p["file_sha"])
    if data is None:
        raise not_found()
    if _wants(ctx, _RAW_TYPES):
        return _raw(data)
    return json_reply(200, blob(ctx.render, p["file_sha"], data))


def _tree_change(db: GitDatabase, item: object) -> Change:
    """One entry of ``POST /git/trees``, checked as GitHub does (mode, type, sha or content)."""
    if not isinstance(item, dict) or not isinstance(item.get("path"), str):
        raise invalid_request("For 'items', tree entries need a path.")
    mode, kind = item.get("mode"), item.get("type")
    if mode not in ENTRY_TYPES:
        raise invalid_request(f"For 'properties/mode', {json.dumps(mode)} is not a member of enum.")
    if kind not in ("blob", "tree", "commit") or ENTRY_TYPES[str(mode)] != kind:
        raise invalid_request(f"For 'properties/type', {json.dumps(kind)} does not match mode {mode}.")
    object_type = cast("ObjectType", kind)
    content, has_sha = item.get("content"), "sha" in item
    if content is not None and has_sha and item["sha"] is not None:
        raise ApiError(422, "Must supply either tree.sha or tree.content, not both")
    if content is not None:
        if not isinstance(content, str) or kind != "blob":
            raise invalid_request("For 'properties/content', content is only for blobs, as a string.")
        return Change(item["path"], str(mode), "blob", db.objects.put_blob(content.encode()))
    if not has_sha:
        raise ApiError(422, "Must supply either tree.sha or tree.content")
    sha = item["sha"]
    if sha is None:
        return Change(item["path"], str(mode), object_type, None)
    if not isinstance(sha, str) or not _SHA40.match(sha):
        raise ApiError(422, f"tree.sha {sha} is not a valid {kind}")
    known: Container[str] = {sha}  # a submodule's commit lives elsewhere: any sha
    if object_type == "blob":
        known = db.objects.blobs
    elif object_type == "tree":
        known = db.objects.trees
    if sha not in known:
        raise ApiError(422, f"tree.sha {sha} is not a valid {kind}")
    return Change(item["path"], str(mode), object_type, sha)


def create_tree(ctx: Ctx, _p: dict[str, str]) -> Reply:
    body = ctx.request.json()
    fields = take_fields(body, {"tree": list, "base_tree": str}, ("tree",))
    base = fields.get("base_tree")
    db = ctx.state
    if base is not None and base not in db.objects.trees:
        raise ApiError(422, f"base_tree {base} is not a valid tree")
    changes = [_tree_change(db, item) for item in fields["tree"]]
    sha = db.objects.apply(base, changes)
    db.touch()
    return _created(tree(ctx.render, db, sha, db.objects.walk(sha, recursive=False)))


def get_tree(ctx: Ctx, p: dict[str, str]) -> Reply:
    """A tree by its sha, or the tree of a commit, branch or tag (as GitHub accepts)."""
    db, wanted = ctx.state, p["tree_sha"]
    sha = wanted if wanted in db.objects.trees else None
    if sha is None:
        commit = db.resolve(wanted)
        if commit is None:
            raise not_found()
        sha = db.commit(commit).tree
    recursive = "recursive" in ctx.request.query  # "any value" turns it on, GitHub says
    return json_reply(200, tree(ctx.render, db, sha, db.objects.walk(sha, recursive=recursive)))


def create_commit(ctx: Ctx, _p: dict[str, str]) -> Reply:
    types = {
        "message": str,
        "tree": str,
        "parents": list,
        "author": dict,
        "committer": dict,
        "signature": str,
    }
    fields = take_fields(ctx.request.json(), types, ("message", "tree"))
    parents = fields.get("parents", [])
    if not all(isinstance(parent, str) for parent in parents):
        raise invalid_request("For 'items', parents are commit shas.")
    db = ctx.state
    commit = db.write_commit(
        fields["tree"],
        parents,
        fields["message"],
        _signature(db, fields.get("author"), "author"),
        _signature(db, fields.get("committer"), "committer"),
    )
    return _created(git_commit(ctx.render, commit))


def get_git_commit(ctx: Ctx, p: dict[str, str]) -> Reply:
    if not ctx.state.has_commit(p["commit_sha"]):
        raise not_found()
    return json_reply(200, git_commit(ctx.render, ctx.state.commit(p["commit_sha"])))


# -- branches and tags ----------------------------------------------------------------------


def get_branch(ctx: Ctx, p: dict[str, str]) -> Reply:
    sha = ctx.state.branch(p["branch"])
    if sha is None:
        raise ApiError(404, "Branch not found")
    commit = ctx.state.commit(sha)
    full = ctx.render.commit(commit, diff_entries(ctx.render, ctx.state, commit))
    return json_reply(200, branch(ctx.render, p["branch"], full))


def list_tags(ctx: Ctx, _p: dict[str, str]) -> Reply:
    """Newest name first (GitHub documents no order; it answers in reverse ref order)."""
    tags = sorted(ctx.state.tags(), reverse=True)
    chunk, links = page_of(ctx, tags)
    return json_reply(200, [tag(ctx.render, name, sha) for name, sha in chunk], *links)


# -- contents -------------------------------------------------------------------------------


def get_content(ctx: Ctx, p: dict[str, str]) -> Reply:
    """A file (base64, or raw with ``application/vnd.github.raw``) or a directory listing."""
    db = ctx.state
    found = read_path(db, p.get("path", ""), ctx.request.query.get("ref"))
    entry, path, ref = found.entry, found.path, found.ref
    if entry.type == "tree":
        children = [
            content_entry(ctx.render, db, f"{path}/{e.name}" if path else e.name, ref, e)
            for e in db.objects.entries(entry.sha)
        ]
        if _wants(ctx, _OBJECT_TYPE):
            head = content_entry(ctx.render, db, path, ref, entry)
            return json_reply(200, {**head, "entries": children})
        return json_reply(200, children)
    if entry.type == "blob" and _wants(ctx, _RAW_TYPES):
        return _raw(db.objects.blobs[entry.sha])
    if entry.type == "blob":
        return json_reply(200, content_file(ctx.render, db, path, ref, entry))
    return json_reply(200, content_entry(ctx.render, db, path, ref, entry))


_WRITE_FIELDS: dict[str, type] = {
    "message": str,
    "content": str,
    "sha": str,
    "branch": str,
    "committer": dict,
    "author": dict,
}


def put_content(ctx: Ctx, p: dict[str, str]) -> Reply:
    fields = take_fields(ctx.request.json(), _WRITE_FIELDS, ("message", "content"))
    try:
        data = base64.b64decode("".join(fields["content"].split()), validate=True)
    except binascii.Error as exc:
        raise invalid_request("content is not valid Base64") from exc
    return _write(ctx, p["path"], data, fields)


def delete_content(ctx: Ctx, p: dict[str, str]) -> Reply:
    fields = take_fields(ctx.request.json(), _WRITE_FIELDS, ("message", "sha"))
    return _write(ctx, p["path"], None, fields)


def _write(ctx: Ctx, path: str, data: bytes | None, fields: dict[str, Any]) -> Reply:
    db = ctx.state
    committer = _signature(db, fields.get("committer"), "committer")
    created, commit = write_file(
        db,
        path,
        data,
        message=fields["message"],
        sha=fields.get("sha"),
        branch=fields.get("branch"),
        author=_signature(db, fields.get("author"), "author") or committer,
        committer=committer,
    )
    name = fields.get("branch") or db.default_branch
    return json_reply(201 if created else 200, file_commit(ctx.render, db, path.strip("/"), name, commit))


REPO = "/repos/{owner}/{repo}"
GIT_ROUTES: tuple[Route, ...] = (
    Route("POST", REPO + "/git/blobs", create_blob, write=True),
    Route("GET", REPO + "/git/blobs/{file_sha}", get_blob),
    Route("POST", REPO + "/git/trees", create_tree, write=True),
    Route("GET", REPO + "/git/trees/{tree_sha}", get_tree),
    Route("POST", REPO + "/git/commits", create_commit, write=True),
    Route("GET", REPO + "/git/commits/{commit_sha}", get_git_commit),
    Route("GET", REPO + "/branches/{branch}", get_branch),
    Route("GET", REPO + "/tags", list_tags),
    Route("GET", REPO + "/contents", get_content, in_openapi=False),
    Route("GET", REPO + "/contents/{path}", get_content),
    Route("PUT", REPO + "/contents/{path}", put_content, write=True),
    Route("DELETE", REPO + "/contents/{path}", delete_content, write=True),
)
