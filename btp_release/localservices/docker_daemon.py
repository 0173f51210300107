"""A private Docker daemon (``dockerd``) on its own unix socket.

A daemon of its own that changes nothing of the host's Docker, for building images in isolation
(``ImageBuilder.from_environ(daemon.environ())``); the test suite's image and pipeline tests run on
one (the ``docker_daemon`` fixture of :mod:`btp_release.testing`).

Everything lives in one temporary directory: the socket, ``--data-root``, ``--exec-root``, the
pidfile, an empty ``--config-file`` (so a host ``/etc/docker/daemon.json`` cannot interfere) and the
daemon's log. ``--bridge=none --iptables=false --ip6tables=false``: no host networking changes;
containers must run with network ``none`` or ``host``. Loopback registries (``127.0.0.0/8``) are
insecure-allowed by dockerd's default, so pushes to a :class:`~btp_release.localservices.LocalRegistry`
work over plain HTTP. Needs root and the ``dockerd``/``containerd``/``runc`` binaries
(``apt-get install docker.io``); :meth:`DockerDaemon.available` says why not.

Stopping sends SIGTERM to exactly the PID started (dockerd then stops its containers and its
``containerd``), waits, escalates to SIGKILL, and only then cleans up processes and mounts that
refer to this daemon's own directory. See ``docs/images.md``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import httpx

__all__ = ["Availability", "DockerDaemon"]

_SEARCH_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/usr/bin", "/sbin", "/bin"])


def _which(name: str) -> str | None:
    return shutil.which(name, path=_SEARCH_PATH)


@attrs.frozen
class Availability:
    """Whether a private daemon can start here; ``reason`` says why not (e.g. for ``pytest.skip``)."""

    ok: bool
    reason: str = ""

    def __bool__(self) -> bool:
        return self.ok


class DockerDaemon:
    """``with DockerDaemon() as daemon: daemon.host`` → ``"unix:///tmp/btp-dockerd-…/docker.sock"``.

    ``storage_driver=None`` lets dockerd choose (``overlay2`` where the kernel and the data-root's
    filesystem allow it, else ``vfs``); pass ``"vfs"`` to force the slow but universal driver.
    ``startup_timeout``/``stop_timeout`` bound the waits (seconds). Starting takes ~1-5 s.
    """

    def __init__(
        self,
        *,
        storage_driver: str | None = None,
        startup_timeout: float = 60.0,
        stop_timeout: float = 30.0,
        base_dir: Path | None = None,
    ) -> None:
        self.storage_driver = storage_driver
        self.startup_timeout = startup_timeout
        self.stop_timeout = stop_timeout
        self._base_dir = base_dir
        self._root: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._containerd_pid: int | None = None

    @staticmethod
    def available() -> Availability:
        """Root and the binaries dockerd needs; cheap, starts nothing."""
        for binary in ("dockerd", "containerd", "runc"):
            if _which(binary) is None:
                return Availability(False, f"{binary} is not installed (apt-get install docker.io)")
        if os.geteuid() != 0:
            return Availability(False, "a private dockerd needs root (mounts, namespaces, cgroups)")
        return Availability(True)

    # -- paths -------------------------------------------------------------------------------
    @property
    def root(self) -> Path:
        if self._root is None:
            raise RuntimeError("the daemon is not started")
        return self._root

    @property
    def socket(self) -> Path:
        return self.root / "docker.sock"

    @property
    def host(self) -> str:
        """The ``DOCKER_HOST`` value for this daemon."""
        return f"unix://{self.socket}"

    @property
    def data_root(self) -> Path:
        return self.root / "data"

    @property
    def exec_root(self) -> Path:
        return self.root / "exec"

    @property
    def log_path(self) -> Path:
        return self.root / "dockerd.log"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def environ(self) -> dict[str, str]:
        """Environment for the docker CLI or ``ImageBuilder.from_environ``: just ``DOCKER_HOST``."""
        return {"DOCKER_HOST": self.host}

    def client(self, **options: Any) -> Any:
        """A ``docker.DockerClient`` for this daemon (API version negotiated); close it when done."""
        import docker

        return docker.DockerClient(base_url=self.host, **options)

    # -- lifecycle ---------------------------------------------------------------------------
    def ping(self) -> bool:
        """True when the daemon answers ``GET /_ping`` on its socket."""
        if self._root is None or not self.socket.exists():
            return False
        transport = httpx.HTTPTransport(uds=str(self.socket))
        try:
            with httpx.Client(transport=transport, timeout=2.0) as http:
                return http.get("http://docker/_ping").text == "OK"
        except httpx.HTTPError:
            return False

    def start(self) -> DockerDaemon:
        availability = self.available()
        if not availability:
            raise RuntimeError(f"cannot start a private dockerd: {availability.reason}")
        self._root = Path(tempfile.mkdtemp(prefix="btp-dockerd-", dir=self._base_dir))
        if len(str(self.socket)) > 100:
            path = self.socket
            shutil.rmtree(self.root, ignore_errors=True)
            self._root = None
            raise RuntimeError(f"socket path {path} is too long for a unix socket: pass a short base_dir")
        self.data_root.mkdir()
        self.exec_root.mkdir()
        (self.root / "daemon.json").write_text("{}\n")
        command = [
            str(_which("dockerd")),
            "--host",
            self.host,
            "--data-root",
            str(self.data_root),
            "--exec-root",
            str(self.exec_root),
            "--pidfile",
            str(self.root / "dockerd.pid"),
            "--config-file",
            str(self.root / "daemon.json"),
            "--bridge=none",
            "--iptables=false",
            "--ip6tables=false",
            "--shutdown-timeout=5",
        ]
        if self.storage_driver:
            command += ["--storage-driver", self.storage_driver]
        with self.log_path.open("wb") as log:
            # Own session: a Ctrl-C in the test runner must not kill the daemon before cleanup.
            self._process = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        self._containerd_pid = _read_pid(self.exec_root / "containerd" / "containerd.pid")
        return self

    def _wait_ready(self) -> None:
        assert self._process is not None
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(
                    f"dockerd exited with {self._process.returncode} while starting:\n{self.log_tail()}"
                )
            if self.ping():
                return
            time.sleep(0.1)
        raise RuntimeError(f"dockerd did not answer within {self.startup_timeout:.0f}s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def info(self) -> dict[str, Any]:
        """The daemon's ``GET /info`` (storage driver, insecure registries…)."""
        transport = httpx.HTTPTransport(uds=str(self.socket))
        with httpx.Client(transport=transport, timeout=10.0) as http:
            response = http.get("http://docker/info")
            response.raise_for_status()
            result: dict[str, Any] = response.json()
            return result

    def stop(self) -> None:
        """Stop exactly the started dockerd (SIGTERM, then SIGKILL), then clean up its directory."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=self.stop_timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=self.stop_timeout)
        if self._root is None:
            return
        self._reap_leftovers()
        _unmount_under(self.root)
        shutil.rmtree(self.root, ignore_errors=True)
        self._root = None
        self._containerd_pid = None

    def _reap_leftovers(self) -> None:
        """After a forced stop: kill what is provably this daemon's, nothing else.

        That is containerd and the shims (their command lines name this daemon's directory) and the
        processes of its containers (their cgroup path names one of this daemon's container IDs).
        After a graceful stop there is nothing left and nothing is killed.
        """
        containers = _container_ids(self.data_root)
        pids = set(_pids_referring_to(self.root)) | set(_pids_in_containers(containers))
        if self._containerd_pid is not None and _pid_refers_to(self._containerd_pid, self.root):
            pids.add(self._containerd_pid)
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + self.stop_timeout
        while pids and time.monotonic() < deadline:
            pids = {pid for pid in pids if _is_running(pid)}
            if pids:
                time.sleep(0.05)

    def __enter__(self) -> DockerDaemon:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _is_running(pid: int) -> bool:
    """Alive and not a zombie (a reparented zombie waits for an init that may never reap it)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def _container_ids(data_root: Path) -> set[str]:
    try:
        return {entry.name for entry in (data_root / "containers").iterdir() if len(entry.name) == 64}
    except OSError:
        return set()


def _pids_in_containers(container_ids: set[str]) -> Iterator[int]:
    if not container_ids:
        return
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cgroups = (entry / "cgroup").read_text()
        except OSError:
            continue
        if any(container_id in cgroups for container_id in container_ids):
            yield int(entry.name)


def _pid_refers_to(pid: int, root: Path) -> bool:
    return f"{root}/" in _cmdline(pid)


def _pids_referring_to(root: Path) -> Iterator[int]:
    me = os.getpid()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != me and _pid_refers_to(int(entry.name), root):
            yield int(entry.name)


def _unescape_mount_path(field: str) -> str:
    # /proc/self/mountinfo escapes space, tab, newline and backslash as \ooo octal.
    return bytes(field, "ascii").decode("unicode_escape")


def _mounts_under(root: Path) -> list[str]:
    prefix = str(root)
    mounts = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        mount_point = _unescape_mount_path(line.split(" ")[4])
        if mount_point == prefix or mount_point.startswith(prefix + "/"):
            mounts.append(mount_point)
    return mounts


def _unmount_under(root: Path) -> None:
    """Unmount what dockerd left (overlay2 layers, netns, its data-root bind), deepest first."""
    for _attempt in range(3):
        mounts = sorted(set(_mounts_under(root)), key=lambda m: m.count("/"), reverse=True)
        if not mounts:
            return
        for mount_point in mounts:
            done = subprocess.run(["umount", mount_point], capture_output=True, check=False, timeout=30)
            if done.returncode != 0:
                subprocess.run(["umount", "-l", mount_point], capture_output=True, check=False, timeout=30)
