"""Submit, promote and withdraw killed at every request boundary, or hit by a fault on every write, then run
again: the job is finished, once.

For each command, a clean run against a fresh module-manifests repository lists the requests it makes. Then,
for every one of them, a first run dies just before the request is sent and another just after its answer
came back (the server acted; the process never learned), each against a fresh repository in the same start
state. A second run — a new pipeline, as a new process — must then leave exactly what an uninterrupted run
leaves: one branch besides the base, one open pull request with the reviewers and labels, the expected files
on the branch, the base branch untouched, and no other branch or pull request. The simulator's faults (a 502
or a connection reset, before or after the server acted) on each write end the same way.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator

import attrs
import httpx
import pytest
import yaml

from btp_release.config import load_config
from btp_release.errors import BtpReleaseError
from btp_release.github import GitHubClient
from btp_release.pipeline import ReleasePipeline, StageResult
from btp_release.retry import RetryPolicy
from btp_release.testing import FakeClock, Fault, GitHubSimulator
from tests.test_manifests_flow import CATALOG, SHORT, Flow

_REPOS = itertools.count(1)


class Crash(BaseException):
    """The process died here (a ``BaseException``: no retry or ``except Exception`` catches it)."""


class CountingTransport(httpx.BaseTransport):
    """Counts requests; with ``crash_at=(n, "before"|"after")`` the n-th (from 1) one kills the run."""

    def __init__(self, crash_at: tuple[int, str] | None = None) -> None:
        self.crash_at = crash_at
        self.requests: list[str] = []
        self._inner = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(f"{request.method} {request.url.path}")
        n, when = self.crash_at or (0, "")
        if len(self.requests) == n and when == "before":
            raise Crash(f"killed before {self.requests[-1]}")
        response = self._inner.handle_request(request)
        if len(self.requests) == n and when == "after":
            response.read()
            response.close()
            raise Crash(f"killed after {self.requests[-1]} answered {response.status_code}")
        return response

    def close(self) -> None:
        self._inner.close()


@pytest.fixture(scope="module")
def released(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flow]:
    """The sample module with 0.3.0 and 0.4.0 published (the module repository is only read below)."""
    from btp_release.localservices.registry import registry_binary
    from btp_release.testing import LocalRegistry

    if registry_binary() is None:
        pytest.skip("docker-registry is not installed")
    with (
        LocalRegistry() as running,
        GitHubSimulator(owner="kyma-project", repo=SHORT) as module_sim,
        GitHubSimulator(owner="kyma", repo="catalog-bot", ghes=True) as catalog,
    ):
        catalog.add_repository(CATALOG, files={"README.md": "The module catalog.\n"})
        flow = Flow(tmp_path_factory.mktemp("resume"), module_sim, catalog, running.host)
        flow.release("0.3.0")
        flow.release("0.4.0")
        yield flow


def config_file(version: str) -> str:
    return f"modules/{SHORT}/{version}/module-config.yaml"


MAPPING = f"modules/{SHORT}/module-releases.yaml"


def mapping(regular: str, fast: str) -> str:
    return (
        f"channels:\n  - channel: regular\n    version: {regular}\n  - channel: fast\n    version: {fast}\n"
    )


def submitted_file(flow: Flow, version: str) -> bytes:
    """What submit proposes for ``version`` (taken from an uninterrupted run's branch, once)."""
    key = f"submitted-{version}"
    if key not in flow.__dict__:
        repo = fresh_repo(flow, {})
        flow.checkout(version)
        run(flow, repo, "submit", version)
        flow.__dict__[key] = flow.catalog.files(repo, f"{SHORT}-{version}")[config_file(version)]
    return flow.__dict__[key]  # type: ignore[no-any-return]


def fresh_repo(flow: Flow, files: dict[str, bytes | str]) -> str:
    name = f"kyma/manifests-{next(_REPOS)}"
    flow.catalog.add_repository(name, files={"README.md": "The module catalog.\n", **files})
    return name


def pipeline(flow: Flow, repo: str, version: str, transport: httpx.BaseTransport | None) -> ReleasePipeline:
    config = load_config(flow.module, environ={}, overrides={"manifests_repo": repo})
    clock = FakeClock()
    token = flow.catalog.add_token({repo: "write"}, others="none")

    def manifests() -> GitHubClient:
        return GitHubClient(
            repo,
            api_url=flow.catalog.api_url,
            token=token,
            transport=transport,
            retry=RetryPolicy(jitter=0, attempts=3),
            clock=clock,
            sleeper=clock.sleep,
            environ={},
        )

    return ReleasePipeline.from_config(
        config, version, environ={"GITHUB_TOKEN": flow.sim.token}, docker=False, manifests=manifests
    )


def run(
    flow: Flow, repo: str, action: str, version: str, transport: httpx.BaseTransport | None = None
) -> StageResult:
    with pipeline(flow, repo, version, transport) as release:
        if action == "submit":
            return release.submit()
        if action == "promote":
            return release.promote("fast")
        return release.withdraw()


Scenario = tuple[
    str, str, Callable[[Flow], dict[str, bytes | str]], Callable[[Flow], dict[str, bytes | None]]
]
# action, version, the repository's files before, the files the pull request's branch must change (None: gone)
SCENARIOS: list[Scenario] = [
    ("submit", "0.4.0", lambda f: {}, lambda f: {config_file("0.4.0"): submitted_file(f, "0.4.0")}),
    (
        "promote",
        "0.4.0",
        lambda f: {
            config_file("0.3.0"): submitted_file(f, "0.3.0"),
            config_file("0.4.0"): submitted_file(f, "0.4.0"),
            MAPPING: mapping("0.3.0", "0.3.0"),
        },
        lambda f: {MAPPING: None},  # checked as YAML below; the bytes are the clean run's
    ),
    (
        "withdraw",
        "0.3.0",
        lambda f: {
            config_file("0.3.0"): submitted_file(f, "0.3.0"),
            f"modules/{SHORT}/0.3.0/notes.md": "extra file of the version\n",
            config_file("0.4.0"): submitted_file(f, "0.4.0"),
            MAPPING: mapping("0.4.0", "0.4.0"),
        },
        lambda f: {config_file("0.3.0"): None, f"modules/{SHORT}/0.3.0/notes.md": None},
    ),
]


def check_end_state(
    flow: Flow, repo: str, branch: str, before: dict[str, bytes], expected: dict[str, bytes]
) -> None:
    catalog = flow.catalog
    assert catalog.files(repo, "main") == before, "the base branch was touched"
    branches = sorted(r.ref for r in catalog.refs(repo) if r.ref.startswith("refs/heads/"))
    assert branches == sorted(["refs/heads/main", f"refs/heads/{branch}"])
    prs = catalog.pull_requests(repo)
    assert len(prs) == 1, prs
    (pr,) = prs
    assert pr.state == "open" and pr.head == branch and pr.base == "main"
    assert "gopher-lead" in pr.requested_reviewers and "kind/module-release" in pr.labels
    assert catalog.files(repo, branch) == expected


@attrs.frozen
class CleanRun:
    """An uninterrupted run of a scenario: its requests, the branch, and the files before and on it."""

    files: dict[str, bytes | str]
    requests: list[str]
    branch: str
    before: dict[str, bytes]
    expected: dict[str, bytes]


def reference_run(flow: Flow, scenario: Scenario) -> CleanRun:
    action, version, start, change = scenario
    files = start(flow)
    flow.checkout(version)  # submit reads the module-config of the released commit
    clean = CountingTransport()
    repo = fresh_repo(flow, files)
    before = flow.catalog.files(repo, "main")
    result = run(flow, repo, action, version, clean)
    assert result.status == "changed"
    (branch,) = [
        r.ref.removeprefix("refs/heads/")
        for r in flow.catalog.refs(repo)
        if r.ref.startswith("refs/heads/") and r.ref != "refs/heads/main"
    ]
    expected = flow.catalog.files(repo, branch)
    for path, content in change(flow).items():
        if action == "withdraw":
            assert path not in expected and path in before
        elif content is not None:
            assert expected[path] == content
    if action == "promote":
        entries = yaml.safe_load(expected[MAPPING])["channels"]
        assert {e["channel"]: str(e["version"]) for e in entries} == {"regular": "0.3.0", "fast": "0.4.0"}
    changed = {p for p in set(before) | set(expected) if before.get(p) != expected.get(p)}
    assert changed == set(change(flow)), "the pull request changes exactly the planned files"
    check_end_state(flow, repo, branch, before, expected)
    return CleanRun(files, clean.requests, branch, before, expected)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s[0] for s in SCENARIOS])
def test_killed_at_every_request_then_run_again(released: Flow, scenario: Scenario) -> None:
    action, version = scenario[:2]
    ref = reference_run(released, scenario)
    files, clean, branch, before, expected = ref.files, ref, ref.branch, ref.before, ref.expected
    for n, when in itertools.product(range(1, len(clean.requests) + 1), ("before", "after")):
        repo = fresh_repo(released, files)
        with pytest.raises(Crash):
            run(released, repo, action, version, CountingTransport((n, when)))
        run(released, repo, action, version)
        check_end_state(released, repo, branch, before, expected)
        # and a third run finds nothing to do
        assert run(released, repo, action, version).status == "unchanged", (n, when)


def test_the_sample_points_are_all_request_kinds(released: Flow) -> None:
    """The kill points cover reads, the git data writes and the pull request calls (so a change in the
    stages' calls cannot silently shrink the matrix)."""
    clean = CountingTransport()
    run(released, fresh_repo(released, {}), "submit", "0.3.0", clean)
    kinds = {r.split(" ", 1)[0] + " " + r.split("/")[-1] for r in clean.requests}
    for needed in ("POST blobs", "POST trees", "POST commits", "POST refs", "POST pulls", "POST labels"):
        assert any(k == needed for k in kinds), (needed, sorted(kinds))


FAULT_KINDS = ("status", "status_after", "reset", "reset_after")


def _writes(requests: list[str]) -> list[tuple[str, str]]:
    """The distinct writes of a run as (method, path pattern), numbers (pull requests) generalised."""
    found = []
    for request in requests:
        method, path = request.split(" ", 1)
        tail = re.search(r"/repos/kyma/manifests-\d+(/.*)$", path)
        if method != "GET" and tail:
            found.append((method, re.sub(r"/\d+(?=/|$)", r"/\\d+", tail.group(1)) + "$"))
    return list(dict.fromkeys(found))


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s[0] for s in SCENARIOS])
def test_a_fault_on_every_write_is_survived(released: Flow, scenario: Scenario) -> None:
    """A 502 before or after acting, a connection reset before or after acting, on each write: the run
    finishes (retrying what is safe to retry, looking again before repeating a create) — or, where it stops,
    a second run does — with exactly the uninterrupted run's result."""
    action, version = scenario[:2]
    ref = reference_run(released, scenario)
    writes = _writes(ref.requests)
    assert len(writes) >= 5, writes
    for (method, path), kind in itertools.product(writes, FAULT_KINDS):
        repo = fresh_repo(released, ref.files)
        released.catalog.add_fault(Fault(method, r"/repos/kyma/manifests-\d+" + path, kind))
        try:
            run(released, repo, action, version)
        except BtpReleaseError:
            run(released, repo, action, version)  # the re-run finishes the job
        assert released.catalog.pending_faults() == [], (method, path, kind)
        check_end_state(released, repo, ref.branch, ref.before, ref.expected)
        assert run(released, repo, action, version).status == "unchanged", (method, path, kind)
