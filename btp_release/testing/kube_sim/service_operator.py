"""The SAP BTP service operator that btp-manager installs: ServiceInstances and ServiceBindings.

Reconciled while the ServiceInstance and ServiceBinding CRDs are served. Each gets the
finalizer ``services.cloud.sap.com/sap-btp-finalizer``. With real credentials in Secret
``kyma-system/sap-btp-manager`` (no value equal to its dummy counterpart, all keys set) an
instance is ``Ready=True``/``Provisioned`` (``Succeeded=True``/``Created``) after ``service``
passes; a binding waits for its instance, then does the same and writes its credentials Secret
(``spec.secretName`` or its own name, owned by the binding). With dummy credentials both stay
``Ready=False``/``NotProvisioned`` and ``Succeeded=False``/``CreateInProgress``, and deleting them
blocks (``DeleteFailed``): nothing can reach Service Manager, which is why btp-manager's hard
delete eventually takes their finalizers off. Deleting an instance waits for its bindings.
Updates of a provisioned instance (plan changes…) are not modelled.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Mapping
from typing import Any

from .names import CREDENTIAL_KEYS, CREDENTIALS_SECRET, MANAGER_NAMESPACE, SERVICES_FINALIZER, SERVICES_GROUP
from .reconciler import Condition, ModelDelays, Reconciler, decoded_secret
from .resources import ResourceType
from .store import Store, identity, meta

Obj = dict[str, Any]
COMPONENT = "sap-btp-operator"


def _service_crd(
    kind: str, plural: str, short: str, required: list[str], columns: list[tuple[str, str]]
) -> Obj:
    open_object = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    printer = [{"name": n, "type": "string", "jsonPath": p} for n, p in columns]
    printer.append({"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"})
    names = {
        "kind": kind,
        "listKind": f"{kind}List",
        "plural": plural,
        "singular": kind.lower(),
        "shortNames": [short],
    }
    schema = {
        "type": "object",
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"type": "object"},
            "spec": {**open_object, "required": required},
            "status": open_object,
        },
    }
    version = {
        "name": "v1",
        "served": True,
        "storage": True,
        "subresources": {"status": {}},
        "additionalPrinterColumns": printer,
        "schema": {"openAPIV3Schema": schema},
    }
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": f"{plural}.{SERVICES_GROUP}",
            "labels": {
                "app.kubernetes.io/managed-by": "btp-manager",
                "app.kubernetes.io/name": "sap-btp-operator",
            },
        },
        "spec": {"group": SERVICES_GROUP, "names": names, "scope": "Namespaced", "versions": [version]},
    }


_STATUS_COLUMN = ("Status", ".status.conditions[0].reason")
SERVICE_INSTANCE_CRD = _service_crd(
    "ServiceInstance",
    "serviceinstances",
    "si",
    ["serviceOfferingName", "servicePlanName"],
    [
        ("Offering", ".spec.serviceOfferingName"),
        ("Plan", ".spec.servicePlanName"),
        _STATUS_COLUMN,
        ("Ready", ".status.ready"),
    ],
)
SERVICE_BINDING_CRD = _service_crd(
    "ServiceBinding",
    "servicebindings",
    "sb",
    ["serviceInstanceName"],
    [("Instance", ".spec.serviceInstanceName"), _STATUS_COLUMN, ("Ready", ".status.ready")],
)


class ServiceOperatorModel(Reconciler):
    """ServiceInstances and ServiceBindings (see module docstring)."""

    def __init__(self, store: Store, delays: ModelDelays, dummy_credentials: Mapping[str, str]) -> None:
        super().__init__(store, delays)
        self.dummy_credentials = dict(dummy_credentials)

    def credentials(self) -> tuple[bool, str]:
        """(real, token URL): real when the Secret has every key and no dummy value."""
        secret = self._get("/secrets", MANAGER_NAMESPACE, CREDENTIALS_SECRET)
        if secret is None:
            return False, ""
        values = decoded_secret(secret)
        dummy = any(values.get(k) == v for k, v in self.dummy_credentials.items())
        return not dummy and all(values.get(k) for k in CREDENTIAL_KEYS), values.get("tokenurl", "")

    def reconcile(self, instances: ResourceType, bindings: ResourceType) -> None:
        real, token_url = self.credentials()
        failed = f'failed to get a token from "{token_url}": invalid client credentials'

        for si in list(self.store.list(instances)):
            namespace, name = identity(si)
            bound = [
                b
                for b in self.store.list(bindings, namespace)
                if (b.get("spec") or {}).get("serviceInstanceName") == name
            ]
            self._reconcile(instances, si, real, failed, blocked_by=len(bound))
        for sb in list(self.store.list(bindings)):
            instance_name = str((sb.get("spec") or {}).get("serviceInstanceName"))
            instance = self.store.get(instances, identity(sb)[0], instance_name)
            ready = instance is not None and (instance.get("status") or {}).get("ready") == "True"
            self._reconcile(bindings, sb, real, failed, instance_ready=ready)

    def _reconcile(
        self,
        rt: ResourceType,
        obj: Obj,
        real: bool,
        failed: str,
        *,
        blocked_by: int = 0,
        instance_ready: bool = True,
    ) -> None:
        if meta(obj).get("deletionTimestamp"):
            self._delete(rt, obj, real, failed, blocked_by)
            return
        obj = self._ensure_finalizer(rt, obj, SERVICES_FINALIZER, COMPONENT)
        if (obj.get("status") or {}).get("ready") == "True":
            return
        waiting = ""
        if not real:
            waiting = failed
        elif not instance_ready:
            waiting = "waiting for the service instance to be ready"
        elif self._tick(obj, "create") < self.delays.service:
            waiting = f"{rt.kind} is being provisioned"
        if waiting:
            pending: list[Condition] = [
                ("Succeeded", False, "CreateInProgress", waiting),
                ("Ready", False, "NotProvisioned", waiting),
            ]
            self._set_status(rt, obj, pending, component=COMPONENT, ready="False")
            return
        identifier = str(uuid.uuid5(uuid.NAMESPACE_URL, f"kube-sim:{meta(obj).get('uid')}"))
        binding = rt.plural == "servicebindings"
        if binding:
            self._write_binding_secret(obj, identifier)
        message = f"{rt.kind} provisioned successfully"
        done: list[Condition] = [
            ("Succeeded", True, "Created", message),
            ("Ready", True, "Provisioned", message),
        ]
        extra = {"bindingID": identifier} if binding else {"instanceID": identifier}
        self._set_status(rt, obj, done, component=COMPONENT, ready="True", **extra)

    def _delete(self, rt: ResourceType, obj: Obj, real: bool, failed: str, blocked_by: int) -> None:
        if SERVICES_FINALIZER not in (meta(obj).get("finalizers") or []):
            return
        if not real:
            blocked: list[Condition] = [
                ("Succeeded", False, "DeleteFailed", failed),
                ("Ready", False, "NotProvisioned", failed),
            ]
            self._set_status(rt, obj, blocked, component=COMPONENT)
        elif blocked_by:
            message = f"{rt.kind} has {blocked_by} binding(s); delete them first"
            self._set_status(
                rt, obj, [("Succeeded", False, "DeleteInProgress", message)], component=COMPONENT
            )
        elif self._tick(obj, "delete") >= self.delays.service:
            self._drop_finalizer(rt, obj, SERVICES_FINALIZER, COMPONENT)
        else:
            message = f"{rt.kind} is being deleted"
            self._set_status(
                rt, obj, [("Succeeded", False, "DeleteInProgress", message)], component=COMPONENT
            )

    def _write_binding_secret(self, binding: Obj, identifier: str) -> None:
        secrets = self._type("/secrets")
        assert secrets is not None
        namespace, name = identity(binding)
        secret_name = str((binding.get("spec") or {}).get("secretName") or name)
        if self.store.get(secrets, namespace, secret_name) is not None:
            return
        values = {
            "clientid": f"sb-{identifier}",
            "clientsecret": identifier.replace("-", ""),
            "url": "https://auditlog.example.invalid",
        }
        owner = {
            "apiVersion": binding.get("apiVersion"),
            "kind": "ServiceBinding",
            "name": name,
            "uid": meta(binding).get("uid"),
            "controller": True,
            "blockOwnerDeletion": True,
        }
        secret = {
            "metadata": {"name": secret_name, "namespace": namespace, "ownerReferences": [owner]},
            "type": "Opaque",
            "data": {k: base64.b64encode(v.encode()).decode() for k, v in values.items()},
        }
        self.store.create(secrets, secret, manager=COMPONENT, check=False)
