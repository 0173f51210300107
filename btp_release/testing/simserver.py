"""What every simulator's HTTP side shares: loopback servers, their threads, the request handler,
and the fault/recording controls a test drives.

The GitHub and the Kubernetes simulator differ in what they answer (their ``App``), not in how a
request reaches it: an ephemeral port on 127.0.0.1 (HTTPS when given an ``ssl.SSLContext``), one
thread per connection, ``TCP_NODELAY``, connections tracked so that stopping never waits on an idle
keep-alive, and a reset (RST) when the App raises :class:`ConnectionAborted`.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import socketserver
import ssl
import struct
import threading
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Generic, Protocol, TypeVar

from .faultbook import FaultBook, MatchingFault

__all__ = [
    "ConnectionAborted",
    "LoopbackServer",
    "ServerThreads",
    "SimHandler",
    "SimulatorControls",
]

logger = logging.getLogger(__name__)


class ConnectionAborted(Exception):
    """The connection must be reset without an answer (a fault, or a peer that went away)."""


class App(Protocol):
    def serve(self, handler: Any) -> None: ...


class SimHandler(BaseHTTPRequestHandler):
    """Feeds every method to the server's App; resets the socket when told to. Subclasses set
    ``server_version`` (what the ``Server`` header says)."""

    protocol_version = "HTTP/1.1"
    sys_version = ""
    timeout = 60
    server: LoopbackServer

    def setup(self) -> None:
        # Headers and body go out in separate writes: without this, Nagle + delayed ACK
        # stall every response by ~40 ms.
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
            self.reset()
        except OSError:
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _dispatch

    def reset(self) -> None:
        """Abort with RST (SO_LINGER 0), as a dropped connection looks to the client."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()

    def log_message(self, format: str, *args: Any) -> None:
        # The request line only (method, path, status): headers, and so tokens, are never logged.
        logger.debug("%s %s", self.address_string(), format % args)


class LoopbackServer(ThreadingHTTPServer):
    """An HTTP(S) server on an ephemeral 127.0.0.1 port that hands every request to ``app``."""

    daemon_threads = True

    def __init__(self, app: App, handler: type[SimHandler], context: ssl.SSLContext | None = None) -> None:
        self.app = app
        self.context = context
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), handler)

    def server_bind(self) -> None:
        # Skip HTTPServer's getfqdn(): a reverse DNS lookup is slow and useless here.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = "127.0.0.1", self.server_address[1]

    def get_request(self) -> tuple[socket.socket, Any]:
        connection, address = self.socket.accept()
        if self.context is not None:
            connection = self.context.wrap_socket(connection, server_side=True, do_handshake_on_connect=False)
        return connection, address

    @property
    def origin(self) -> str:
        scheme = "https" if self.context is not None else "http"
        return f"{scheme}://127.0.0.1:{self.server_port}"

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


class ServerThreads:
    """Named servers, each served by its own daemon thread; stopped together."""

    def __init__(self, servers: Mapping[str, LoopbackServer], *, prefix: str) -> None:
        self.servers = dict(servers)
        self._prefix = prefix
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for name, server in self.servers.items():
            thread = threading.Thread(
                target=server.serve_forever,
                kwargs={"poll_interval": 0.02},
                name=f"{self._prefix}-{name}",
                daemon=True,
            )
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        if self._threads:  # shutdown() waits up to a poll interval: do them all at once
            stoppers = [threading.Thread(target=s.shutdown, daemon=True) for s in self.servers.values()]
            for stopper in stoppers:
                stopper.start()
            for stopper in stoppers:
                stopper.join(timeout=5)
        for server in self.servers.values():
            server.close_connections()
            server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads.clear()


F = TypeVar("F", bound=MatchingFault)
R = TypeVar("R")


class SimulatorControls(Generic[F, R]):
    """The controls every simulator offers a test: faults to inject, requests answered so far.

    A simulator sets ``_faults`` (its App consumes them), ``_lock`` (held while its App records)
    and ``_request_log`` (the list its App appends to)."""

    _faults: FaultBook[F]
    _lock: threading.RLock
    _request_log: list[R]

    def add_fault(self, fault: F) -> None:
        self._faults.add(fault)

    def clear_faults(self) -> None:
        self._faults.clear()

    def pending_faults(self) -> list[tuple[F, int]]:
        return self._faults.pending()

    @property
    def requests(self) -> list[R]:
        """Every request answered so far (a copy), oldest first."""
        with self._lock:
            return list(self._request_log)

    def clear_requests(self) -> None:
        with self._lock:
            self._request_log.clear()
