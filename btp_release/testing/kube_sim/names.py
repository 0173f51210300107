"""Names and values the btp-manager model shares with E2E code (import them rather than retype them)."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

MANAGER_NAMESPACE = "kyma-system"
MANAGER_DEPLOYMENT = "btp-manager-controller-manager"
CREDENTIALS_SECRET = "sap-btp-manager"  # in MANAGER_NAMESPACE; keys CREDENTIAL_KEYS
CONFIG_MAP = "sap-btp-manager"  # in MANAGER_NAMESPACE; key HardDeleteTimeout
CREDENTIAL_KEYS = ("clientid", "clientsecret", "sm_url", "tokenurl", "cluster_id")
DUMMY_CREDENTIALS: Mapping[str, str] = MappingProxyType(
    {
        "clientid": "dummy_client_id",
        "clientsecret": "dummy_client_secret",
        "sm_url": "dummy_url",
        "tokenurl": "dummy_token_url",
        "cluster_id": "dummy_cluster_id",
    }
)
OPERATOR_FINALIZER = "operator.kyma-project.io/btp-manager"
SERVICES_FINALIZER = "services.cloud.sap.com/sap-btp-finalizer"
FORCE_DELETE_LABEL = "force-delete"  # value "true" on the BtpOperator allows a hard delete
OPERATOR_KEY = "operator.kyma-project.io/btpoperators"
SERVICES_GROUP = "services.cloud.sap.com"
INSTANCES_KEY = f"{SERVICES_GROUP}/serviceinstances"
BINDINGS_KEY = f"{SERVICES_GROUP}/servicebindings"
SERVICE_CRDS = (f"servicebindings.{SERVICES_GROUP}", f"serviceinstances.{SERVICES_GROUP}")
