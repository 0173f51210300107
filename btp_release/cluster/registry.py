"""A plain-HTTP OCI registry next to the cluster, and the k3s ``registries.yaml`` that mirrors it.

E2E pushes the module's images and artifact to a local registry and the cluster pulls them under a
stable name (``registry.localhost:5000/…``) that a mirror entry maps to wherever the registry
really listens. See spec/seed-pipeline.md, "E2E on k3s".
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Literal, Self
from urllib.parse import urlsplit

import attrs
import httpx
import yaml

from btp_release.cluster._run import Runner, SubprocessRunner, check
from btp_release.errors import InvalidInput, NotFound
from btp_release.redaction import get_logger
from btp_release.wait import Clock, Poll, Sleeper, WaitPolicy, wait_until

if TYPE_CHECKING:
    from btp_release.localservices.registry import LocalRegistry as BinaryRegistry

__all__ = ["DEFAULT_MIRROR", "LocalRegistry", "RegistryEndpoint", "registries_yaml"]

log = get_logger("btp_release.cluster")

DEFAULT_MIRROR = "registry.localhost:5000"
REGISTRY_IMAGE = "registry:2"


def _endpoint_url(endpoint: str) -> str:
    url = endpoint if "://" in endpoint else f"http://{endpoint}"
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.path not in ("", "/"):
        raise InvalidInput(
            f"invalid registry endpoint {endpoint!r}", hint="use HOST:PORT or http(s)://HOST:PORT"
        )
    return f"{parts.scheme}://{parts.netloc}"


def registries_yaml(mirrors: Mapping[str, str]) -> str:
    """k3s's ``registries.yaml`` mapping each mirror name to one endpoint (``HOST:PORT`` means http).

    The format is k3s's (https://docs.k3s.io/installation/private-registry):
    ``mirrors: {NAME: {endpoint: [URL]}}``, plus ``configs: {ENDPOINT-HOST: {tls:
    {insecure_skip_verify: true}}}`` so an endpoint that answers TLS with a self-signed certificate
    works too. k3d takes the same file (``--registry-config``).
    """
    if not mirrors:
        raise InvalidInput("no registry mirror given", hint="pass at least one NAME → endpoint pair")
    config: dict[str, dict[str, object]] = {"mirrors": {}, "configs": {}}
    for name, endpoint in mirrors.items():
        if not name or "/" in name or "://" in name or any(c.isspace() for c in name):
            raise InvalidInput(f"invalid registry mirror name {name!r}", hint="use HOST[:PORT], no scheme")
        url = _endpoint_url(endpoint)
        config["mirrors"][name] = {"endpoint": [url]}
        config["configs"][urlsplit(url).netloc] = {"tls": {"insecure_skip_verify": True}}
    return yaml.safe_dump(config, sort_keys=True)


@attrs.frozen
class RegistryEndpoint:
    """Where a local registry listens (``host``, as the cluster host reaches it) and the name
    (``mirror``) manifests use for it. Push to ``host``; reference images as ``mirror/…``."""

    host: str
    mirror: str = DEFAULT_MIRROR

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    def mirrors(self) -> dict[str, str]:
        """The mapping for :func:`registries_yaml` / ``K3sCluster(mirrors=…)``."""
        return {self.mirror: self.url}


class LocalRegistry:
    """A ``registry:2``-compatible registry for the cluster to pull from; ``start()`` → endpoint.

    ``mode="auto"`` uses the ``docker-registry`` program (Debian's distribution 2.8, through
    :class:`btp_release.localservices.LocalRegistry`, on a free loopback port, stopped with this
    process) when it is installed, else ``docker run registry:2`` published on
    ``127.0.0.1:<port>`` (loopback only: the registry has no authentication). ``start()`` reuses a
    running container of the same name and waits (bounded) until ``/v2/`` answers; ``stop()`` is
    idempotent.
    """

    def __init__(
        self,
        *,
        mirror: str = DEFAULT_MIRROR,
        port: int = 5000,
        mode: Literal["auto", "binary", "docker"] = "auto",
        container_name: str = "btp-release-registry",
        image: str = REGISTRY_IMAGE,
        runner: Runner | None = None,
        which: Callable[[str], str | None] = shutil.which,
        http: httpx.Client | None = None,
        ready_policy: WaitPolicy = WaitPolicy(timeout=60.0, interval=0.5, backoff=1.5, max_interval=5.0),
        clock: Clock = time.monotonic,
        sleeper: Sleeper = time.sleep,
    ) -> None:
        if not 0 < port < 65536:
            raise InvalidInput(f"invalid registry port {port}", hint="use a TCP port between 1 and 65535")
        self.mirror = mirror
        self.port = port
        self.mode = mode
        self.container_name = container_name
        self.image = image
        self.runner: Runner = runner if runner is not None else SubprocessRunner()
        self.which = which
        self._http = http
        self.ready_policy = ready_policy
        self.clock = clock
        self.sleeper = sleeper
        self._binary: BinaryRegistry | None = None
        self._container = False
        self._endpoint: RegistryEndpoint | None = None

    @property
    def endpoint(self) -> RegistryEndpoint:
        if self._endpoint is None:
            raise NotFound("the local registry is not started", hint="call start() first")
        return self._endpoint

    def _pick_mode(self) -> Literal["binary", "docker"]:
        has_binary = bool(self.which("docker-registry") or self.which("registry"))
        if self.mode == "binary" and not has_binary:
            raise NotFound(
                "docker-registry is not installed",
                hint="apt-get install docker-registry, or use mode='docker'",
            )
        if self.mode == "binary" or (self.mode == "auto" and has_binary):
            return "binary"
        return "docker"

    def start(self) -> RegistryEndpoint:
        if self._endpoint is not None:
            return self._endpoint
        if self._pick_mode() == "binary":
            from btp_release.localservices.registry import LocalRegistry as BinaryRegistry

            try:
                self._binary = BinaryRegistry().start()
            except RuntimeError as exc:
                raise NotFound(f"could not start docker-registry: {exc}", hint="use mode='docker'") from exc
            endpoint = RegistryEndpoint(self._binary.host, self.mirror)
        else:
            self._start_container()
            endpoint = RegistryEndpoint(f"127.0.0.1:{self.port}", self.mirror)
            self._wait_ready(endpoint)
        log.info("local registry at %s, mirrored as %s", endpoint.url, endpoint.mirror)
        self._endpoint = endpoint
        return endpoint

    def _start_container(self) -> None:
        inspect = ["docker", "inspect", "--format", "{{.State.Running}}", self.container_name]
        state = self.runner.run(inspect, timeout=60.0)
        self._container = True
        if state.ok and state.stdout.strip() == "true":
            log.info("reusing running registry container %s", self.container_name)
            return
        if state.ok:
            argv = ["docker", "start", self.container_name]
        else:
            published = f"127.0.0.1:{self.port}:5000"
            argv = ["docker", "run", "-d", "--name", self.container_name, "-p", published, self.image]
        check(
            self.runner.run(argv, timeout=300.0),
            what=f"starting the registry container {self.container_name}",
            argv=argv,
            hint=f"check that Docker runs and port {self.port} is free, or install docker-registry",
        )

    def _wait_ready(self, endpoint: RegistryEndpoint) -> None:
        http = self._http or httpx.Client(timeout=5.0, trust_env=False)
        try:

            def probe() -> Poll[None]:
                try:
                    status = http.get(f"{endpoint.url}/v2/").status_code
                except httpx.TransportError as exc:
                    return Poll(False, None, f"{type(exc).__name__}: {exc}")
                return Poll(status in (200, 401), None, f"GET /v2/ answered {status}")

            wait_until(
                probe,
                what=f"the registry at {endpoint.url} to answer",
                policy=self.ready_policy,
                clock=self.clock,
                sleeper=self.sleeper,
            )
        finally:
            if self._http is None:
                http.close()

    def stop(self) -> None:
        if self._binary is not None:
            self._binary.stop()
            self._binary = None
        if self._container:
            argv = ["docker", "rm", "--force", self.container_name]
            done = self.runner.run(argv, timeout=120.0)
            if not done.ok and "no such container" not in done.stderr.lower():
                check(done, what=f"removing the registry container {self.container_name}", argv=argv)
            self._container = False
        self._endpoint = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
