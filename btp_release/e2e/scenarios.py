"""What every E2E scenario shares: its settings, the Service Manager credentials, and its time budget.

The btp-operator scenarios themselves are in :mod:`btp_release.e2e.btp_operator`; the generic module
scenario in :mod:`btp_release.e2e.generic`.

A scenario runs as a :class:`ScenarioRun`: each check is a step of
:class:`~btp_release.e2e.report.Steps`, each wait has its own limit (:class:`E2ESettings`), and all
of them together stay inside the scenario's time budget — the time the real CI job allows (btp-manager's
main job 10 minutes, its upgrade jobs 5). A step that the budget cuts short fails with a message that
says so. Credential values travel as :class:`~btp_release.secret.Secret`.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import math
import re
from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import Any, Literal

import attrs

from btp_release.e2e.report import Steps
from btp_release.errors import InvalidInput, Timeout
from btp_release.kube import KubeClient, KubeObject
from btp_release.redaction import register
from btp_release.secret import Secret
from btp_release.wait import WaitPolicy

__all__ = [
    "DEFAULT_BUDGETS",
    "DUMMY_CREDENTIALS",
    "ENCODING_VARIABLE",
    "REAL_CREDENTIAL_VARIABLES",
    "E2ESettings",
    "ScenarioRun",
    "ServiceCredentials",
    "credentials_secret",
    "rolled_out",
]

NAMESPACE = "kyma-system"
SECRET_NAME = "sap-btp-manager"  # noqa: S105 - the name of the Secret object, not a secret
# btp-manager's cache sees the Secret only with this label (the value KEB sets on managed clusters).
SECRET_LABELS = MappingProxyType({"app.kubernetes.io/managed-by": "kcp-kyma-environment-broker"})

# The fixed values of "dummy" credentials: the manager starts, instances cannot be provisioned.
DUMMY_CREDENTIALS = {
    "clientid": "dummy_client_id",
    "clientsecret": "dummy_client_secret",
    "sm_url": "dummy_url",
    "tokenurl": "dummy_token_url",
    "cluster_id": "dummy_cluster_id",
}
# Secret key ← environment variable, for "real" credentials (the names btp-manager's scripts use too).
REAL_CREDENTIAL_VARIABLES = {
    "clientid": "SM_CLIENT_ID",
    "clientsecret": "SM_CLIENT_SECRET",
    "sm_url": "SM_URL",
    "tokenurl": "SM_TOKEN_URL",
}
# How the SM_* values are given: "base64" (the default: btp-manager's CI keeps its repository secrets
# CLIENT_ID, CLIENT_SECRET, SM_URL, TOKENURL base64-encoded and puts them as they are into the Secret's
# data, scripts/testing/yaml/e2e-test-secret.yaml) or "plain".
ENCODING_VARIABLE = "SM_CREDENTIALS_ENCODING"
Encoding = Literal["base64", "plain"]

# Seconds a whole scenario may take: what the real jobs allow (btp-manager's run-e2e-tests job has
# timeout-minutes 10, its upgrade and upgrade-while-deleting jobs 5). The k3s set-up of a job comes on top.
DEFAULT_BUDGETS: Mapping[str, float] = MappingProxyType(
    {"main": 600.0, "upgrade": 300.0, "upgrade-while-deleting": 300.0, "recovery": 300.0, "wrong-cr": 300.0}
)


@attrs.frozen
class ServiceCredentials:
    """What goes into the ``sap-btp-manager`` Secret; ``real`` decides the expected instance states.

    ``values`` are as given: plain text, or already base64 when ``encoding`` is ``"base64"`` (then they
    go into the Secret's ``data`` unchanged, as btp-manager's CI does).
    """

    values: Mapping[str, Secret]
    real: bool
    encoding: Encoding = "plain"

    @classmethod
    def dummy(cls) -> ServiceCredentials:
        return cls({k: Secret(v) for k, v in DUMMY_CREDENTIALS.items()}, real=False)

    @classmethod
    def from_environ(
        cls, environ: Mapping[str, str], *, cluster_id: str = "btp-release-e2e"
    ) -> ServiceCredentials:
        """Real credentials from ``SM_CLIENT_ID``, ``SM_CLIENT_SECRET``, ``SM_URL``, ``SM_TOKEN_URL``,
        base64-encoded unless ``SM_CREDENTIALS_ENCODING=plain``. Raises :class:`InvalidInput` naming every
        missing variable, or one that is not base64 (never a value), before anything touches a cluster."""
        encoding = (environ.get(ENCODING_VARIABLE) or "base64").strip().lower()
        if encoding not in ("base64", "plain"):
            raise InvalidInput(
                f"{ENCODING_VARIABLE} must be base64 or plain, not {encoding!r}",
                hint="base64: the values are stored encoded, as btp-manager's CI keeps them",
            )
        missing = [var for var in REAL_CREDENTIAL_VARIABLES.values() if not environ.get(var)]
        if missing:
            raise InvalidInput(
                f"real Service Manager credentials need {', '.join(missing)} (not set)",
                hint="set them from the repository's secrets, or use dummy credentials",
            )
        raw = {key: environ[var].strip() for key, var in REAL_CREDENTIAL_VARIABLES.items()}
        if encoding == "plain":
            values = {key: Secret(value) for key, value in raw.items()}
            return cls({**values, "cluster_id": Secret(cluster_id)}, real=True, encoding="plain")
        for key, value in raw.items():
            try:
                decoded = base64.b64decode(value, validate=True)
            except binascii.Error:
                raise InvalidInput(
                    f"{REAL_CREDENTIAL_VARIABLES[key]} is not base64 "
                    f"({ENCODING_VARIABLE}=base64, the default)",
                    hint=f"encode it, or set {ENCODING_VARIABLE}=plain for plain values",
                ) from None
            register(decoded.decode(errors="replace"))  # masked in messages too, in its plain form
        values = {key: Secret(value) for key, value in raw.items()}
        encoded_id = base64.b64encode(cluster_id.encode()).decode()
        return cls({**values, "cluster_id": Secret(encoded_id)}, real=True, encoding="base64")

    def data(self) -> dict[str, str]:
        """The Secret's ``data``: base64 values, revealed (only for the request that writes them)."""
        if self.encoding == "base64":
            return {k: v.reveal() for k, v in self.values.items()}
        return {k: base64.b64encode(v.reveal().encode()).decode() for k, v in self.values.items()}


def credentials_secret(credentials: ServiceCredentials) -> dict[str, Any]:
    """The ``kyma-system/sap-btp-manager`` Secret btp-manager reads, labelled so that its cache sees it."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": SECRET_NAME, "namespace": NAMESPACE, "labels": dict(SECRET_LABELS)},
        "type": "Opaque",
        "data": credentials.data(),
    }


def _slug(text: str) -> str:
    return re.sub(r"-+", "-", re.sub(r"[^a-z0-9-]", "-", text.lower())).strip("-")


@attrs.frozen(kw_only=True)
class E2ESettings:
    """Names and limits of a run.

    ``run_id`` (e.g. the CI run id) and ``matrix_entry`` (e.g. the runner's name with its k3s version)
    make instance names unique, so that parallel runs with real credentials do not collide in one Service
    Manager account. Every ``*_timeout`` limits one kind of wait (seconds); ``budgets`` limits a whole
    scenario (see :data:`DEFAULT_BUDGETS`; a scenario missing there has no budget).
    """

    run_id: str = "local"
    matrix_entry: str = ""
    deployment_timeout: float = 300.0
    ready_timeout: float = 300.0
    instance_timeout: float = 600.0
    deletion_timeout: float = 300.0
    poll_interval: float = 5.0
    # btp-manager's own limits for these checks:
    broken_image_timeout: float = 30.0  # the operand Deployment becomes unavailable with a broken image
    image_restore_timeout: float = 30.0  # … and btp-manager restores it
    operand_recreate_timeout: float = 120.0  # a deleted operand Deployment is re-created
    secret_loss_timeout: float = 60.0  # the CR leaves Ready once its Secret is deleted
    secret_recovery_timeout: float = 120.0  # … and is Ready again once it is back
    chart_version_timeout: float = 120.0  # an upgraded manager re-applies the operand while deleting
    wrong_cr_gone_timeout: float = 30.0  # a rejected CR has no finalizer: its deletion is immediate
    network_policy_timeout: float = 30.0  # network policies deleted / re-created after the annotation
    limited_cache_timeout: float = 60.0  # EnableLimitedCache reaches the operand's config
    cert_rotation_timeout: float = 60.0  # a deleted ca-server-cert is re-created, then each caBundle follows
    expected_chart_version: str | None = None  # the new module's operand chart version, when known
    budgets: Mapping[str, float] = attrs.field(factory=lambda: dict(DEFAULT_BUDGETS), hash=False)

    def policy(self, timeout: float) -> WaitPolicy:
        return WaitPolicy(timeout=timeout, interval=self.poll_interval, backoff=1.0)

    def budget(self, scenario: str) -> float | None:
        return self.budgets.get(scenario)

    def unique(self, prefix: str) -> str:
        """``prefix-<run id>[-<matrix entry>]`` as a DNS label (at most 63 characters; a long one keeps a
        hash of the whole, so two long ids still differ)."""
        parts = [_slug(prefix), _slug(self.run_id) or "run", _slug(self.matrix_entry)]
        name = "-".join(p for p in parts if p)
        if len(name) <= 63:
            return name
        digest = hashlib.sha256(name.encode()).hexdigest()[:8]
        return f"{name[:54].rstrip('-')}-{digest}"


class ScenarioRun:
    """One scenario's steps, each wait limited by its own limit and by what is left of the budget."""

    def __init__(self, kube: KubeClient, steps: Steps, settings: E2ESettings, scenario: str) -> None:
        self.kube = kube
        self.steps = steps
        self.settings = settings
        self.scenario = scenario
        self.budget = settings.budget(scenario)
        self.started = kube.clock()

    def remaining(self) -> float:
        if self.budget is None:
            return math.inf
        return self.budget - (self.kube.clock() - self.started)

    def policy(self, limit: float) -> WaitPolicy:
        """A wait of at most ``limit`` seconds, and never beyond the budget."""
        return self.settings.policy(max(0.0, min(limit, self.remaining())))

    def _spent(self, detail: str) -> Timeout:
        elapsed = self.kube.clock() - self.started
        return Timeout(
            f"the {self.scenario} scenario spent its time budget of {self.budget:g}s ({elapsed:g}s elapsed): "
            + detail,
            hint=f"the real job allows this long; find the slow step in junit.xml, or raise "
            f"E2ESettings.budgets[{self.scenario!r}] (test-module --budget {self.scenario}=SECONDS)",
        )

    @contextlib.contextmanager
    def step(self, name: str) -> Iterator[None]:
        """A step of this scenario; it fails at once when the budget is already spent."""
        with self.steps.step(self.scenario, name):
            if self.remaining() <= 0:
                raise self._spent("this step did not start")
            try:
                yield
            except Timeout as exc:
                if self.remaining() <= 0:
                    raise self._spent(str(exc)) from exc
                raise

    def skip(self, name: str, reason: str) -> None:
        self.steps.skip(self.scenario, name, reason)


def rolled_out(found: KubeObject | None) -> bool:
    """Available *and* the current template rolled out: during an upgrade the old pod keeps the
    Deployment Available, so Available alone would pass before the new version runs."""
    if found is None:
        return False
    available = found.condition("Available")
    status, spec = found.status, found.body.get("spec") or {}
    replicas = int(spec.get("replicas", 1))
    return (
        available is not None
        and available.status == "True"
        and int(status.get("observedGeneration", 0)) >= int(found.metadata.get("generation", 0))
        and int(status.get("updatedReplicas", 0)) == replicas
        and int(status.get("availableReplicas", 0)) >= replicas
        and int(status.get("replicas", 0)) == replicas
    )
