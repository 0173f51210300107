"""The sockets under the simulator: loopback HTTP servers that hand every request to the App.

One server serves every host in the default one-origin layout (``Host`` and path tell the
services apart); the separate-hosts layout runs one server per service.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import socketserver
import struct
import threading
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from .protocol import ConnectionAborted, Service

if TYPE_CHECKING:
    from .server import App

logger = logging.getLogger(__name__)


class Handler(BaseHTTPRequestHandler):
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
        super().__init__(("127.0.0.1", 0), Handler)

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
    """One server per service in ``services`` (the API's also answers the others' paths in the
    one-origin layout), each served by its own thread."""

    def __init__(self, app: App, services: Iterable[Service]) -> None:
        self.app = app
        self._servers = {service: _Server(app, service) for service in services}
        self._threads: list[threading.Thread] = []
        for service, server in self._servers.items():
            app.direct[service] = server.origin

    def origin(self, service: Service) -> str:
        return self._servers[service].origin

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
        if self._threads:  # shutdown() waits up to a poll interval: do them all at once
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
