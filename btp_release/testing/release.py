"""Pieces for testing whole releases: an E2E runner that passes or fails on demand, and the
example module prepared for a release against local servers (simulator, registry, daemon).

:class:`ScriptedRunner` does what a real runner must do first — fetch the module **by digest** and
find the layer it would install — and then reports the verdict it was told to give. It does not
model a cluster; the real scenarios (issue "E2E tests of a module on throwaway k3s clusters") do.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from btp_release.config import ReleaseConfig
from btp_release.errors import InvalidInput
from btp_release.module import read_module, select_install_layer
from btp_release.oci import Reference, RegistryClient
from btp_release.pipeline.runner import E2ERequest, E2EResult

__all__ = [
    "ScriptedRunner",
    "commit_checkout",
    "example_config",
    "failing_runner",
    "passing_runner",
    "prepare_example_module",
    "push_stand_in_image",
]

BUSYBOX = Path("/bin/busybox")


class ScriptedRunner:
    """An E2E runner whose verdicts are scripted: ``outcomes`` is consumed one per run (``True`` passes,
    ``False`` fails, an exception instance is raised); when it runs out, runs pass.

    Each run reads the module from ``registry`` (default: a client for the reference's registry) by the
    digest in the request (a tag is refused) and checks that its install layer is a raw manifest with a
    CustomResourceDefinition or a Helm chart.
    """

    def __init__(
        self,
        registry: RegistryClient | None = None,
        outcomes: Iterable[bool | BaseException] = (),
        *,
        name: str = "scripted",
    ) -> None:
        self._registry = registry
        self._outcomes = list(outcomes)
        self._name = name
        self.requests: list[E2ERequest] = []
        self.installed: list[str] = []

    @property
    def name(self) -> str:
        return self._name

    def run(self, request: E2ERequest) -> E2EResult:
        self.requests.append(request)
        ref = Reference.parse(request.module_reference)
        if ref.digest is None:
            raise InvalidInput(f"E2E must install by digest, got {ref}")
        with contextlib.ExitStack() as stack:
            registry = self._registry or stack.enter_context(RegistryClient(ref.registry))
            content = read_module(registry, ref.repository, ref.digest)
            found = select_install_layer(
                content.manifest, lambda layer: registry.read_blob(ref.repository, layer)
            )
        if found is None:
            return E2EResult(False, f"{ref}: no install layer (Helm chart or raw manifest with a CRD)")
        self.installed.append(content.digest)
        outcome = self._outcomes.pop(0) if self._outcomes else True
        if isinstance(outcome, BaseException):
            raise outcome
        request.workdir.mkdir(parents=True, exist_ok=True)
        report = request.workdir / "report.txt"
        report.write_text(f"{'passed' if outcome else 'failed'} {content.digest}\n")
        return E2EResult(bool(outcome), "scripted " + ("pass" if outcome else "failure"), report)


def passing_runner() -> ScriptedRunner:
    """``e2e-runner: btp_release.testing.release:passing_runner`` — checks the module, then passes."""
    return ScriptedRunner(name="scripted")


def failing_runner() -> ScriptedRunner:
    """``e2e-runner: btp_release.testing.release:failing_runner`` — checks the module, then fails."""
    return ScriptedRunner(outcomes=[False] * 1000, name="scripted")


def prepare_example_module(example: Path, dest: Path) -> Path:
    """Copy the example module to ``dest`` with ``/bin/busybox`` in its build context (if present)."""
    shutil.copytree(example, dest, dirs_exist_ok=True)
    if BUSYBOX.is_file():
        shutil.copy2(BUSYBOX, dest / "bin" / "busybox")
    return dest


def commit_checkout(directory: Path, message: str = "module files") -> str:
    """Make ``directory`` a git checkout with everything in it committed (a fixed identity and date, so
    the same files give the same commit); returns the commit's sha. A release refuses files that are
    not those of the commit it records, so a test module must be a clean checkout."""
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "btp-release test",
        "GIT_AUTHOR_EMAIL": "test@btp-release.invalid",
        "GIT_COMMITTER_NAME": "btp-release test",
        "GIT_COMMITTER_EMAIL": "test@btp-release.invalid",
        "GIT_AUTHOR_DATE": "2025-01-01T00:00:00Z",
        "GIT_COMMITTER_DATE": "2025-01-01T00:00:00Z",
    }
    for args in (
        ["init", "--quiet"],
        ["add", "--all"],
        ["commit", "--quiet", "--allow-empty", "--no-gpg-sign", "--message", message],
    ):
        subprocess.run(
            ["git", "-C", str(directory), *args], env=env, check=True, capture_output=True, timeout=60
        )
    done = subprocess.run(
        ["git", "-C", str(directory), "rev-parse", "HEAD"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return done.stdout.strip()


def push_stand_in_image(registry: RegistryClient, reference: str, commit: str, work: Path) -> str:
    """Push a tiny OCI image labelled with ``commit``, as the image a Docker daemon (or another job)
    would have built from it; the build stage then adopts it. Returns its digest."""
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {"Labels": {"org.opencontainers.image.revision": commit}},
            "rootfs": {"type": "layers", "diff_ids": []},
        }
    ).encode()
    note = work / "STAND-IN"
    note.write_text("a stand-in for the manager image\n")
    _, pushed = registry.push_files(
        Reference.parse(reference),
        [note],
        "application/vnd.oci.image.layer.v1.tar",
        config=config,
        config_media_type="application/vnd.oci.image.config.v1+json",
    )
    return pushed.digest


def example_config(module_dir: Path, *, github_api_url: str, registry: str, **fields: Any) -> ReleaseConfig:
    """The btp-operator defaults pointed at local servers: GitHub ``github_api_url``, both the module
    and the image in ``registry`` (``host:port``), polling every 0.05 s."""
    values: dict[str, Any] = {
        "module_dir": module_dir,
        "github_api_url": github_api_url,
        "module_registry": f"{registry}/kyma-project/prod/unsigned",
        "image_repo": f"{registry}/kyma-project/prod/btp-manager",
        "poll_interval": 0.05,
        "await_timeout": 30.0,
        # the example's own btp-release.yaml: the 2023 shape and names
        "template_shape": "legacy-2023",
        "module_name": "kyma.project.io/module/btp-operator",
        "default_cr_asset": "btp-operator-default-cr.yaml",
    }
    values.update(fields)
    return ReleaseConfig(**values)
