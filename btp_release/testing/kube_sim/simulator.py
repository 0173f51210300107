"""The public face of the Kubernetes simulator: start/stop, token, kubeconfig, models, snapshots."""

from __future__ import annotations

import base64
import copy
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import yaml

from ..faultbook import FaultBook
from ..simserver import SimulatorControls
from .api import Api
from .btp_model import BtpManagerModel
from .controllers import reconcile_crds, reconcile_namespaces
from .failures import FAILURE_MODES, FailureMode
from .faults import Fault
from .module_model import ModuleModel, SimulatedModule
from .names import DUMMY_CREDENTIALS
from .reconciler import ModelDelays
from .resources import ResourceType
from .server import App, RecordedRequest, Server
from .store import Store, identity, meta
from .workloads import NODE_NAME, DeploymentController

if TYPE_CHECKING:
    from .tls import Certificates

Obj = dict[str, Any]


class KubeSimulator(SimulatorControls[Fault, RecordedRequest]):
    """A stateful Kubernetes API server with a btp-manager model, on a real loopback socket.

    Every authenticated request is followed by one reconcile pass of the built-in controllers
    (CRDs, namespaces, Deployments), the btp-manager model and the generic module models, so a
    client that polls moves the cluster forward; delays are counted in passes
    (:class:`ModelDelays`), never in seconds. Use as a context manager, or ``start()``/``stop()``.
    Thread-safe: all state sits behind one lock.

    ``failures``: failure modes on from the start (:data:`FAILURE_MODES`, see :meth:`fail`);
    ``modules``: generic Kyma modules to play (:class:`SimulatedModule`); ``chart_versions``:
    btp-manager image tag → the chart version it carries (default: the tag itself);
    ``dummy_credentials``: the values that make instances fail to provision.
    """

    def __init__(
        self,
        *,
        delays: ModelDelays | None = None,
        failures: Iterable[FailureMode] = (),
        modules: Iterable[SimulatedModule] = (),
        chart_versions: Mapping[str, str] | None = None,
        dummy_credentials: Mapping[str, str] = DUMMY_CREDENTIALS,
        auto_reconcile: bool = True,
        tls: bool = True,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.delays = delays or ModelDelays()
        self.tls = tls
        self.token = "kube-sim-" + secrets.token_hex(20)
        self.auto_reconcile = auto_reconcile
        self._lock = threading.RLock()
        self._store = Store(clock)
        self._failures: set[str] = set()
        self._deployments = DeploymentController(
            self._store, pod_start=self.delays.pod_start, behaviour=lambda d: self._model.pod_behaviour(d)
        )
        self._model = BtpManagerModel(
            self._store,
            self._deployments,
            delays=self.delays,
            failures=self._failures,
            dummy_credentials=dummy_credentials,
            chart_versions=chart_versions or {},
        )
        self._modules = ModuleModel(self._store, self.delays, self._failures, list(modules))
        self._faults = FaultBook[Fault]()
        self._passes = 0
        self.fail(*failures)
        self._server: Server | None = None
        self._certificates: Certificates | None = None
        self._api = Api(self._store, lambda: self._server.address if self._server else "127.0.0.1:0")
        self._app = App(
            api=self._api,
            lock=self._lock,
            faults=self._faults,
            token=self.token,
            after_request=self._after_request,
        )
        self._request_log = self._app.requests
        self._bootstrap()

    def _bootstrap(self) -> None:
        """What a fresh single-node k3s has: system namespaces, a Ready node, and only the system priority
        classes (``system-cluster-critical``, ``system-node-critical``; no ``kyma-system`` one)."""
        store = self._store
        namespaces, nodes, classes = (
            store.type_for("/namespaces"),
            store.type_for("/nodes"),
            store.type_for("scheduling.k8s.io/priorityclasses"),
        )
        assert namespaces is not None and nodes is not None and classes is not None
        for name in ("default", "kube-system", "kube-public", "kube-node-lease"):
            store.create(namespaces, {"metadata": {"name": name}}, manager="kube-apiserver", check=False)
        for name, value in (("system-cluster-critical", 2000000000), ("system-node-critical", 2000001000)):
            store.create(
                classes, {"metadata": {"name": name}, "value": value}, manager="kube-apiserver", check=False
            )
        node = {
            "metadata": {
                "name": NODE_NAME,
                "labels": {
                    "kubernetes.io/hostname": NODE_NAME,
                    "node-role.kubernetes.io/control-plane": "true",
                },
            },
            "status": {
                "conditions": [
                    {
                        "type": "Ready",
                        "status": "True",
                        "reason": "KubeletReady",
                        "message": "kubelet is posting ready status",
                    }
                ],
                "nodeInfo": {
                    "kubeletVersion": "v1.32.0+kube-sim",
                    "architecture": "amd64",
                    "operatingSystem": "linux",
                },
                "addresses": [{"type": "InternalIP", "address": "10.0.0.10"}],
            },
        }
        store.create(nodes, node, manager="kubelet", check=False)
        self._reconcile_once()

    # -- lifecycle ----------------------------------------------------------------------

    def start(self) -> KubeSimulator:
        """Bind an ephemeral loopback port and serve in a background thread; idempotent."""
        if self._server is None:
            if self.tls and self._certificates is None:
                from .tls import generate  # files and an SSL context only when serving HTTPS

                self._certificates = generate()
            context = self._certificates.server_context() if self._certificates is not None else None
            server = Server(self._app, context)
            server.start()
            self._server = server
        return self

    def stop(self) -> None:
        """Stop serving and close every connection (joins the thread for at most 5 s)."""
        if self._server is not None:
            self._server.stop()
            self._server = None
        if self._certificates is not None:
            self._certificates.cleanup()
            self._certificates = None

    def __enter__(self) -> KubeSimulator:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The API server URL: ``https://127.0.0.1:<port>`` (``http://`` with ``tls=False``)."""
        if self._server is None:
            raise RuntimeError("KubeSimulator is not started; use it as a context manager")
        return self._server.url

    @property
    def ca_pem(self) -> bytes:
        """The PEM certificate of the CA that signed the server's certificate (``tls=True``, started)."""
        if self._certificates is None:
            raise RuntimeError("no CA: the simulator is not started, or serves plain HTTP (tls=False)")
        return self._certificates.ca_pem

    def kubeconfig_dict(self, namespace: str = "default") -> Obj:
        """A kubeconfig (as a dict, for ``lightkube.KubeConfig.from_dict``) with the bearer token.

        kubectl sends the token only over TLS, so use the default ``tls=True`` for kubectl.
        """
        cluster: Obj = {"server": self.url}
        if self._certificates is not None:
            cluster["certificate-authority-data"] = base64.b64encode(self._certificates.ca_pem).decode()
        return {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "kube-sim", "cluster": cluster}],
            "users": [{"name": "kube-sim", "user": {"token": self.token}}],
            "contexts": [
                {
                    "name": "kube-sim",
                    "context": {"cluster": "kube-sim", "user": "kube-sim", "namespace": namespace},
                }
            ],
            "current-context": "kube-sim",
            "preferences": {},
        }

    def kubeconfig(self, path: str | os.PathLike[str], namespace: str = "default") -> Path:
        """Write :meth:`kubeconfig_dict` to ``path`` (mode 0600: it holds the token) and return the path."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            yaml.safe_dump(self.kubeconfig_dict(namespace), handle, sort_keys=False)
        return target

    # -- the models -----------------------------------------------------------------------

    def fail(self, *modes: FailureMode) -> None:
        """Turn failure modes on (each is described in :data:`~.failures.FAILURE_DESCRIPTIONS`).

        btp-manager: ``deployment_never_available``, ``cr_stuck``, ``crds_not_removed``,
        ``reconciles_any_name``, ``no_operand_recovery``, ``image_not_restored``,
        ``no_secret_recovery``, ``no_upgrade_while_deleting``, ``not_cleaned_as_deleting``,
        ``no_network_policies``, ``network_policies_not_disabled``, ``limited_cache_not_propagated``,
        ``ca_bundle_not_rotated``; generic modules: ``module_never_ready``, ``finalizer_never_removed``,
        ``leaves_objects_behind``.
        """
        unknown = set(modes) - FAILURE_MODES
        if unknown:
            raise ValueError(
                f"unknown failure mode(s) {sorted(unknown)}; expected some of {sorted(FAILURE_MODES)}"
            )
        with self._lock:
            self._failures.update(modes)

    def recover(self, *modes: FailureMode) -> None:
        """Turn failure modes off (all of them when none is named)."""
        with self._lock:
            if modes:
                self._failures.difference_update(modes)
            else:
                self._failures.clear()

    @property
    def failures(self) -> frozenset[str]:
        with self._lock:
            return frozenset(self._failures)

    def _after_request(self) -> None:
        if self.auto_reconcile:
            self._reconcile_once()

    def _reconcile_once(self) -> None:
        self._passes += 1
        reconcile_crds(self._store)
        reconcile_namespaces(self._store)
        self._deployments.reconcile()
        self._model.reconcile()
        self._modules.reconcile()

    def reconcile(self, passes: int = 1) -> None:
        """Run reconcile passes now (as ``passes`` requests would)."""
        with self._lock:
            for _ in range(passes):
                self._reconcile_once()

    @property
    def passes(self) -> int:
        """Reconcile passes run so far (including the one at construction)."""
        with self._lock:
            return self._passes

    @property
    def hard_delete_timeout(self) -> str | None:
        """The ``HardDeleteTimeout`` (ConfigMap ``kyma-system/sap-btp-manager``) the last hard delete
        used, as written there; ``None`` for the default (20m)."""
        with self._lock:
            return self._model.hard_delete_timeout

    # -- snapshots (faults and requests: SimulatorControls) -------------------------------

    def _type(self, resource: str) -> ResourceType:
        plural, _, group = resource.partition(".")
        rt = self._store.type_for(f"{group}/{plural}")
        if rt is None:
            raise KeyError(
                f"no resource {resource!r} is served (use kubectl's plural.group form, e.g. deployments.apps)"
            )
        return rt

    def get(self, resource: str, name: str, namespace: str = "") -> Obj | None:
        """A copy of one object, ``resource`` as ``plural.group`` (``deployments.apps``, ``secrets``)."""
        with self._lock:
            found = self._store.get(self._type(resource), namespace, name)
            return copy.deepcopy(found) if found is not None else None

    def list_objects(self, resource: str, namespace: str | None = None) -> list[Obj]:
        """Copies of the objects of a resource (in one namespace, or all)."""
        with self._lock:
            return copy.deepcopy(self._store.list(self._type(resource), namespace))

    def events(self, namespace: str | None = None, *, involved: str | None = None) -> list[Obj]:
        """Recorded events, oldest first; ``involved`` filters by the involved object's name."""
        with self._lock:
            found = [
                e for e in self._store.list(self._type("events"), namespace)
                if involved is None or (e.get("involvedObject") or {}).get("name") == involved
            ]  # fmt: skip
            return copy.deepcopy(sorted(found, key=lambda e: int(meta(e).get("resourceVersion", 0))))

    def pod_log(self, namespace: str, pod: str) -> list[str]:
        """The log lines a model wrote for a pod."""
        with self._lock:
            return [line for _, line in self._store.logs.get((namespace, pod), [])]

    def pods(self, namespace: str, deployment: str) -> list[Obj]:
        """Copies of the pods the Deployment model made for ``deployment``."""
        with self._lock:
            found = self._store.get(self._type("deployments.apps"), namespace, deployment)
            return copy.deepcopy(self._deployments.pods_of(found)) if found is not None else []

    def inventory(self) -> list[tuple[str, str, str]]:
        """Every stored object as (resource key ``group/plural``, namespace, name)."""
        with self._lock:
            return sorted((key, *identity(obj)) for key, obj in self._store.all_objects())
