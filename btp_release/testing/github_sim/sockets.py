"""The sockets under the simulator: loopback HTTP servers that hand every request to the App.

One server serves every host in the default one-origin layout (``Host`` and path tell the
services apart); the separate-hosts layout runs one server per service. The server plumbing is the
simulators' shared :mod:`btp_release.testing.simserver`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from ..simserver import LoopbackServer, ServerThreads, SimHandler
from .protocol import Service

if TYPE_CHECKING:
    from .server import App


class Handler(SimHandler):
    """Feeds every method to the App; resets the socket when told to."""

    server_version = "GitHub.com"
    server: _Server


class _Server(LoopbackServer):
    """One host of the simulator on an ephemeral loopback port."""

    def __init__(self, app: App, service: Service) -> None:
        self.service = service
        super().__init__(app, Handler)


class Servers:
    """One server per service in ``services`` (the API's also answers the others' paths in the
    one-origin layout), each served by its own thread."""

    def __init__(self, app: App, services: Iterable[Service]) -> None:
        self.app = app
        self._servers = {service: _Server(app, service) for service in services}
        self._threads = ServerThreads(
            {service.value: server for service, server in self._servers.items()}, prefix="github-sim"
        )
        for service, server in self._servers.items():
            app.direct[service] = server.origin

    def origin(self, service: Service) -> str:
        return self._servers[service].origin

    def start(self) -> None:
        self._threads.start()

    def stop(self) -> None:
        self._threads.stop()
