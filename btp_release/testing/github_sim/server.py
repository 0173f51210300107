"""The HTTP layer: three real servers on loopback and the behaviour GitHub applies to every call.

Order of checks for one request, as GitHub's edge does them: absolute-form target and host
routing, ``User-Agent``, fault injection, credentials (401), primary rate limit, route (404),
write permission (401/403), the operation, then ``ETag``/``304`` and the rate-limit headers.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import email.utils
import hashlib
import http
import itertools
import logging
import socket
import socketserver
import struct
import threading
import time
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import attrs

from ..faultbook import FaultBook
from .errors import DOCS, ApiError
from .faults import Fault
from .models import Access, RecordedRequest
from .protocol import (
    JSON_TYPE,
    BodyReader,
    ConnectionAborted,
    Ctx,
    Reply,
    Request,
    Service,
    error_reply,
    json_reply,
)
from .ratelimit import ANONYMOUS_LIMIT, Quota, RateLimiter
from .render import Json, Origins, Renderer
from .routes import ROUTES, Route
from .state import RepoState

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


@attrs.frozen
class Identity:
    """Who is calling: the rate-limit bucket and what they may do."""

    key: str
    limit: int
    access: Access
    who: str


class App:
    """GitHub's cross-cutting behaviour around the routes; shared by the three servers."""

    def __init__(
        self,
        *,
        state: RepoState,
        lock: threading.RLock,
        faults: FaultBook[Fault],
        tokens: Mapping[str, Access],
        rate_limit: int,
        clock: Callable[[], float],
        secret: str,
    ) -> None:
        self.state = state
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
        """Proxied host names get proxied links; a direct client gets its own origin back."""
        if host.split(":")[0].lower() in PROXIED_HOSTS:
            return PROXIED_ORIGINS
        api = f"http://{host}" if service is Service.API and host else self.direct[Service.API]
        return Origins(api, self.direct[Service.UPLOADS], self.direct[Service.STORAGE], api)

    def identify(self, headers: Mapping[str, str], client: str) -> Identity:
        """Map the Authorization header to a token; 401 for one GitHub would not know."""
        value = headers.get("authorization")
        anonymous = Identity(f"ip:{client}", ANONYMOUS_LIMIT, Access.ANONYMOUS, client)
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
        access = self.tokens.get(token)
        if access is None:
            raise ApiError(401, "Bad credentials", headers=dict(self.rate_headers(anonymous)))
        return Identity(f"token:{token}", self.rate_limit, access, "installation ID 1")

    def rate_headers(self, who: Identity) -> tuple[tuple[str, str], ...]:
        return self.limiter.peek(who.key, who.limit).headers()

    def rate_overview(self, who: Identity) -> Json:
        core = self.limiter.peek(who.key, who.limit).as_json()
        now = int(self.clock())
        idle = Quota(who.limit, 0, now + 3600).as_json()
        search = Quota(30 if who.access is not Access.ANONYMOUS else 10, 0, now + 60).as_json()
        return {
            "resources": {"core": core, "search": search, "graphql": idle},
            "rate": core,
        }

    # -- one request --------------------------------------------------------------------

    def serve(self, h: _Handler) -> None:
        """Answer one request on handler ``h`` (raises ConnectionAborted to reset instead)."""
        target, host = h.path, h.headers.get("Host", "")
        if target.startswith(("http://", "https://")):  # absolute form, sent to a proxy
            parts = urlsplit(target)
            host, path, query = parts.netloc, parts.path or "/", parts.query
        else:
            path, _, query = target.partition("?")
        service = PROXIED_HOSTS.get(host.split(":")[0].lower(), h.server.service)
        headers = {k.lower(): v for k, v in h.headers.items()}
        body: BodyReader | None = None
        if "content-length" in headers:
            try:
                body = BodyReader(h.rfile, max(int(headers["content-length"]), 0))
            except ValueError:
                body = None
        request = Request(h.command, path, query, headers, host, service, body)

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

    def _guarded(self, h: _Handler, request: Request) -> Reply:
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
        if fault is not None and fault.kind in ("status", "rate_limit", "secondary"):
            self._drain(request)
            return self._fault_reply(fault, request)
        route, params = self._route(request)
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
            if route.service is not request.service:
                continue
            params = route.match(method, request.path)
            if params is not None:
                return route, params
        return None, {}

    def _respond(
        self,
        h: _Handler,
        request: Request,
        route: Route | None,
        params: dict[str, str],
        fault: Fault | None,
    ) -> Reply:
        try:
            who = self.identify(request.headers, h.client_address[0])
        except ApiError as error:
            if request.service is Service.STORAGE:
                who = Identity("storage", 0, Access.ANONYMOUS, "storage")
            else:
                return error_reply(error)
        rated = request.service is not Service.STORAGE
        counted = rated and (route is None or route.counted)
        if counted and self.limiter.peek(who.key, who.limit).remaining <= 0:
            message = f"API rate limit exceeded for {who.who}."
            return json_reply(
                403, {"message": message, "documentation_url": RATE_DOCS}, *self.rate_headers(who)
            )
        reply = self._operate(request, route, params, who, fault)
        etag_hit = False
        if request.method in ("GET", "HEAD") and reply.status == 200 and reply.content_type == JSON_TYPE:
            reply, etag_hit = self._conditional(request, reply)
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
            if route.write and who.access is Access.ANONYMOUS:
                raise ApiError(401, "Requires authentication")
            if route.write and not who.access.can_push:
                raise ApiError(403, "Resource not accessible by integration")
            owner, repo = params.get("owner"), params.get("repo")
            if owner is not None and (
                owner.lower() != self.state.owner.lower() or str(repo).lower() != self.state.repo.lower()
            ):
                raise ApiError(404, "Not Found")
            if request.body is not None and not route.streaming:
                request = attrs.evolve(request, json_body=request.body.read_all())
            ctx = Ctx(
                request=request,
                state=self.state,
                render=Renderer(
                    self.state.owner,
                    self.state.repo,
                    self.origins_for(request.host, request.service),
                ),
                access=who.access,
                lock=self.lock,
                sign=self.sign,
                rate_overview=lambda: self.rate_overview(who),
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

    def _conditional(self, request: Request, reply: Reply) -> tuple[Reply, bool]:
        """Strong ETag (hash of the body); a matching If-None-Match gets an empty 304."""
        etag = '"' + hashlib.sha256(reply.body).hexdigest() + '"'
        with self.lock:
            modified = email.utils.formatdate(self.state.modified_at, usegmt=True)
        validators = (
            ("ETag", etag),
            ("Last-Modified", modified),
            ("Cache-Control", "private, max-age=60, s-maxage=60"),
            ("Vary", "Accept, Authorization, Cookie, X-GitHub-OTP, Accept-Encoding"),
        )
        if _etag_matches(request.headers.get("if-none-match"), etag):
            return Reply(304, headers=validators), True
        return reply.with_headers(*validators), False

    def _fault_reply(self, fault: Fault, request: Request) -> Reply:
        now = int(self.clock())
        try:
            who = self.identify(request.headers, "127.0.0.1")
        except ApiError:
            who = Identity("ip:127.0.0.1", ANONYMOUS_LIMIT, Access.ANONYMOUS, "127.0.0.1")
        status = fault.status if fault.status in (403, 429) else 403
        if fault.kind == "rate_limit":
            quota = Quota(who.limit, who.limit, now + fault.retry_after)
            message = f"API rate limit exceeded for {who.who}."
            return json_reply(status, {"message": message, "documentation_url": RATE_DOCS}, *quota.headers())
        if fault.kind == "secondary":
            message = (
                "You have exceeded a secondary rate limit. Please wait a few minutes before you "
                "try again. If you reach out to GitHub Support for help, please include the "
                "request ID SIM:SECONDARY."
            )
            return json_reply(
                status,
                {"message": message, "documentation_url": RATE_DOCS + "#about-secondary-rate-limits"},
                ("retry-after", str(fault.retry_after)),
                *self.rate_headers(who),
            )
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

    def _send(self, h: _Handler, request: Request, reply: Reply) -> None:
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


class _Handler(BaseHTTPRequestHandler):
    """Feeds every method to the App; resets the socket when told to."""

    protocol_version = "HTTP/1.1"
    server_version = "GitHub.com"
    sys_version = ""
    timeout = 60
    server: _Server

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes: without this, Nagle + delayed ACK
        # stall every response by ~40 ms.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.track(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.untrack(self.connection)

    def _dispatch(self) -> None:
        try:
            self.server.app.serve(self)
        except ConnectionAborted:
            self._reset()
        except OSError:
            self.close_connection = True

    do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = do_HEAD = _dispatch

    def _reset(self) -> None:
        """Abort with RST (SO_LINGER 0), as a dropped connection looks to the client."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
        except OSError:
            pass

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s %s", self.address_string(), format % args)


class _Server(ThreadingHTTPServer):
    """One host of the simulator on an ephemeral loopback port."""

    daemon_threads = True

    def __init__(self, app: App, service: Service) -> None:
        self.app = app
        self.service = service
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler)

    def server_bind(self) -> None:
        # Skip HTTPServer's getfqdn(): a reverse DNS lookup is slow and useless here.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = "127.0.0.1", self.server_address[1]

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.server_port}"

    def track(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self._connections.add(connection)

    def untrack(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self._connections.discard(connection)

    def close_connections(self) -> None:
        """Unblock handler threads waiting on idle keep-alive connections."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        logger.debug("error while serving %s", client_address, exc_info=True)


class Servers:
    """The API, uploads and storage servers, each served by its own thread."""

    def __init__(self, app: App) -> None:
        self.app = app
        self._servers = {service: _Server(app, service) for service in Service}
        self._threads: list[threading.Thread] = []
        for service, server in self._servers.items():
            app.direct[service] = server.origin

    def origin(self, service: Service) -> str:
        return self._servers[service].origin

    def port(self, service: Service) -> int:
        return self._servers[service].server_port

    def start(self) -> None:
        for service, server in self._servers.items():
            thread = threading.Thread(
                target=server.serve_forever,
                kwargs={"poll_interval": 0.02},
                name=f"github-sim-{service.value}",
                daemon=True,
            )
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        if self._threads:  # shutdown() waits up to a poll interval: do the three at once
            stoppers = [
                threading.Thread(target=server.shutdown, daemon=True) for server in self._servers.values()
            ]
            for stopper in stoppers:
                stopper.start()
            for stopper in stoppers:
                stopper.join(timeout=5)
        for server in self._servers.values():
            server.close_connections()
            server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads.clear()
