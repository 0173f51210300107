"""A real OCI registry (Debian's ``docker-registry``, distribution 2.8) on 127.0.0.1.

The registry the product itself starts where it needs one of its own: next to a throwaway cluster
(:class:`btp_release.cluster.LocalRegistry` runs it when the program is installed) and in a
rehearsal; the test suite uses it too. Started on a free loopback port with filesystem storage in a
temporary directory, optionally with htpasswd basic auth, bearer-token auth through a
:class:`TokenAuthority` (``token_auth=``, e.g. the test suite's
``btp_release.testing.TokenServer``) or any raw ``auth`` config; stopped by PID. Needs the
``docker-registry`` binary (``apt-get install docker-registry``); :func:`registry_binary` tells.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any, Protocol

import httpx
import yaml

__all__ = ["LocalRegistry", "TokenAuthority", "registry_binary"]


class TokenAuthority(Protocol):
    """The realm of a registry with bearer-token auth: a server that issues the tokens the registry
    trusts. ``registry_auth_config()`` is the registry's ``auth:`` section (``token:`` with realm,
    service, issuer and root certificate bundle); a server not yet ``running`` is started with the
    registry and stopped with it."""

    @property
    def running(self) -> bool: ...

    def start(self) -> Any: ...

    def stop(self) -> None: ...

    def registry_auth_config(self) -> dict[str, Any]: ...


def registry_binary() -> str | None:
    return shutil.which("docker-registry") or shutil.which("registry")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _bcrypt_htpasswd(user: str, password: str) -> str:
    htpasswd = shutil.which("htpasswd")
    if htpasswd is None:
        raise RuntimeError("htpasswd (apache2-utils) is needed for a registry with basic auth")
    done = subprocess.run(
        [htpasswd, "-Bbn", user, password], capture_output=True, text=True, check=True, timeout=30
    )
    return done.stdout.strip() + "\n"


class LocalRegistry:
    """``with LocalRegistry() as reg: reg.host`` → ``"127.0.0.1:PORT"``; ``reg.url`` → ``http://…``.

    ``basic_auth=(user, password)`` enables htpasswd auth; ``token_auth=`` a :class:`TokenAuthority`
    enables the bearer-token flow of real registries (the registry trusts that server's tokens; a
    server not yet started is started here and stopped with the registry); ``auth`` passes a raw
    distribution ``auth:`` section instead. ``storage`` may point at an existing directory.
    """

    def __init__(
        self,
        *,
        basic_auth: tuple[str, str] | None = None,
        auth: dict[str, Any] | None = None,
        token_auth: TokenAuthority | None = None,
        storage: Path | None = None,
        tls: tuple[Path, Path] | None = None,
        startup_timeout: float = 15.0,
    ) -> None:
        self.tls = tls  # (certificate, key) PEM files: serve HTTPS
        self.basic_auth = basic_auth
        self.auth = auth
        self.token_auth = token_auth
        self._owns_token_server = False
        self.startup_timeout = startup_timeout
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._storage = storage
        self._process: subprocess.Popen[bytes] | None = None
        self.port = 0

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}"

    @property
    def storage(self) -> Path:
        assert self._storage is not None
        return self._storage

    def start(self) -> LocalRegistry:
        binary = registry_binary()
        if binary is None:
            raise RuntimeError("docker-registry is not installed (apt-get install docker-registry)")
        self._tmp = tempfile.TemporaryDirectory(prefix="btp-release-registry-")
        work = Path(self._tmp.name)
        if self._storage is None:
            self._storage = work / "store"
        self._storage.mkdir(parents=True, exist_ok=True)
        if self.token_auth is not None and not self.token_auth.running:
            self.token_auth.start()
            self._owns_token_server = True
        for _attempt in range(5):  # the free port can be taken between probe and bind
            self.port = _free_port()
            config: dict[str, Any] = {
                "version": 0.1,
                "log": {"level": "warn", "accesslog": {"disabled": True}},
                "storage": {
                    "filesystem": {"rootdirectory": str(self._storage)},
                    "delete": {"enabled": True},
                    "maintenance": {"uploadpurging": {"enabled": False}},
                },
                "http": {"addr": self.host},
            }
            if self.tls:
                config["http"]["tls"] = {"certificate": str(self.tls[0]), "key": str(self.tls[1])}
            if self.basic_auth:
                htpasswd = work / "htpasswd"
                htpasswd.write_text(_bcrypt_htpasswd(*self.basic_auth))
                config["auth"] = {"htpasswd": {"realm": "btp-release", "path": str(htpasswd)}}
            elif self.token_auth is not None:
                config["auth"] = self.token_auth.registry_auth_config()
            elif self.auth:
                config["auth"] = self.auth
            (work / "config.yml").write_text(yaml.safe_dump(config))
            log = (work / "registry.log").open("wb")
            self._process = subprocess.Popen(
                [binary, "serve", str(work / "config.yml")], stdout=log, stderr=subprocess.STDOUT
            )
            if self._wait_ready():
                return self
            self._kill()
        raise RuntimeError(f"the registry did not start; see {work / 'registry.log'}")

    def _wait_ready(self) -> bool:
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            assert self._process is not None
            if self._process.poll() is not None:
                return False
            try:
                # readiness only: whether the process answers, not whom to trust
                probe = httpx.get(f"{self.url}/v2/", timeout=1.0, verify=False)  # noqa: S501
                if probe.status_code in (200, 401):
                    return True
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        return False

    def _kill(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=10)
        self._process = None

    def stop(self) -> None:
        self._kill()
        if self._owns_token_server and self.token_auth is not None:
            self.token_auth.stop()
            self._owns_token_server = False
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> LocalRegistry:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
