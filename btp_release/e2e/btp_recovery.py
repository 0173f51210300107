"""What btp-manager must put right by itself, as its own E2E suite checks it on every release.

- BtpOperators with a wrong name or namespace (``default/btpoperator``, ``kyma-system/btpoperator-test``):
  state Warning, ``Ready=False``/``WrongNamespaceOrName``, no finalizer; the right one stays Ready.
- The operand: a broken image (``non-existing-image:0.0.00000``) makes it unavailable and btp-manager
  restores it (30 s + 30 s); a deleted operand Deployment is re-created and the CR is Ready again.
- The credentials Secret deleted: the CR leaves Ready within 60 s (Warning, ``MissingSecret``);
  back, it is Ready within 120 s.
- Upgrade while deleting: a CR held by an instance (``ServiceInstancesAndBindingsNotCleaned``) must not
  stop a new manager from re-applying the operand: its ``chart-version`` label becomes the new chart
  version and its resourceVersion changes within 120 s.
"""

from __future__ import annotations

from typing import Any

from btp_release.e2e.btp_checks import (
    CHART_VERSION_LABEL,
    DEPLOYMENT,
    NAMESPACE,
    NOT_CLEANED,
    OPERAND,
    OPERATOR_API,
    READY,
    BtpOperatorModule,
    condition_is,
    containers,
    cr_is,
    cr_ready,
    create_instance,
    delete_held,
    force_delete,
    install,
    install_manifest,
    operand,
    operand_recreated,
    operator_ready,
    uninstall,
    wait_cr,
)
from btp_release.e2e.scenarios import SECRET_NAME, ScenarioRun, ServiceCredentials, credentials_secret
from btp_release.errors import CheckFailed, Timeout
from btp_release.kube import KubeObject, parse_manifest

__all__ = [
    "BROKEN_IMAGE",
    "expected_chart_version",
    "operand_recovery",
    "secret_recovery",
    "upgrade_while_deleting",
    "wrong_crs_rejected",
]

BROKEN_IMAGE = "non-existing-image:0.0.00000"  # btp-manager's run_e2e_module_tests.sh uses this one
OPERAND_IMAGE_ENV = "SAP_BTP_SERVICE_OPERATOR"  # the manager's env naming the operand's image
WRONG = "WrongNamespaceOrName"


# -- wrong name or namespace ---------------------------------------------------------------------------


def wrong_crs_rejected(run: ScenarioRun, module: BtpOperatorModule, *, primary_first: bool) -> None:
    """Two BtpOperators btp-manager must not reconcile, before (``primary_first=False``) or beside the
    right one; then they are deleted, at once as they have no finalizer."""
    namespace, name = module.cr_ref
    wrong = [("default", name), (namespace, f"{name}-test")]
    if not primary_first:
        for where, what in wrong:
            _rejected(run, module, where, what)
    with run.step(f"BtpOperator {namespace}/{name} {READY} beside the wrong ones"):
        run.kube.apply(module.operator())
        wait_cr(run, module, cr_ready, READY, run.settings.ready_timeout)
    if primary_first:
        for where, what in wrong:
            _rejected(run, module, where, what)
        with run.step(f"BtpOperator {namespace}/{name} still Ready"):
            found = run.kube.get(OPERATOR_API, "BtpOperator", name, namespace)
            if not cr_ready(found):
                shown = found.describe() if found is not None else "gone"
                raise CheckFailed(f"a wrong BtpOperator changed the right one: {shown}")
    with run.step("delete the wrong BtpOperators: gone at once (no finalizer)"):
        for where, what in wrong:
            run.kube.delete(OPERATOR_API, "BtpOperator", what, where)
        for where, what in wrong:
            run.kube.wait_gone(
                OPERATOR_API,
                "BtpOperator",
                what,
                where,
                policy=run.policy(run.settings.wrong_cr_gone_timeout),
            )


def _rejected(run: ScenarioRun, module: BtpOperatorModule, namespace: str, name: str) -> None:
    wanted = f"state Warning, Ready=False ({WRONG})"
    with run.step(f"BtpOperator {namespace}/{name} rejected: {wanted}, no finalizer"):
        body = module.operator()
        body["metadata"] = {**body["metadata"], "name": name, "namespace": namespace}
        run.kube.apply(body)
        found = run.kube.wait_for(
            OPERATOR_API,
            "BtpOperator",
            name,
            namespace,
            cr_is("Warning", WRONG),
            what=f"BtpOperator {namespace}/{name} to be {wanted}",
            policy=run.policy(run.settings.ready_timeout),
        )
        finalizers = list((found.metadata.get("finalizers") if found is not None else None) or [])
        if finalizers:
            raise CheckFailed(
                f"BtpOperator {namespace}/{name} got finalizer(s) {', '.join(finalizers)}: btp-manager took "
                "it on although it must reconcile only kyma-system/btpoperator"
            )


# -- the operand ---------------------------------------------------------------------------------------


def operand_recovery(run: ScenarioRun, module: BtpOperatorModule) -> None:
    """A broken operand image and a deleted operand Deployment, each put right by btp-manager."""
    settings = run.settings
    with run.step(f"operand image set to {BROKEN_IMAGE}, its pods deleted: Deployment unavailable"):
        live = operand(run)
        container = next((c for c in containers(live) if c.get("name") == "manager"), containers(live)[0])
        selector = (live.body.get("spec") or {}).get("selector") or {}
        # Server-side apply of just the image (btp-manager's test: kubectl patch); the selector is there
        # because the typed Deployment needs one. The old pod would keep the Deployment Available.
        run.kube.apply(_image_patch(selector, str(container.get("name")), BROKEN_IMAGE))
        for pod in run.kube.list_objects("v1", "Pod", NAMESPACE, labels=selector.get("matchLabels") or {}):
            run.kube.delete("v1", "Pod", pod.name, NAMESPACE)
        run.kube.wait_for(
            "apps/v1",
            "Deployment",
            OPERAND,
            NAMESPACE,
            lambda d: condition_is(d, "Available", "False") and condition_is(d, "Progressing", "True"),
            what=f"Deployment {NAMESPACE}/{OPERAND} to be Available=False, Progressing=True",
            policy=run.policy(settings.broken_image_timeout),
        )
    with run.step("btp-manager restores the operand image: Deployment Available again"):

        def restored(found: KubeObject | None) -> bool:
            images = [c.get("image") for c in containers(found)] if found is not None else []
            return (
                BROKEN_IMAGE not in images
                and condition_is(found, "Available", "True")
                and condition_is(found, "Progressing", "True")
            )

        run.kube.wait_for(
            "apps/v1",
            "Deployment",
            OPERAND,
            NAMESPACE,
            restored,
            what=f"Deployment {NAMESPACE}/{OPERAND} to run btp-manager's image again and be Available",
            policy=run.policy(settings.image_restore_timeout),
        )
    namespace, name = module.cr_ref
    with run.step(f"BtpOperator {namespace}/{name} {READY} after the image was restored"):
        wait_cr(run, module, cr_ready, READY, settings.ready_timeout)
    with run.step(f"delete the operand Deployment {OPERAND}: re-created (a new UID)"):
        uid = str(operand(run).metadata.get("uid"))
        run.kube.delete("apps/v1", "Deployment", OPERAND, NAMESPACE)
        operand_recreated(run, uid)
    with run.step(f"BtpOperator {namespace}/{name} {READY} after the operand was re-created"):
        wait_cr(run, module, cr_ready, READY, settings.ready_timeout)


def _image_patch(selector: Any, container: str, image: str) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": OPERAND, "namespace": NAMESPACE},
        "spec": {
            "selector": selector,
            "template": {"spec": {"containers": [{"name": container, "image": image}]}},
        },
    }


# -- the credentials Secret ----------------------------------------------------------------------------


def secret_recovery(run: ScenarioRun, module: BtpOperatorModule, credentials: ServiceCredentials) -> None:
    namespace, name = module.cr_ref
    missing = "state Warning, Ready=False (MissingSecret)"
    with run.step(f"delete Secret {SECRET_NAME}: BtpOperator leaves Ready ({missing})"):
        run.kube.delete("v1", "Secret", SECRET_NAME, NAMESPACE)
        wait_cr(run, module, cr_is("Warning", "MissingSecret"), missing, run.settings.secret_loss_timeout)
    with run.step(f"re-create Secret {SECRET_NAME}: BtpOperator {namespace}/{name} {READY}"):
        run.kube.apply(credentials_secret(credentials))
        wait_cr(run, module, cr_ready, READY, run.settings.secret_recovery_timeout)


# -- upgrade while deleting ----------------------------------------------------------------------------


def expected_chart_version(manifest: bytes) -> str | None:
    """The operand chart version a manifest's manager applies, when it can be told: the tag of the image
    its ``SAP_BTP_SERVICE_OPERATOR`` env names (btp-manager's "Update module chart" changes bump both,
    e.g. ``v0.11.10``); ``None`` otherwise."""
    for body in parse_manifest(manifest, source="module manifest"):
        if body.get("kind") != "Deployment" or (body.get("metadata") or {}).get("name") != DEPLOYMENT:
            continue
        template = ((body.get("spec") or {}).get("template") or {}).get("spec") or {}
        for container in template.get("containers") or []:
            for env in container.get("env") or []:
                if env.get("name") == OPERAND_IMAGE_ENV and env.get("value"):
                    last = str(env["value"]).split("@", 1)[0].rsplit("/", 1)[-1]
                    return last.rsplit(":", 1)[1] if ":" in last else None
    return None


def upgrade_while_deleting(
    run: ScenarioRun,
    previous: BtpOperatorModule,
    module: BtpOperatorModule,
    credentials: ServiceCredentials,
) -> None:
    """The previous module with a CR held by an instance; the new module must re-apply the operand."""
    install(run, previous.manifest, credentials)
    operator_ready(run, previous)
    create_instance(run, "uwd")
    delete_held(run, previous)
    with run.step(f"record the operand's {CHART_VERSION_LABEL} label and resourceVersion"):
        before = operand(run)
        old_version = before.labels.get(CHART_VERSION_LABEL)
        old_rv = str(before.metadata.get("resourceVersion"))
        if not old_version:
            raise CheckFailed(
                f"the operand Deployment has no {CHART_VERSION_LABEL} label: {dict(before.labels)}"
            )
    install_manifest(run, module.manifest, note=" (the new version)")
    namespace, name = previous.cr_ref
    with run.step(f"annotate BtpOperator {namespace}/{name} to trigger a reconciliation"):
        body = module.operator()
        annotations = {"last-manual-reconciliation-timestamp": run.settings.unique("upgrade")}
        body["metadata"] = {**body["metadata"], "annotations": annotations}
        run.kube.apply(body)
    expected = run.settings.expected_chart_version or expected_chart_version(module.manifest)
    shown = (
        f"{CHART_VERSION_LABEL}={expected}" if expected else f"{CHART_VERSION_LABEL} other than {old_version}"
    )
    with run.step(f"the new manager re-applies the operand: {shown}, a new resourceVersion"):

        def reapplied(found: KubeObject | None) -> bool:
            if found is None:
                return False
            version = found.labels.get(CHART_VERSION_LABEL)
            new_version = version == expected if expected else version not in (None, old_version)
            return new_version and str(found.metadata.get("resourceVersion")) != old_rv

        try:
            run.kube.wait_for(
                "apps/v1",
                "Deployment",
                OPERAND,
                NAMESPACE,
                reapplied,
                what=f"Deployment {NAMESPACE}/{OPERAND} to be labelled {shown} with a "
                f"new resourceVersion (was {old_version}, {old_rv})",
                policy=run.policy(run.settings.chart_version_timeout),
            )
        except Timeout as exc:
            now = run.kube.get("apps/v1", "Deployment", OPERAND, NAMESPACE)
            seen = (
                f"{CHART_VERSION_LABEL}={now.labels.get(CHART_VERSION_LABEL)}, resourceVersion "
                f"{now.metadata.get('resourceVersion')}"
                if now is not None
                else "the operand is gone"
            )
            raise Timeout(f"{exc.message}; the operand now: {seen}", hint=exc.hint) from exc
    with run.step(f"BtpOperator {namespace}/{name} still held ({NOT_CLEANED})"):
        held = run.kube.get(OPERATOR_API, "BtpOperator", name, namespace)
        if not cr_is("Warning", NOT_CLEANED)(held):
            shown_cr = held.describe() if held is not None else "gone"
            raise CheckFailed(f"the BtpOperator must stay held until force-delete: {shown_cr}")
    force_delete(run, module)
    uninstall(run, module.manifest)
