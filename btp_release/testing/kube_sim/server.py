"""The HTTP layer: one real server on loopback, and what happens around every request.

Order for one request: fault injection, bearer token (401), the operation under the
simulator's lock, one reconcile pass of the models (unless turned off), recording, answer.
The token is compared in constant time and never recorded or logged.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import logging
import socket
import socketserver
import ssl
import struct
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import attrs

from ..faultbook import FaultBook
from .api import JSON, Api, Reply, Request
from .errors import KubeError, unauthorized
from .faults import STATUS_REASONS, Fault

logger = logging.getLogger(__name__)


class ConnectionAborted(Exception):
    """The connection must be reset without an answer (a fault)."""


@attrs.frozen
class RecordedRequest:
    """One answered request, for assertions (never the credentials)."""

    method: str
    path: str
    query: str
    status: int
    content_type: str = ""
    user_agent: str = ""

    @property
    def params(self) -> dict[str, str]:
        return dict(parse_qsl(self.query, keep_blank_values=True))


def status_reply(error: KubeError) -> Reply:
    body = json.dumps(error.status(), separators=(",", ":")).encode()
    return Reply(error.code, body, JSON, error.headers)


def fault_reply(fault: Fault) -> Reply:
    reason = STATUS_REASONS.get(fault.status, "Unknown")
    headers: tuple[tuple[str, str], ...] = ()
    details: dict[str, Any] | None = None
    if fault.status == 429:
        headers = (("Retry-After", str(fault.retry_after)),)
        details = {"retryAfterSeconds": fault.retry_after}
    message = f"injected fault: {reason}"
    return status_reply(KubeError(fault.status, reason, message, details=details, headers=headers))


class App:
    """Authentication, faults, recording and the reconcile pass around the REST layer."""

    def __init__(
        self,
        *,
        api: Api,
        lock: threading.RLock,
        faults: FaultBook[Fault],
        token: str,
        after_request: Callable[[], None],
    ) -> None:
        self.api = api
        self.lock = lock
        self.faults = faults
        self.token = token
        self.after_request = after_request
        self.requests: list[RecordedRequest] = []

    def _authorized(self, header: str | None) -> bool:
        scheme, _, credential = (header or "").strip().partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            credential.strip().encode(), self.token.encode()
        )

    def serve(self, h: _Handler) -> None:
        parts = urlsplit(h.path)
        path, query = parts.path or "/", parts.query
        headers = {k.lower(): v for k, v in h.headers.items()}
        body = _read_body(h, headers)
        request = Request(h.command, path, dict(parse_qsl(query, keep_blank_values=True)), headers, body)
        fault = self.faults.take(h.command, path)
        if fault is not None and fault.kind == "latency":
            time.sleep(fault.delay)
            fault = None
        if fault is not None and fault.kind == "reset":
            self._record(request, query, 0)
            raise ConnectionAborted("fault: connection reset before answering")
        if fault is not None and fault.kind == "status":
            reply = fault_reply(fault)
        elif not self._authorized(headers.get("authorization")):
            reply = status_reply(unauthorized())
        else:
            with self.lock:
                try:
                    reply = self.api.handle(request)
                except KubeError as error:
                    reply = status_reply(error)
                except Exception:  # a simulator bug: answer like the API server's 500, keep the trace
                    logger.exception("kube simulator failed on %s %s", request.method, request.path)
                    reply = status_reply(
                        KubeError(500, "InternalError", "Internal error occurred: simulator bug")
                    )
                try:
                    self.after_request()
                except Exception:  # a model bug: make it loud, not a dropped connection
                    logger.exception(
                        "kube simulator reconcile failed after %s %s", request.method, request.path
                    )
                    reply = status_reply(
                        KubeError(500, "InternalError", "Internal error occurred: model bug")
                    )
            if fault is not None:  # status_after: the operation ran, the answer is lost
                reply = fault_reply(fault)
        self._record(request, query, reply.status)
        _send(h, request, reply)

    def _record(self, request: Request, query: str, status: int) -> None:
        entry = RecordedRequest(
            method=request.method,
            path=request.path,
            query=query,
            status=status,
            content_type=request.content_type,
            user_agent=request.headers.get("user-agent", ""),
        )
        with self.lock:
            self.requests.append(entry)


def _read_body(h: _Handler, headers: dict[str, str]) -> bytes:
    if "content-length" in headers:
        return h.rfile.read(max(int(headers["content-length"]), 0))
    if headers.get("transfer-encoding", "").lower() == "chunked":
        chunks: list[bytes] = []
        while True:
            size = int(h.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while h.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(chunks)
            chunks.append(h.rfile.read(size))
            h.rfile.readline()
    return b""


def _send(h: _Handler, request: Request, reply: Reply) -> None:
    h.send_response(reply.status)
    h.send_header("Content-Type", reply.content_type)
    h.send_header("Cache-Control", "no-cache, private")
    for name, value in reply.headers:
        h.send_header(name, value)
    h.send_header("Content-Length", str(len(reply.body)))
    h.end_headers()
    if request.method != "HEAD":
        h.wfile.write(reply.body)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "kube-sim"
    sys_version = ""
    timeout = 60
    server: _Server

    def setup(self) -> None:
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if isinstance(self.request, ssl.SSLSocket):  # the handshake runs here, not in the accept loop
            self.request.settimeout(self.timeout)
            self.request.do_handshake()
        super().setup()
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
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.connection.close()
        except OSError:
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _dispatch

    def log_message(self, format: str, *args: Any) -> None:
        # The request line only (method, path, status): headers, and so the token, are never logged.
        logger.debug("%s %s", self.address_string(), format % args)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, app: App, context: ssl.SSLContext | None) -> None:
        self.app = app
        self.context = context
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler)

    def server_bind(self) -> None:
        # Skip HTTPServer's getfqdn(): a reverse DNS lookup is slow and useless here.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = "127.0.0.1", self.server_address[1]

    def get_request(self) -> tuple[socket.socket, Any]:
        connection, address = self.socket.accept()
        if self.context is not None:
            connection = self.context.wrap_socket(connection, server_side=True, do_handshake_on_connect=False)
        return connection, address

    def track(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self._connections.add(connection)

    def untrack(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self._connections.discard(connection)

    def close_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        logger.debug("error while serving %s", client_address, exc_info=True)


class Server:
    """The API server on an ephemeral loopback port (HTTPS with ``context``), in a background thread."""

    def __init__(self, app: App, context: ssl.SSLContext | None = None) -> None:
        self._server = _Server(app, context)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        scheme = "https" if self._server.context is not None else "http"
        return f"{scheme}://127.0.0.1:{self._server.server_port}"

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self._server.server_port}"

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, name="kube-sim", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
        self._server.close_connections()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
