"""kind (Kubernetes in Docker) through pytest-kind's ``KindCluster``, for machines that have ``kind``.

pytest-kind downloads ``kind`` and ``kubectl`` from the internet when it is not given their paths;
this wrapper always passes the paths of installed programs and refuses to run without ``kind`` on
``PATH``, so nothing is downloaded. pytest-kind runs ``kind`` itself (not through our
:class:`Runner`, without a timeout) and keeps a ``.pytest-kind/<name>`` directory in the working
directory; node readiness is still checked through the runner's ``kubectl``.
"""

from __future__ import annotations

import importlib
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from btp_release.cluster._run import CommandFailed, Runner
from btp_release.cluster.base import READY_POLICY, ClusterBase, cluster_name
from btp_release.cluster.k3d import default_work_dir
from btp_release.errors import NotFound
from btp_release.redaction import get_logger
from btp_release.wait import Clock, Sleeper, WaitPolicy

__all__ = ["KindCluster", "pytest_kind_factory"]

log = get_logger("btp_release.cluster")

KindFactory = Callable[..., Any]


def pytest_kind_factory() -> KindFactory:
    """pytest-kind's ``KindCluster`` class, imported on first use (it pulls in pykube and requests)."""
    try:
        module = importlib.import_module("pytest_kind")
    except ImportError as exc:
        raise NotFound(
            "pytest-kind is not installed", hint="pip install 'btp-release[test]' (or pytest-kind)"
        ) from exc
    factory: KindFactory = module.KindCluster
    return factory


class KindCluster(ClusterBase):
    """A kind cluster ``name`` with an optional ``node_image`` (``kindest/node:v1.31.4``) and kind
    ``config_file`` (e.g. ``containerdConfigPatches`` for a registry mirror).

    ``create()`` re-uses an existing cluster of the same name (pytest-kind's behaviour);
    ``teardown()`` runs ``kind delete cluster``, which succeeds when the cluster is already gone.
    Raises :class:`NotFound` when ``kind`` is not installed, :class:`CommandFailed` when kind fails
    (its output went to the console: pytest-kind does not capture it).
    """

    kind = "kind"

    def __init__(
        self,
        name: str,
        *,
        node_image: str | None = None,
        config_file: Path | None = None,
        work_dir: Path | None = None,
        kubeconfig: Path | None = None,
        kind: str = "kind",
        which: Callable[[str], str | None] = shutil.which,
        factory: KindFactory | None = None,
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
        self.node_image = node_image
        self.config_file = config_file
        self.work_dir = work_dir or default_work_dir("kind", name)
        self._kubeconfig = kubeconfig or self.work_dir / "kubeconfig"
        self.kind_program = kind
        self.which = which
        self._factory = factory
        self._cluster: Any = None

    @property
    def kubeconfig(self) -> Path:
        return self._kubeconfig

    @property
    def context(self) -> str | None:
        return f"kind-{self.name}"

    def kind_path(self) -> Path | None:
        found = self.which(self.kind_program)
        return Path(found) if found else None

    def _pytest_kind(self) -> Any:
        if self._cluster is None:
            kind_path = self.kind_path()
            if kind_path is None:
                raise NotFound(
                    f"{self.kind_program!r} is not on PATH",
                    hint="install kind (https://kind.sigs.k8s.io/docs/user/quick-start/#installation); "
                    "btp-release never lets pytest-kind download it",
                )
            kubectl = self.which(self.kubectl_binary)
            factory = self._factory or pytest_kind_factory()
            self._kubeconfig.parent.mkdir(parents=True, exist_ok=True)
            self._cluster = factory(
                name=self.name,
                kubeconfig=self._kubeconfig,
                image=self.node_image,
                kind_path=kind_path,
                kubectl_path=Path(kubectl) if kubectl else None,
            )
        return self._cluster

    def create(self) -> None:
        cluster = self._pytest_kind()
        log.info("creating kind cluster %r (kept if it exists)", self.name)
        try:
            cluster.create(config_file=self.config_file)
        except subprocess.CalledProcessError as exc:
            raise CommandFailed(
                f"creating kind cluster {self.name!r} failed: `{_shown(exc.cmd)}` exited with "
                f"{exc.returncode} (its output is above, in the console)",
                argv=_argv(exc.cmd),
                returncode=exc.returncode,
                output_tail="",
                hint="check that Docker runs; teardown() removes a half-created cluster",
            ) from exc

    def teardown(self) -> None:
        if self._cluster is None and self.kind_path() is None:
            log.info("kind is not installed, so no kind cluster %r exists; nothing to tear down", self.name)
            return
        cluster = self._pytest_kind()
        try:
            cluster.delete()
        except subprocess.CalledProcessError as exc:
            raise CommandFailed(
                f"deleting kind cluster {self.name!r} failed: "
                f"`{_shown(exc.cmd)}` exited with {exc.returncode}",
                argv=_argv(exc.cmd),
                returncode=exc.returncode,
                output_tail="",
                hint=f"remove it by hand: kind delete cluster --name {self.name}",
            ) from exc
        self._kubeconfig.unlink(missing_ok=True)


def _argv(cmd: object) -> list[str]:
    return [str(part) for part in cmd] if isinstance(cmd, list | tuple) else [str(cmd)]


def _shown(cmd: object) -> str:
    return " ".join(_argv(cmd))
