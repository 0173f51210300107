"""The E2E scenarios of the btp-operator module (``spec/seed-pipeline.md``, "E2E on k3s"), as functions.

``main_scenario``: prerequisites, Service Manager secret, the module's raw manifest, deployment
Available, BtpOperator Ready/ReconcileSucceeded, CRDs present, a ServiceInstance and ServiceBinding
with unique names in the state the credentials allow, deprovisioning safety (the CR stays while
instances exist), ``force-delete=true`` removes the CR and the CRDs, uninstall and cleanup.
``upgrade_scenario``: the latest published module, instances on it, then the new module — old
instances stay Ready and a new binding becomes Ready; real credentials only.

Every check is a step of :class:`~btp_release.e2e.report.Steps`; every wait is bounded and says what
it awaits and what it last saw. Credential values travel as :class:`~btp_release.secret.Secret`.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from typing import Any

import attrs

from btp_release.e2e.report import Steps
from btp_release.errors import CheckFailed, InvalidInput
from btp_release.kube import KubeClient, KubeObject, parse_manifest
from btp_release.secret import Secret
from btp_release.wait import WaitPolicy

__all__ = [
    "DUMMY_CREDENTIALS",
    "REAL_CREDENTIAL_VARIABLES",
    "E2ESettings",
    "ServiceCredentials",
    "main_scenario",
    "upgrade_scenario",
]

NAMESPACE = "kyma-system"
SECRET_NAME = "sap-btp-manager"  # noqa: S105 - the name of the Secret object, not a secret
DEPLOYMENT = "btp-manager-controller-manager"
OPERATOR_API = "operator.kyma-project.io/v1alpha1"
SERVICES_API = "services.cloud.sap.com/v1"
CRD_API = "apiextensions.k8s.io/v1"
SERVICE_CRDS = ("serviceinstances.services.cloud.sap.com", "servicebindings.services.cloud.sap.com")
NOT_CLEANED = "ServiceInstancesAndBindingsNotCleaned"

# The fixed values of "dummy" credentials: the manager starts, instances cannot be provisioned.
DUMMY_CREDENTIALS = {
    "clientid": "dummy_client_id",
    "clientsecret": "dummy_client_secret",
    "sm_url": "dummy_url",
    "tokenurl": "dummy_token_url",
    "cluster_id": "dummy_cluster_id",
}
# Secret key ← environment variable, for "real" credentials.
REAL_CREDENTIAL_VARIABLES = {
    "clientid": "SM_CLIENT_ID",
    "clientsecret": "SM_CLIENT_SECRET",
    "sm_url": "SM_URL",
    "tokenurl": "SM_TOKEN_URL",
}


@attrs.frozen
class ServiceCredentials:
    """What goes into the ``sap-btp-manager`` Secret; ``real`` decides the expected instance states."""

    values: Mapping[str, Secret]
    real: bool

    @classmethod
    def dummy(cls) -> ServiceCredentials:
        return cls({k: Secret(v) for k, v in DUMMY_CREDENTIALS.items()}, real=False)

    @classmethod
    def from_environ(
        cls, environ: Mapping[str, str], *, cluster_id: str = "btp-release-e2e"
    ) -> ServiceCredentials:
        """Real credentials from ``SM_CLIENT_ID``, ``SM_CLIENT_SECRET``, ``SM_URL``, ``SM_TOKEN_URL``;
        every missing one is named (not its value) before anything touches a cluster."""
        missing = [var for var in REAL_CREDENTIAL_VARIABLES.values() if not environ.get(var)]
        if missing:
            raise InvalidInput(
                f"real Service Manager credentials need {', '.join(missing)} (not set)",
                hint="set them from the repository's secrets, or use dummy credentials",
            )
        values = {key: Secret(environ[var]) for key, var in REAL_CREDENTIAL_VARIABLES.items()}
        return cls({**values, "cluster_id": Secret(cluster_id)}, real=True)


@attrs.frozen(kw_only=True)
class E2ESettings:
    """Names and limits of a run. ``run_id`` makes instance names unique (e.g. the CI run id)."""

    run_id: str = "local"
    cr_name: str = "e2e-test-btpoperator"
    deployment_timeout: float = 300.0
    ready_timeout: float = 300.0
    instance_timeout: float = 600.0
    deletion_timeout: float = 300.0
    poll_interval: float = 5.0

    def policy(self, timeout: float) -> WaitPolicy:
        return WaitPolicy(timeout=timeout, interval=self.poll_interval, backoff=1.0)

    def unique(self, prefix: str) -> str:
        slug = re.sub(r"[^a-z0-9-]", "-", self.run_id.lower()).strip("-")[:40] or "run"
        return f"{prefix}-{slug}"


def credentials_secret(credentials: ServiceCredentials) -> dict[str, Any]:
    """The ``sap-btp-manager`` Secret btp-manager reads (labelled so that its cache sees it)."""
    data = {k: base64.b64encode(v.reveal().encode()).decode() for k, v in credentials.values.items()}
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": SECRET_NAME,
            "namespace": NAMESPACE,
            "labels": {"app.kubernetes.io/managed-by": "kcp-kyma-environment-broker"},
        },
        "type": "Opaque",
        "data": data,
    }


PREREQUISITES = (
    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}},
    {
        "apiVersion": "scheduling.k8s.io/v1",
        "kind": "PriorityClass",
        "metadata": {"name": "kyma-system"},
        "value": 2000000,
        "globalDefault": False,
        "description": "Scheduling priority of Kyma system components",
    },
)


def install(
    kube: KubeClient,
    manifest: bytes,
    credentials: ServiceCredentials,
    steps: Steps,
    settings: E2ESettings,
    scenario: str,
) -> None:
    """Prerequisites, the credentials Secret (and, for dummy ones, the fast-cleanup ConfigMap), the
    module's raw manifest, then the manager deployment Available."""
    with steps.step(scenario, "install prerequisites (namespace, PriorityClass)"):
        for body in PREREQUISITES:
            kube.apply(body)
    with steps.step(
        scenario, f"create Secret {SECRET_NAME} ({'real' if credentials.real else 'dummy'} credentials)"
    ):
        kube.apply(credentials_secret(credentials))
        if not credentials.real:
            kube.apply(
                {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {"name": SECRET_NAME, "namespace": NAMESPACE},
                    "data": {"HardDeleteTimeout": "10s"},
                }
            )
    install_manifest(kube, manifest, steps, settings, scenario)


def install_manifest(
    kube: KubeClient, manifest: bytes, steps: Steps, settings: E2ESettings, scenario: str
) -> None:
    with steps.step(scenario, "apply the module manifest"):
        kube.apply_manifest(
            manifest, source="module manifest", policy=settings.policy(settings.ready_timeout)
        )
    with steps.step(scenario, f"deployment {DEPLOYMENT} rolled out and Available"):
        kube.wait_for(
            "apps/v1",
            "Deployment",
            DEPLOYMENT,
            NAMESPACE,
            rolled_out,
            what=f"Deployment {NAMESPACE}/{DEPLOYMENT} to roll out and be Available",
            policy=settings.policy(settings.deployment_timeout),
        )


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


def _operator(default_cr: bytes, name: str) -> dict[str, Any]:
    objects = parse_manifest(default_cr, source="default CR")
    if len(objects) != 1 or objects[0].get("kind") != "BtpOperator":
        raise InvalidInput("the module's default CR is not one BtpOperator object")
    body = dict(objects[0])
    body["metadata"] = {**(body.get("metadata") or {}), "name": name, "namespace": NAMESPACE}
    return body


def operator_ready(
    kube: KubeClient, default_cr: bytes, steps: Steps, settings: E2ESettings, scenario: str
) -> None:
    with steps.step(scenario, f"BtpOperator {settings.cr_name} Ready (ReconcileSucceeded)"):
        kube.apply(_operator(default_cr, settings.cr_name))
        kube.wait_condition(
            OPERATOR_API,
            "BtpOperator",
            settings.cr_name,
            NAMESPACE,
            "Ready",
            "True",
            "ReconcileSucceeded",
            policy=settings.policy(settings.ready_timeout),
        )
    with steps.step(scenario, "CRDs serviceinstances and servicebindings present"):
        missing = [
            name for name in SERVICE_CRDS if kube.get(CRD_API, "CustomResourceDefinition", name) is None
        ]
        if missing:
            raise CheckFailed(f"the manager did not install the CRDs {', '.join(missing)}")


def create_instance_and_binding(
    kube: KubeClient,
    credentials: ServiceCredentials,
    steps: Steps,
    settings: E2ESettings,
    scenario: str,
    suffix: str,
) -> tuple[str, str]:
    """A ServiceInstance (auditlog-management/default) and its ServiceBinding, awaited in the state
    the credentials allow: Ready with real ones; NotProvisioned / CreateInProgress with dummy ones."""
    instance, binding = settings.unique(f"si-{suffix}"), settings.unique(f"sb-{suffix}")
    with steps.step(scenario, f"create ServiceInstance {instance} and ServiceBinding {binding}"):
        kube.apply(
            {
                "apiVersion": SERVICES_API,
                "kind": "ServiceInstance",
                "metadata": {"name": instance, "namespace": NAMESPACE},
                "spec": {"serviceOfferingName": "auditlog-management", "servicePlanName": "default"},
            }
        )
        kube.apply(
            {
                "apiVersion": SERVICES_API,
                "kind": "ServiceBinding",
                "metadata": {"name": binding, "namespace": NAMESPACE},
                "spec": {"serviceInstanceName": instance, "secretName": binding},
            }
        )
    for kind, name in (("ServiceInstance", instance), ("ServiceBinding", binding)):
        expect_service_state(kube, credentials, kind, name, steps, settings, scenario)
    return instance, binding


def expect_service_state(
    kube: KubeClient,
    credentials: ServiceCredentials,
    kind: str,
    name: str,
    steps: Steps,
    settings: E2ESettings,
    scenario: str,
) -> None:
    expected = "Ready" if credentials.real else "not provisioned (dummy credentials)"
    with steps.step(scenario, f"{kind} {name} {expected}"):
        policy = settings.policy(settings.instance_timeout)
        if credentials.real:
            kube.wait_condition(SERVICES_API, kind, name, NAMESPACE, "Ready", "True", policy=policy)
            return

        def dummy_state(found: KubeObject | None) -> bool:
            if found is None:
                return False
            ready, succeeded = found.condition("Ready"), found.condition("Succeeded")
            return (ready is not None and ready.status == "False" and ready.reason == "NotProvisioned") or (
                succeeded is not None
                and succeeded.status == "False"
                and succeeded.reason == "CreateInProgress"
            )

        kube.wait_for(
            SERVICES_API,
            kind,
            name,
            NAMESPACE,
            dummy_state,
            what=f"{kind} {name} to be Ready=False (NotProvisioned) or Succeeded=False (CreateInProgress)",
            policy=policy,
        )


def deprovision(
    kube: KubeClient,
    credentials: ServiceCredentials,
    instances: list[tuple[str, str]],
    steps: Steps,
    settings: E2ESettings,
    scenario: str,
) -> None:
    """Deleting the BtpOperator must not remove the manager while instances exist; ``force-delete``
    then removes the CR, the instances and the service CRDs."""
    name = settings.cr_name
    with steps.step(scenario, f"delete BtpOperator {name}: kept while instances exist ({NOT_CLEANED})"):
        kube.delete(OPERATOR_API, "BtpOperator", name, NAMESPACE)
        kube.wait_condition(
            OPERATOR_API,
            "BtpOperator",
            name,
            NAMESPACE,
            "Ready",
            "False",
            NOT_CLEANED,
            policy=settings.policy(settings.deletion_timeout),
        )
    with steps.step(scenario, "ServiceInstances and ServiceBindings are kept"):
        for instance, binding in instances:
            for kind, item in (("ServiceInstance", instance), ("ServiceBinding", binding)):
                found = kube.get(SERVICES_API, kind, item, NAMESPACE)
                if found is None:
                    raise CheckFailed(
                        f"{kind} {item} was removed while its BtpOperator was only being deleted"
                    )
                ready = found.condition("Ready")
                if credentials.real and (ready is None or ready.status != "True"):
                    raise CheckFailed(f"{kind} {item} is no longer Ready: {found.describe()}")
    with steps.step(scenario, "label force-delete=true: the BtpOperator goes"):
        kube.label(OPERATOR_API, "BtpOperator", name, NAMESPACE, {"force-delete": "true"})
        kube.wait_gone(
            OPERATOR_API, "BtpOperator", name, NAMESPACE, policy=settings.policy(settings.deletion_timeout)
        )
    with steps.step(scenario, "the service CRDs are removed"):
        for crd in SERVICE_CRDS:
            kube.wait_gone(
                CRD_API,
                "CustomResourceDefinition",
                crd,
                None,
                policy=settings.policy(settings.deletion_timeout),
            )


def uninstall(kube: KubeClient, manifest: bytes, steps: Steps, settings: E2ESettings, scenario: str) -> None:
    with steps.step(scenario, "uninstall the module, remove the Secret and prerequisites"):
        kube.delete_manifest(manifest, source="module manifest")
        kube.delete("v1", "ConfigMap", SECRET_NAME, NAMESPACE)
        kube.delete("v1", "Secret", SECRET_NAME, NAMESPACE)
        kube.delete("scheduling.k8s.io/v1", "PriorityClass", "kyma-system")
        kube.wait_gone(
            "apps/v1", "Deployment", DEPLOYMENT, NAMESPACE, policy=settings.policy(settings.deletion_timeout)
        )


def main_scenario(
    kube: KubeClient,
    manifest: bytes,
    default_cr: bytes,
    credentials: ServiceCredentials,
    steps: Steps,
    settings: E2ESettings,
) -> None:
    """Install, check, deprovision and uninstall the module (raises at the first failing step)."""
    scenario = "main"
    install(kube, manifest, credentials, steps, settings, scenario)
    operator_ready(kube, default_cr, steps, settings, scenario)
    pair = create_instance_and_binding(kube, credentials, steps, settings, scenario, "main")
    deprovision(kube, credentials, [pair], steps, settings, scenario)
    uninstall(kube, manifest, steps, settings, scenario)


def upgrade_scenario(
    kube: KubeClient,
    previous_manifest: bytes,
    manifest: bytes,
    default_cr: bytes,
    credentials: ServiceCredentials,
    steps: Steps,
    settings: E2ESettings,
) -> None:
    """From the latest published module to this one, with instances surviving the upgrade."""
    scenario = "upgrade"
    if not credentials.real:
        steps.skip(scenario, "upgrade from the latest release", "needs real Service Manager credentials")
        return
    install(kube, previous_manifest, credentials, steps, settings, scenario)
    operator_ready(kube, default_cr, steps, settings, scenario)
    old = create_instance_and_binding(kube, credentials, steps, settings, scenario, "old")
    install_manifest(kube, manifest, steps, settings, scenario)
    operator_ready(kube, default_cr, steps, settings, scenario)
    for kind, name in (("ServiceInstance", old[0]), ("ServiceBinding", old[1])):
        expect_service_state(kube, credentials, kind, name, steps, settings, scenario)
    new_binding = settings.unique("sb-new")
    with steps.step(scenario, f"a new ServiceBinding {new_binding} on the old instance"):
        kube.apply(
            {
                "apiVersion": SERVICES_API,
                "kind": "ServiceBinding",
                "metadata": {"name": new_binding, "namespace": NAMESPACE},
                "spec": {"serviceInstanceName": old[0], "secretName": new_binding},
            }
        )
    expect_service_state(kube, credentials, "ServiceBinding", new_binding, steps, settings, scenario)
    deprovision(kube, credentials, [old, (old[0], new_binding)], steps, settings, scenario)
    uninstall(kube, manifest, steps, settings, scenario)
