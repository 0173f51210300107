"""HTTP-level values shared by the routes and the server: requests, replies, pagination, bodies.

Kept free of sockets so the routes can be read (and tested) as plain functions from a request to
a reply.
"""

from __future__ import annotations

import enum
import io
import json
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import parse_qsl, unquote, urlencode

import attrs

from ..simserver import ConnectionAborted
from .errors import ApiError, invalid_request
from .models import Access
from .render import Json, Renderer
from .state import RepoState

if TYPE_CHECKING:
    from .repos import Repositories

JSON_TYPE = "application/json; charset=utf-8"
_REPO_PATH = re.compile(r"^/repos/[^/]+/[^/]+")
T = TypeVar("T")


class Service(enum.Enum):
    """The three hosts GitHub spreads a release over."""

    API = "api"
    UPLOADS = "uploads"
    STORAGE = "storage"


@attrs.frozen
class Reply:
    """An HTTP answer; ``body`` is already encoded."""

    status: int
    body: bytes = b""
    content_type: str | None = None
    headers: tuple[tuple[str, str], ...] = ()

    def with_headers(self, *extra: tuple[str, str]) -> Reply:
        return attrs.evolve(self, headers=(*self.headers, *extra))


def json_reply(status: int, payload: Any, *headers: tuple[str, str]) -> Reply:
    body = json.dumps(payload, separators=(",", ":")).encode()
    return Reply(status, body, JSON_TYPE, tuple(headers))


def error_reply(error: ApiError) -> Reply:
    return json_reply(error.status, error.body(), *error.headers.items())


class BodyReader:
    """Reads exactly ``Content-Length`` bytes from the connection, in chunks."""

    CHUNK = 64 * 1024

    def __init__(self, stream: io.BufferedIOBase, length: int) -> None:
        self._stream = stream
        self.remaining = length

    def read_chunk(self, limit: int | None = None) -> bytes:
        """Next chunk (at most ``limit`` bytes); raises ConnectionAborted if the peer is gone."""
        want = min(self.CHUNK, self.remaining, limit if limit is not None else self.CHUNK)
        if want <= 0:
            return b""
        try:
            chunk = self._stream.read1(want)
        except OSError as exc:
            raise ConnectionAborted("client connection broke while sending the body") from exc
        if not chunk:
            raise ConnectionAborted("client closed the connection before the body was complete")
        self.remaining -= len(chunk)
        return chunk

    def read_all(self) -> bytes:
        parts: list[bytes] = []
        while self.remaining > 0:
            parts.append(self.read_chunk())
        return b"".join(parts)


@attrs.frozen
class Request:
    """A parsed request: the path without query, first value of each query parameter.

    ``path`` is the path routed on: ``/repositories/{id}/…`` already rewritten to
    ``/repos/{owner}/{repo}/…`` and the uploads prefix of the one-origin layout removed.
    ``shared_origin``: an uploads or storage request that reached the API's own origin.
    """

    method: str
    path: str
    raw_query: str
    headers: Mapping[str, str]
    host: str
    service: Service
    body: BodyReader | None
    json_body: bytes = b""
    shared_origin: bool = False
    # GitHub Enterprise Server layout: a path outside /api/… reaches the web routes only.
    web_only: bool = False

    @property
    def query(self) -> dict[str, str]:
        return dict(parse_qsl(self.raw_query, keep_blank_values=True))

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def json(self) -> dict[str, Any]:
        """The JSON object body; ``{}`` when empty, 400 for malformed JSON as GitHub answers."""
        if not self.json_body.strip():
            return {}
        try:
            value = json.loads(self.json_body)
        except ValueError as exc:
            raise ApiError(400, "Problems parsing JSON") from exc
        if not isinstance(value, dict):
            raise invalid_request(f"{json.dumps(value)[:60]} is not an object.")
        return value


@attrs.frozen
class Ctx:
    """Everything a route handler may touch for one request.

    ``state`` is the repository the path names (the simulator's own one for paths without a
    repository); ``access`` the caller's access to it; ``access_to`` their access to any other
    (None: invisible to them).
    """

    request: Request
    state: RepoState
    render: Renderer
    access: Access
    lock: threading.RLock
    sign: Callable[[int], str]
    rate_overview: Callable[[], Json]
    repos: Repositories
    access_to: Callable[[RepoState], Access | None]
    abort_midway: bool = False


Handler = Callable[[Ctx, dict[str, str]], "Reply"]
_PARAM_PATTERNS = {
    "release_id": "[0-9]+",
    "asset_id": "[0-9]+",
    "pull_number": "[0-9]+",
    "issue_number": "[0-9]+",
    "ref": ".+?",
    "tag": ".+",
    "branch": ".+",
    "path": ".+",
    "name": "[^/]+",
}


@attrs.frozen
class Route:
    """One operation: ``template`` is GitHub's OpenAPI path (``in_openapi`` says it is there).

    ``write``: needs push access; ``creates``: counts towards the secondary limit on content
    creation (a write that makes nothing, such as generating notes, does not); ``web``: a page
    of the web host rather than the API (outside ``/api/v3`` on GitHub Enterprise Server).
    """

    method: str
    template: str
    handler: Handler
    service: Service = Service.API
    write: bool = False
    creates: bool = True
    streaming: bool = False
    counted: bool = True
    in_openapi: bool = True
    web: bool = False
    pattern: re.Pattern[str] = attrs.field(init=False)

    @pattern.default
    def _compile(self) -> re.Pattern[str]:
        parts = re.split(r"\{(\w+)\}", self.template)  # literal, name, literal, name, ...
        regex = "".join(
            re.escape(part) if i % 2 == 0 else f"(?P<{part}>{_PARAM_PATTERNS.get(part, '[^/]+')})"
            for i, part in enumerate(parts)
        )
        return re.compile(f"^{regex}$")

    def match(self, method: str, path: str) -> dict[str, str] | None:
        if method != self.method:
            return None
        found = self.pattern.match(path)
        return {k: unquote(v) for k, v in found.groupdict().items()} if found else None


def page_of(ctx: Ctx, items: Sequence[T]) -> tuple[list[T], tuple[tuple[str, str], ...]]:
    """Slice ``items`` by ``per_page`` (default 30, max 100) and ``page``; build ``Link``.

    Link URLs are absolute and use the request's own origin, so they also work through a proxy.
    Like GitHub's, they name the repository by id (``/repositories/{id}/releases?page=2``).
    """
    query = ctx.request.query
    per_page = _int_param(query.get("per_page"), 30)
    per_page = 30 if per_page < 1 else min(per_page, 100)
    page = max(_int_param(query.get("page"), 1), 1)
    last = max((len(items) + per_page - 1) // per_page, 1)
    chunk = list(items[(page - 1) * per_page : page * per_page])
    pairs = [(k, v) for k, v in parse_qsl(ctx.request.raw_query, keep_blank_values=True)]
    pairs = [(k, v) for k, v in pairs if k != "page"]
    by_id = _REPO_PATH.sub(f"/repositories/{ctx.state.repo_id}", ctx.request.path, 1)
    base = f"{ctx.render.origins.api}{by_id}"

    def url(number: int) -> str:
        return f"{base}?{urlencode([*pairs, ('page', str(number))])}"

    links: list[str] = []
    if page > 1:
        links.append(f'<{url(min(page - 1, last))}>; rel="prev"')
    if page < last:
        links.append(f'<{url(page + 1)}>; rel="next"')
        links.append(f'<{url(last)}>; rel="last"')
    if page > 1:
        links.append(f'<{url(1)}>; rel="first"')
    headers = (("Link", ", ".join(links)),) if links else ()
    return chunk, headers


def _int_param(value: str | None, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default


_TYPE_NAMES = {str: "string", bool: "boolean", int: "integer", dict: "object", list: "array"}


def take_fields(
    body: Mapping[str, Any],
    types: Mapping[str, type],
    required: Sequence[str] = (),
    nullable: Sequence[str] = (),
) -> dict[str, Any]:
    """Type-check the known fields of a JSON body the way GitHub's schema validation answers.

    Unknown fields are ignored (as GitHub does); ``null`` counts as absent unless ``nullable``.
    """
    for name in required:
        if body.get(name) is None:
            raise invalid_request(f'"{name}" wasn\'t supplied.')
    out: dict[str, Any] = {}
    for name, kind in types.items():
        if name not in body:
            continue
        value = body[name]
        if value is None:
            if name in nullable:
                out[name] = None
            continue
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise invalid_request(
                f"For 'properties/{name}', {json.dumps(value)} is not a {_TYPE_NAMES[kind]}."
            )
        out[name] = value
    return out
