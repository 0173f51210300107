"""Developer entry point: ``nox -s tests lint typecheck`` (what CI runs)."""

from __future__ import annotations

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
    session.run("ruff", "check", "btp_release", "tests", "bench", "noxfile.py")
    session.run("ruff", "format", "--check", "btp_release", "tests", "bench", "noxfile.py")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict on the package."""
    session.install("-e", ".[test]", "mypy>=1.10", "types-PyYAML")
    session.run("mypy", "--strict", "btp_release")


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks (not run by CI by default): peak memory and throughput of asset transfer."""
    session.install("-e", ".[test]")
    session.run("python", "bench/github_assets.py", *(session.posargs or ["--size-mib", "256"]))
