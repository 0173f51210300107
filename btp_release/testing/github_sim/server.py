"""The HTTP layer: the behaviour GitHub applies to every call, around the routes.

Order of checks for one request, as GitHub's edge does them: absolute-form target, host and path
routing (``/api/v3`` on GitHub Enterprise Server, ``/repositories/{id}/…`` is
``/repos/{owner}/{repo}/…``), ``User-Agent``, fault injection, credentials (401), primary rate
limit, route (404), the repository and the token's access to it (404 when it may not see it),
write permission (401/403), the secondary limit on content creation, the operation, then
``ETag``/``Last-Modified``/``304`` and the rate-limit headers. The sockets are in :mod:`.sockets`.
"""

from __future__ import annotations

import base64
import binascii
import email.utils
import hashlib
import http
import itertools
import logging
import re
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import attrs

from ..faultbook import FaultBook
from ..simserver import ConnectionAborted
from .errors import DOCS, ApiError
from .faults import Fault
from .models import Access, RecordedRequest
from .protocol import (
    JSON_TYPE,
    BodyReader,
    Ctx,
    Reply,
    Request,
    Route,
    Service,
    error_reply,
    json_reply,
)
from .ratelimit import ANONYMOUS_LIMIT, ContentWindows, Quota, RateLimiter, SecondaryLimits
from .render import Json, Origins, Renderer
from .repos import ANONYMOUS, Grant, Repositories
from .routes import ROUTES, STORAGE_PREFIX, leave_starter
from .state import RepoState

if TYPE_CHECKING:
    from .sockets import Handler

logger = logging.getLogger(__name__)

# Host names gh uses with GH_HOST=github.localhost (sent through HTTP_PROXY in absolute form).
PROXIED_HOSTS: Mapping[str, Service] = {
    "api.github.localhost": Service.API,
    "github.localhost": Service.API,
    "uploads.github.localhost": Service.UPLOADS,
    "objects.githubusercontent.localhost": Service.STORAGE,
}
PROXIED_ORIGINS = Origins(
    api="http://api.github.localhost",
    uploads="http://uploads.github.localhost",
    storage="http://objects.githubusercontent.localhost",
    web="http://github.localhost",
)
RATE_DOCS = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"
# The one-origin layout serves uploads under GitHub Enterprise Server's uploads path.
UPLOADS_PATH = "/api/uploads"
# GitHub Enterprise Server's REST root, and its GraphQL endpoint (github.com: /graphql).
GHES_API_PREFIX = "/api/v3"
GHES_GRAPHQL = "/api/graphql"
_REPOSITORY_BY_ID = re.compile(r"^/repositories/(\d+)(?=/|$)")
_SECONDARY_MESSAGE = (
    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. "
    "If you reach out to GitHub Support for help, please include the request ID SIM:SECONDARY."
)
SUPPORTED_API_VERSIONS = frozenset({"2022-11-28", "2026-03-10"})
_NO_USER_AGENT = (
    "Request forbidden by administrative rules. Please make sure your request has a User-Agent "
    "header (https://docs.github.com/en/rest/overview/resources-in-the-rest-api#user-agent-"
    "required). Check https://developer.github.com for other possible causes.\n"
)


def _etag_matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    tags = [t.strip().removeprefix("W/") for t in header.split(",")]
    return "*" in tags or etag in tags


def _not_modified_since(header: str | None, changed: int) -> bool:
    """An ``If-Modified-Since`` date at or after the last change (whole seconds, as HTTP dates)."""
    if not header:
        return False
    try:
        since = email.utils.parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return False  # an invalid date is ignored (RFC 9110)
    return since.tzinfo is not None and since.timestamp() >= changed


@attrs.frozen
class Identity:
    """Who is calling: the rate-limit bucket and what they may do in which repository."""

    key: str
    limit: int
    grant: Grant
    who: str

    @property
    def anonymous(self) -> bool:
        return not self.grant.authenticated


class App:
    """GitHub's cross-cutting behaviour around the routes; shared by the three servers."""

    def __init__(
        self,
        *,
        repos: Repositories,
        lock: threading.RLock,
        faults: FaultBook[Fault],
        tokens: Mapping[str, Grant],
        rate_limit: int,
        clock: Callable[[], float],
        secret: str,
        one_origin: bool = True,
        secondary: SecondaryLimits | None = None,
        api_prefix: str = "",
    ) -> None:
        self.repos = repos
        self.state = repos.primary
        self.one_origin = one_origin
        self.api_prefix = api_prefix
        self.content = ContentWindows(secondary, clock) if secondary is not None else None
        self.lock = lock
        self.faults = faults
        self.tokens = dict(tokens)
        self.rate_limit = rate_limit
        self.clock = clock
        self.limiter = RateLimiter(clock)
        self.secret = secret
        self.direct: dict[Service, str] = {}
        self.requests: list[RecordedRequest] = []
        self._request_ids = itertools.count(1)

    # -- helpers ------------------------------------------------------------------------

    def sign(self, asset_id: int) -> str:
        return hashlib.sha256(f"{self.secret}:{asset_id}".encode()).hexdigest()[:40]

    def origins_for(self, host: str, service: Service) -> Origins:
        """Proxied host names get proxied links; a direct client gets its own origin back (in the
        one-origin layout also as the uploads and storage origin)."""
        if host.split(":")[0].lower() in PROXIED_HOSTS:
            return PROXIED_ORIGINS
        if self.one_origin:
            origin = f"http://{host}" if host else self.direct[Service.API]
            return Origins(origin + self.api_prefix, origin + UPLOADS_PATH, origin, origin)
        api = f"http://{host}" if service is Service.API and host else self.direct[Service.API]
        return Origins(api, self.direct[Service.UPLOADS], self.direct[Service.STORAGE], api)

    def _locate(self, host: str, sent: str, server_service: Service) -> tuple[Service, str, bool, bool]:
        """``(service, routed path, shared origin, web only)`` of a request for ``host`` and path
        ``sent``. On GitHub Enterprise Server's layout the API lives under ``/api/v3``: any other
        path (but uploads and storage) is the web host's."""
        proxied = PROXIED_HOSTS.get(host.split(":")[0].lower())
        service, path, shared, web_only = proxied or server_service, sent, False, False
        if proxied is None and self.one_origin:
            if sent.startswith(UPLOADS_PATH + "/"):
                service, path, shared = Service.UPLOADS, sent[len(UPLOADS_PATH) :], True
            elif sent.startswith(STORAGE_PREFIX + "/"):
                service, shared = Service.STORAGE, True
            elif self.api_prefix and sent == GHES_GRAPHQL:
                path = "/graphql"
            elif self.api_prefix and (sent == self.api_prefix or sent.startswith(self.api_prefix + "/")):
                path = sent[len(self.api_prefix) :] or "/"
            elif self.api_prefix:
                web_only = True
        by_id = _REPOSITORY_BY_ID.match(path)
        state = self.repos.by_id(int(by_id.group(1))) if by_id is not None else None
        if by_id is not None and state is not None:
            path = f"/repos/{state.owner}/{state.repo}{path[by_id.end() :]}"
        return service, path, shared, web_only

    def identify(self, headers: Mapping[str, str], client: str) -> Identity:
        """Map the Authorization header to a token; 401 for one GitHub would not know."""
        value = headers.get("authorization")
        anonymous = Identity(f"ip:{client}", ANONYMOUS_LIMIT, ANONYMOUS, client)
        if value is None:
            return anonymous
        scheme, _, credential = value.strip().partition(" ")
        token = credential.strip()
        if scheme.lower() == "basic":
            try:
                token = base64.b64decode(token).decode().partition(":")[2]
            except (binascii.Error, UnicodeDecodeError):
                token = ""
        elif scheme.lower() not in ("bearer", "token"):
            token = ""
        grant = self.tokens.get(token)
        if grant is None:
            raise ApiError(401, "Bad credentials", headers=dict(self.rate_headers(anonymous)))
        return Identity(f"token:{token}", self.rate_limit, grant, "installation ID 1")

    def rate_headers(self, who: Identity) -> tuple[tuple[str, str], ...]:
        return self.limiter.peek(who.key, who.limit).headers()

    def rate_overview(self, who: Identity) -> Json:
        core = self.limiter.peek(who.key, who.limit).as_json()
        now = int(self.clock())
        idle = Quota(who.limit, 0, now + 3600).as_json()
        search = Quota(10 if who.anonymous else 30, 0, now + 60).as_json()
        return {
            "resources": {"core": core, "search": search, "graphql": idle},
            "rate": core,
        }

    # -- one request --------------------------------------------------------------------

    def serve(self, h: Handler) -> None:
        """Answer one request on handler ``h`` (raises ConnectionAborted to reset instead)."""
        target, host = h.path, h.headers.get("Host", "")
        if target.startswith(("http://", "https://")):  # absolute form, sent to a proxy
            parts = urlsplit(target)
            host, sent, query = parts.netloc, parts.path or "/", parts.query
        else:
            sent, _, query = target.partition("?")
        service, path, shared, web_only = self._locate(host, sent, h.server.service)
        headers = {k.lower(): v for k, v in h.headers.items()}
        body: BodyReader | None = None
        if "content-length" in headers:
            try:
                body = BodyReader(h.rfile, max(int(headers["content-length"]), 0))
            except ValueError:
                body = None
        request = Request(
            h.command, path, query, headers, host, service, body, shared_origin=shared, web_only=web_only
        )

        def record(status: int) -> None:
            # Before answering, so a client that got the answer always finds it recorded.
            entry = RecordedRequest(
                method=h.command,
                path=path,
                status=status,
                etag_hit=status == 304,
                authorized="authorization" in headers,
                query=query,
                service=service.value,
                host=host,
                sent_path=sent,
            )
            with self.lock:
                self.requests.append(entry)

        try:
            reply = self._guarded(h, request)
        except ConnectionAborted:
            record(0)
            raise
        record(reply.status)
        self._send(h, request, reply)

    def _guarded(self, h: Handler, request: Request) -> Reply:
        headers = request.headers
        if request.service is not Service.STORAGE and not headers.get("user-agent"):
            self._drain(request)
            return Reply(403, _NO_USER_AGENT.encode(), "text/plain; charset=utf-8")
        if request.body is None and "transfer-encoding" in headers:
            # GitHub wants a length up front (uploads especially); we cannot read on safely.
            h.close_connection = True
            return json_reply(411, {"message": "Length Required", "documentation_url": DOCS})
        fault = self.faults.take(request.method, request.path)
        if fault is not None and fault.kind == "latency":
            time.sleep(fault.delay)
            fault = None
        route, params = self._route(request)
        if fault is not None and fault.kind in ("status", "rate_limit", "secondary"):
            self._drain(request)
            if fault.kind == "status" and fault.status >= 500 and route is not None and route.streaming:
                state = self._repository(params)
                with self.lock:  # GitHub read the upload, then failed: an empty asset may stay
                    if state is not None:
                        leave_starter(state, request, params)
            return self._fault_reply(fault, request)
        if fault is not None and fault.kind == "reset" and not (route and route.streaming):
            self._drain(request)
            raise ConnectionAborted("fault: connection reset before answering")
        reply = self._respond(h, request, route, params, fault)
        self._drain(request)
        if fault is not None and fault.kind == "status_after":
            return self._fault_reply(fault, request)
        if fault is not None and fault.kind == "reset_after":
            raise ConnectionAborted("fault: connection reset after performing the operation")
        return reply

    def _route(self, request: Request) -> tuple[Route | None, dict[str, str]]:
        method = "GET" if request.method == "HEAD" else request.method
        for route in ROUTES:
            if route.service is not request.service or (request.web_only and not route.web):
                continue
            params = route.match(method, request.path)
            if params is not None:
                return route, params
        return None, {}

    def _repository(self, params: Mapping[str, str]) -> RepoState | None:
        """The repository a route's parameters name (the primary one when they name none)."""
        owner, repo = params.get("owner"), params.get("repo")
        if owner is not None and repo is not None:
            return self.repos.find(owner, repo)
        if "repo_id" in params:
            return self.repos.by_id(int(params["repo_id"]))
        return self.repos.primary

    def _respond(
        self,
        h: Handler,
        request: Request,
        route: Route | None,
        params: dict[str, str],
        fault: Fault | None,
    ) -> Reply:
        try:
            who = self.identify(request.headers, h.client_address[0])
        except ApiError as error:
            if request.service is Service.STORAGE:
                who = Identity("storage", 0, ANONYMOUS, "storage")
            else:
                return error_reply(error)
        rated = request.service is not Service.STORAGE
        counted = rated and (route is None or route.counted)
        if counted and self.limiter.peek(who.key, who.limit).remaining <= 0:
            message = f"API rate limit exceeded for {who.who}."
            return json_reply(
                403, {"message": message, "documentation_url": RATE_DOCS}, *self.rate_headers(who)
            )
        wait = self._content_wait(request, route, who)
        if wait is not None:
            self._drain(request)
            return self._secondary_reply(wait, self.content.limits.status if self.content else 403, who)
        reply = self._operate(request, route, params, who, fault)
        etag_hit = False
        if request.method in ("GET", "HEAD") and reply.status == 200 and reply.content_type == JSON_TYPE:
            reply, etag_hit = self._conditional(request, reply, self._repository(params))
        if counted and not etag_hit:
            quota = self.limiter.consume(who.key, who.limit)
        else:
            quota = self.limiter.peek(who.key, who.limit)
        return reply.with_headers(*quota.headers()) if rated else reply

    def _operate(
        self,
        request: Request,
        route: Route | None,
        params: dict[str, str],
        who: Identity,
        fault: Fault | None,
    ) -> Reply:
        try:
            version = request.headers.get("x-github-api-version")
            if version is not None and version not in SUPPORTED_API_VERSIONS:
                raise ApiError(400, f"API version '{version}' is not supported.")
            if route is None:
                raise ApiError(404, "Not Found")
            if route.write and who.anonymous:
                raise ApiError(401, "Requires authentication")
            state = self._repository(params)
            if request.service is Service.STORAGE or not {"owner", "repo"} <= params.keys():
                # No repository in the path (or the storage host, which ignores credentials).
                access: Access | None = Access.ANONYMOUS if who.anonymous else Access.READ
            else:
                access = who.grant.access(state) if state is not None else None
            if state is None or access is None:
                raise ApiError(404, "Not Found")
            if route.write and not access.can_push:
                raise ApiError(403, "Resource not accessible by integration")
            if request.body is not None and not route.streaming:
                request = attrs.evolve(request, json_body=request.body.read_all())
            ctx = Ctx(
                request=request,
                state=state,
                render=Renderer.of(state, self.origins_for(request.host, request.service)),
                access=access,
                lock=self.lock,
                sign=self.sign,
                rate_overview=lambda: self.rate_overview(who),
                repos=self.repos,
                access_to=who.grant.access,
                abort_midway=fault is not None and fault.kind == "reset",
            )
            if route.streaming:
                return route.handler(ctx, params)
            with self.lock:
                return route.handler(ctx, params)
        except ApiError as error:
            return error_reply(error)
        except (ConnectionAborted, OSError):
            raise
        except Exception:  # a simulator bug: answer like GitHub's 500, keep the trace in the log
            logger.exception("github simulator failed on %s %s", request.method, request.path)
            return json_reply(500, {"message": "Server Error", "documentation_url": DOCS})

    def _content_wait(self, request: Request, route: Route | None, who: Identity) -> int | None:
        """Seconds to wait when this content-creating request exceeds the secondary limit."""
        creates = route is not None and route.write and route.creates and request.method != "DELETE"
        if self.content is None or not creates or who.anonymous:
            return None
        return self.content.admit(who.key)

    def _secondary_reply(self, wait: int, status: int, who: Identity) -> Reply:
        return json_reply(
            status,
            {"message": _SECONDARY_MESSAGE, "documentation_url": RATE_DOCS + "#about-secondary-rate-limits"},
            ("retry-after", str(wait)),
            *self.rate_headers(who),
        )

    def _conditional(self, request: Request, reply: Reply, state: RepoState | None) -> tuple[Reply, bool]:
        """Strong ETag (hash of the body) and ``Last-Modified`` (the repository's last change, or
        any repository's for a path without one);
        a matching ``If-None-Match``, or without one an ``If-Modified-Since`` not older than the
        last change, gets an empty 304 (RFC 9110: ``If-None-Match`` takes precedence)."""
        etag = '"' + hashlib.sha256(reply.body).hexdigest() + '"'
        with self.lock:
            changed = int(state.modified_at if state is not None else self.repos.modified_at)
        modified = email.utils.formatdate(changed, usegmt=True)
        validators = (
            ("ETag", etag),
            ("Last-Modified", modified),
            ("Cache-Control", "private, max-age=60, s-maxage=60"),
            ("Vary", "Accept, Authorization, Cookie, X-GitHub-OTP, Accept-Encoding"),
        )
        if "if-none-match" in request.headers:
            if _etag_matches(request.headers["if-none-match"], etag):
                return Reply(304, headers=validators), True
        elif _not_modified_since(request.headers.get("if-modified-since"), changed):
            return Reply(304, headers=validators), True
        return reply.with_headers(*validators), False

    def _fault_reply(self, fault: Fault, request: Request) -> Reply:
        now = int(self.clock())
        try:
            who = self.identify(request.headers, "127.0.0.1")
        except ApiError:
            who = Identity("ip:127.0.0.1", ANONYMOUS_LIMIT, ANONYMOUS, "127.0.0.1")
        status = fault.status if fault.status in (403, 429) else 403
        if fault.kind == "rate_limit":
            quota = Quota(who.limit, who.limit, now + fault.retry_after)
            message = f"API rate limit exceeded for {who.who}."
            return json_reply(status, {"message": message, "documentation_url": RATE_DOCS}, *quota.headers())
        if fault.kind == "secondary":
            return self._secondary_reply(fault.retry_after, status, who)
        try:
            phrase = http.HTTPStatus(fault.status).phrase
        except ValueError:
            phrase = "Error"
        return json_reply(fault.status, {"message": phrase, "documentation_url": DOCS})

    def _drain(self, request: Request) -> None:
        """Read what is left of the body so an early answer is not lost to a reset."""
        if request.body is None:
            return
        try:
            while request.body.remaining > 0:
                request.body.read_chunk()
        except ConnectionAborted:
            pass

    def _send(self, h: Handler, request: Request, reply: Reply) -> None:
        h.send_response(reply.status)
        h.send_header("X-GitHub-Request-Id", f"SIM:{next(self._request_ids):08X}")
        if request.service is not Service.STORAGE:
            h.send_header("X-GitHub-Media-Type", "github.v3; format=json")
            h.send_header("X-GitHub-Api-Version-Selected", "2022-11-28")
        if reply.content_type:
            h.send_header("Content-Type", reply.content_type)
        for name, value in reply.headers:
            h.send_header(name, value)
        has_body = reply.status not in (204, 304) and reply.status >= 200
        if has_body:
            h.send_header("Content-Length", str(len(reply.body)))
        if h.close_connection:
            h.send_header("Connection", "close")
        h.end_headers()
        if has_body and request.method != "HEAD":
            h.wfile.write(reply.body)
