"""The :class:`Cluster` interface, and node readiness through ``kubectl`` shared by the implementations."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol, Self

import attrs

from btp_release.cluster._run import Completed, Runner, SubprocessRunner, tail
from btp_release.errors import InvalidInput
from btp_release.redaction import get_logger
from btp_release.wait import Clock, Poll, Sleeper, WaitPolicy, wait_until

__all__ = ["Cluster", "ClusterBase", "Kubectl", "cluster_name", "node_readiness"]

log = get_logger("btp_release.cluster")

_NAME = re.compile(r"[a-z]([a-z0-9-]*[a-z0-9])?")
READY_POLICY = WaitPolicy(timeout=300.0, interval=2.0, backoff=1.5, max_interval=10.0)


class Cluster(Protocol):
    """A Kubernetes cluster for one E2E run.

    ``create()`` brings it up (safe to call again: an existing cluster is kept), ``wait_ready()``
    blocks until its nodes are Ready (bounded, raises :class:`~btp_release.errors.Timeout` with the
    last node state), ``kubeconfig``/``context`` say how to reach it (e.g.
    :meth:`btp_release.kube.KubeClient.from_kubeconfig`), ``teardown()`` removes it and may be
    called any number of times. As a context manager it creates and waits on entry and tears
    down on exit, also when entry fails halfway.
    """

    @property
    def name(self) -> str: ...

    @property
    def kubeconfig(self) -> Path: ...

    @property
    def context(self) -> str | None: ...

    def create(self) -> None: ...

    def wait_ready(self, policy: WaitPolicy = READY_POLICY) -> None: ...

    def teardown(self) -> None: ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...


@attrs.frozen
class Kubectl:
    """``kubectl`` bound to one kubeconfig (and context), run through a :class:`Runner`."""

    runner: Runner
    kubeconfig: Path
    context: str | None = None
    binary: str = "kubectl"

    def argv(self, *args: str) -> list[str]:
        context = ["--context", self.context] if self.context else []
        return [self.binary, "--kubeconfig", str(self.kubeconfig), *context, *args]

    def run(self, *args: str, timeout: float = 60.0) -> Completed:
        return self.runner.run(self.argv(*args), timeout=timeout)


def _ready_condition(node: Any) -> str:
    conditions = (node.get("status") or {}).get("conditions") or []
    ready = next((c for c in conditions if isinstance(c, dict) and c.get("type") == "Ready"), None)
    if ready is None:
        return "Ready=Unknown (no Ready condition yet)"
    text = f"Ready={ready.get('status', 'Unknown')}"
    detail = ": ".join(str(ready[k]) for k in ("reason", "message") if ready.get(k))
    return f"{text} ({detail})" if detail and ready.get("status") != "True" else text


def node_readiness(nodes_json: str) -> Poll[None]:
    """Whether ``kubectl get nodes -o json`` shows at least one node and every node Ready=True.

    The state names each node with its Ready condition (reason and message while not ready), so a
    timeout says e.g. ``node ci-1: Ready=False (KubeletNotReady: container runtime not ready)``.
    """
    try:
        items = json.loads(nodes_json).get("items")
    except (ValueError, AttributeError):
        return Poll(False, None, f"unreadable kubectl output: {tail(nodes_json, 1)[:200]!r}")
    if not isinstance(items, list) or not items:
        return Poll(False, None, "no node registered yet")
    states = []
    all_ready = True
    for node in items:
        name = str((node.get("metadata") or {}).get("name", "?")) if isinstance(node, dict) else "?"
        condition = _ready_condition(node) if isinstance(node, dict) else "Ready=Unknown"
        all_ready = all_ready and condition == "Ready=True"
        states.append(f"node {name}: {condition}")
    return Poll(all_ready, None, "; ".join(states))


class ClusterBase:
    """Shared plumbing: the injected runner, clock and sleeper, node readiness and the context manager.

    Subclasses implement ``create``, ``teardown`` and ``kubeconfig``; ``wait_ready`` defaults to
    polling ``kubectl get nodes`` until every node is Ready.
    """

    kind = "cluster"

    def __init__(
        self,
        name: str,
        *,
        runner: Runner | None = None,
        kubectl: str = "kubectl",
        ready_policy: WaitPolicy = READY_POLICY,
        clock: Clock = time.monotonic,
        sleeper: Sleeper = time.sleep,
    ) -> None:
        self._name = name
        self.runner: Runner = runner if runner is not None else SubprocessRunner()
        self.kubectl_binary = kubectl
        self.ready_policy = ready_policy
        self.clock = clock
        self.sleeper = sleeper

    @property
    def name(self) -> str:
        return self._name

    @property
    def kubeconfig(self) -> Path:
        raise NotImplementedError

    @property
    def context(self) -> str | None:
        return None

    def create(self) -> None:
        raise NotImplementedError

    def teardown(self) -> None:
        raise NotImplementedError

    def kubectl(self) -> Kubectl:
        return Kubectl(self.runner, self.kubeconfig, self.context, self.kubectl_binary)

    def wait_ready(self, policy: WaitPolicy = READY_POLICY) -> None:
        """Poll ``kubectl get nodes -o json`` until every node is Ready (bounded by ``policy``)."""
        kubectl = self.kubectl()

        def probe() -> Poll[None]:
            if not kubectl.kubeconfig.is_file():
                return Poll(False, None, f"kubeconfig {kubectl.kubeconfig} not written yet")
            done = kubectl.run("get", "nodes", "-o", "json", "--request-timeout=10s", timeout=30.0)
            if not done.ok:
                # the API server refuses connections until it has started: "not yet", not a failure
                reason = tail(done.stderr, 1) or f"exit code {done.returncode}"
                return Poll(False, None, f"kubectl get nodes failed: {reason}")
            return node_readiness(done.stdout)

        wait_until(
            probe,
            what=f"the nodes of {self.kind} cluster {self.name!r} to be Ready",
            policy=policy,
            clock=self.clock,
            sleeper=self.sleeper,
        )
        log.info("%s cluster %r is ready", self.kind, self.name)

    def __enter__(self) -> Self:
        try:
            self.create()
            self.wait_ready(self.ready_policy)
        except BaseException:
            self._teardown_quietly()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc is None:
            self.teardown()
        else:
            self._teardown_quietly()  # the original error is the one worth seeing

    def _teardown_quietly(self) -> None:
        try:
            self.teardown()
        except Exception:
            log.exception("tearing down %s cluster %r failed", self.kind, self.name)


def cluster_name(name: str, *, max_length: int = 32) -> str:
    """Validate a cluster name: lower-case letters, digits and ``-``, starting with a letter.

    k3d and kind turn the name into container and DNS names, hence the DNS-label rules.
    """
    if len(name) > max_length or not _NAME.fullmatch(name):
        raise InvalidInput(
            f"invalid cluster name {name!r}",
            hint=f"use up to {max_length} lower-case letters, digits and '-', starting with a letter",
        )
    return name
