"""Names and values the btp-manager model shares with E2E code (import them rather than retype them)."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

MANAGER_NAMESPACE = "kyma-system"
MANAGER_DEPLOYMENT = "btp-manager-controller-manager"
OPERATOR_CR_NAME = "btpoperator"  # the only BtpOperator btp-manager reconciles (in MANAGER_NAMESPACE)
CREDENTIALS_SECRET = "sap-btp-manager"  # in MANAGER_NAMESPACE; keys CREDENTIAL_KEYS
CONFIG_MAP = "sap-btp-manager"  # in MANAGER_NAMESPACE; keys HardDeleteTimeout, ReadyTimeout (Go durations)
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

# The operand: what btp-manager applies itself (module-resources/apply), every object labelled so.
OPERAND_DEPLOYMENT = "sap-btp-operator-controller-manager"  # in MANAGER_NAMESPACE
OPERAND_IMAGE_ENV = "SAP_BTP_SERVICE_OPERATOR"  # env of the manager container: the operand's image
DEFAULT_OPERAND_IMAGE = (
    "europe-docker.pkg.dev/kyma-project/prod/external/ghcr.io/sap/sap-btp-service-operator/"
    "controller:v0.11.10"
)
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
CHART_VERSION_LABEL = "chart-version"
MODULE_LABEL = "kyma-project.io/module"
MODULE_NAME = "btp-operator"
# btp-manager's cache sees Secrets and ConfigMaps only with one of these managed-by values.
VISIBLE_MANAGED_BY = ("btp-manager", "kcp-kyma-environment-broker")

# Network policies btp-manager applies with the operand (manager-resources/network-policies) unless the
# BtpOperator carries DISABLE_NETWORK_POLICIES: "true"; then it deletes them (managed-by=btp-manager).
NETWORK_POLICIES_KEY = "networking.k8s.io/networkpolicies"
NETWORK_POLICIES = (
    "kyma-project.io--btp-operator-allow-to-apiserver",
    "kyma-project.io--btp-operator-to-dns",
    "kyma-project.io--allow-btp-operator-metrics",
    "kyma-project.io--allow-btp-operator-webhook",
)
DISABLE_NETWORK_POLICIES = "operator.kyma-project.io/btp-operator-disable-network-policies"

# The operand's admission webhooks (module-resources/apply/webhook.yml) and the certificates btp-manager keeps
# for them (internal/webhook/certificate): the CA certificate is each webhook's clientConfig.caBundle.
MUTATING_WEBHOOK = "sap-btp-operator-mutating-webhook-configuration"
VALIDATING_WEBHOOK = "sap-btp-operator-validating-webhook-configuration"
WEBHOOK_SERVICE = "sap-btp-operator-webhook-service"  # in MANAGER_NAMESPACE
CA_CERT_SECRET = "ca-server-cert"  # in MANAGER_NAMESPACE; keys ca.crt, ca.key (PEM)
WEBHOOK_CERT_SECRET = "webhook-server-cert"  # in MANAGER_NAMESPACE; keys tls.crt, tls.key (PEM)
