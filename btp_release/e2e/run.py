"""Running the scenarios on one cluster: a typed report, JUnit XML, and diagnostics when it fails.

``run_scenarios`` is the library function; :class:`ClusterRunner` adapts it to the pipeline's E2E
seam (:class:`~btp_release.pipeline.runner.E2ERunner`): it reads the module **by digest** from the
registry, takes the install layer the seed's rule picks (a Helm chart is rendered with ``helm
template``), connects to a cluster and runs the main and the upgrade scenarios.
"""

from __future__ import annotations

import contextlib
import math
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from types import MappingProxyType
from typing import Any

import attrs

from btp_release.cluster._run import Runner, SubprocessRunner, check
from btp_release.e2e.btp_operator import (
    DEFAULT_SCENARIOS,
    OPERATOR_API,
    SCENARIOS,
    SERVICES_API,
    BtpOperatorModule,
    run_scenario,
)
from btp_release.e2e.diagnostics import Diagnostics, collect_diagnostics
from btp_release.e2e.generic import ModuleUnderTest, module_scenario
from btp_release.e2e.report import Step, Steps
from btp_release.e2e.scenarios import E2ESettings, ServiceCredentials, credentials_secret
from btp_release.errors import BtpReleaseError, InvalidInput
from btp_release.kube import KubeClient, parse_manifest
from btp_release.module import read_module, select_install_layer
from btp_release.module.spec import ManagerRef
from btp_release.oci import Reference, RegistryClient
from btp_release.pipeline.runner import E2ERequest, E2EResult
from btp_release.redaction import get_logger

__all__ = [
    "PLUGINS",
    "ClusterRunner",
    "E2EReport",
    "ModuleManifests",
    "ScenarioContext",
    "ScenarioPlugin",
    "available_scenarios",
    "fetch_module",
    "parse_budgets",
    "plugin_for",
    "render_chart",
    "run_scenarios",
]

log = get_logger(__name__)


@attrs.frozen
class ModuleManifests:
    """What E2E installs of one module version: its raw manifest and default CR, and where from;
    ``name`` (the component name's last element) and the module-config's ``manager`` when known."""

    reference: str
    manifest: bytes
    default_cr: bytes
    name: str = ""
    manager: ManagerRef | None = None

    @property
    def cr_kind(self) -> str:
        objects = parse_manifest(self.default_cr, source=f"default CR of {self.reference}")
        return str(objects[0].get("kind", "")) if len(objects) == 1 else ""


@attrs.frozen
class ScenarioContext:
    """What a plugin's scenario gets: the cluster, the module under test (and the latest release, for an
    upgrade), the credentials, where its steps go and the settings."""

    kube: KubeClient
    module: ModuleManifests
    previous: ModuleManifests | None
    credentials: ServiceCredentials
    steps: Steps
    settings: E2ESettings


@attrs.frozen
class ScenarioPlugin:
    """The scenarios of one module, by name: chosen for a module of that ``name``, or whose default CR is a
    ``cr_kind``. ``default`` are run when none are asked for; ``prerequisites`` are objects the module needs
    before its default CR can be Ready (for the generic scenario too). ``run(scenario, context)`` runs one
    of its ``scenarios`` other than ``module`` and raises at the first failing step; ``diagnostics`` are
    the (apiVersion, kind) pairs collected when a step fails (default: the default CR's)."""

    name: str
    cr_kind: str
    scenarios: tuple[str, ...]
    default: tuple[str, ...]
    run: Callable[[str, ScenarioContext], None]
    prerequisites: Callable[[ServiceCredentials], tuple[dict[str, Any], ...]] = lambda _: ()
    diagnostics: tuple[tuple[str, str], ...] = ()


def _btp_operator(name: str, context: ScenarioContext) -> None:
    previous = context.previous
    run_scenario(
        name,
        context.kube,
        BtpOperatorModule(context.module.manifest, context.module.default_cr),
        BtpOperatorModule(previous.manifest, previous.default_cr) if previous else None,
        context.credentials,
        context.steps,
        context.settings,
    )


GENERIC = ("module",)
PLUGINS: Mapping[str, ScenarioPlugin] = MappingProxyType(
    {
        "btp-operator": ScenarioPlugin(
            name="btp-operator",
            cr_kind="BtpOperator",
            scenarios=(*SCENARIOS, "module"),
            default=("module", *DEFAULT_SCENARIOS),
            run=_btp_operator,
            prerequisites=lambda credentials: (credentials_secret(credentials),),
            diagnostics=(
                (OPERATOR_API, "BtpOperator"),
                (SERVICES_API, "ServiceInstance"),
                (SERVICES_API, "ServiceBinding"),
            ),
        ),
    }
)


def plugin_for(
    module: ModuleManifests, plugins: Mapping[str, ScenarioPlugin] = PLUGINS
) -> ScenarioPlugin | None:
    """The module's plugin by name, else by the kind of its default CR; None: the generic scenario only."""
    if module.name in plugins:
        return plugins[module.name]
    kind = module.cr_kind
    return next((p for p in plugins.values() if kind and p.cr_kind == kind), None)


def available_scenarios(
    module: ModuleManifests, plugins: Mapping[str, ScenarioPlugin] = PLUGINS
) -> tuple[str, ...]:
    plugin = plugin_for(module, plugins)
    return plugin.scenarios if plugin else GENERIC


@attrs.frozen
class E2EReport:
    passed: bool
    summary: str
    steps: tuple[Step, ...]
    junit: Path
    diagnostics: Diagnostics | None


def fetch_module(
    registry: RegistryClient, reference: str, *, runner: Runner | None = None
) -> ModuleManifests:
    """The manifest and default CR of the module at ``reference`` (a digest or a tag).

    The seed's rule picks the install layer: a Helm chart (``application/gzip``) is rendered with
    ``helm template`` (through ``runner``) into the manifest that is then applied; otherwise the raw
    manifest layer is the manifest.
    """
    ref = Reference.parse(reference)
    content = read_module(registry, ref.repository, ref.digest or ref.tag or "")
    found = select_install_layer(content.manifest, lambda layer: registry.read_blob(ref.repository, layer))
    if found is None:
        raise InvalidInput(
            f"module {reference} has no install layer (raw manifest with a CRD, or Helm chart)"
        )
    if content.default_cr is None:
        raise InvalidInput(f"module {reference} has no default CR (needed for the BtpOperator checks)")
    data = registry.read_blob(ref.repository, found[1])
    if found[0] == "helm-chart":
        data = render_chart(data, source=reference, runner=runner or SubprocessRunner())
    component = str((content.descriptor.get("component") or {}).get("name", ""))
    return ModuleManifests(reference, data, content.default_cr, name=component.rsplit("/", 1)[-1])


def render_chart(
    chart: bytes, *, source: str, runner: Runner, release: str = "btp-manager", namespace: str = "kyma-system"
) -> bytes:
    """``helm template`` of a packaged chart (CRDs included): the manifest ``helm install`` would apply.

    It is applied server-side like a raw manifest, so there is no Helm release object and chart hooks
    do not run (the seed's E2E used ``helm upgrade --install``; a module that needs hooks needs that).
    Raises :class:`NotFound` without ``helm`` and ``CommandFailed`` when helm rejects the chart.
    """
    with tempfile.TemporaryDirectory(prefix="btp-release-chart-") as scratch:
        path = Path(scratch) / "chart.tgz"
        path.write_bytes(chart)
        argv = ["helm", "template", release, str(path), "--namespace", namespace, "--include-crds"]
        done = check(runner.run(argv, timeout=120), what=f"render the Helm chart of {source}", argv=argv)
    if not done.stdout.strip():
        raise InvalidInput(f"the Helm chart of {source} renders no objects")
    return done.stdout.encode()


def run_scenarios(
    kube: KubeClient,
    module: ModuleManifests,
    credentials: ServiceCredentials,
    workdir: Path,
    *,
    previous: ModuleManifests | None = None,
    settings: E2ESettings | None = None,
    scenarios: Sequence[str] | None = None,
    plugins: Mapping[str, ScenarioPlugin] = PLUGINS,
) -> E2EReport:
    """Run the scenarios in order (default: the module's plugin's, else the generic ``module`` scenario),
    stopping at the first failing step; write ``junit.xml`` and, on failure, the diagnostics bundle into
    ``workdir``. Test failures are a ``passed=False`` report; only problems before any step (bad inputs,
    a scenario the module does not have) raise. ``plugins``: the module-specific scenarios to choose from
    (by module name or default-CR kind)."""
    settings = settings or E2ESettings()
    plugin = plugin_for(module, plugins)
    names = tuple(scenarios) if scenarios else (plugin.default if plugin else GENERIC)
    offered = plugin.scenarios if plugin else GENERIC
    if unknown := [n for n in names if n not in offered]:
        raise InvalidInput(
            f"module {module.name or module.reference} has no scenario {', '.join(unknown)}",
            hint=f"its scenarios: {', '.join(offered)}",
        )
    steps = Steps(kube.clock)
    failure: BtpReleaseError | None = None
    try:
        context = ScenarioContext(kube, module, previous, credentials, steps, settings)
        for name in names:
            _run_one(name, context, plugin)
    except BtpReleaseError as exc:
        failure = exc
    workdir.mkdir(parents=True, exist_ok=True)
    junit = steps.write_junit(workdir / "junit.xml")
    diagnostics = None
    if failure is not None:
        manifests = {"module-manifest.yaml": module.manifest, "default-cr.yaml": module.default_cr}
        if previous is not None:
            manifests["previous-module-manifest.yaml"] = previous.manifest
        kinds = plugin.diagnostics if plugin is not None and plugin.diagnostics else _cr_kinds(module)
        diagnostics = collect_diagnostics(kube, workdir / "diagnostics", kinds=kinds, manifests=manifests)
        failed = steps.failed[-1] if steps.failed else None
        summary = f"{failed.scenario}: {failed.name}: {failure}" if failed else str(failure)
    else:
        passed = sum(s.outcome == "passed" for s in steps.items)
        skipped = [f"{s.scenario} ({s.message})" for s in steps.items if s.outcome == "skipped"]
        summary = f"{passed} steps passed" + (f"; skipped: {', '.join(skipped)}" if skipped else "")
    return E2EReport(failure is None, summary, tuple(steps.items), junit, diagnostics)


def _cr_kinds(module: ModuleManifests) -> tuple[tuple[str, str], ...]:
    objects = parse_manifest(module.default_cr, source=f"default CR of {module.reference}")
    return tuple((str(o.get("apiVersion", "")), str(o.get("kind", ""))) for o in objects)


def _run_one(name: str, context: ScenarioContext, plugin: ScenarioPlugin | None) -> None:
    if name != "module":
        assert plugin is not None  # run_scenarios checked the name against the plugin's
        plugin.run(name, context)
        return
    module = context.module
    under_test = ModuleUnderTest(
        name=module.name or (plugin.name if plugin else module.reference),
        manifest=module.manifest,
        default_cr=module.default_cr,
        manager=module.manager,
        prerequisites=plugin.prerequisites(context.credentials) if plugin else (),
    )
    module_scenario(context.kube, under_test, context.steps, context.settings)


class ClusterRunner:
    """The pipeline's E2E runner on a cluster that ``connect`` opens (and tears down on exit).

    ``credentials`` is read from ``environ`` per the request's mode before anything else happens, so
    missing ``SM_*`` variables fail fast. Registry clients come from ``registry`` (host → client);
    ``plugins`` are the module-specific scenarios (see :func:`run_scenarios`); ``budgets`` override
    scenarios' time budgets (seconds by scenario name).
    """

    def __init__(
        self,
        connect: Callable[[], AbstractContextManager[KubeClient]],
        registry: Callable[[str], AbstractContextManager[RegistryClient]],
        *,
        environ: Mapping[str, str],
        settings: E2ESettings | None = None,
        name: str = "cluster",
        scenarios: tuple[str, ...] | None = None,
        plugins: Mapping[str, ScenarioPlugin] = PLUGINS,
        budgets: Mapping[str, float] | None = None,
    ) -> None:
        self._scenarios = scenarios
        self._plugins = plugins
        self._budgets = budgets
        self._connect = connect
        self._registry = registry
        self._environ = environ
        self._settings = settings
        self._name = name

    @property
    def name(self) -> str:
        return self._name

    def run(self, request: E2ERequest) -> E2EResult:
        if request.credentials == "real":
            credentials = ServiceCredentials.from_environ(self._environ)
        else:
            credentials = ServiceCredentials.dummy()
        ref = Reference.parse(request.module_reference)
        if ref.digest is None:
            raise InvalidInput(f"E2E installs by digest; got {request.module_reference}")
        with self._registry(ref.registry) as registry:
            module = attrs.evolve(fetch_module(registry, request.module_reference), manager=request.manager)
            previous = fetch_module(registry, request.upgrade_from) if request.upgrade_from else None
        settings = self._settings or E2ESettings(
            run_id=f"{request.version}-{ref.digest[7:19]}", matrix_entry=self._name
        )
        if self._budgets:
            settings = attrs.evolve(settings, budgets={**settings.budgets, **self._budgets})
        with self._connect() as kube:
            report = run_scenarios(
                kube,
                module,
                credentials,
                request.workdir,
                previous=previous,
                settings=settings,
                scenarios=self._scenarios,
                plugins=self._plugins,
            )
        detail = f" (diagnostics: {report.diagnostics.tarball})" if report.diagnostics else ""
        return E2EResult(report.passed, report.summary + detail, report.junit)


@contextlib.contextmanager
def registry_client(host: str) -> Iterator[RegistryClient]:
    """The default for :class:`ClusterRunner`: a client with the Docker config's credentials."""
    with RegistryClient(host) as client:
        yield client


def kubeconfig_runner() -> ClusterRunner:
    """``e2e-runner: btp_release.e2e.run:kubeconfig_runner`` — the cluster of ``$KUBECONFIG`` (its
    current context, or ``$E2E_KUBE_CONTEXT``), as a workflow sets it up (e.g. k3s). ``$E2E_RUNNER_NAME``
    names the verdict in the provenance (one per matrix entry), ``$E2E_SCENARIOS`` (``main,upgrade``)
    picks the scenarios, ``$E2E_BUDGETS`` (``main=900,upgrade=300``) sets their time budgets; real
    Service Manager credentials come from ``SM_*``."""
    import os

    environ = dict(os.environ)  # read once, here at the edge
    kubeconfig = environ.get("KUBECONFIG") or str(Path.home() / ".kube" / "config")
    context = environ.get("E2E_KUBE_CONTEXT") or None
    # Checked here against every scenario there is (a typo fails before any cluster work), and against
    # the module's own when it is known (run_scenarios).
    scenarios = tuple(s.strip() for s in (environ.get("E2E_SCENARIOS") or "").split(",") if s.strip())
    known = [*GENERIC, *dict.fromkeys(s for p in PLUGINS.values() for s in p.scenarios if s not in GENERIC)]
    if unknown := [s for s in scenarios if s not in known]:
        raise InvalidInput(f"E2E_SCENARIOS: unknown scenario(s) {', '.join(unknown)}", hint=", ".join(known))

    @contextlib.contextmanager
    def connect() -> Iterator[KubeClient]:
        yield KubeClient.from_kubeconfig(kubeconfig, context=context)

    items = [item.strip() for item in (environ.get("E2E_BUDGETS") or "").split(",") if item.strip()]
    budgets = parse_budgets(items, source="E2E_BUDGETS")
    return ClusterRunner(
        connect,
        registry_client,
        environ=environ,
        name=environ.get("E2E_RUNNER_NAME") or "kubeconfig",
        scenarios=scenarios or None,
        budgets=budgets or None,
    )


def parse_budgets(items: Sequence[str], *, source: str) -> dict[str, float]:
    """``SCENARIO=SECONDS`` items (a positive number each) as a mapping; ``source`` names them in errors."""
    budgets: dict[str, float] = {}
    for item in items:
        name, sep, value = item.partition("=")
        try:
            seconds = float(value)
        except ValueError:
            seconds = 0.0
        if not sep or not name.strip() or not 0 < seconds < math.inf:
            raise InvalidInput(f"invalid {source} {item!r}", hint="SCENARIO=SECONDS, e.g. main=900")
        budgets[name.strip()] = seconds
    return budgets
