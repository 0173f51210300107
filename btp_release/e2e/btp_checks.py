"""The steps the btp-operator scenarios are made of: install, the BtpOperator's states, the operand,
instances and bindings, deprovisioning, uninstall.

What btp-manager (1.3.x, at c70cd184) does, and these steps rely on: it reconciles only
``kyma-system/btpoperator``; its one condition is ``Ready`` and ``.status.state`` is one of Ready,
Processing, Warning, Error, Deleting; it applies the SAP BTP service operator (the *operand*: Deployment
``kyma-system/sap-btp-operator-controller-manager`` and more, labelled ``chart-version``,
``app.kubernetes.io/managed-by: btp-manager``, ``kyma-project.io/module: btp-operator``); a deleted CR
with instances left is held in state Warning, reason ``ServiceInstancesAndBindingsNotCleaned``, until
they are gone or it is labelled ``force-delete=true``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import attrs

from btp_release.e2e.scenarios import (
    NAMESPACE,
    SECRET_NAME,
    ScenarioRun,
    ServiceCredentials,
    credentials_secret,
    rolled_out,
)
from btp_release.errors import CheckFailed, InvalidInput
from btp_release.kube import KubeObject, parse_manifest

__all__ = [
    "CR_NAME",
    "NAMESPACE",
    "NOT_CLEANED",
    "OPERAND",
    "OPERATOR_API",
    "SERVICES_API",
    "BtpOperatorModule",
    "cr_is",
    "cr_ready",
    "deprovision",
    "install",
    "install_manifest",
    "operator_ready",
    "uninstall",
]

CR_NAME = "btpoperator"  # the only name btp-manager reconciles (since 1.2.6), in NAMESPACE
CONFIG_MAP = "sap-btp-manager"
DEPLOYMENT = "btp-manager-controller-manager"
OPERAND = "sap-btp-operator-controller-manager"
OPERATOR_API = "operator.kyma-project.io/v1alpha1"
SERVICES_API = "services.cloud.sap.com/v1"
CRD_API = "apiextensions.k8s.io/v1"
SERVICE_CRDS = ("serviceinstances.services.cloud.sap.com", "servicebindings.services.cloud.sap.com")
NOT_CLEANED = "ServiceInstancesAndBindingsNotCleaned"
CHART_VERSION_LABEL = "chart-version"
OPERAND_LABELS = {"app.kubernetes.io/managed-by": "btp-manager", "kyma-project.io/module": "btp-operator"}
# btp-manager's cache sees its ConfigMap only with one of the Secret's managed-by values.
CONFIG_MAP_LABELS = {"app.kubernetes.io/managed-by": "btp-manager"}


@attrs.frozen
class BtpOperatorModule:
    """One version of the module as the scenarios install it: its manifest and default CR (as shipped)."""

    manifest: bytes
    default_cr: bytes

    def operator(self) -> dict[str, Any]:
        """The default CR, in ``kyma-system`` when it names no namespace (as lifecycle-manager does)."""
        objects = parse_manifest(self.default_cr, source="default CR")
        if len(objects) != 1 or objects[0].get("kind") != "BtpOperator":
            raise InvalidInput("the module's default CR is not one BtpOperator object")
        body = dict(objects[0])
        meta = dict(body.get("metadata") or {})
        meta.setdefault("namespace", NAMESPACE)
        body["metadata"] = meta
        return body

    @property
    def cr_ref(self) -> tuple[str, str]:
        """(namespace, name) of the default CR."""
        meta = self.operator()["metadata"]
        return str(meta["namespace"]), str(meta.get("name", ""))


# -- what a BtpOperator shows -------------------------------------------------------------------------


def cr_is(state: str, reason: str, ready: str = "False") -> Callable[[KubeObject | None], bool]:
    """``.status.state`` is ``state`` and condition ``Ready`` is ``ready`` with ``reason``."""

    def check(found: KubeObject | None) -> bool:
        condition = found.condition("Ready") if found is not None else None
        return (
            found is not None
            and found.status.get("state") == state
            and condition is not None
            and condition.status == ready
            and condition.reason == reason
        )

    return check


cr_ready = cr_is("Ready", "ReconcileSucceeded", ready="True")


def wait_cr(
    run: ScenarioRun,
    module: BtpOperatorModule,
    check: Callable[[KubeObject | None], bool],
    wanted: str,
    limit: float,
) -> KubeObject | None:
    namespace, name = module.cr_ref
    return run.kube.wait_for(
        OPERATOR_API,
        "BtpOperator",
        name,
        namespace,
        check,
        what=f"BtpOperator {namespace}/{name} to be {wanted}",
        policy=run.policy(limit),
    )


READY = "state Ready, Ready=True (ReconcileSucceeded)"
WARNING_NOT_CLEANED = f"state Warning, Ready=False ({NOT_CLEANED})"


# -- install ------------------------------------------------------------------------------------------


def install(run: ScenarioRun, manifest: bytes, credentials: ServiceCredentials) -> None:
    """The namespace, the credentials Secret (and, for dummy ones, btp-manager's ConfigMap with a short
    ``HardDeleteTimeout``, as its install_module.sh does), the manifest, the manager rolled out.

    No PriorityClass: btp-manager ships its own (``btp-manager-kyma-priority``, since 1.1.17)."""
    with run.step(f"namespace {NAMESPACE} present"):
        if run.kube.get("v1", "Namespace", NAMESPACE) is None:
            run.kube.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}})
    kind = "real" if credentials.real else "dummy"
    with run.step(f"create Secret {SECRET_NAME} ({kind} credentials, given {credentials.encoding})"):
        run.kube.apply(credentials_secret(credentials))
        if not credentials.real:
            run.kube.apply(
                {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {"name": CONFIG_MAP, "namespace": NAMESPACE, "labels": CONFIG_MAP_LABELS},
                    "data": {"HardDeleteTimeout": "10s"},
                }
            )
    install_manifest(run, manifest)


def install_manifest(run: ScenarioRun, manifest: bytes, *, note: str = "") -> None:
    with run.step(f"apply the module manifest{note}"):
        run.kube.apply_manifest(
            manifest, source="module manifest", policy=run.policy(run.settings.ready_timeout)
        )
    with run.step(f"deployment {DEPLOYMENT} rolled out and Available{note}"):
        run.kube.wait_for(
            "apps/v1",
            "Deployment",
            DEPLOYMENT,
            NAMESPACE,
            rolled_out,
            what=f"Deployment {NAMESPACE}/{DEPLOYMENT} to roll out and be Available",
            policy=run.policy(run.settings.deployment_timeout),
        )


def operator_ready(run: ScenarioRun, module: BtpOperatorModule, *, note: str = "") -> None:
    """Apply the default CR (unchanged when it is there) and await Ready; then the service CRDs."""
    namespace, name = module.cr_ref
    with run.step(f"BtpOperator {namespace}/{name} {READY}{note}"):
        run.kube.apply(module.operator())
        wait_cr(run, module, cr_ready, READY, run.settings.ready_timeout)
    with run.step(f"CRDs serviceinstances and servicebindings present{note}"):
        missing = [
            crd for crd in SERVICE_CRDS if run.kube.get(CRD_API, "CustomResourceDefinition", crd) is None
        ]
        if missing:
            raise CheckFailed(f"the manager did not install the CRDs {', '.join(missing)}")


# -- the operand --------------------------------------------------------------------------------------


def operand(run: ScenarioRun) -> KubeObject:
    found = run.kube.get("apps/v1", "Deployment", OPERAND, NAMESPACE)
    if found is None:
        raise CheckFailed(f"the operand Deployment {NAMESPACE}/{OPERAND} does not exist")
    return found


def containers(deployment: KubeObject) -> list[dict[str, Any]]:
    template = (deployment.body.get("spec") or {}).get("template") or {}
    return list((template.get("spec") or {}).get("containers") or [])


def condition_is(found: KubeObject | None, type_: str, status: str) -> bool:
    condition = found.condition(type_) if found is not None else None
    return condition is not None and condition.status == status


def check_operand(run: ScenarioRun) -> None:
    """The operand is there, Available and labelled by btp-manager; its images are the manager's."""
    with run.step(f"operand Deployment {OPERAND} Available, labelled by btp-manager"):
        found = run.kube.wait_for(
            "apps/v1",
            "Deployment",
            OPERAND,
            NAMESPACE,
            lambda d: condition_is(d, "Available", "True"),
            what=f"Deployment {NAMESPACE}/{OPERAND} (the operand) to be Available",
            policy=run.policy(run.settings.deployment_timeout),
        )
        assert found is not None
        labels = found.labels
        wrong = {k: labels.get(k) for k, v in OPERAND_LABELS.items() if labels.get(k) != v}
        if wrong or not labels.get(CHART_VERSION_LABEL):
            raise CheckFailed(
                f"the operand Deployment lacks btp-manager's labels: {OPERAND_LABELS} and "
                f"{CHART_VERSION_LABEL} expected, it has {dict(labels)}"
            )
    manager = run.kube.get("apps/v1", "Deployment", DEPLOYMENT, NAMESPACE)
    values = {
        str(env.get("value"))
        for container in (containers(manager) if manager is not None else [])
        for env in container.get("env") or []
        if env.get("value")
    }
    title = "the operand's images are those the manager's env names"
    if not values:
        run.skip(title, f"the manager Deployment {DEPLOYMENT} names no images in its env")
        return
    with run.step(title):
        images = [str(c.get("image")) for c in containers(operand(run))]
        if missing := [image for image in images if image not in values]:
            raise CheckFailed(
                f"the operand runs image(s) {', '.join(missing)} that the manager's env does not name"
            )


def operand_recreated(run: ScenarioRun, old_uid: str) -> KubeObject:
    """Await the operand Deployment with another UID than ``old_uid`` (btp-manager re-created it)."""
    found = run.kube.wait_for(
        "apps/v1",
        "Deployment",
        OPERAND,
        NAMESPACE,
        lambda d: d is not None and str(d.metadata.get("uid")) != old_uid and not d.deleting,
        what=f"Deployment {NAMESPACE}/{OPERAND} (the operand) to be re-created (a new UID)",
        policy=run.policy(run.settings.operand_recreate_timeout),
    )
    assert found is not None
    return found


# -- instances and bindings ---------------------------------------------------------------------------


def create_instance_and_binding(
    run: ScenarioRun, credentials: ServiceCredentials, suffix: str
) -> tuple[str, str]:
    """A ServiceInstance (auditlog-management/default) and its ServiceBinding, awaited in the state
    the credentials allow: Ready with real ones; NotProvisioned / CreateInProgress with dummy ones."""
    instance = create_instance(run, suffix)
    binding = create_binding(run, instance, suffix)
    for kind, name in (("ServiceInstance", instance), ("ServiceBinding", binding)):
        expect_service_state(run, credentials, kind, name)
    return instance, binding


def create_instance(run: ScenarioRun, suffix: str) -> str:
    instance = run.settings.unique(f"si-{suffix}")
    with run.step(f"create ServiceInstance {instance}"):
        run.kube.apply(
            {
                "apiVersion": SERVICES_API,
                "kind": "ServiceInstance",
                "metadata": {"name": instance, "namespace": NAMESPACE},
                "spec": {"serviceOfferingName": "auditlog-management", "servicePlanName": "default"},
            }
        )
    return instance


def create_binding(run: ScenarioRun, instance: str, suffix: str) -> str:
    binding = run.settings.unique(f"sb-{suffix}")
    with run.step(f"create ServiceBinding {binding} of {instance}"):
        run.kube.apply(
            {
                "apiVersion": SERVICES_API,
                "kind": "ServiceBinding",
                "metadata": {"name": binding, "namespace": NAMESPACE},
                "spec": {"serviceInstanceName": instance, "secretName": binding},
            }
        )
    return binding


def _dummy_state(found: KubeObject | None) -> bool:
    if found is None:
        return False
    ready, succeeded = found.condition("Ready"), found.condition("Succeeded")
    return (ready is not None and ready.status == "False" and ready.reason == "NotProvisioned") or (
        succeeded is not None and succeeded.status == "False" and succeeded.reason == "CreateInProgress"
    )


def expect_service_state(run: ScenarioRun, credentials: ServiceCredentials, kind: str, name: str) -> None:
    expected = "Ready" if credentials.real else "not provisioned (dummy credentials)"
    with run.step(f"{kind} {name} {expected}"):
        policy = run.policy(run.settings.instance_timeout)
        if credentials.real:
            run.kube.wait_condition(SERVICES_API, kind, name, NAMESPACE, "Ready", "True", policy=policy)
            return
        run.kube.wait_for(
            SERVICES_API,
            kind,
            name,
            NAMESPACE,
            _dummy_state,
            what=f"{kind} {name} to be Ready=False (NotProvisioned) or Succeeded=False (CreateInProgress)",
            policy=policy,
        )


# -- deprovisioning -----------------------------------------------------------------------------------


def delete_held(run: ScenarioRun, module: BtpOperatorModule) -> None:
    """Delete the CR while instances exist: btp-manager keeps it, Warning/NotCleaned."""
    namespace, name = module.cr_ref
    with run.step(f"delete BtpOperator {namespace}/{name}: kept, {WARNING_NOT_CLEANED}"):
        run.kube.delete(OPERATOR_API, "BtpOperator", name, namespace)
        wait_cr(
            run, module, cr_is("Warning", NOT_CLEANED), WARNING_NOT_CLEANED, run.settings.deletion_timeout
        )


def deprovision(
    run: ScenarioRun,
    module: BtpOperatorModule,
    credentials: ServiceCredentials,
    pairs: Sequence[tuple[str, str]],
    *,
    operand_while_held: bool = False,
) -> None:
    """Deleting the BtpOperator must not remove the manager's work while instances exist (and with
    ``operand_while_held``, a deleted operand comes back meanwhile); ``force-delete`` then removes it all."""
    delete_held(run, module)
    with run.step("ServiceInstances and ServiceBindings are kept"):
        for instance, binding in pairs:
            for kind, item in (("ServiceInstance", instance), ("ServiceBinding", binding)):
                found = run.kube.get(SERVICES_API, kind, item, NAMESPACE)
                if found is None:
                    raise CheckFailed(
                        f"{kind} {item} was removed while its BtpOperator was only being deleted"
                    )
                ready = found.condition("Ready")
                if credentials.real and (ready is None or ready.status != "True"):
                    raise CheckFailed(f"{kind} {item} is no longer Ready: {found.describe()}")
    if operand_while_held:
        with run.step(f"delete the operand Deployment while {NOT_CLEANED}: re-created, CR still held"):
            uid = str(operand(run).metadata.get("uid"))
            run.kube.delete("apps/v1", "Deployment", OPERAND, NAMESPACE)
            operand_recreated(run, uid)
            namespace, name = module.cr_ref
            found = run.kube.get(OPERATOR_API, "BtpOperator", name, namespace)
            if not cr_is("Warning", NOT_CLEANED)(found):
                shown = found.describe() if found is not None else "gone"
                raise CheckFailed(f"the BtpOperator is no longer {WARNING_NOT_CLEANED}: {shown}")
    force_delete(run, module)


def force_delete(run: ScenarioRun, module: BtpOperatorModule) -> None:
    namespace, name = module.cr_ref
    with run.step(f"label force-delete=true: BtpOperator {namespace}/{name} goes"):
        run.kube.label(OPERATOR_API, "BtpOperator", name, namespace, {"force-delete": "true"})
        run.kube.wait_gone(
            OPERATOR_API, "BtpOperator", name, namespace, policy=run.policy(run.settings.deletion_timeout)
        )
    module_resources_removed(run)


def remove_operator(run: ScenarioRun, module: BtpOperatorModule) -> None:
    """Delete the BtpOperator when no instance holds it: it goes, and so do the operand and CRDs."""
    namespace, name = module.cr_ref
    with run.step(f"delete BtpOperator {namespace}/{name} (no instances): gone"):
        run.kube.delete(OPERATOR_API, "BtpOperator", name, namespace)
        run.kube.wait_gone(
            OPERATOR_API, "BtpOperator", name, namespace, policy=run.policy(run.settings.deletion_timeout)
        )
    module_resources_removed(run)


def module_resources_removed(run: ScenarioRun) -> None:
    with run.step("the service CRDs and the operand are removed"):
        for crd in SERVICE_CRDS:
            run.kube.wait_gone(
                CRD_API,
                "CustomResourceDefinition",
                crd,
                None,
                policy=run.policy(run.settings.deletion_timeout),
            )
        run.kube.wait_gone(
            "apps/v1", "Deployment", OPERAND, NAMESPACE, policy=run.policy(run.settings.deletion_timeout)
        )


def uninstall(run: ScenarioRun, manifest: bytes) -> None:
    with run.step(f"uninstall the module, remove Secret and ConfigMap {SECRET_NAME}"):
        run.kube.delete_manifest(manifest, source="module manifest")
        run.kube.delete("v1", "ConfigMap", CONFIG_MAP, NAMESPACE)
        run.kube.delete("v1", "Secret", SECRET_NAME, NAMESPACE)
        run.kube.wait_gone(
            "apps/v1", "Deployment", DEPLOYMENT, NAMESPACE, policy=run.policy(run.settings.deletion_timeout)
        )
