"""k3s installed on this machine by its official install script: the cluster of the release E2E.

Meant for throwaway CI machines (it needs root and installs a system service). The registry
mirror file is written *before* the installer starts k3s, because k3s reads it only at start.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import httpx

from btp_release.cluster._run import Runner, check
from btp_release.cluster.base import READY_POLICY, ClusterBase
from btp_release.cluster.registry import registries_yaml
from btp_release.cluster.versions import K3sVersion
from btp_release.errors import DigestMismatch, InvalidInput, NotFound, Transient
from btp_release.redaction import get_logger
from btp_release.wait import Clock, Sleeper, WaitPolicy

__all__ = ["K3S_EXEC", "K3S_INSTALL_URL", "K3sCluster"]

log = get_logger("btp_release.cluster")

K3S_INSTALL_URL = "https://get.k3s.io"
K3S_EXEC = "--disable traefik --write-kubeconfig-mode 644"
ETC_DIR = Path("/etc/rancher/k3s")
BIN_DIR = Path("/usr/local/bin")


def _is_root() -> bool:
    geteuid = getattr(os, "geteuid", None)
    return geteuid is not None and geteuid() == 0


class K3sCluster(ClusterBase):
    """k3s ``version`` (e.g. ``v1.31.4+k3s1``) on this Linux machine, traefik disabled.

    ``mirrors`` maps registry names to endpoints (:meth:`RegistryEndpoint.mirrors`) and becomes
    ``<etc_dir>/registries.yaml``. ``install_script`` is the installer's URL (downloaded with
    ``http``) or a local file; ``install_script_sha256`` pins its content. ``create()`` skips the
    installer when the same version already runs with the same mirrors, so calling it again is
    cheap. ``teardown()`` runs ``<bin_dir>/k3s-uninstall.sh`` when it exists — that removes k3s
    from this machine whoever installed it — and does nothing otherwise.

    Raises :class:`InvalidInput` before touching anything when not on Linux or not root
    (``platform`` and ``is_root`` are injectable), :class:`CommandFailed` when the installer fails.
    """

    kind = "k3s"

    def __init__(
        self,
        version: str,
        *,
        name: str = "k3s",
        mirrors: Mapping[str, str] | None = None,
        install_script: str | Path = K3S_INSTALL_URL,
        install_script_sha256: str | None = None,
        exec_args: str = K3S_EXEC,
        http: httpx.Client | None = None,
        etc_dir: Path = ETC_DIR,
        bin_dir: Path = BIN_DIR,
        install_timeout: float = 900.0,
        platform: str = sys.platform,
        is_root: Callable[[], bool] = _is_root,
        runner: Runner | None = None,
        kubectl: str = "kubectl",
        ready_policy: WaitPolicy = READY_POLICY,
        clock: Clock = time.monotonic,
        sleeper: Sleeper = time.sleep,
    ) -> None:
        super().__init__(
            name, runner=runner, kubectl=kubectl, ready_policy=ready_policy, clock=clock, sleeper=sleeper
        )
        self.version = K3sVersion.parse(version)
        self.mirrors = dict(mirrors or {})
        self.registries = registries_yaml(self.mirrors) if self.mirrors else None
        if isinstance(install_script, str) and not install_script.startswith(("https://", "http://")):
            raise InvalidInput(
                f"k3s install script {install_script!r} is not an http(s) URL",
                hint="pass a local script as a pathlib.Path",
            )
        self.install_script = install_script
        self.install_script_sha256 = install_script_sha256.lower() if install_script_sha256 else None
        self.exec_args = exec_args
        self._http = http
        self.etc_dir = etc_dir
        self.bin_dir = bin_dir
        self.install_timeout = install_timeout
        self.platform = platform
        self.is_root = is_root

    @property
    def kubeconfig(self) -> Path:
        return self.etc_dir / "k3s.yaml"

    @property
    def registries_file(self) -> Path:
        return self.etc_dir / "registries.yaml"

    @property
    def uninstall_script(self) -> Path:
        return self.bin_dir / "k3s-uninstall.sh"

    def install_env(self) -> dict[str, str]:
        """The variables the install script reads (https://docs.k3s.io/reference/env-variables)."""
        return {"INSTALL_K3S_VERSION": str(self.version), "INSTALL_K3S_EXEC": self.exec_args}

    def _preflight(self, action: str) -> None:
        if not self.platform.startswith("linux"):
            raise InvalidInput(
                f"cannot {action} k3s on {self.platform}: k3s runs only on Linux",
                hint="use K3dCluster or KindCluster (Docker) here, or run the E2E stage on a Linux runner",
            )
        if not self.is_root():
            raise InvalidInput(
                f"cannot {action} k3s: it needs root "
                f"(it installs a system service and writes {self.etc_dir})",
                hint="run as root (e.g. sudo -E), or use K3dCluster, which only needs Docker",
            )

    def create(self) -> None:
        """Install (or re-install) k3s ``version`` with the registry mirrors and start it.

        Order matters: the installer script is fetched and checked before anything on this machine
        changes, and ``registries.yaml`` is written before the installer (re)starts k3s.
        """
        self._preflight("install")
        mirrors_changed = self.registries is not None and self._current_registries() != self.registries
        installed = self.installed_version()
        if installed == self.version and not mirrors_changed:
            log.info("k3s %s is already installed; not running the installer", self.version)
            return
        script = self._script()
        if mirrors_changed:
            self._write_registries()
        argv = ["sh", "-s", "-"]  # the documented `curl -sfL https://get.k3s.io | sh -s -`
        log.info("installing k3s %s (was: %s)", self.version, installed or "not installed")
        check(
            self.runner.run(argv, env=self.install_env(), input=script, timeout=self.install_timeout),
            what=f"installing k3s {self.version}",
            argv=argv,
            hint="fix the cause shown by the installer and call create() again (it is safe to repeat)",
        )

    def installed_version(self) -> K3sVersion | None:
        """The version of ``<bin_dir>/k3s`` if it is installed and answers, else ``None``."""
        binary = self.bin_dir / "k3s"
        if not binary.exists():
            return None
        done = self.runner.run([str(binary), "--version"], timeout=60.0)
        # "k3s version v1.31.4+k3s1 (a1b2c3d4)\ngo version go1.22.9"
        words = done.stdout.split()
        return K3sVersion.try_parse(words[2]) if done.ok and len(words) > 2 else None

    def _current_registries(self) -> str | None:
        path = self.registries_file
        return path.read_text(encoding="utf-8") if path.is_file() else None

    def _write_registries(self) -> None:
        """Write ``registries.yaml`` atomically (k3s must never read half a file)."""
        assert self.registries is not None
        path = self.registries_file
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".registries.", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(self.registries)
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        log.info("wrote %s mirroring %s", path, ", ".join(sorted(self.mirrors)))

    def _script(self) -> bytes:
        source = self.install_script
        if isinstance(source, Path):
            try:
                script = source.read_bytes()
            except FileNotFoundError as exc:
                raise NotFound(
                    f"k3s install script {source} does not exist", hint="pass its path or the URL"
                ) from exc
        else:
            script = self._download(source)
        if self.install_script_sha256 is not None:
            digest = hashlib.sha256(script).hexdigest()
            if digest != self.install_script_sha256:
                raise DigestMismatch(
                    f"k3s install script from {source} has sha256 {digest}, "
                    f"expected {self.install_script_sha256}",
                    hint="the installer changed: review it and update the pinned checksum",
                )
        if not script.startswith(b"#!"):
            raise InvalidInput(
                f"k3s install script from {source} is not a shell script (starts with {script[:40]!r})",
                hint="check the URL (a proxy or captive portal may have answered instead)",
            )
        return script

    def _download(self, url: str) -> bytes:
        http = self._http or httpx.Client(timeout=httpx.Timeout(60.0, connect=10.0))
        try:
            response = http.get(url, follow_redirects=True)
        except httpx.TransportError as exc:
            raise Transient(
                f"downloading the k3s install script from {url} failed: {exc}",
                hint="check network access, or pass install_script=<local file>",
            ) from exc
        finally:
            if self._http is None:
                http.close()
        if response.status_code >= 500:
            raise Transient(
                f"downloading the k3s install script from {url}: HTTP {response.status_code}",
                hint="try again later, or pass install_script=<local file>",
            )
        if response.status_code != 200:
            raise NotFound(
                f"downloading the k3s install script from {url}: HTTP {response.status_code}",
                hint="check the URL, or pass install_script=<local file>",
            )
        return response.content

    def teardown(self) -> None:
        """Uninstall k3s with its uninstall script if present (idempotent: once gone, nothing runs)."""
        script = self.uninstall_script
        if not script.exists():
            log.info("k3s is not installed (no %s); nothing to tear down", script)
            self._forget_registries()
            return
        self._preflight("uninstall")
        argv: Sequence[str] = [str(script)]
        check(
            self.runner.run(argv, timeout=self.install_timeout),
            what="uninstalling k3s",
            argv=argv,
            hint=f"run {script} by hand, then teardown() again",
        )
        self._forget_registries()
        log.info("k3s uninstalled")

    def _forget_registries(self) -> None:
        # the uninstall script removes /etc/rancher/k3s; with another etc_dir we clean up ourselves
        if self.registries is not None:
            try:
                self.registries_file.unlink(missing_ok=True)
            except OSError as exc:
                log.warning("could not remove %s: %s", self.registries_file, exc)
