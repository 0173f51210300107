"""The package's shape, read from its source: what may import what, what it depends on, how big a module gets.

See docs/architecture.md for the map these rules keep true. Every import is found with ``ast``, never
by importing: ``import x``, ``from x import y``, relative imports (resolved), imports inside
functions and under ``if TYPE_CHECKING:``, and ``importlib.import_module("…")`` / ``__import__("…")``
with a literal name.
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "btp_release"
TESTING = "btp_release.testing"
MAX_LINES = 600

# Each top-level module or package of btp_release in one layer; a module imports only its own layer and
# those below it. "" is btp_release/__init__.py, the public API. btp_release.testing (the test doubles)
# is in no layer: it may import everything, and nothing imports it (see RULE below).
LAYERS: tuple[tuple[str, frozenset[str]], ...] = (
    (
        "foundations",
        frozenset({"errors", "redaction", "secret", "version", "wait", "retry", "neterrors", "http_core"}),
    ),
    (
        "external systems",
        frozenset(
            {
                "github",
                "oci",
                "images",
                "image_export",
                "kube",
                "git",
                "actions",
                "cluster",
                "localservices",
                "module",
                "manifests",
            }
        ),
    ),
    ("configuration", frozenset({"config", "module_config_settings"})),
    ("composition", frozenset({"pipeline", "e2e"})),
    ("entry points", frozenset({"cli", "cli_e2e", ""})),
)

# Third-party imports that are not runtime dependencies, and why that is fine:
# import name -> (reason, allowed only inside a function, the only module allowed to import it or None).
NOT_RUNTIME_DEPENDENCIES: dict[str, tuple[str, bool, str | None]] = {
    "certifi": ("a dependency of httpx, so always installed with it", True, None),
    "pytest_kind": (
        "optional (KindCluster): imported on first use, NotFound with the hint without it",
        True,
        None,
    ),
    "pytest": ("the pytest plugin runs only inside pytest", False, "btp_release.testing.pytest_plugin"),
}


@dataclass(frozen=True)
class Import:
    importer: str  # dotted name of the importing module
    line: int
    target: str  # absolute dotted name of what is imported
    lazy: bool  # inside a function: runs when called, not on import
    type_only: bool  # under ``if TYPE_CHECKING:``: never runs
    rehearse: bool  # under an ``if`` that tests for the "rehearse" command
    names: tuple[str, ...] = ()  # ``from target import names``

    def __str__(self) -> str:
        return f"{self.importer}:{self.line} imports {self.target}"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _python_files() -> list[Path]:
    return sorted(path for path in PACKAGE.rglob("*.py") if "__pycache__" not in path.parts)


KNOWN_MODULES = frozenset(_module_name(path) for path in _python_files())


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _names_rehearse(test: ast.expr) -> bool:
    return any(isinstance(node, ast.Constant) and node.value == "rehearse" for node in ast.walk(test))


class _Collector(ast.NodeVisitor):
    def __init__(self, module: str, package: str) -> None:
        self.module = module
        self.package = package
        self.found: list[Import] = []
        self._functions = 0
        self._type_only = 0
        self._rehearse = 0

    def _add(self, node: ast.AST, target: str, names: tuple[str, ...] = ()) -> None:
        self.found.append(
            Import(
                self.module,
                getattr(node, "lineno", 0),
                target,
                lazy=self._functions > 0,
                type_only=self._type_only > 0,
                rehearse=self._rehearse > 0,
                names=names,
            )
        )

    def _resolve(self, name: str, level: int, package: str | None = None) -> str:
        if level == 0:
            return name
        base = (package or self.package).split(".")
        if level - 1 > len(base) - 1:
            raise ValueError(f"{self.module}: relative import beyond the top-level package")
        base = base[: len(base) - (level - 1)]
        return ".".join([*base, name] if name else base)

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> None:
        self._functions += 1
        self.generic_visit(node)
        self._functions -= 1

    visit_AsyncFunctionDef = visit_FunctionDef
    visit_Lambda = visit_FunctionDef

    def visit_If(self, node: ast.If) -> None:
        self.visit(node.test)
        type_only, rehearse = _is_type_checking(node.test), _names_rehearse(node.test)
        self._type_only += type_only
        self._rehearse += rehearse
        for child in node.body:
            self.visit(child)
        self._type_only -= type_only
        self._rehearse -= rehearse
        for child in node.orelse:  # the other branch: neither type-only nor the rehearse command
            self.visit(child)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(node, alias.name)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        base = self._resolve(node.module or "", node.level)
        for alias in node.names:
            submodule = f"{base}.{alias.name}"
            # ``from btp_release import testing`` imports the module btp_release.testing
            if submodule in KNOWN_MODULES:
                self._add(node, submodule)
            else:
                self._add(node, base, (alias.name,))

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        if name in ("import_module", "__import__") and node.args:
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                target = first.value
                if target.startswith("."):
                    level = len(target) - len(target.lstrip("."))
                    package = None
                    if len(node.args) > 1:
                        second = node.args[1]
                        if isinstance(second, ast.Constant) and isinstance(second.value, str):
                            package = second.value
                    target = self._resolve(target[level:], level, package)
                self._add(node, target)
        self.generic_visit(node)


def scan(source: str, module: str, *, is_package: bool = False) -> list[Import]:
    """Every import in ``source`` as module ``module`` would make it."""
    collector = _Collector(module, module if is_package else module.rpartition(".")[0])
    collector.visit(ast.parse(source))
    return collector.found


def _imports_of(path: Path) -> list[Import]:
    return scan(path.read_text(encoding="utf-8"), _module_name(path), is_package=path.name == "__init__.py")


def all_imports() -> Iterator[Import]:
    for path in _python_files():
        yield from _imports_of(path)


def _is_testing(target: str) -> bool:
    return target == TESTING or target.startswith(TESTING + ".")


def violations_of_the_rule(imports: list[Import]) -> list[Import]:
    """RULE: only btp_release.testing itself and the CLI's rehearse command (lazily, in its branch)
    import btp_release.testing."""
    return [
        found
        for found in imports
        if _is_testing(found.target)
        and not _is_testing(found.importer)
        and not (found.importer == "btp_release.cli" and found.lazy and found.rehearse)
    ]


# -- the scanner sees every form of import -------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "module", "target"),
    [
        ("import btp_release.testing\n", "btp_release.kube", "btp_release.testing"),
        ("import btp_release.testing.clock as c\n", "btp_release.kube", "btp_release.testing.clock"),
        ("from btp_release.testing import FakeClock\n", "btp_release.kube", "btp_release.testing"),
        ("from btp_release import testing\n", "btp_release.kube", "btp_release.testing"),
        ("from ..testing import clock\n", "btp_release.cluster.registry", "btp_release.testing.clock"),
        ("from .testing.clock import FakeClock\n", "btp_release.wait", "btp_release.testing.clock"),
        ("from ...testing import registry\n", "btp_release.oci.x.y", "btp_release.testing"),
        (
            "def f():\n    from btp_release.testing import FakeClock\n",
            "btp_release.kube",
            "btp_release.testing",
        ),
        ("class C:\n    def m(self):\n        import btp_release.testing\n", "btp_release.kube", TESTING),
        (
            "from typing import TYPE_CHECKING\n"
            "if TYPE_CHECKING:\n"
            "    from btp_release.testing import Fault\n",
            "btp_release.kube",
            "btp_release.testing",
        ),
        (
            "import importlib\nimportlib.import_module('btp_release.testing.rehearsal')\n",
            "btp_release.kube",
            "btp_release.testing.rehearsal",
        ),
        (
            "from importlib import import_module\n"
            "def f():\n"
            "    return import_module('.testing', 'btp_release')\n",
            "btp_release.kube",
            "btp_release.testing",
        ),
        ("x = __import__('btp_release.testing')\n", "btp_release.kube", "btp_release.testing"),
    ],
)
def test_the_scanner_finds_an_import_of_the_doubles_in_any_form(
    source: str, module: str, target: str
) -> None:
    found = scan(source, module)
    assert target in [i.target for i in found]
    assert [str(i) for i in violations_of_the_rule(found)], "the rule let it through"


def test_the_rule_allows_the_rehearse_command_only_lazily_and_in_its_branch() -> None:
    allowed = (
        "def main(args):\n"
        "    if args.command == 'rehearse':\n"
        "        from btp_release.testing.rehearsal import rehearse\n"
        "    elif args.command == 'run':\n"
        "        from btp_release.testing.rehearsal import rehearse\n"
    )
    (violation,) = violations_of_the_rule(scan(allowed, "btp_release.cli"))
    assert violation.line == 5  # the run branch, not the rehearse one
    top_level = "import btp_release.testing.rehearsal\n"
    assert violations_of_the_rule(scan(top_level, "btp_release.cli"))
    # the same lines in another module are not the rehearse command
    assert len(violations_of_the_rule(scan(allowed, "btp_release.pipeline.stages"))) == 2
    # the doubles import each other freely
    assert not violations_of_the_rule(
        scan("from btp_release.testing import clock\n", "btp_release.testing.release")
    )


def test_resolved_relative_imports_and_type_only_and_lazy_flags() -> None:
    source = (
        "from typing import TYPE_CHECKING\n"
        "from . import wait\n"
        "from .oci import Reference\n"
        "if TYPE_CHECKING:\n"
        "    from .github import GitHubClient\n"
        "else:\n"
        "    import yaml\n"
        "def f():\n"
        "    import docker\n"
    )
    found = {i.target: i for i in scan(source, "btp_release.images")}
    assert found["btp_release.wait"].lazy is False
    assert found["btp_release.oci"].type_only is False
    assert found["btp_release.github"].type_only is True
    assert found["yaml"].type_only is False
    assert found["docker"].lazy is True
    package = {
        i.target
        for i in scan("from .registry import LocalRegistry\n", "btp_release.cluster", is_package=True)
    }
    assert package == {"btp_release.cluster.registry"}


# -- the rules, on the real package --------------------------------------------------------------------


def test_no_library_module_imports_the_test_doubles() -> None:
    violations = violations_of_the_rule(list(all_imports()))
    assert not violations, (
        "btp_release.testing holds test doubles; library code must not import it (a real local program "
        "belongs in btp_release.localservices):\n" + "\n".join(map(str, violations))
    )


def _unit(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _layer_of(unit: str) -> int | None:
    for rank, (_, units) in enumerate(LAYERS):
        if unit in units:
            return rank
    return None


def test_every_module_is_in_a_layer() -> None:
    units = {_unit(module) for module in KNOWN_MODULES} - {"testing"}
    homeless = sorted(unit for unit in units if _layer_of(unit) is None)
    assert not homeless, (
        f"btp_release.{homeless} belong to no layer: add them to LAYERS here and to docs/architecture.md"
    )


def test_no_module_imports_a_higher_layer() -> None:
    upward = []
    for found in all_imports():
        if not found.target.startswith("btp_release.") and found.target != "btp_release":
            continue
        source, target = _unit(found.importer), _unit(found.target)
        if source == "testing" or target == "testing":  # the doubles: the rule above
            continue
        if found.target == "btp_release" and found.names == ("__version__",):
            continue  # the distribution's version, a value every layer may read
        source_rank, target_rank = _layer_of(source), _layer_of(target)
        if source_rank is not None and target_rank is not None and target_rank > source_rank:
            upward.append(f"{found} ({LAYERS[source_rank][0]} -> {LAYERS[target_rank][0]})")
    assert not upward, "a lower layer imports a higher one:\n" + "\n".join(upward)


# -- dependencies --------------------------------------------------------------------------------------


def _normalize(distribution: str) -> str:
    return re.sub(r"[-_.]+", "-", distribution).lower()


def _runtime_dependencies() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    names = set()
    for requirement in project["dependencies"]:
        match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement)
        assert match, f"unreadable requirement {requirement!r} in pyproject.toml"
        names.add(_normalize(match.group()))
    return names


def _distributions_of_imports() -> dict[str, set[str]]:
    """Top-level import name -> the (normalized) installed distributions that provide it."""
    return {
        name: {_normalize(d) for d in dists}
        for name, dists in importlib.metadata.packages_distributions().items()
    }


def _third_party(found: Import) -> str | None:
    top = found.target.partition(".")[0]
    if top in sys.stdlib_module_names or top == "btp_release":
        return None
    return top


def test_every_runtime_dependency_is_imported_by_the_package() -> None:
    """Each distribution in ``[project] dependencies`` is imported by some module of btp_release: the
    library or the doubles it ships (the pytest plugin's fixtures and the rehearse command run in an
    install without the test extra). Tests alone do not make a runtime dependency."""
    provides = _distributions_of_imports()
    imported: set[str] = set()
    for found in all_imports():
        top = _third_party(found)
        if top is not None and not found.type_only:
            imported |= provides.get(top, set())
    declared = _runtime_dependencies()
    not_installed = sorted(d for d in declared if not any(d in dists for dists in provides.values()))
    assert not not_installed, f"runtime dependencies not installed here, so not checkable: {not_installed}"
    unused = sorted(declared - imported)
    assert not unused, (
        f"runtime dependencies that no module of btp_release imports: {unused}; move them to an extra "
        "(pyproject.toml [project.optional-dependencies])"
    )


def test_every_third_party_import_is_a_runtime_dependency() -> None:
    """So that ``pip install btp-release`` (no extra) can import and run every module."""
    provides = _distributions_of_imports()
    declared = _runtime_dependencies()
    undeclared = []
    for found in all_imports():
        top = _third_party(found)
        if top is None or found.type_only:
            continue
        if top in NOT_RUNTIME_DEPENDENCIES:
            _reason, lazy_only, only_in = NOT_RUNTIME_DEPENDENCIES[top]
            if (found.lazy or not lazy_only) and only_in in (None, found.importer):
                continue
        elif provides.get(top, set()) & declared:
            continue
        undeclared.append(f"{found} (distribution: {sorted(provides.get(top, set())) or 'not installed'})")
    assert not undeclared, "imports of packages that are not runtime dependencies:\n" + "\n".join(undeclared)


# -- size ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", _python_files(), ids=lambda path: str(path.relative_to(ROOT)))
def test_no_module_exceeds_600_lines(path: Path) -> None:
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, (
        f"{path.relative_to(ROOT)} has {lines} lines (at most {MAX_LINES}): split it by responsibility"
    )
