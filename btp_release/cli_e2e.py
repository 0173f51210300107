"""The E2E commands of ``btp-release``: ``test-module``, ``k3s-versions`` and ``k3s-up``.

Kept apart from :mod:`btp_release.cli` (which dispatches to :func:`run_e2e_command`) because they share
nothing with the release stages: no release config, no GitHub repository of the module.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from btp_release.errors import InvalidInput
from btp_release.redaction import redact

if TYPE_CHECKING:
    from btp_release.e2e.run import ModuleManifests
    from btp_release.module import ModuleConfig

__all__ = ["E2E_COMMANDS", "add_e2e_commands", "read_input", "run_e2e_command"]

E2E_COMMANDS = ("test-module", "k3s-versions", "k3s-up")


def add_e2e_commands(commands: Any) -> None:
    test = commands.add_parser(
        "test-module",
        help="run the E2E scenarios of a module on the cluster of a kubeconfig",
        description="Install the module (by reference from its registry, from files, or the files its "
        "module-config names) and run its scenarios: those asked for with --scenario, else its plugin's "
        "defaults (btp-operator: module, main, upgrade-while-deleting and upgrade; the upgrades are "
        "skipped without --previous), else the generic module scenario (install, manager rolled out, "
        "default CR Ready, delete, uninstall, nothing left). Writes junit.xml and, on failure, a "
        "diagnostics bundle. Exit 9 when a step fails.",
    )
    source = test.add_mutually_exclusive_group()
    source.add_argument(
        "--module", help="module artifact reference, e.g. HOST/REPO@sha256:… or HOST/REPO:vX.Y.Z"
    )
    source.add_argument("--manifest", help="the module's rendered manifest file (with --default-cr)")
    test.add_argument("--default-cr", help="the module's default CR file (with --manifest)")
    test.add_argument(
        "--module-config",
        help="the module's module-config.yaml: its name picks the scenarios, its manager is what "
        "'installed' means; without --module/--manifest, its manifest and defaultCR files are installed",
    )
    test.add_argument("--previous", help="module reference of the latest release, for the upgrade scenarios")
    test.add_argument("--kubeconfig", help="kubeconfig (default: $KUBECONFIG, else ~/.kube/config)")
    test.add_argument("--context", help="kubeconfig context (default: its current one)")
    test.add_argument(
        "--credentials",
        choices=("dummy", "real"),
        default="dummy",
        help="Service Manager credentials (real: from SM_*, base64 unless SM_CREDENTIALS_ENCODING=plain)",
    )
    test.add_argument(
        "--scenario",
        action="append",
        help="repeatable: module (the generic scenario) or one of the module's own, e.g. btp-operator's "
        "main, upgrade, upgrade-while-deleting, recovery, wrong-cr",
    )
    test.add_argument("--run-id", help="makes instance names unique (default: $GITHUB_RUN_ID, else local)")
    test.add_argument("--out", default="e2e-report", help="report directory (default: e2e-report)")
    test.add_argument("--poll-interval", type=float, default=5.0, help="seconds between polls (default 5)")
    test.add_argument(
        "--timeout", type=float, default=300.0, help="limit of every wait in seconds (default 300)"
    )
    test.add_argument(
        "--budget",
        action="append",
        default=[],
        metavar="SCENARIO=SECONDS",
        help="time budget of a whole scenario (repeatable; defaults: main 600, the others of btp-operator "
        "300, module none)",
    )
    test.add_argument("--json", action="store_true", help="print the report as JSON")
    versions = commands.add_parser(
        "k3s-versions", help="the newest patch of the last k3s minors (for a matrix)"
    )
    versions.add_argument("--minors", type=int, default=3, help="how many minor versions (default 3)")
    versions.add_argument("--cache-dir", help="keep the release list here for six hours")
    k3s = commands.add_parser(
        "k3s-up", help="install k3s on this Linux machine (root) and wait until it is Ready"
    )
    k3s.add_argument("--k3s-version", required=True, help="e.g. v1.31.4+k3s1")
    k3s.add_argument(
        "--mirror",
        action="append",
        default=[],
        help="NAME=URL registry mirror, e.g. registry.localhost:5000=http://127.0.0.1:5000 (repeatable)",
    )


def run_e2e_command(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    if args.command == "test-module":
        return _test_module(args, environ)
    if args.command == "k3s-versions":
        return _k3s_versions(args, environ)
    return _k3s_up(args)


def read_input(path: str | Path) -> bytes:
    """A file the user named; a missing or unreadable one is their error (exit 2), not a bug."""
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror}") from exc


def _test_module(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    import contextlib

    from btp_release.e2e import E2ESettings, ServiceCredentials
    from btp_release.e2e.run import ModuleManifests, fetch_module, parse_budgets, run_scenarios
    from btp_release.e2e.scenarios import DEFAULT_BUDGETS
    from btp_release.kube import KubeClient
    from btp_release.module import ModuleConfig
    from btp_release.oci import Reference, RegistryClient

    if args.manifest and not args.default_cr:
        raise InvalidInput("--manifest needs --default-cr")
    if not (args.module or args.manifest or args.module_config):
        raise InvalidInput(
            "test-module needs the module: --module REFERENCE, --manifest with --default-cr, or "
            "--module-config (its manifest and defaultCR files)"
        )
    config = ModuleConfig.load(Path(args.module_config)) if args.module_config else None
    budgets = {**DEFAULT_BUDGETS, **parse_budgets(args.budget, source="--budget")}
    credentials = (
        ServiceCredentials.from_environ(environ) if args.credentials == "real" else ServiceCredentials.dummy()
    )
    with contextlib.ExitStack() as stack:

        def fetch(reference: str) -> ModuleManifests:
            registry = stack.enter_context(RegistryClient(Reference.parse(reference).registry))
            return fetch_module(registry, reference)

        if args.module:
            module = fetch(args.module)
        elif args.manifest:
            module = ModuleManifests(args.manifest, read_input(args.manifest), read_input(args.default_cr))
        else:
            assert config is not None
            module = _from_module_config(config)
        previous = fetch(args.previous) if args.previous else None
    if config is not None:
        module = attrs.evolve(module, name=config.short_name, manager=config.manager)
    kubeconfig = args.kubeconfig or environ.get("KUBECONFIG") or str(Path.home() / ".kube" / "config")
    kube = KubeClient.from_kubeconfig(kubeconfig, context=args.context)
    settings = E2ESettings(
        run_id=args.run_id or environ.get("GITHUB_RUN_ID") or "local",
        poll_interval=args.poll_interval,
        deployment_timeout=args.timeout,
        ready_timeout=args.timeout,
        instance_timeout=args.timeout,
        deletion_timeout=args.timeout,
        budgets=budgets,
    )
    report = run_scenarios(
        kube,
        module,
        credentials,
        Path(args.out),
        previous=previous,
        settings=settings,
        scenarios=tuple(args.scenario or ()),
    )
    if args.json:
        print(
            json.dumps(
                {
                    "passed": report.passed,
                    "summary": report.summary,
                    "steps": [attrs.asdict(step) for step in report.steps],
                    "junit": str(report.junit),
                    "diagnostics": str(report.diagnostics.tarball) if report.diagnostics else None,
                },
                indent=2,
            )
        )
    else:
        for step in report.steps:
            print(f"[{step.scenario}] {step.outcome:7} {step.seconds:6.1f}s {step.name}")
        print(f"JUnit report: {report.junit}")
        if report.diagnostics:
            print(f"diagnostics: {report.diagnostics.tarball}")
    if not report.passed:
        print(redact(f"error: E2E failed: {report.summary}"), file=sys.stderr)
        return 9
    return 0


def _from_module_config(config: ModuleConfig) -> ModuleManifests:
    """The manifest and default CR files a module-config names (URLs are for the catalog, not E2E)."""
    from btp_release.e2e.run import ModuleManifests

    if config.default_cr is None:
        raise InvalidInput(f"{config.source} names no defaultCR: the scenarios need one")
    files = []
    for field, value in (("manifest", config.manifest), ("defaultCR", config.default_cr)):
        if value.is_url:
            raise InvalidInput(
                f"{config.source}: {field} is a URL ({value}); test-module installs local files",
                hint="give --module REFERENCE or --manifest/--default-cr",
            )
        files.append(read_input(value.local_path(config.base_dir)))
    return ModuleManifests(str(config.source), files[0], files[1])


def _k3s_versions(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    from btp_release.cluster import k3s_versions
    from btp_release.github import GitHubClient

    api_url = environ.get("GITHUB_API_URL") or "https://api.github.com"
    with GitHubClient("k3s-io/k3s", api_url=api_url, environ=environ) as github:
        found = k3s_versions(github, args.minors, cache_dir=Path(args.cache_dir) if args.cache_dir else None)
    print(json.dumps(found))
    return 0


def _k3s_up(args: argparse.Namespace) -> int:
    from btp_release.cluster import K3sCluster

    mirrors = {}
    for item in args.mirror:
        name, sep, url = item.partition("=")
        if not sep or not name or not url:
            raise InvalidInput(f"invalid --mirror {item!r}", hint="NAME=URL")
        mirrors[name] = url
    cluster = K3sCluster(args.k3s_version, mirrors=mirrors or None)
    cluster.create()
    cluster.wait_ready()
    print(cluster.kubeconfig)
    return 0
