"""k3s in Docker containers through k3d: the cluster for machines without root or without Linux."""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from btp_release.cluster._run import CommandFailed, Runner, check
from btp_release.cluster.base import READY_POLICY, ClusterBase, cluster_name
from btp_release.cluster.registry import registries_yaml
from btp_release.cluster.versions import K3sVersion
from btp_release.errors import InvalidInput
from btp_release.redaction import get_logger
from btp_release.wait import Clock, Sleeper, WaitPolicy

__all__ = ["K3dCluster"]

log = get_logger("btp_release.cluster")

K3S_IMAGE = "rancher/k3s"
DISABLE_TRAEFIK = "--disable=traefik@server:*"


def default_work_dir(kind: str, name: str) -> Path:
    return Path(tempfile.gettempdir()) / "btp-release" / f"{kind}-{name}"


class K3dCluster(ClusterBase):
    """``k3d cluster create NAME`` (k3s ``k3s_version`` in Docker, traefik disabled).

    Registries, as k3d spells them: ``registry_create`` (``NAME[:HOST][:HOSTPORT]``, e.g.
    ``registry.localhost:0.0.0.0:5000``; created and deleted with the cluster), ``registry_use``
    (existing k3d registries, ``k3d-NAME:PORT``) and ``mirrors`` (written to a ``registries.yaml``
    in ``work_dir`` and passed as ``--registry-config``). The user's default kubeconfig is left
    alone: the cluster's own is written to ``kubeconfig`` (default ``work_dir/kubeconfig``).
    ``create()`` keeps an existing cluster of the same name; ``teardown()`` is idempotent.
    """

    kind = "k3d"

    def __init__(
        self,
        name: str,
        *,
        k3s_version: str | None = None,
        servers: int = 1,
        agents: int = 0,
        registry_create: str | None = None,
        registry_use: Sequence[str] = (),
        mirrors: Mapping[str, str] | None = None,
        k3s_args: Sequence[str] = (DISABLE_TRAEFIK,),
        work_dir: Path | None = None,
        kubeconfig: Path | None = None,
        k3d: str = "k3d",
        create_timeout: float = 600.0,
        runner: Runner | None = None,
        kubectl: str = "kubectl",
        ready_policy: WaitPolicy = READY_POLICY,
        clock: Clock = time.monotonic,
        sleeper: Sleeper = time.sleep,
    ) -> None:
        super().__init__(
            cluster_name(name),
            runner=runner,
            kubectl=kubectl,
            ready_policy=ready_policy,
            clock=clock,
            sleeper=sleeper,
        )
        if servers < 1 or agents < 0:
            raise InvalidInput(
                f"k3d cluster {name!r}: {servers} server(s), {agents} agent(s)",
                hint="use at least one server and zero or more agents",
            )
        self.k3s_version = K3sVersion.parse(k3s_version) if k3s_version else None
        self.servers = servers
        self.agents = agents
        self.registry_create = registry_create
        self.registry_use = tuple(registry_use)
        self.registries = registries_yaml(mirrors) if mirrors else None
        self.k3s_args = tuple(k3s_args)
        self.work_dir = work_dir or default_work_dir("k3d", name)
        self._kubeconfig = kubeconfig or self.work_dir / "kubeconfig"
        self.k3d = k3d
        self.create_timeout = create_timeout

    @property
    def kubeconfig(self) -> Path:
        return self._kubeconfig

    @property
    def context(self) -> str | None:
        return f"k3d-{self.name}"

    @property
    def registries_file(self) -> Path:
        return self.work_dir / "registries.yaml"

    def create_argv(self) -> list[str]:
        argv = [self.k3d, "cluster", "create", self.name]
        argv += ["--servers", str(self.servers), "--agents", str(self.agents)]
        if self.k3s_version is not None:
            argv += ["--image", f"{K3S_IMAGE}:{self.k3s_version.image_tag}"]
        for arg in self.k3s_args:
            argv += ["--k3s-arg", arg]
        if self.registry_create:
            argv += ["--registry-create", self.registry_create]
        for registry in self.registry_use:
            argv += ["--registry-use", registry]
        if self.registries is not None:
            argv += ["--registry-config", str(self.registries_file)]
        argv += ["--kubeconfig-update-default=false", "--kubeconfig-switch-context=false"]
        argv += ["--wait", "--timeout", f"{self.create_timeout:g}s"]
        return argv

    def exists(self) -> bool:
        """Whether k3d knows a cluster of this name (``k3d cluster list -o json``)."""
        argv = [self.k3d, "cluster", "list", "-o", "json"]
        done = check(self.runner.run(argv, timeout=60.0), what="listing k3d clusters", argv=argv)
        try:
            clusters = json.loads(done.stdout or "[]")
            return any(isinstance(c, dict) and c.get("name") == self.name for c in clusters)
        except (ValueError, TypeError) as exc:
            raise CommandFailed(
                f"`{' '.join(argv)}` printed something that is not a JSON list: {done.stdout[:200]!r}",
                argv=argv,
                returncode=done.returncode,
                output_tail=done.stdout[-500:],
                hint="check the k3d version (v5 or later is needed)",
            ) from exc

    def create(self) -> None:
        """Create the cluster unless it exists, then write its kubeconfig."""
        if self.exists():
            log.info("k3d cluster %r exists; keeping it", self.name)
        else:
            if self.registries is not None:
                self.registries_file.parent.mkdir(parents=True, exist_ok=True)
                self.registries_file.write_text(self.registries, encoding="utf-8")
            argv = self.create_argv()
            check(
                self.runner.run(argv, timeout=self.create_timeout + 60.0),
                what=f"creating k3d cluster {self.name!r}",
                argv=argv,
                hint="check that Docker runs; teardown() removes a half-created cluster",
            )
        self._kubeconfig.parent.mkdir(parents=True, exist_ok=True)
        argv = [self.k3d, "kubeconfig", "write", self.name, "--output", str(self._kubeconfig), "--overwrite"]
        check(
            self.runner.run(argv, timeout=60.0),
            what=f"writing the kubeconfig of k3d cluster {self.name!r}",
            argv=argv,
        )

    def teardown(self) -> None:
        """Delete the cluster (and a registry created with it) if it exists; remove our files."""
        if self.exists():
            argv = [self.k3d, "cluster", "delete", self.name]
            check(
                self.runner.run(argv, timeout=300.0),
                what=f"deleting k3d cluster {self.name!r}",
                argv=argv,
                hint=f"remove it by hand (docker ps -a --filter label=k3d.cluster={self.name})",
            )
            log.info("k3d cluster %r deleted", self.name)
        else:
            log.info("k3d cluster %r does not exist; nothing to tear down", self.name)
        self._kubeconfig.unlink(missing_ok=True)
        self.registries_file.unlink(missing_ok=True)
