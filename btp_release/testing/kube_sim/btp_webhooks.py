"""The operand's admission webhooks and their certificates, as btp-manager keeps them (at c70cd184).

btp-manager's certificate manager (``internal/webhook/certificate``) runs in every apply of the operand,
before anything is written (``PrepareAdmissionWebhooks``):

- Secret ``kyma-system/ca-server-cert`` (``ca.crt``, ``ca.key``) missing, a key missing or empty, the
  certificate unreadable or expiring within a week: a new self-signed CA (10 years) and a new webhook
  certificate (1 year) signed by it; both Secrets are applied.
- Secret ``kyma-system/webhook-server-cert`` (``tls.crt``, ``tls.key``) missing or invalid the same way: a
  new webhook certificate signed by the CA of ``ca-server-cert``; valid but not signed by that CA: both anew.
- The webhook configurations ``sap-btp-operator-mutating-webhook-configuration`` and
  ``sap-btp-operator-validating-webhook-configuration`` (``module-resources/apply/webhook.yml``, their
  webhooks calling Service ``sap-btp-operator-webhook-service``) get the CA certificate (PEM, base64 in
  JSON) as every webhook's ``clientConfig.caBundle``.

The Secrets carry only ``app.kubernetes.io/managed-by: btp-manager`` (they are made after the other objects
are labelled). btp-manager's cache sees Secrets and webhook configurations only with that label (or the
environment broker's value), and it watches them: a certificate Secret created, changed or deleted, or a
webhook configuration created, deleted or given other caBundles triggers a reconcile (:meth:`watch_state`).

Differences: EC P-256 keys (btp-manager: RSA 4096); a CA key that does not parse counts as an invalid CA
(btp-manager fails the reconcile); the certificate lifetimes of ConfigMap ``sap-btp-manager`` are not read.
The simulator stores the webhook configurations and never calls them.
"""

from __future__ import annotations

import base64
import binascii
import copy
import datetime
from collections.abc import Mapping, Sequence
from typing import Any

from .names import (
    CA_CERT_SECRET,
    MANAGED_BY_LABEL,
    MANAGER_NAMESPACE,
    MUTATING_WEBHOOK,
    SERVICES_GROUP,
    VALIDATING_WEBHOOK,
    VISIBLE_MANAGED_BY,
    WEBHOOK_CERT_SECRET,
    WEBHOOK_SERVICE,
)
from .store import Store, meta
from .tls import KeyPair, ca_and_leaf, load_certificate, make_leaf, not_after, signed_by

Obj = dict[str, Any]
MUTATING_KEY = "admissionregistration.k8s.io/mutatingwebhookconfigurations"
VALIDATING_KEY = "admissionregistration.k8s.io/validatingwebhookconfigurations"
WEBHOOK_KEYS = (MUTATING_KEY, VALIDATING_KEY)
SECRET_KEY = "/secrets"
# btp-manager's defaults (controllers/config): CaCertificateExpiration, WebhookCertificateExpiration,
# ExpirationBoundary (a certificate this close to its end counts as invalid).
CA_LIFETIME = datetime.timedelta(hours=87600)
WEBHOOK_LIFETIME = datetime.timedelta(hours=8760)
EXPIRATION_BOUNDARY = datetime.timedelta(hours=168)
FIELDS = {CA_CERT_SECRET: ("ca.crt", "ca.key"), WEBHOOK_CERT_SECRET: ("tls.crt", "tls.key")}
DNS_NAMES = (f"{WEBHOOK_SERVICE}.{MANAGER_NAMESPACE}.svc", f"{WEBHOOK_SERVICE}.{MANAGER_NAMESPACE}")
# webhook.yml: (configuration, webhook, the verb of its path, resource, operations)
_WEBHOOKS = (
    (MUTATING_KEY, "mservicebinding.kb.io", "mutate", "servicebinding", ("CREATE", "UPDATE")),
    (MUTATING_KEY, "mserviceinstance.kb.io", "mutate", "serviceinstance", ("CREATE", "UPDATE")),
    (VALIDATING_KEY, "vservicebinding.kb.io", "validate", "servicebinding", ("CREATE", "UPDATE")),
    (VALIDATING_KEY, "vserviceinstance.kb.io", "validate", "serviceinstance", ("DELETE", "UPDATE", "CREATE")),
)


def configurations() -> list[tuple[str, Obj]]:
    """The two webhook configurations as btp-manager renders them (no labels, no caBundle yet)."""
    out: list[tuple[str, Obj]] = []
    for key, name in ((MUTATING_KEY, MUTATING_WEBHOOK), (VALIDATING_KEY, VALIDATING_WEBHOOK)):
        webhooks = [
            {
                "admissionReviewVersions": ["v1beta1", "v1"],
                "clientConfig": {"service": {"name": WEBHOOK_SERVICE, "namespace": MANAGER_NAMESPACE,
                                             "path": f"/{verb}-services-cloud-sap-com-v1-{resource}"}},
                "failurePolicy": "Fail",
                "name": webhook,
                "rules": [{"apiGroups": [SERVICES_GROUP], "apiVersions": ["v1"],
                           "operations": list(operations), "resources": [f"{resource}s"]}],
                "sideEffects": "None",
            }
            for of, webhook, verb, resource, operations in _WEBHOOKS
            if of == key
        ]  # fmt: skip
        out.append((key, {"metadata": {"name": name, "labels": {}}, "webhooks": webhooks}))
    return out


def _visible(obj: Obj | None) -> Obj | None:
    """``obj`` as btp-manager's cache has it: only with one of the managed-by values it selects."""
    labels = (meta(obj).get("labels") or {}) if obj is not None else {}
    return obj if labels.get(MANAGED_BY_LABEL) in VISIBLE_MANAGED_BY else None


def _bundles(config: Obj | None) -> tuple[str, ...]:
    return tuple(
        str((hook.get("clientConfig") or {}).get("caBundle") or "")
        for hook in (config or {}).get("webhooks") or []
    )


class WebhookCertificates:
    """btp-manager's certificate manager over the simulator's store (see module docstring)."""

    def __init__(self, store: Store, failures: set[str]) -> None:
        self.store = store
        self.failures = failures

    def _now(self) -> datetime.datetime:
        return datetime.datetime.fromtimestamp(self.store.clock(), datetime.UTC)

    def _get(self, key: str, name: str) -> Obj | None:
        rt = self.store.type_for(key)
        assert rt is not None
        return self.store.get(rt, MANAGER_NAMESPACE if rt.namespaced else "", name)

    def _pair(self, name: str) -> KeyPair | None:
        """The Secret's certificate and key when both are there and the certificate is valid for more
        than :data:`EXPIRATION_BOUNDARY` (btp-manager's validateCert)."""
        found = _visible(self._get(SECRET_KEY, name))
        data = (found or {}).get("data") or {}
        try:
            cert, key = (base64.b64decode(str(data.get(field) or "")) for field in FIELDS[name])
        except (binascii.Error, ValueError):
            return None
        parsed = load_certificate(cert) if cert and key else None
        if parsed is None or not_after(parsed) - EXPIRATION_BOUNDARY < self._now():
            return None
        return KeyPair(cert, key)

    @staticmethod
    def _secret(name: str, pair: KeyPair, labels: Mapping[str, str]) -> Obj:
        cert_field, key_field = FIELDS[name]
        data = {cert_field: pair.cert_pem, key_field: pair.key_pem}
        return {
            "metadata": {"name": name, "namespace": MANAGER_NAMESPACE, "labels": dict(labels)},
            "type": "Opaque",
            "data": {field: base64.b64encode(value).decode() for field, value in data.items()},
        }

    def prepare(
        self, webhooks: Sequence[tuple[str, Obj]], labels: Mapping[str, str]
    ) -> list[tuple[str, Obj]]:
        """PrepareAdmissionWebhooks: the certificate Secrets made anew (labelled ``labels``), then
        ``webhooks`` with the CA certificate as their caBundle."""
        now = self._now()
        ca = self._pair(CA_CERT_SECRET)
        leaf = self._pair(WEBHOOK_CERT_SECRET) if ca is not None else None
        made: list[tuple[str, KeyPair]] = []
        if ca is not None and leaf is None:
            try:
                leaf = make_leaf(
                    ca, "sap-btp-operator-webhook", DNS_NAMES, start=now, end=now + WEBHOOK_LIFETIME
                )
                made = [(WEBHOOK_CERT_SECRET, leaf)]
            except ValueError:
                ca = None
        elif ca is not None and leaf is not None and not signed_by(ca.cert_pem, leaf.cert_pem, now):
            ca = None
        if ca is None:
            ca, leaf = ca_and_leaf(
                "sap-btp-operator-ca",
                "sap-btp-operator-webhook",
                DNS_NAMES,
                start=now,
                ca_end=now + CA_LIFETIME,
                leaf_end=now + WEBHOOK_LIFETIME,
            )
            made = [(CA_CERT_SECRET, ca), (WEBHOOK_CERT_SECRET, leaf)]
        out = [(SECRET_KEY, self._secret(name, pair, labels)) for name, pair in made]
        bundle = base64.b64encode(ca.cert_pem).decode()
        for key, body in webhooks:
            prepared = copy.deepcopy(body)
            live = _bundles(self._get(key, str(meta(prepared).get("name"))))
            for index, hook in enumerate(prepared.get("webhooks") or []):
                kept = live[index] if index < len(live) else ""
                keep = "ca_bundle_not_rotated" in self.failures and kept
                hook.setdefault("clientConfig", {})["caBundle"] = kept if keep else bundle
            out.append((key, prepared))
        return out

    def watch_state(self) -> tuple[Any, ...]:
        """What btp-manager's Secret and webhook watches react to, through its cache: the certificate
        Secrets' resourceVersions; each webhook configuration's uid and caBundles."""
        secrets = tuple(
            meta(found).get("resourceVersion") if (found := _visible(self._get(SECRET_KEY, name))) else None
            for name in (CA_CERT_SECRET, WEBHOOK_CERT_SECRET)
        )
        configs = tuple(
            (meta(found).get("uid"), _bundles(found)) if (found := _visible(self._get(key, name))) else None
            for key, name in ((MUTATING_KEY, MUTATING_WEBHOOK), (VALIDATING_KEY, VALIDATING_WEBHOOK))
        )
        return (*secrets, *configs)
