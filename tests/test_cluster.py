"""btp_release.cluster without a cluster: every program runs through a recording fake Runner.

What is asserted is what would run on a real machine: the exact argv, environment and stdin of
each step, the files written (parsed back), and how waits and failures read. k3s_versions runs
against the GitHub simulator; the registry and SubprocessRunner tests use real local programs.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import attrs
import httpx
import pytest
import yaml

from btp_release.cluster import (
    CommandFailed,
    Completed,
    ExistingCluster,
    K3dCluster,
    K3sCluster,
    K3sVersion,
    KindCluster,
    LocalRegistry,
    RegistryEndpoint,
    SubprocessRunner,
    k3s_versions,
    newest_patches,
    node_readiness,
    registries_yaml,
)
from btp_release.errors import (
    BtpReleaseError,
    DigestMismatch,
    InvalidInput,
    NotFound,
    Timeout,
    Transient,
)
from btp_release.github import GitHubClient
from btp_release.retry import RetryPolicy
from btp_release.testing import FakeClock, GitHubSimulator
from btp_release.wait import Poll, WaitPolicy

VERSION = "v1.31.4+k3s1"
SCRIPT = b"#!/bin/sh\n# k3s installer stand-in\nexit 0\n"
MIRRORS = {"registry.localhost:5000": "127.0.0.1:5000"}
FAST = WaitPolicy(timeout=30.0, interval=2.0, backoff=1.5, max_interval=10.0)


# -- a recording fake Runner ------------------------------------------------------------------


@attrs.frozen
class Call:
    argv: tuple[str, ...]
    env: dict[str, str] | None
    input: bytes | None
    timeout: float


Reply = Completed | Callable[[Call], Completed]


class FakeRunner:
    """Records every call; answers from replies registered per argv prefix (the last one repeats;
    a later registration for a prefix takes precedence). Unmatched calls succeed silently."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self._replies: list[tuple[tuple[str, ...], list[Reply]]] = []

    def on(self, *prefix: str, replies: Sequence[Reply]) -> None:
        self._replies.insert(0, (prefix, list(replies)))

    def run(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        input: bytes | None = None,
        timeout: float = 600.0,
    ) -> Completed:
        call = Call(tuple(argv), dict(env) if env is not None else None, input, timeout)
        self.calls.append(call)
        for prefix, replies in self._replies:
            if call.argv[: len(prefix)] == prefix:
                reply = replies.pop(0) if len(replies) > 1 else replies[0]
                return reply(call) if callable(reply) else reply
        return Completed(0)

    @property
    def argvs(self) -> list[list[str]]:
        return [list(call.argv) for call in self.calls]


def nodes(*nodes: tuple[str, str, str]) -> Completed:
    """``kubectl get nodes -o json`` output for (name, Ready status, reason) triples."""
    items = [
        {
            "metadata": {"name": name},
            "status": {
                "conditions": [
                    {"type": "MemoryPressure", "status": "False"},
                    {"type": "Ready", "status": status, "reason": reason, "message": f"{reason} message"},
                ]
            },
        }
        for name, status, reason in nodes
    ]
    return Completed(0, json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))


NOT_READY = nodes(("ci-1", "False", "KubeletNotReady"))
READY = nodes(("ci-1", "True", "KubeletReady"))


# -- k3s --------------------------------------------------------------------------------------


def make_k3s(
    tmp_path: Path, runner: FakeRunner, clock: FakeClock | None = None, **options: Any
) -> K3sCluster:
    script = tmp_path / "install.sh"
    script.write_bytes(SCRIPT)
    clock = clock or FakeClock()
    settings: dict[str, Any] = {
        "mirrors": MIRRORS,
        "install_script": script,
        "etc_dir": tmp_path / "etc",
        "bin_dir": tmp_path / "bin",
        "platform": "linux",
        "is_root": lambda: True,
        "runner": runner,
        "clock": clock,
        "sleeper": clock.sleep,
        **options,
    }
    return K3sCluster(VERSION, **settings)


def test_k3s_create_writes_mirrors_then_runs_the_pinned_installer(tmp_path: Path) -> None:
    runner = FakeRunner()
    cluster = make_k3s(tmp_path, runner)
    cluster.create()
    assert runner.calls == [
        Call(
            ("sh", "-s", "-"),
            {
                "INSTALL_K3S_VERSION": VERSION,
                "INSTALL_K3S_EXEC": "--disable traefik --write-kubeconfig-mode 644",
            },
            SCRIPT,
            900.0,
        )
    ]
    assert yaml.safe_load((tmp_path / "etc" / "registries.yaml").read_text()) == {
        "mirrors": {"registry.localhost:5000": {"endpoint": ["http://127.0.0.1:5000"]}},
        "configs": {"127.0.0.1:5000": {"tls": {"insecure_skip_verify": True}}},
    }
    assert cluster.kubeconfig == tmp_path / "etc" / "k3s.yaml"
    assert "INSTALL_K3S_SKIP_START" not in (runner.calls[0].env or {})


def test_k3s_downloads_the_install_script_and_checks_its_pinned_digest(tmp_path: Path) -> None:
    seen: list[str] = []

    def serve(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(200, content=SCRIPT)

    runner = FakeRunner()
    with httpx.Client(transport=httpx.MockTransport(serve)) as http:
        cluster = make_k3s(
            tmp_path,
            runner,
            install_script="https://get.k3s.io",
            install_script_sha256=hashlib.sha256(SCRIPT).hexdigest().upper(),
            http=http,
        )
        cluster.create()
        assert seen == ["https://get.k3s.io"]
        assert runner.calls[0].input == SCRIPT

        (tmp_path / "etc" / "registries.yaml").unlink()
        untouched = FakeRunner()
        pinned = make_k3s(
            tmp_path,
            untouched,
            install_script="https://get.k3s.io",
            install_script_sha256="0" * 64,
            http=http,
        )
        with pytest.raises(DigestMismatch, match="expected 0000"):
            pinned.create()
    assert untouched.calls == []
    assert not (tmp_path / "etc" / "registries.yaml").exists()  # nothing changed before the check


@pytest.mark.parametrize(
    ("answer", "error", "message"),
    [
        (httpx.Response(503), Transient, "HTTP 503"),
        (httpx.Response(404), NotFound, "HTTP 404"),
        (httpx.Response(200, content=b"<html>captive portal</html>"), InvalidInput, "not a shell script"),
    ],
)
def test_k3s_install_script_download_failures_are_typed(
    tmp_path: Path, answer: httpx.Response, error: type[BtpReleaseError], message: str
) -> None:
    runner = FakeRunner()
    with httpx.Client(transport=httpx.MockTransport(lambda _: answer)) as http:
        cluster = make_k3s(tmp_path, runner, install_script="https://get.k3s.io", http=http)
        with pytest.raises(error, match=message):
            cluster.create()
    assert runner.calls == []


def test_k3s_unreachable_download_is_transient(tmp_path: Path) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with httpx.Client(transport=httpx.MockTransport(refuse)) as http:
        cluster = make_k3s(tmp_path, FakeRunner(), install_script="https://get.k3s.io", http=http)
        with pytest.raises(Transient, match="connection refused") as caught:
            cluster.create()
    assert "install_script=<local file>" in str(caught.value)


def test_k3s_create_is_skipped_when_the_same_version_runs_with_the_same_mirrors(tmp_path: Path) -> None:
    runner = FakeRunner()
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "k3s").write_text("binary")
    runner.on(
        str(tmp_path / "bin" / "k3s"), "--version", replies=[Completed(0, f"k3s version {VERSION} (1a2b)\n")]
    )
    cluster = make_k3s(tmp_path, runner)
    cluster.create()  # first time the mirrors file is new: k3s must restart to read it
    cluster.create()
    assert [call.argv[0] for call in runner.calls] == [
        str(tmp_path / "bin" / "k3s"),
        "sh",
        str(tmp_path / "bin" / "k3s"),
    ]

    other = FakeRunner()
    other.on(str(tmp_path / "bin" / "k3s"), replies=[Completed(0, "k3s version v1.30.8+k3s1 (1a2b)\n")])
    make_k3s(tmp_path, other).create()  # another version installed: the installer upgrades it
    assert other.argvs[-1] == ["sh", "-s", "-"]


def test_k3s_refuses_to_run_without_root_or_linux(tmp_path: Path) -> None:
    runner = FakeRunner()
    with pytest.raises(InvalidInput, match="needs root") as not_root:
        make_k3s(tmp_path, runner, is_root=lambda: False).create()
    assert "K3dCluster" in str(not_root.value.hint)
    with pytest.raises(InvalidInput, match="runs only on Linux"):
        make_k3s(tmp_path, runner, platform="darwin").create()
    assert runner.calls == []
    assert not (tmp_path / "etc").exists()


def test_k3s_failing_install_quotes_the_tail_of_stderr(tmp_path: Path) -> None:
    stderr = "".join(f"[INFO]  step {n}\n" for n in range(30)) + "[ERROR]  Failed to download k3s binary\n"
    runner = FakeRunner()
    runner.on("sh", replies=[Completed(1, "", stderr)])
    with pytest.raises(CommandFailed) as caught:
        make_k3s(tmp_path, runner).create()
    error = caught.value
    assert isinstance(error, BtpReleaseError)
    assert error.returncode == 1 and error.argv == ("sh", "-s", "-")
    assert f"installing k3s {VERSION} failed" in str(error)
    assert str(error).rstrip().endswith("safe to repeat)")
    assert "[ERROR]  Failed to download k3s binary" in error.output_tail
    assert "step 29" in error.output_tail and "step 5\n" not in error.output_tail


def test_k3s_wait_ready_polls_kubectl_until_the_node_is_ready(tmp_path: Path) -> None:
    clock = FakeClock()
    runner = FakeRunner()
    kubeconfig = tmp_path / "etc" / "k3s.yaml"
    get_nodes = (
        "kubectl",
        "--kubeconfig",
        str(kubeconfig),
        "get",
        "nodes",
        "-o",
        "json",
        "--request-timeout=10s",
    )
    runner.on(*get_nodes, replies=[NOT_READY, NOT_READY, READY])
    cluster = make_k3s(tmp_path, runner, clock)
    kubeconfig.parent.mkdir(parents=True)
    kubeconfig.write_text("apiVersion: v1\nkind: Config\n")
    cluster.wait_ready(FAST)
    assert [call.argv for call in runner.calls] == [get_nodes] * 3
    assert clock.sleeps == [2.0, 3.0]


def test_k3s_wait_ready_times_out_naming_the_node_state(tmp_path: Path) -> None:
    clock = FakeClock()
    runner = FakeRunner()
    runner.on(
        "kubectl",
        replies=[Completed(1, "", "The connection to the server 127.0.0.1:6443 was refused"), NOT_READY],
    )
    cluster = make_k3s(tmp_path, runner, clock)
    with pytest.raises(Timeout, match="nodes of k3s cluster 'k3s' to be Ready") as caught:
        cluster.wait_ready(FAST)
    assert runner.calls == []  # the kubeconfig never appeared: kubectl is not even run
    assert "kubeconfig" in str(caught.value) and "not written yet" in str(caught.value)

    cluster.kubeconfig.parent.mkdir(parents=True)
    cluster.kubeconfig.write_text("kind: Config\n")
    with pytest.raises(Timeout) as caught:
        cluster.wait_ready(FAST)
    assert "last observed: node ci-1: Ready=False (KubeletNotReady: KubeletNotReady message)" in str(
        caught.value
    )
    assert clock.now - 1000.0 <= 2 * FAST.timeout  # bounded: never past the deadline


def test_k3s_teardown_is_idempotent(tmp_path: Path) -> None:
    runner = FakeRunner()
    cluster = make_k3s(tmp_path, runner)
    cluster.create()
    uninstall = tmp_path / "bin" / "k3s-uninstall.sh"
    uninstall.parent.mkdir()
    uninstall.write_text("#!/bin/sh\n")

    def uninstall_k3s(_call: Call) -> Completed:
        uninstall.unlink()  # what the real script does last
        return Completed(0, "k3s uninstalled\n")

    runner.on(str(uninstall), replies=[uninstall_k3s])
    runner.calls.clear()
    cluster.teardown()
    cluster.teardown()
    assert runner.argvs == [[str(uninstall)]]
    assert not (tmp_path / "etc" / "registries.yaml").exists()


def test_k3s_failing_uninstall_is_typed(tmp_path: Path) -> None:
    runner = FakeRunner()
    uninstall = tmp_path / "bin" / "k3s-uninstall.sh"
    uninstall.parent.mkdir()
    uninstall.write_text("#!/bin/sh\n")
    runner.on(str(uninstall), replies=[Completed(2, "", "rm: cannot remove '/var/lib/rancher': busy\n")])
    with pytest.raises(CommandFailed, match=r"(?s)uninstalling k3s failed.*busy"):
        make_k3s(tmp_path, runner).teardown()


def test_k3s_as_context_manager_tears_down_also_when_waiting_fails(tmp_path: Path) -> None:
    runner = FakeRunner()
    uninstall = tmp_path / "bin" / "k3s-uninstall.sh"
    uninstall.parent.mkdir()

    def install(_call: Call) -> Completed:
        uninstall.write_text("#!/bin/sh\n")
        (tmp_path / "etc" / "k3s.yaml").write_text("kind: Config\n")
        return Completed(0)

    runner.on("sh", replies=[install])
    runner.on(str(uninstall), replies=[Completed(0)])
    runner.on("kubectl", replies=[NOT_READY])
    with pytest.raises(Timeout), make_k3s(tmp_path, runner, ready_policy=FAST):
        pytest.fail("the body must not run when the cluster never became ready")
    assert runner.argvs[0] == ["sh", "-s", "-"]
    assert runner.argvs[-1] == [str(uninstall)]

    runner.on("kubectl", replies=[READY])
    runner.calls.clear()
    with make_k3s(tmp_path, runner, ready_policy=FAST) as cluster:
        assert runner.argvs[-1][:2] == ["kubectl", "--kubeconfig"]
        assert cluster.name == "k3s" and cluster.context is None
    assert runner.argvs[-1] == [str(uninstall)]


def test_k3s_refuses_an_invalid_version(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match=r"invalid k3s version '1\.31\.4'"):
        K3sCluster("1.31.4")
    with pytest.raises(InvalidInput, match="not an http"):
        K3sCluster(VERSION, install_script="/tmp/install.sh")


# -- node readiness and registries.yaml (pure) --------------------------------------------------


def test_node_readiness_states() -> None:
    assert node_readiness(READY.stdout) == Poll(True, None, "node ci-1: Ready=True")
    assert node_readiness('{"items": []}') == Poll(False, None, "no node registered yet")
    assert node_readiness("error: not json").state.startswith("unreadable kubectl output")
    mixed = nodes(("a", "True", "KubeletReady"), ("b", "Unknown", "NodeStatusUnknown")).stdout
    poll = node_readiness(mixed)
    assert not poll.done
    assert (
        poll.state
        == "node a: Ready=True; node b: Ready=Unknown (NodeStatusUnknown: NodeStatusUnknown message)"
    )
    bare = json.dumps({"items": [{"metadata": {"name": "c"}, "status": {}}]})
    assert node_readiness(bare).state == "node c: Ready=Unknown (no Ready condition yet)"


def test_registries_yaml_round_trip_and_validation() -> None:
    text = registries_yaml(
        {"registry.localhost:5000": "http://10.0.0.5:5000/", "docker.io": "https://mirror:443"}
    )
    assert yaml.safe_load(text) == {
        "mirrors": {
            "registry.localhost:5000": {"endpoint": ["http://10.0.0.5:5000"]},
            "docker.io": {"endpoint": ["https://mirror:443"]},
        },
        "configs": {
            "10.0.0.5:5000": {"tls": {"insecure_skip_verify": True}},
            "mirror:443": {"tls": {"insecure_skip_verify": True}},
        },
    }
    assert RegistryEndpoint("127.0.0.1:5001").mirrors() == {
        "registry.localhost:5000": "http://127.0.0.1:5001"
    }
    for bad in ({}, {"http://x": "h:1"}, {"x": "ftp://h:1"}, {"x": "http://h:1/path"}):
        with pytest.raises(InvalidInput):
            registries_yaml(bad)


# -- k3d --------------------------------------------------------------------------------------


def k3d_list(*names: str) -> Completed:
    return Completed(0, json.dumps([{"name": name, "nodes": []} for name in names]))


def test_k3d_create_argv_and_kubeconfig(tmp_path: Path) -> None:
    runner = FakeRunner()
    runner.on("k3d", "cluster", "list", replies=[k3d_list("other")])
    cluster = K3dCluster(
        "btp-e2e",
        k3s_version=VERSION,
        registry_create="registry.localhost:0.0.0.0:5000",
        registry_use=["k3d-shared:5000"],
        mirrors=MIRRORS,
        work_dir=tmp_path,
        runner=runner,
    )
    cluster.create()
    assert runner.argvs == [
        ["k3d", "cluster", "list", "-o", "json"],
        [
            "k3d",
            "cluster",
            "create",
            "btp-e2e",
            "--servers",
            "1",
            "--agents",
            "0",
            "--image",
            "rancher/k3s:v1.31.4-k3s1",
            "--k3s-arg",
            "--disable=traefik@server:*",
            "--registry-create",
            "registry.localhost:0.0.0.0:5000",
            "--registry-use",
            "k3d-shared:5000",
            "--registry-config",
            str(tmp_path / "registries.yaml"),
            "--kubeconfig-update-default=false",
            "--kubeconfig-switch-context=false",
            "--wait",
            "--timeout",
            "600s",
        ],
        ["k3d", "kubeconfig", "write", "btp-e2e", "--output", str(tmp_path / "kubeconfig"), "--overwrite"],
    ]
    assert all(call.env is None for call in runner.calls)
    assert yaml.safe_load((tmp_path / "registries.yaml").read_text())["mirrors"] == {
        "registry.localhost:5000": {"endpoint": ["http://127.0.0.1:5000"]}
    }
    assert cluster.kubeconfig == tmp_path / "kubeconfig" and cluster.context == "k3d-btp-e2e"


def test_k3d_keeps_an_existing_cluster_and_teardown_is_idempotent(tmp_path: Path) -> None:
    runner = FakeRunner()
    runner.on("k3d", "cluster", "list", replies=[k3d_list("btp-e2e"), k3d_list("btp-e2e"), k3d_list()])
    cluster = K3dCluster("btp-e2e", work_dir=tmp_path, runner=runner)
    cluster.create()
    assert [argv[:3] for argv in runner.argvs] == [["k3d", "cluster", "list"], ["k3d", "kubeconfig", "write"]]
    runner.calls.clear()
    cluster.teardown()
    cluster.teardown()
    assert runner.argvs == [
        ["k3d", "cluster", "list", "-o", "json"],
        ["k3d", "cluster", "delete", "btp-e2e"],
        ["k3d", "cluster", "list", "-o", "json"],
    ]


def test_k3d_failures_are_typed(tmp_path: Path) -> None:
    runner = FakeRunner()
    runner.on("k3d", "cluster", "list", replies=[k3d_list()])
    runner.on(
        "k3d",
        "cluster",
        "create",
        replies=[Completed(1, "", "FATA[0001] Failed to create cluster: port 6443 in use\n")],
    )
    with pytest.raises(CommandFailed, match=r"(?s)creating k3d cluster 'btp-e2e' failed.*port 6443 in use"):
        K3dCluster("btp-e2e", work_dir=tmp_path, runner=runner).create()

    broken = FakeRunner()
    broken.on("k3d", replies=[Completed(0, "NAME SERVERS\n")])
    with pytest.raises(CommandFailed, match="not a JSON list"):
        K3dCluster("btp-e2e", work_dir=tmp_path, runner=broken).exists()
    with pytest.raises(InvalidInput, match="invalid cluster name"):
        K3dCluster("Bad_Name", runner=broken)


def test_k3d_wait_ready_uses_the_written_kubeconfig_and_context(tmp_path: Path) -> None:
    clock = FakeClock()
    runner = FakeRunner()
    runner.on("kubectl", replies=[NOT_READY, READY])
    (tmp_path / "kubeconfig").write_text("kind: Config\n")
    K3dCluster("btp-e2e", work_dir=tmp_path, runner=runner, clock=clock, sleeper=clock.sleep).wait_ready(FAST)
    assert runner.argvs[0][:5] == [
        "kubectl",
        "--kubeconfig",
        str(tmp_path / "kubeconfig"),
        "--context",
        "k3d-btp-e2e",
    ]
    assert len(runner.calls) == 2 and clock.sleeps == [2.0]


# -- kind -------------------------------------------------------------------------------------


class FakePytestKind:
    """Stands in for pytest_kind.KindCluster: records how it was built and what it was asked."""

    instances: ClassVar[list[FakePytestKind]] = []

    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs
        self.actions: list[tuple[str, Any]] = []
        FakePytestKind.instances.append(self)

    def create(self, config_file: Path | None = None) -> None:
        self.actions.append(("create", config_file))

    def delete(self) -> None:
        self.actions.append(("delete", None))


def test_kind_drives_pytest_kind_with_installed_programs_only(tmp_path: Path) -> None:
    FakePytestKind.instances.clear()
    programs = {"kind": "/opt/bin/kind", "kubectl": "/usr/bin/kubectl"}
    config = tmp_path / "kind.yaml"
    cluster = KindCluster(
        "btp-e2e",
        node_image="kindest/node:v1.31.4",
        config_file=config,
        work_dir=tmp_path,
        which=programs.get,
        factory=FakePytestKind,
    )
    cluster.create()
    cluster.teardown()
    cluster.teardown()
    (kind,) = FakePytestKind.instances
    assert kind.kwargs == {
        "name": "btp-e2e",
        "kubeconfig": tmp_path / "kubeconfig",
        "image": "kindest/node:v1.31.4",
        "kind_path": Path("/opt/bin/kind"),
        "kubectl_path": Path("/usr/bin/kubectl"),
    }
    assert kind.actions == [("create", config), ("delete", None), ("delete", None)]
    assert cluster.context == "kind-btp-e2e"


def test_kind_without_kind_on_path(tmp_path: Path) -> None:
    FakePytestKind.instances.clear()
    cluster = KindCluster("btp-e2e", work_dir=tmp_path, which=lambda _: None, factory=FakePytestKind)
    with pytest.raises(NotFound, match="'kind' is not on PATH") as caught:
        cluster.create()
    assert "never lets pytest-kind download" in str(caught.value)
    cluster.teardown()  # nothing can exist: a no-op, not an error
    assert FakePytestKind.instances == []


@pytest.mark.skipif(
    shutil.which("kind") is None, reason="kind is not on PATH (and pytest-kind's download needs network)"
)
def test_kind_real_cluster(tmp_path: Path) -> None:  # pragma: no cover - needs kind and Docker
    with KindCluster("btp-release-test", work_dir=tmp_path) as cluster:
        assert cluster.kubeconfig.is_file()


# -- existing cluster -------------------------------------------------------------------------


def write_kubeconfig(path: Path, *contexts: str, current: str | None = None) -> Path:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "contexts": [{"name": name, "context": {"cluster": name, "user": name}} for name in contexts],
        "current-context": current,
    }
    path.write_text(yaml.safe_dump(config))
    return path


def test_existing_cluster_checks_its_kubeconfig(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match=r"kubeconfig .*missing\.yaml does not exist"):
        ExistingCluster(tmp_path / "missing.yaml")
    (tmp_path / "list.yaml").write_text("- a\n")
    with pytest.raises(InvalidInput, match="not a kubeconfig"):
        ExistingCluster(tmp_path / "list.yaml")
    (tmp_path / "broken.yaml").write_text("kind: [\n")
    with pytest.raises(InvalidInput, match="not valid YAML"):
        ExistingCluster(tmp_path / "broken.yaml")
    config = write_kubeconfig(tmp_path / "config", "dev", "ci")
    with pytest.raises(InvalidInput, match="no context 'prod'") as caught:
        ExistingCluster(config, context="prod")
    assert "dev, ci" in str(caught.value)
    with pytest.raises(InvalidInput, match="no current-context"):
        ExistingCluster(config)


def test_existing_cluster_waits_for_the_api_and_never_creates_or_deletes(tmp_path: Path) -> None:
    clock = FakeClock()
    runner = FakeRunner()
    server = {"clientVersion": {"gitVersion": "v1.31.0"}, "serverVersion": {"gitVersion": "v1.31.4+k3s1"}}
    runner.on(
        "kubectl",
        replies=[
            Completed(
                1, json.dumps({"clientVersion": {}}), "Unable to connect to the server: dial tcp: i/o timeout"
            ),
            Completed(0, json.dumps(server)),
        ],
    )
    config = write_kubeconfig(tmp_path / "config", "dev", "ci", current="dev")
    with ExistingCluster(config, context="ci", runner=runner, clock=clock, sleeper=clock.sleep) as cluster:
        assert cluster.name == "ci" and cluster.context == "ci" and cluster.kubeconfig == config
    assert (
        runner.argvs
        == [
            [
                "kubectl",
                "--kubeconfig",
                str(config),
                "--context",
                "ci",
                "version",
                "-o",
                "json",
                "--request-timeout=10s",
            ]
        ]
        * 2
    )
    assert config.is_file()

    probe_calls: list[int] = []

    def probe() -> Poll[None]:
        probe_calls.append(1)
        return Poll(False, None, "403 Forbidden")

    quiet = FakeRunner()
    cluster = ExistingCluster(config, probe=probe, runner=quiet, clock=clock, sleeper=clock.sleep)
    assert cluster.name == "dev"
    with pytest.raises(Timeout, match=r"API server of cluster 'dev'.*last observed: 403 Forbidden"):
        cluster.wait_ready(FAST)
    assert quiet.calls == [] and len(probe_calls) > 1


# -- local registry ---------------------------------------------------------------------------


def test_registry_with_docker_runs_registry2_on_loopback_and_waits_for_v2(tmp_path: Path) -> None:
    clock = FakeClock()
    runner = FakeRunner()
    runner.on(
        "docker", "inspect", replies=[Completed(1, "", "Error: No such object: btp-release-registry\n")]
    )
    answers: list[httpx.Response | None] = [None, httpx.Response(200, json={})]

    def v2(request: httpx.Request) -> httpx.Response:
        assert str(request.url) == "http://127.0.0.1:5000/v2/"
        answer = answers.pop(0)
        if answer is None:
            raise httpx.ConnectError("connection refused", request=request)
        return answer

    with httpx.Client(transport=httpx.MockTransport(v2)) as http:
        registry = LocalRegistry(mode="docker", runner=runner, http=http, clock=clock, sleeper=clock.sleep)
        with registry:
            assert registry.endpoint == RegistryEndpoint("127.0.0.1:5000", "registry.localhost:5000")
            assert registry.endpoint.url == "http://127.0.0.1:5000"
        registry.stop()
    assert runner.argvs == [
        ["docker", "inspect", "--format", "{{.State.Running}}", "btp-release-registry"],
        ["docker", "run", "-d", "--name", "btp-release-registry", "-p", "127.0.0.1:5000:5000", "registry:2"],
        ["docker", "rm", "--force", "btp-release-registry"],
    ]
    assert len(clock.sleeps) == 1
    with pytest.raises(NotFound, match="not started"):
        _ = registry.endpoint


def test_registry_reuses_a_running_container_and_reports_a_failed_start() -> None:
    runner = FakeRunner()
    runner.on("docker", "inspect", replies=[Completed(0, "true\n")])
    ok = httpx.MockTransport(lambda _: httpx.Response(401))  # a registry with auth answers too
    with httpx.Client(transport=ok) as http:
        LocalRegistry(mode="docker", port=5001, runner=runner, http=http).start()
    assert runner.argvs == [["docker", "inspect", "--format", "{{.State.Running}}", "btp-release-registry"]]

    failing = FakeRunner()
    failing.on("docker", "inspect", replies=[Completed(1)])
    failing.on(
        "docker",
        "run",
        replies=[Completed(125, "", "Bind for 127.0.0.1:5000 failed: port is already allocated\n")],
    )
    with pytest.raises(CommandFailed, match="port is already allocated"):
        LocalRegistry(mode="docker", runner=failing).start()
    with pytest.raises(NotFound, match="docker-registry is not installed"):
        LocalRegistry(mode="binary", which=lambda _: None).start()


@pytest.mark.skipif(shutil.which("docker-registry") is None, reason="docker-registry is not installed")
def test_registry_with_the_docker_registry_program_is_real(tmp_path: Path) -> None:
    runner = FakeRunner()
    with LocalRegistry(runner=runner) as registry:
        endpoint = registry.endpoint
        assert endpoint.host.startswith("127.0.0.1:") and endpoint.mirror == "registry.localhost:5000"
        assert httpx.get(f"{endpoint.url}/v2/", timeout=5).status_code == 200
    assert runner.calls == []  # no docker involved
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{endpoint.url}/v2/", timeout=1)


# -- the default runner -----------------------------------------------------------------------


def test_subprocess_runner_runs_argv_with_layered_env_and_stdin() -> None:
    runner = SubprocessRunner(base_env={"PATH": "/usr/bin:/bin", "KEEP": "base"})
    done = runner.run(
        ["sh", "-c", 'read line; echo "$line $KEEP $STEP"; echo oops >&2; exit 3'],
        env={"STEP": "install"},
        input=b"hello\n",
        timeout=30,
    )
    assert done == Completed(3, "hello base install\n", "oops\n")
    assert not done.ok
    with pytest.raises(NotFound, match="not installed or not on PATH"):
        runner.run(["btp-release-no-such-program"])
    with pytest.raises(Timeout, match=r"did not finish within 0\.2s"):
        runner.run(["sh", "-c", "echo started >&2; exec sleep 30"], timeout=0.2)


# -- k3s versions from GitHub ------------------------------------------------------------------


@pytest.fixture
def k3s_sim() -> Iterator[GitHubSimulator]:
    with GitHubSimulator(owner="k3s-io", repo="k3s") as simulator:
        yield simulator


def k3s_client(sim: GitHubSimulator, clock: FakeClock) -> GitHubClient:
    return GitHubClient(
        "k3s-io/k3s",
        token=sim.token,
        api_url=sim.api_url,
        retry=RetryPolicy(jitter=0),
        clock=clock,
        sleeper=clock.sleep,
        environ={},
    )


def publish_k3s_releases(sim: GitHubSimulator) -> list[str]:
    """Stable releases v1.20.0 … v1.32.8 (some with a +k3s2 rebuild), plus ones that must not count."""
    stable = [
        f"v1.{minor}.{patch}+k3s{build}"
        for minor in range(20, 33)
        for patch in range(9)
        for build in ((1, 2) if patch % 3 == 0 else (1,))
    ]
    headers = {"Authorization": f"Bearer {sim.token}", "Accept": "application/vnd.github+json"}
    with httpx.Client(base_url=f"{sim.api_url}/repos/k3s-io/k3s", headers=headers) as raw:

        def release(tag: str, **fields: bool) -> None:
            raw.post("/releases", json={"tag_name": tag, **fields}).raise_for_status()

        for tag in stable:
            release(tag, draft=False)
        release("v1.33.0-rc1+k3s1", draft=False, prerelease=True)
        release("v1.33.0+k3s1", draft=False, prerelease=True)  # flagged: not stable yet
        release("v1.34.0+k3s1", draft=True)
        release("v1.32.9-rc1+k3s1", draft=False)  # an rc the flag forgot
    sim.clear_requests()
    return stable


def test_k3s_versions_reads_every_page_and_caches(k3s_sim: GitHubSimulator, tmp_path: Path) -> None:
    stable = publish_k3s_releases(k3s_sim)
    assert len(stable) > 130  # more than one page of 100, four of GitHub's default 30
    clock, wall = FakeClock(), FakeClock(start=1_700_000_000.0)
    with k3s_client(k3s_sim, clock) as github:
        found = k3s_versions(github, cache_dir=tmp_path, wall_clock=wall)
    assert found == ["v1.32.8+k3s1", "v1.31.8+k3s1", "v1.30.8+k3s1"]
    pages = [r for r in k3s_sim.requests if r.method == "GET" and r.path.endswith("/releases")]
    assert len(pages) == 2 and all(r.authorized and r.status == 200 for r in pages)
    cached = json.loads((tmp_path / "k3s-releases.json").read_text())
    assert cached["repo"] == "k3s-io/k3s" and sorted(cached["tags"]) == sorted(stable)

    # within max_age: answered from the cache, GitHub is not asked again (new client, new process)
    k3s_sim.clear_requests()
    wall.now += 3600
    with k3s_client(k3s_sim, clock) as github:
        assert k3s_versions(github, minors=5, cache_dir=tmp_path, wall_clock=wall) == [
            "v1.32.8+k3s1",
            "v1.31.8+k3s1",
            "v1.30.8+k3s1",
            "v1.29.8+k3s1",
            "v1.28.8+k3s1",
        ]
    assert k3s_sim.requests == []

    # stale or unreadable: asked again
    wall.now += 6 * 3600
    with k3s_client(k3s_sim, clock) as github:
        k3s_versions(github, minors=1, cache_dir=tmp_path, wall_clock=wall)
        (tmp_path / "k3s-releases.json").write_text("{not json")
        assert k3s_versions(github, minors=1, cache_dir=tmp_path, wall_clock=wall) == ["v1.32.8+k3s1"]
    assert len([r for r in k3s_sim.requests if r.path.endswith("/releases")]) == 4


def test_k3s_versions_without_stable_releases(k3s_sim: GitHubSimulator) -> None:
    with k3s_client(k3s_sim, FakeClock()) as github:
        with pytest.raises(NotFound, match="no stable k3s release found in k3s-io/k3s"):
            k3s_versions(github)
        with pytest.raises(InvalidInput, match="minors must be at least 1"):
            k3s_versions(github, minors=0)


def test_newest_patches_orders_by_semver_then_k3s_build() -> None:
    tags = [
        "v1.9.10+k3s1",
        "v1.10.2+k3s1",
        "v1.10.10+k3s1",
        "v1.10.10+k3s2",
        "v1.10.9+k3s3",
        "latest",
        "v1.11.0-rc1+k3s1",
    ]
    assert newest_patches(tags, minors=2) == ["v1.10.10+k3s2", "v1.9.10+k3s1"]
    assert newest_patches([], minors=3) == []
    assert K3sVersion.parse("v1.31.4+k3s2").image_tag == "v1.31.4-k3s2"
    assert (
        K3sVersion.parse("v1.31.4+k3s2") > K3sVersion.parse("v1.31.4+k3s1") > K3sVersion.parse("v1.31.3+k3s9")
    )
