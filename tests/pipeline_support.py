"""Shared set-up of pipeline tests: the example module released against the GitHub simulator, a real
registry and (where it can run) the private Docker daemon."""

from __future__ import annotations

import contextlib
import datetime
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from btp_release.github import GitHubClient
from btp_release.images import ImageBuilder
from btp_release.oci import RegistryClient
from btp_release.pipeline import Event, ReleaseContext, ReleasePipeline
from btp_release.retry import RetryPolicy
from btp_release.testing import FakeClock, GitHubSimulator, LocalRegistry
from btp_release.testing.release import ScriptedRunner, commit_checkout, example_config

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "btp-operator"
VERSION = "1.2.0"
# Every E2E verdict gets the same stamp, as when a resumed run follows within the second: whether a
# re-recorded verdict is byte-identical to a staged one decides which path a resume takes.
STAMP = datetime.datetime(2025, 1, 1, tzinfo=datetime.UTC)


class Rig:
    """One simulator, one registry, one module directory; ``pipeline()`` wires a fresh pipeline to them
    (as a new process would: nothing is shared between pipelines but the servers)."""

    def __init__(
        self,
        sim: GitHubSimulator,
        registry: LocalRegistry,
        module_dir: Path,
        workdir: Path,
        daemon: Any | None = None,
    ) -> None:
        self.sim = sim
        self.registry = registry
        self.module_dir = module_dir
        self.workdir = workdir
        self.daemon = daemon
        self.clock = FakeClock()
        self.events: list[Event] = []
        self.runners: list[ScriptedRunner] = []
        # The module files are a clean checkout whose commit is the head of main on "GitHub", as in a
        # workflow that checked out the commit it releases.
        self.commit = sim.add_commit("module files", sha=commit_checkout(module_dir))

    def new_commit(self, message: str) -> str:
        """A change committed in the module's checkout and pushed to main (what a merged PR is)."""
        notes = self.module_dir / "CHANGES.md"
        with notes.open("a", encoding="utf-8") as handle:
            handle.write(f"- {message}\n")
        self.commit = self.sim.add_commit(message, sha=commit_checkout(self.module_dir, message))
        return self.commit

    def github(self, token: str | None = None, transport: Any = None) -> GitHubClient:
        return GitHubClient(
            "kyma-project/btp-manager",
            token=self.sim.token if token is None else token,
            api_url=self.sim.api_url,
            transport=transport,
            retry=RetryPolicy(jitter=0, attempts=3),
            clock=self.clock,
            sleeper=self.clock.sleep,
            environ={},
        )

    def images(self, docker: Callable[[Any], Any] | None = None) -> Callable[[], ImageBuilder] | None:
        """The pipeline's images factory: an ``ImageBuilder`` on the private daemon, whose
        ``docker.DockerClient`` goes through ``docker`` first when given (to observe or cut its streams)."""
        daemon = self.daemon
        if daemon is None:
            return None
        wrap = docker or (lambda client: client)
        return lambda: ImageBuilder(wrap(daemon.client()), docker_host=daemon.host)

    def pipeline(
        self,
        version: str = VERSION,
        *,
        outcomes: Iterable[bool | BaseException] = (),
        token: str | None = None,
        registry_host: str | None = None,
        runner: Any = "scripted",
        overwrite: bool = False,
        ref: str = "main",
        github_transport: Any = None,
        registry_transport: Any = None,
        docker: Callable[[Any], Any] | None = None,
        **config: Any,
    ) -> ReleasePipeline:
        host = registry_host or self.registry.host
        stack = contextlib.ExitStack()
        github = stack.enter_context(self.github(token, github_transport))
        client = stack.enter_context(
            RegistryClient(
                host,
                transport=registry_transport,
                retry=RetryPolicy(jitter=0, attempts=2),
                clock=self.clock,
                sleeper=self.clock.sleep,
            )
        )
        if runner == "scripted":
            runner = ScriptedRunner(client, outcomes)
            self.runners.append(runner)
        fields = {"e2e_required": runner is not None, **config}
        ctx = ReleaseContext(
            example_config(self.module_dir, github_api_url=self.sim.api_url, registry=host, **fields),
            version,
            github=github,
            registries={host: client},
            images=self.images(docker),
            e2e_runner=runner,
            ref=ref,
            overwrite=overwrite,
            reporter=self.events.append,
            workdir=self.workdir,
            tool_versions={"btp-release": "test"},
            now=lambda: STAMP,
        )
        stack.enter_context(ctx)
        return ReleasePipeline(ctx, resources=stack)


def pipeline_with_transports(
    rig: Rig,
    *,
    github: Any = None,
    registry: Any = None,
    outcomes: Iterable[bool | BaseException] = (),
    overwrite: bool = False,
) -> ReleasePipeline:
    """``rig.pipeline()`` whose GitHub and registry clients send through the given ``httpx``
    transports (``None``: the default one), to cut or observe requests at the HTTP boundary."""
    return rig.pipeline(
        outcomes=outcomes, overwrite=overwrite, github_transport=github, registry_transport=registry
    )
