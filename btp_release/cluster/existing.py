"""A cluster someone else runs, reached through a kubeconfig: nothing is created or torn down."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from btp_release.cluster._run import Runner, tail
from btp_release.cluster.base import READY_POLICY, ClusterBase
from btp_release.errors import InvalidInput, NotFound
from btp_release.redaction import get_logger
from btp_release.wait import Clock, Poll, Sleeper, WaitPolicy, wait_until

__all__ = ["ExistingCluster"]

log = get_logger("btp_release.cluster")

ApiProbe = Callable[[], Poll[None]]


def _contexts(path: Path) -> tuple[list[str], str | None]:
    """The context names and the current context of the kubeconfig at ``path``."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise NotFound(
            f"kubeconfig {path} does not exist",
            hint="pass the path of an existing kubeconfig (e.g. the one your cluster tool wrote)",
        ) from exc
    except IsADirectoryError as exc:
        raise InvalidInput(f"kubeconfig {path} is a directory", hint="pass the kubeconfig file") from exc
    try:
        data: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InvalidInput(f"kubeconfig {path} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict) or data.get("kind", "Config") != "Config":
        raise InvalidInput(f"{path} is not a kubeconfig (no 'kind: Config' mapping)")
    names = [str(c["name"]) for c in data.get("contexts") or () if isinstance(c, dict) and "name" in c]
    current = data.get("current-context") or None
    return names, str(current) if current else None


class ExistingCluster(ClusterBase):
    """The cluster at ``kubeconfig`` (``context``, default: the kubeconfig's current context).

    The kubeconfig is checked when constructed: :class:`NotFound` if the file is missing,
    :class:`InvalidInput` if it is not a kubeconfig or lacks the context. ``create()`` and
    ``teardown()`` do nothing. ``wait_ready()`` waits until the API server answers — by default
    ``kubectl version`` through the runner; ``probe`` replaces that check (a callable returning a
    :class:`~btp_release.wait.Poll`).
    """

    kind = "existing"

    def __init__(
        self,
        kubeconfig: Path,
        *,
        context: str | None = None,
        name: str | None = None,
        probe: ApiProbe | None = None,
        runner: Runner | None = None,
        kubectl: str = "kubectl",
        ready_policy: WaitPolicy = READY_POLICY,
        clock: Clock = time.monotonic,
        sleeper: Sleeper = time.sleep,
    ) -> None:
        contexts, current = _contexts(kubeconfig)
        if context is not None and context not in contexts:
            raise InvalidInput(
                f"kubeconfig {kubeconfig} has no context {context!r}",
                hint=f"use one of: {', '.join(contexts) or '(none)'}",
            )
        if context is None and current is None:
            raise InvalidInput(
                f"kubeconfig {kubeconfig} has no current-context",
                hint=f"pass context= (one of: {', '.join(contexts) or '(none)'})",
            )
        super().__init__(
            name or context or current or kubeconfig.stem,
            runner=runner,
            kubectl=kubectl,
            ready_policy=ready_policy,
            clock=clock,
            sleeper=sleeper,
        )
        self._kubeconfig = kubeconfig
        self._context = context
        self.probe = probe

    @property
    def kubeconfig(self) -> Path:
        return self._kubeconfig

    @property
    def context(self) -> str | None:
        return self._context

    def create(self) -> None:
        log.info("using existing cluster %r from %s", self.name, self._kubeconfig)

    def teardown(self) -> None:
        """Nothing to do: the cluster belongs to someone else."""

    def _kubectl_probe(self) -> Poll[None]:
        done = self.kubectl().run("version", "-o", "json", "--request-timeout=10s", timeout=30.0)
        try:
            server = json.loads(done.stdout).get("serverVersion") or {}
        except (ValueError, AttributeError):
            server = {}
        if done.ok and isinstance(server, dict) and server:
            return Poll(True, None, f"API server {server.get('gitVersion', '?')} answers")
        reason = tail(done.stderr, 1) or f"exit code {done.returncode}"
        return Poll(False, None, f"kubectl version: {reason}")

    def wait_ready(self, policy: WaitPolicy = READY_POLICY) -> None:
        """Wait (bounded) until the API server answers; raises :class:`Timeout` with the last error."""
        wait_until(
            self.probe or self._kubectl_probe,
            what=f"the API server of cluster {self.name!r} ({self._kubeconfig}) to answer",
            policy=policy,
            clock=self.clock,
            sleeper=self.sleeper,
        )
