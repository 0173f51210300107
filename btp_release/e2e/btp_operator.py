"""The E2E scenarios of the btp-operator module: what btp-manager's own suite checks on every release.

btp-manager (since 1.2.6) reconciles only ``kyma-system/btpoperator``, so the default CR is used as the
module ships it. docs/e2e.md maps each check of btp-manager's suite to a step of these scenarios:

``main``
    btp-manager's run-e2e-tests job, in its order: install, BtpOperator Ready, CRDs, the operand, a
    ServiceInstance and ServiceBinding, wrong CRs rejected beside the right one, operand recovery,
    ``EnableLimitedCache``, the webhooks' CA rotated, recovery from a deleted credentials Secret,
    deprovisioning safety (``NotCleaned``, the operand re-created meanwhile), ``force-delete``, uninstall.
``upgrade`` (real credentials only)
    the latest release with an instance and a binding, then the new module: they stay Ready, a new
    binding becomes Ready; then deprovisioning.
``upgrade-while-deleting`` (always dummy credentials, as btp-manager's job)
    the latest release with its CR held by an instance, then the new module must re-apply the operand.
``recovery``, ``wrong-cr``
    those parts of ``main`` alone on a fresh install (``wrong-cr`` makes the wrong CRs first).

Each scenario has a time budget (:data:`~btp_release.e2e.scenarios.DEFAULT_BUDGETS`) and leaves the
cluster as it found it; ``kyma-system`` itself stays (it may be someone else's).
"""

from __future__ import annotations

from btp_release.e2e.btp_certs import ca_rotation
from btp_release.e2e.btp_checks import (
    OPERATOR_API,
    SERVICES_API,
    BtpOperatorModule,
    check_operand,
    create_binding,
    create_instance_and_binding,
    deprovision,
    expect_service_state,
    install,
    install_manifest,
    operator_ready,
    remove_operator,
    uninstall,
)
from btp_release.e2e.btp_config import limited_cache
from btp_release.e2e.btp_network import network_policies, policies_present, remove_deny_all
from btp_release.e2e.btp_recovery import (
    operand_recovery,
    secret_recovery,
    upgrade_while_deleting,
    wrong_crs_rejected,
)
from btp_release.e2e.report import Steps
from btp_release.e2e.scenarios import E2ESettings, ScenarioRun, ServiceCredentials
from btp_release.errors import InvalidInput
from btp_release.kube import KubeClient

__all__ = [
    "DEFAULT_SCENARIOS",
    "OPERATOR_API",
    "SCENARIOS",
    "SERVICES_API",
    "BtpOperatorModule",
    "main_scenario",
    "recovery_scenario",
    "run_scenario",
    "upgrade_scenario",
    "upgrade_while_deleting_scenario",
    "wrong_cr_scenario",
]

SCENARIOS = ("main", "upgrade", "upgrade-while-deleting", "recovery", "wrong-cr")
# What a release runs; ``recovery`` and ``wrong-cr`` are parts of ``main``.
DEFAULT_SCENARIOS = ("main", "upgrade-while-deleting", "upgrade")


def main_scenario(
    kube: KubeClient,
    module: BtpOperatorModule,
    credentials: ServiceCredentials,
    steps: Steps,
    settings: E2ESettings,
) -> None:
    """btp-manager's run-e2e-tests job (raises at the first failing step)."""
    run = ScenarioRun(kube, steps, settings, "main")
    install(run, module.manifest, credentials)
    operator_ready(run, module)
    check_operand(run)
    network_policies(run, module)
    pair = create_instance_and_binding(run, credentials, "main")
    wrong_crs_rejected(run, module, primary_first=True)
    operand_recovery(run, module)
    policies_present(run, " after the operand's recovery")
    limited_cache(run)
    ca_rotation(run, module)
    secret_recovery(run, module, credentials)
    deprovision(run, module, credentials, [pair], operand_while_held=True)
    remove_deny_all(run)
    uninstall(run, module.manifest)


def recovery_scenario(
    kube: KubeClient,
    module: BtpOperatorModule,
    credentials: ServiceCredentials,
    steps: Steps,
    settings: E2ESettings,
) -> None:
    """The operand and the credentials Secret taken away and put back by btp-manager; then the operand
    deleted while an instance holds the CR."""
    run = ScenarioRun(kube, steps, settings, "recovery")
    install(run, module.manifest, credentials)
    operator_ready(run, module)
    check_operand(run)
    operand_recovery(run, module)
    policies_present(run, " after the operand's recovery")
    secret_recovery(run, module, credentials)
    pair = create_instance_and_binding(run, credentials, "recovery")
    deprovision(run, module, credentials, [pair], operand_while_held=True)
    uninstall(run, module.manifest)


def wrong_cr_scenario(
    kube: KubeClient,
    module: BtpOperatorModule,
    credentials: ServiceCredentials,
    steps: Steps,
    settings: E2ESettings,
) -> None:
    """BtpOperators with a wrong name or namespace made *before* the right one (btp-manager's
    multiple_btpoperators.sh order): rejected without a finalizer, and the right one Ready."""
    run = ScenarioRun(kube, steps, settings, "wrong-cr")
    install(run, module.manifest, credentials)
    wrong_crs_rejected(run, module, primary_first=False)
    remove_operator(run, module)
    uninstall(run, module.manifest)


def upgrade_scenario(
    kube: KubeClient,
    previous: BtpOperatorModule,
    module: BtpOperatorModule,
    credentials: ServiceCredentials,
    steps: Steps,
    settings: E2ESettings,
) -> None:
    """From the latest published module to this one, with instances surviving the upgrade."""
    run = ScenarioRun(kube, steps, settings, "upgrade")
    if not credentials.real:
        run.skip("upgrade from the latest release", "needs real Service Manager credentials")
        return
    install(run, previous.manifest, credentials)
    operator_ready(run, previous)
    old = create_instance_and_binding(run, credentials, "old")
    install_manifest(run, module.manifest, note=" (the new version)")
    operator_ready(run, module, note=" (the new version)")
    for kind, name in (("ServiceInstance", old[0]), ("ServiceBinding", old[1])):
        expect_service_state(run, credentials, kind, name)
    new_binding = create_binding(run, old[0], "new")
    expect_service_state(run, credentials, "ServiceBinding", new_binding)
    deprovision(run, module, credentials, [old, (old[0], new_binding)])
    uninstall(run, module.manifest)


def upgrade_while_deleting_scenario(
    kube: KubeClient,
    previous: BtpOperatorModule,
    module: BtpOperatorModule,
    steps: Steps,
    settings: E2ESettings,
) -> None:
    """Always with dummy credentials, as btp-manager's job: the instance only holds the CR, and its hard
    delete must be quick (the ConfigMap's ``HardDeleteTimeout`` of 10 s)."""
    run = ScenarioRun(kube, steps, settings, "upgrade-while-deleting")
    upgrade_while_deleting(run, previous, module, ServiceCredentials.dummy())


def run_scenario(
    name: str,
    kube: KubeClient,
    module: BtpOperatorModule,
    previous: BtpOperatorModule | None,
    credentials: ServiceCredentials,
    steps: Steps,
    settings: E2ESettings,
) -> None:
    """Run one of :data:`SCENARIOS`; the upgrades are skipped, with the reason, when there is no
    published release to upgrade from. Raises at the first failing step."""
    if name == "main":
        main_scenario(kube, module, credentials, steps, settings)
    elif name == "recovery":
        recovery_scenario(kube, module, credentials, steps, settings)
    elif name == "wrong-cr":
        wrong_cr_scenario(kube, module, credentials, steps, settings)
    elif name not in ("upgrade", "upgrade-while-deleting"):
        raise InvalidInput(f"btp-operator has no scenario {name}", hint=", ".join(SCENARIOS))
    elif previous is None:
        steps.skip(name, "upgrade from the latest release", "there is no published release yet")
    elif name == "upgrade":
        upgrade_scenario(kube, previous, module, credentials, steps, settings)
    else:
        upgrade_while_deleting_scenario(kube, previous, module, steps, settings)
