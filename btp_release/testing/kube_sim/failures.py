"""The failure modes of the simulator's models: each a plausible regression a scenario must catch.

Turn them on with ``KubeSimulator(failures=[...])`` or ``sim.fail(...)``, off with ``recover()``.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Literal, get_args

FailureMode = Literal[
    "deployment_never_available",
    "cr_stuck",
    "crds_not_removed",
    "reconciles_any_name",
    "no_operand_recovery",
    "image_not_restored",
    "no_secret_recovery",
    "no_upgrade_while_deleting",
    "not_cleaned_as_deleting",
    "no_network_policies",
    "network_policies_not_disabled",
    "limited_cache_not_propagated",
    "ca_bundle_not_rotated",
    "module_never_ready",
    "finalizer_never_removed",
    "leaves_objects_behind",
]
FAILURE_MODES: frozenset[str] = frozenset(get_args(FailureMode))

FAILURE_DESCRIPTIONS: Mapping[str, str] = MappingProxyType(
    {
        "deployment_never_available": "btp-manager's pods crash-loop: its Deployment never becomes Available",
        "cr_stuck": "the BtpOperator stays Processing: provisioning never finishes (and never times out)",
        "crds_not_removed": "deprovisioning deletes the module resources but keeps the service CRDs",
        "reconciles_any_name": (
            "the pre-1.2.6 rule: the oldest BtpOperator in kyma-system is reconciled whatever its name "
            "(finalizer, Ready), the others get Warning/OlderCRExists"
        ),
        "no_operand_recovery": (
            "a deleted operand Deployment sap-btp-operator-controller-manager is not re-created"
        ),
        "image_not_restored": "re-applying the operand keeps a changed (broken) image of its Deployment",
        "no_secret_recovery": "the BtpOperator stays Warning/MissingSecret after the Secret is back",
        "no_upgrade_while_deleting": (
            "while ServiceInstancesAndBindingsNotCleaned the operand is not re-applied: an upgraded "
            "manager leaves its chart-version label (and resourceVersion) as they were"
        ),
        "not_cleaned_as_deleting": (
            "ServiceInstancesAndBindingsNotCleaned is reported with state Deleting instead of Warning "
            "(the behaviour before btp-manager 1.1.8)"
        ),
        "no_network_policies": "btp-manager applies the operand without its four network policies",
        "network_policies_not_disabled": (
            "the BtpOperator's disable-network-policies annotation is ignored: the policies stay"
        ),
        "limited_cache_not_propagated": (
            "EnableLimitedCache in ConfigMap sap-btp-manager never reaches the operand's "
            "sap-btp-operator-config (ENABLE_LIMITED_CACHE stays true)"
        ),
        "ca_bundle_not_rotated": (
            "a deleted ca-server-cert is re-created with a new CA, but the webhook configurations keep "
            "the old caBundle (webhooks calling the operand would fail TLS verification)"
        ),
        "module_never_ready": "a generic module's CRs stay Processing",
        "finalizer_never_removed": "a generic module's deleted CRs stay Deleting with their finalizer",
        "leaves_objects_behind": "a generic module's per-CR ConfigMap stays after its CR is deleted",
    }
)
assert set(FAILURE_DESCRIPTIONS) == FAILURE_MODES
