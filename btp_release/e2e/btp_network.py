"""btp-operator's network policies, as btp-manager's run-e2e-tests job checks them (at c70cd184).

btp-manager applies four NetworkPolicies in ``kyma-system`` with the operand; the BtpOperator's
annotation ``operator.kyma-project.io/btp-operator-disable-network-policies: "true"`` makes it delete
them, and removing the annotation brings them back. Its job also puts a deny-all policy into
``kyma-system`` and restarts the module's pods: with the module's own policies they must come back
Ready (on k3s, whose network-policy controller enforces them, this is a real test of the rules; the
simulator only stores them). The deny-all policy stays until the scenario uninstalls the module, as in
the real job, so instances and bindings are made behind it.
"""

from __future__ import annotations

from btp_release.e2e.btp_checks import (
    DEPLOYMENT,
    NAMESPACE,
    OPERAND,
    OPERATOR_API,
    READY,
    BtpOperatorModule,
    cr_ready,
    wait_cr,
)
from btp_release.e2e.scenarios import ScenarioRun, rolled_out
from btp_release.errors import CheckFailed
from btp_release.wait import Poll, wait_until

__all__ = [
    "DISABLE_ANNOTATION",
    "NETWORK_POLICIES",
    "network_policies",
    "policies_present",
    "remove_deny_all",
]

API = "networking.k8s.io/v1"
NETWORK_POLICIES = (
    "kyma-project.io--btp-operator-allow-to-apiserver",
    "kyma-project.io--btp-operator-to-dns",
    "kyma-project.io--allow-btp-operator-metrics",
    "kyma-project.io--allow-btp-operator-webhook",
)
DISABLE_ANNOTATION = "operator.kyma-project.io/btp-operator-disable-network-policies"
MODULE_PODS = {"kyma-project.io/module": "btp-operator"}


def _deny_all_name(run: ScenarioRun) -> str:
    return run.settings.unique("deny-all-test")


def _await_policies(run: ScenarioRun, *, present: bool, limit: float) -> None:
    wanted = "all exist" if present else "none exists"

    def probe() -> Poll[None]:
        found = [n for n in NETWORK_POLICIES if run.kube.get(API, "NetworkPolicy", n, NAMESPACE) is not None]
        missing = [n for n in NETWORK_POLICIES if n not in found]
        done = not missing if present else not found
        state = f"present: {', '.join(found) or 'none'}; missing: {', '.join(missing) or 'none'}"
        return Poll(done, None, state)

    wait_until(
        probe,
        what=f"btp-operator's network policies in {NAMESPACE} ({wanted})",
        policy=run.policy(limit),
        clock=run.kube.clock,
        sleeper=run.kube.sleeper,
    )


def policies_present(run: ScenarioRun, note: str = "") -> None:
    with run.step(f"the {len(NETWORK_POLICIES)} network policies of btp-operator exist{note}"):
        _await_policies(run, present=True, limit=run.settings.network_policy_timeout)


def network_policies(run: ScenarioRun, module: BtpOperatorModule) -> None:
    """Present; pods restarted behind a deny-all policy come back Ready; the annotation removes them
    and removing it brings them back."""
    namespace, name = module.cr_ref
    policies_present(run)
    deny_all = _deny_all_name(run)
    with run.step(f"deny-all NetworkPolicy {deny_all}, btp-operator's pods deleted: both Deployments "
                  f"rolled out again, BtpOperator {namespace}/{name} {READY}"):  # fmt: skip
        run.kube.apply(
            {
                "apiVersion": API,
                "kind": "NetworkPolicy",
                "metadata": {"name": deny_all, "namespace": NAMESPACE},
                "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
            }
        )
        pods = run.kube.list_objects("v1", "Pod", NAMESPACE, labels=MODULE_PODS)
        if not pods:
            raise CheckFailed(f"no pod in {NAMESPACE} is labelled {MODULE_PODS}: nothing to restart")
        for pod in pods:
            run.kube.delete("v1", "Pod", pod.name, NAMESPACE)
        for deployment in (DEPLOYMENT, OPERAND):
            run.kube.wait_for(
                "apps/v1",
                "Deployment",
                deployment,
                NAMESPACE,
                rolled_out,
                what=f"Deployment {NAMESPACE}/{deployment} to be rolled out with new pods",
                policy=run.policy(run.settings.deployment_timeout),
            )
        wait_cr(run, module, cr_ready, READY, run.settings.ready_timeout)
    with run.step(
        f"annotate BtpOperator {namespace}/{name} {DISABLE_ANNOTATION}=true: the policies are deleted"
    ):
        run.kube.annotate(OPERATOR_API, "BtpOperator", name, namespace, {DISABLE_ANNOTATION: "true"})
        _await_policies(run, present=False, limit=run.settings.network_policy_timeout)
    with run.step(f"remove the annotation {DISABLE_ANNOTATION}: the policies are back"):
        run.kube.annotate(OPERATOR_API, "BtpOperator", name, namespace, {DISABLE_ANNOTATION: None})
        _await_policies(run, present=True, limit=run.settings.network_policy_timeout)


def remove_deny_all(run: ScenarioRun) -> None:
    deny_all = _deny_all_name(run)
    with run.step(f"remove the deny-all NetworkPolicy {deny_all}"):
        run.kube.delete(API, "NetworkPolicy", deny_all, NAMESPACE)
