"""The routes: one function per GitHub operation, from a parsed request to a reply.

Each route names its OpenAPI path template, so the contract test can check that every route the
simulator serves is covered by a validated response.
"""

from __future__ import annotations

import hashlib
import json
from urllib.parse import quote

from ..simserver import ConnectionAborted
from .errors import ApiError, invalid_request, not_found, validation_failed
from .git_routes import GIT_ROUTES
from .graphql import graphql
from .models import CHECK_STATUSES, STATUS_STATES, Access
from .protocol import (
    Ctx,
    Reply,
    Request,
    Route,
    Service,
    json_reply,
    page_of,
    take_fields,
)
from .pull_routes import PULL_ROUTES
from .render_git import diff_entries
from .state import RepoState

STORAGE_PREFIX = "/github-production-release-asset"
_RELEASE_FIELDS: dict[str, type] = {
    "tag_name": str,
    "target_commitish": str,
    "name": str,
    "body": str,
    "draft": bool,
    "prerelease": bool,
    "make_latest": str,
    "discussion_category_name": str,
}
DOCS_RELEASES = "https://docs.github.com/rest/releases/releases"
DOCS_ASSETS = "https://docs.github.com/rest/releases/assets"


# -- releases -------------------------------------------------------------------------------


def _release(ctx: Ctx, release_id: int) -> Reply:
    release = ctx.state.release(release_id, ctx.access)
    return json_reply(200, ctx.render.release(release, ctx.state.assets(release.id)))


def get_release(ctx: Ctx, p: dict[str, str]) -> Reply:
    return _release(ctx, int(p["release_id"]))


def release_by_tag(ctx: Ctx, p: dict[str, str]) -> Reply:
    release = ctx.state.release_by_tag(p["tag"])
    return json_reply(200, ctx.render.release(release, ctx.state.assets(release.id)))


def latest_release(ctx: Ctx, _p: dict[str, str]) -> Reply:
    release = ctx.state.latest_release()
    return json_reply(200, ctx.render.release(release, ctx.state.assets(release.id)))


def list_releases(ctx: Ctx, _p: dict[str, str]) -> Reply:
    chunk, links = page_of(ctx, ctx.state.releases(ctx.access))
    payload = [ctx.render.release(r, ctx.state.assets(r.id)) for r in chunk]
    return json_reply(200, payload, *links)


def _make_latest(fields: dict[str, object]) -> str | None:
    """``true``/``false``/``legacy`` as sent, ``None`` when absent (the state knows the defaults)."""
    value = fields.get("make_latest")
    if value is not None and value not in ("true", "false", "legacy"):
        raise validation_failed("Release", "invalid", "make_latest")
    return None if value is None else str(value)


def create_release(ctx: Ctx, _p: dict[str, str]) -> Reply:
    types = {**_RELEASE_FIELDS, "generate_release_notes": bool}
    fields = take_fields(ctx.request.json(), types, ("tag_name",), ("name", "body"))
    release = ctx.state.create_release(
        tag_name=fields["tag_name"],
        target_commitish=fields.get("target_commitish"),
        name=fields.get("name"),
        body=fields.get("body"),
        draft=fields.get("draft", False),
        prerelease=fields.get("prerelease", False),
        generate_release_notes=fields.get("generate_release_notes", False),
        make_latest=_make_latest(fields),
    )
    payload = ctx.render.release(release, [])
    return json_reply(201, payload, ("Location", payload["url"]))


def update_release(ctx: Ctx, p: dict[str, str]) -> Reply:
    fields = take_fields(ctx.request.json(), _RELEASE_FIELDS, (), ("name", "body"))
    if "make_latest" in fields:
        _make_latest(fields)
    release = ctx.state.update_release(int(p["release_id"]), fields)
    return json_reply(200, ctx.render.release(release, ctx.state.assets(release.id)))


def delete_release(ctx: Ctx, p: dict[str, str]) -> Reply:
    ctx.state.delete_release(int(p["release_id"]))
    return Reply(204)


def generate_notes(ctx: Ctx, _p: dict[str, str]) -> Reply:
    types = {
        "tag_name": str,
        "target_commitish": str,
        "previous_tag_name": str,
        "configuration_file_path": str,
    }
    fields = take_fields(ctx.request.json(), types, ("tag_name",))
    name, body = ctx.state.generate_notes(
        fields["tag_name"], fields.get("target_commitish"), fields.get("previous_tag_name")
    )
    return json_reply(200, {"name": name, "body": body})


# -- assets ---------------------------------------------------------------------------------


def list_assets(ctx: Ctx, p: dict[str, str]) -> Reply:
    release = ctx.state.release(int(p["release_id"]), ctx.access)
    chunk, links = page_of(ctx, ctx.state.assets(release.id))
    return json_reply(200, [ctx.render.asset(a, release) for a in chunk], *links)


def storage_location(ctx: Ctx, asset_id: int, name: str) -> str:
    """A pre-signed storage URL, as GitHub redirects asset downloads to S3."""
    disposition = quote(f"attachment; filename={name}", safe="")
    return (
        f"{ctx.render.origins.storage}{STORAGE_PREFIX}/{ctx.state.repo_id}/{asset_id}"
        f"?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature={ctx.sign(asset_id)}"
        f"&response-content-disposition={disposition}"
        "&response-content-type=application%2Foctet-stream"
    )


def get_asset(ctx: Ctx, p: dict[str, str]) -> Reply:
    asset = ctx.state.asset(int(p["asset_id"]), ctx.access)
    if "application/octet-stream" in (ctx.request.header("accept") or ""):
        if asset.state != "uploaded":
            raise not_found()
        return Reply(302, headers=(("Location", storage_location(ctx, asset.id, asset.name)),))
    return json_reply(200, ctx.render.asset(asset, ctx.state.release(asset.release_id)))


def update_asset(ctx: Ctx, p: dict[str, str]) -> Reply:
    fields = take_fields(ctx.request.json(), {"name": str, "label": str, "state": str})
    asset = ctx.state.update_asset(int(p["asset_id"]), fields.get("name"), fields.get("label"))
    return json_reply(200, ctx.render.asset(asset, ctx.state.release(asset.release_id)))


def delete_asset(ctx: Ctx, p: dict[str, str]) -> Reply:
    ctx.state.delete_asset(int(p["asset_id"]))
    return Reply(204)


def upload_asset(ctx: Ctx, p: dict[str, str]) -> Reply:
    """Stream the body into an ``open`` asset; it becomes ``uploaded`` only when complete.

    Runs without the simulator lock while reading, taking it only to change state.
    """
    request = ctx.request
    name = request.query.get("name", "")
    if not name:
        raise validation_failed("ReleaseAsset", "missing_field", "name")
    if request.body is None:
        raise ApiError(411, "Length Required", documentation_url=DOCS_ASSETS)
    content_type = request.header("content-type")
    if not content_type:
        raise validation_failed("ReleaseAsset", "missing_field", "content_type")
    with ctx.lock:
        asset = ctx.state.begin_upload(
            int(p["release_id"]),
            name,
            request.query.get("label") or None,
            content_type,
            request.body.remaining,
        )
    digest = hashlib.sha256()
    parts: list[bytes] = []
    cut_at = request.body.remaining // 2 if ctx.abort_midway else None
    received = 0
    while request.body.remaining > 0:
        limit = None if cut_at is None else max(cut_at - received, 0)
        if limit == 0:
            raise ConnectionAborted("fault: connection reset in the middle of the upload")
        chunk = request.body.read_chunk(limit)
        digest.update(chunk)
        parts.append(chunk)
        received += len(chunk)
    if ctx.abort_midway:
        raise ConnectionAborted("fault: connection reset in the middle of the upload")
    with ctx.lock:
        done = ctx.state.finish_upload(asset.id, b"".join(parts))
        release = ctx.state.release(done.release_id)
        return json_reply(201, ctx.render.asset(done, release))


def leave_starter(state: RepoState, request: Request, params: dict[str, str]) -> None:
    """An upload answered 5xx may leave an empty ``starter`` asset holding the name (github-api.md)."""
    name = request.query.get("name", "")
    content_type = request.header("content-type")
    if name and content_type:
        state.leave_starter(int(params["release_id"]), name, request.query.get("label") or None, content_type)


def storage_download(ctx: Ctx, p: dict[str, str]) -> Reply:
    """The storage host: rejects credentials like S3 does (a client must not forward them to
    another host). Reached on the API's own origin (the one-origin layout), a client rightly
    sends its credentials along, so they are ignored there."""
    if ctx.request.header("authorization") is not None and not ctx.request.shared_origin:
        return _s3_error(
            400,
            "InvalidArgument",
            "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, "
            "Signature query string parameter or the Authorization header should be specified",
        )
    asset_id = int(p["asset_id"])
    if ctx.request.query.get("X-Amz-Signature") != ctx.sign(asset_id):
        return _s3_error(403, "AccessDenied", "Request has expired or the signature is invalid")
    try:
        asset = ctx.state.asset(asset_id)
    except ApiError:
        return _s3_error(404, "NoSuchKey", "The specified key does not exist.")
    ctx.state.count_download(asset_id)
    headers = (("Content-Disposition", f"attachment; filename={asset.name}"),)
    return Reply(200, ctx.state.blob(asset_id), "application/octet-stream", headers)


def _s3_error(status: int, code: str, message: str) -> Reply:
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{message}</Message></Error>"
    )
    return Reply(status, body.encode(), "application/xml")


def web_download(ctx: Ctx, p: dict[str, str]) -> Reply:
    """``browser_download_url``: published releases only, redirected to storage."""
    try:
        release = ctx.state.release_by_tag(p["tag"])
    except ApiError:
        return Reply(404, b"Not Found", "text/plain; charset=utf-8")
    for asset in ctx.state.assets(release.id):
        if asset.name == p["name"] and asset.state == "uploaded":
            return Reply(302, headers=(("Location", storage_location(ctx, asset.id, asset.name)),))
    return Reply(404, b"Not Found", "text/plain; charset=utf-8")


# -- git refs and commits -------------------------------------------------------------------


def get_ref(ctx: Ctx, p: dict[str, str]) -> Reply:
    return json_reply(200, ctx.render.ref(ctx.state.get_ref(p["ref"])))


def create_ref(ctx: Ctx, _p: dict[str, str]) -> Reply:
    fields = take_fields(ctx.request.json(), {"ref": str, "sha": str}, ("ref", "sha"))
    payload = ctx.render.ref(ctx.state.create_ref(fields["ref"], fields["sha"]))
    return json_reply(201, payload, ("Location", payload["url"]))


def update_ref(ctx: Ctx, p: dict[str, str]) -> Reply:
    fields = take_fields(ctx.request.json(), {"sha": str, "force": bool}, ("sha",))
    ref = ctx.state.update_ref(p["ref"], fields["sha"], force=fields.get("force", False))
    return json_reply(200, ctx.render.ref(ref))


def delete_ref(ctx: Ctx, p: dict[str, str]) -> Reply:
    ctx.state.delete_ref(p["ref"])
    return Reply(204)


def create_tag_object(ctx: Ctx, _p: dict[str, str]) -> Reply:
    """``POST /git/tags``: an annotated tag object; the ref (``POST /git/refs``) is a second step."""
    types = {"tag": str, "message": str, "object": str, "type": str, "tagger": dict}
    fields = take_fields(ctx.request.json(), types, ("tag", "message", "object", "type"))
    if fields["type"] not in ("commit", "tree", "blob"):
        raise invalid_request(f"For 'properties/type', {json.dumps(fields['type'])} is not a member of enum.")
    tagger = fields.get("tagger")
    who = None
    if tagger is not None:
        if not isinstance(tagger.get("name"), str) or not isinstance(tagger.get("email"), str):
            raise invalid_request("For 'properties/tagger', name and email are required.")
        who = (tagger["name"], tagger["email"])
    tag = ctx.state.create_tag_object(fields["tag"], fields["message"], fields["object"], fields["type"], who)
    payload = ctx.render.tag_object(tag)
    return json_reply(201, payload, ("Location", payload["url"]))


def get_tag_object(ctx: Ctx, p: dict[str, str]) -> Reply:
    return json_reply(200, ctx.render.tag_object(ctx.state.tag_object(p["tag_sha"])))


def matching_refs(ctx: Ctx, p: dict[str, str]) -> Reply:
    chunk, links = page_of(ctx, ctx.state.matching_refs(p["ref"]))
    return json_reply(200, [ctx.render.ref(r) for r in chunk], *links)


def _resolve(ctx: Ctx, ref: str, status: int = 422) -> str:
    sha = ctx.state.resolve(ref)
    if sha is None:
        raise ApiError(status, f"No commit found for SHA: {ref}")
    return sha


def get_commit(ctx: Ctx, p: dict[str, str]) -> Reply:
    commit = ctx.state.commit(_resolve(ctx, p["ref"]))
    return json_reply(200, ctx.render.commit(commit, diff_entries(ctx.render, ctx.state, commit)))


def combined_status(ctx: Ctx, p: dict[str, str]) -> Reply:
    sha = ctx.state.resolve(p["ref"])
    if sha is None:
        raise not_found()
    state, statuses = ctx.state.combined_status(sha)
    return json_reply(200, ctx.render.combined_status(sha, state, statuses))


def list_statuses(ctx: Ctx, p: dict[str, str]) -> Reply:
    sha = ctx.state.resolve(p["ref"])
    statuses = ctx.state.statuses(sha) if sha else []
    chunk, links = page_of(ctx, statuses)
    return json_reply(200, [ctx.render.status(s) for s in chunk], *links)


def create_status(ctx: Ctx, p: dict[str, str]) -> Reply:
    types = {"state": str, "target_url": str, "description": str, "context": str}
    fields = take_fields(ctx.request.json(), types, ("state",), ("target_url", "description"))
    if fields["state"] not in STATUS_STATES:
        raise validation_failed("Status", "custom", "state", "state is not included in the list")
    status = ctx.state.create_status(
        p["sha"],
        fields["state"],
        fields.get("context") or "default",
        fields.get("description"),
        fields.get("target_url"),
    )
    payload = ctx.render.status(status)
    return json_reply(201, payload, ("Location", payload["url"]))


def check_runs(ctx: Ctx, p: dict[str, str]) -> Reply:
    sha = _resolve(ctx, p["ref"])
    query = ctx.request.query
    runs = ctx.state.check_runs(sha)
    if "check_name" in query:
        runs = [r for r in runs if r.name == query["check_name"]]
    if query.get("status") in CHECK_STATUSES:
        runs = [r for r in runs if r.status == query["status"]]
    chunk, links = page_of(ctx, runs)
    payload = {"total_count": len(runs), "check_runs": [ctx.render.check_run(r) for r in chunk]}
    return json_reply(200, payload, *links)


# -- repository -----------------------------------------------------------------------------


def get_repo(ctx: Ctx, _p: dict[str, str]) -> Reply:
    permissions = None
    if ctx.access is not Access.ANONYMOUS:
        push = ctx.access.can_push
        permissions = {"admin": False, "maintain": False, "push": push, "triage": push, "pull": True}
    return json_reply(200, ctx.render.full_repository(permissions))


def immutable_releases(ctx: Ctx, _p: dict[str, str]) -> Reply:
    """GitHub answers 404 when the setting is off."""
    if not ctx.state.immutable_releases:
        raise not_found()
    return json_reply(200, {"enabled": True, "enforced_by_owner": False})


def rate_limit(ctx: Ctx, _p: dict[str, str]) -> Reply:
    return json_reply(200, ctx.rate_overview())


REPO = "/repos/{owner}/{repo}"
ROUTES: tuple[Route, ...] = (
    Route("GET", "/rate_limit", rate_limit, counted=False),
    Route("POST", "/graphql", graphql, in_openapi=False),
    Route("GET", REPO, get_repo),
    Route("GET", REPO + "/immutable-releases", immutable_releases, in_openapi=False),
    Route("GET", REPO + "/releases", list_releases),
    Route("POST", REPO + "/releases", create_release, write=True),
    Route("POST", REPO + "/releases/generate-notes", generate_notes, write=True, creates=False),
    Route("GET", REPO + "/releases/latest", latest_release),
    Route("GET", REPO + "/releases/tags/{tag}", release_by_tag),
    Route("GET", REPO + "/releases/assets/{asset_id}", get_asset),
    Route("PATCH", REPO + "/releases/assets/{asset_id}", update_asset, write=True),
    Route("DELETE", REPO + "/releases/assets/{asset_id}", delete_asset, write=True),
    Route("GET", REPO + "/releases/{release_id}", get_release),
    Route("PATCH", REPO + "/releases/{release_id}", update_release, write=True),
    Route("DELETE", REPO + "/releases/{release_id}", delete_release, write=True),
    Route("GET", REPO + "/releases/{release_id}/assets", list_assets),
    Route(
        "POST",
        REPO + "/releases/{release_id}/assets",
        upload_asset,
        service=Service.UPLOADS,
        write=True,
        streaming=True,
    ),
    Route("POST", REPO + "/git/refs", create_ref, write=True),
    Route("GET", REPO + "/git/ref/{ref}", get_ref),
    Route("PATCH", REPO + "/git/refs/{ref}", update_ref, write=True),
    Route("DELETE", REPO + "/git/refs/{ref}", delete_ref, write=True),
    Route("GET", REPO + "/git/matching-refs/{ref}", matching_refs),
    Route("POST", REPO + "/git/tags", create_tag_object, write=True),
    Route("GET", REPO + "/git/tags/{tag_sha}", get_tag_object),
    Route("GET", REPO + "/commits/{ref}/status", combined_status),
    Route("GET", REPO + "/commits/{ref}/statuses", list_statuses),
    Route("GET", REPO + "/commits/{ref}/check-runs", check_runs),
    Route("GET", REPO + "/commits/{ref}", get_commit),
    Route("POST", REPO + "/statuses/{sha}", create_status, write=True),
    *GIT_ROUTES,
    *PULL_ROUTES,
    Route(
        "GET",
        "/{owner}/{repo}/releases/download/{tag}/{name}",
        web_download,
        counted=False,
        in_openapi=False,
        web=True,
    ),
    Route(
        "GET",
        STORAGE_PREFIX + "/{repo_id}/{asset_id}",
        storage_download,
        service=Service.STORAGE,
        counted=False,
        in_openapi=False,
    ),
)
