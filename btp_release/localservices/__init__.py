"""Real local programs that btp_release itself starts and stops: part of the library, not test doubles.

- :class:`LocalRegistry` — Debian's ``docker-registry`` (distribution 2.8) on a free loopback port,
  with optional basic, token or TLS settings; behind :class:`btp_release.cluster.LocalRegistry`
  (the registry a throwaway cluster pulls from) and the ``rehearse`` command.
- :class:`DockerDaemon` — a private ``dockerd`` on its own socket, data-root and exec-root.

Each needs its program installed (``docker-registry``; ``dockerd`` and root) and says so when it
is missing. :mod:`btp_release.testing` builds its fixtures on these; nothing here knows about it.
"""

from __future__ import annotations

from btp_release.localservices.docker_daemon import Availability, DockerDaemon
from btp_release.localservices.registry import LocalRegistry, TokenAuthority, registry_binary

__all__ = ["Availability", "DockerDaemon", "LocalRegistry", "TokenAuthority", "registry_binary"]
