"""The HTTP layer: one real server on loopback, and what happens around every request.

Order for one request: fault injection, bearer token (401), the operation under the
simulator's lock, one reconcile pass of the models (unless turned off), recording, answer.
The token is compared in constant time and never recorded or logged.
"""

from __future__ import annotations

import hmac
import json
import logging
import ssl
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import attrs

from ..faultbook import FaultBook
from ..simserver import ConnectionAborted, LoopbackServer, ServerThreads, SimHandler
from .api import JSON, Api, Reply, Request
from .errors import KubeError, unauthorized
from .faults import STATUS_REASONS, Fault

logger = logging.getLogger(__name__)


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


class _Handler(SimHandler):
    server_version = "kube-sim"


class Server:
    """The API server on an ephemeral loopback port (HTTPS with ``context``), in a background thread."""

    def __init__(self, app: App, context: ssl.SSLContext | None = None) -> None:
        self._server = LoopbackServer(app, _Handler, context)
        self._threads = ServerThreads({"api": self._server}, prefix="kube-sim")

    @property
    def url(self) -> str:
        return self._server.origin

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self._server.server_port}"

    def start(self) -> None:
        self._threads.start()

    def stop(self) -> None:
        self._threads.stop()
