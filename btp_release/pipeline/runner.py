"""The seam between the ``e2e`` stage and whatever tests the module on a cluster.

The stage hands a runner an :class:`E2ERequest` naming the module and image **by digest** (so the
runner installs exactly what will be published) and records the :class:`E2EResult` it gets back in
the release's provenance. Runners are plain objects with a ``name`` and a ``run`` method; the config
names one as ``package.module:factory`` (``e2e-runner``), the factory taking no arguments.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Literal, Protocol, runtime_checkable

import attrs

from btp_release.errors import InvalidInput
from btp_release.module.spec import ManagerRef

__all__ = ["E2ERequest", "E2EResult", "E2ERunner", "load_runner"]


@attrs.frozen(kw_only=True)
class E2ERequest:
    """What to test: references by digest (``repo@sha256:…``), the version, the credentials mode.

    ``upgrade_from`` is the latest published release's module reference (by tag; it is published,
    so immutable in practice) or ``None`` when there is none. ``workdir`` is for reports and
    diagnostics; the runner may leave files there. ``manager`` is the module-config's (None without one).
    """

    version: str
    module_reference: str
    image_reference: str | None
    credentials: Literal["dummy", "real"]
    upgrade_from: str | None
    workdir: Path
    manager: ManagerRef | None = None  # the module-config's manager: what "installed" means


@attrs.frozen
class E2EResult:
    """A verdict: ``passed``, a one-line summary, and where the details (report, diagnostics) are."""

    passed: bool
    summary: str = ""
    report: Path | None = None


@runtime_checkable
class E2ERunner(Protocol):
    """Anything with a ``name`` (recorded in the provenance) and ``run(request) -> E2EResult``.

    ``run`` should return a failed result for test failures and raise the library's errors only for
    problems of its own (cluster unreachable, missing credentials): both stop the release.
    """

    @property
    def name(self) -> str: ...

    def run(self, request: E2ERequest) -> E2EResult: ...


def load_runner(spec: str) -> E2ERunner:
    """Import ``package.module:factory`` and call the factory; every failure is an ``InvalidInput``."""
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise InvalidInput(f"invalid E2E runner {spec!r}", hint="use package.module:factory")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise InvalidInput(f"cannot import E2E runner module {module_name!r}: {exc}") from exc
    factory = getattr(module, attr, None)
    if not callable(factory):
        raise InvalidInput(f"E2E runner {spec!r}: {module_name} has no callable {attr!r}")
    runner = factory()
    if not isinstance(runner, E2ERunner):
        raise InvalidInput(f"E2E runner {spec!r} returned {type(runner).__name__}, which has no name/run")
    return runner
