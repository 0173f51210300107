"""The Kubernetes API as the E2E scenarios need it, on lightkube, with the library's errors and waits.

Why lightkube: typed and small, on httpx (so the transport is injectable like every other client
here), generic resources for CRDs, server-side apply. The official ``kubernetes`` client is larger,
untyped and synchronous on urllib3; kr8s is async-first. lightkube 1.x moved to the httpx2 fork, so
the 0.x line is pinned.

Objects cross this module's boundary as :class:`KubeObject` (the object's JSON with typed accessors
for what the scenarios read: labels, conditions, deletion), not as lightkube models, so the scenarios
work the same for built-in kinds and custom resources. Every wait is bounded
(:func:`~btp_release.wait.wait_until`), says what it waits for and reports the last observed state.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import attrs
import httpx
import yaml

from btp_release.errors import (
    AlreadyExists,
    AuthenticationFailed,
    BtpReleaseError,
    Conflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
    Transient,
)
from btp_release.redaction import get_logger
from btp_release.wait import Clock, Poll, Sleeper, WaitPolicy, wait_until

__all__ = ["Condition", "KubeClient", "KubeObject", "parse_manifest"]

log = get_logger(__name__)
FIELD_MANAGER = "btp-release"
CRD_API = "apiextensions.k8s.io/v1"


@attrs.frozen
class Condition:
    """One entry of ``status.conditions``."""

    type: str
    status: str
    reason: str = ""
    message: str = ""

    def __str__(self) -> str:
        return f"{self.type}={self.status}" + (f" ({self.reason})" if self.reason else "")


def _frozen_body(value: Mapping[str, Any]) -> dict[str, Any]:
    return dict(value)


@attrs.frozen
class KubeObject:
    """A Kubernetes object as the API returned it (its JSON), with accessors for what E2E checks."""

    body: Mapping[str, Any] = attrs.field(converter=_frozen_body, hash=False)

    @property
    def api_version(self) -> str:
        return str(self.body.get("apiVersion", ""))

    @property
    def kind(self) -> str:
        return str(self.body.get("kind", ""))

    @property
    def metadata(self) -> Mapping[str, Any]:
        meta = self.body.get("metadata")
        return meta if isinstance(meta, Mapping) else {}

    @property
    def name(self) -> str:
        return str(self.metadata.get("name", ""))

    @property
    def namespace(self) -> str | None:
        namespace = self.metadata.get("namespace")
        return str(namespace) if namespace else None

    @property
    def labels(self) -> Mapping[str, str]:
        labels = self.metadata.get("labels")
        return dict(labels) if isinstance(labels, Mapping) else {}

    @property
    def deleting(self) -> bool:
        return bool(self.metadata.get("deletionTimestamp"))

    @property
    def status(self) -> Mapping[str, Any]:
        status = self.body.get("status")
        return status if isinstance(status, Mapping) else {}

    @property
    def conditions(self) -> tuple[Condition, ...]:
        found = []
        for item in self.status.get("conditions") or ():
            if isinstance(item, Mapping) and "type" in item:
                found.append(
                    Condition(
                        str(item["type"]),
                        str(item.get("status", "")),
                        str(item.get("reason") or ""),
                        str(item.get("message") or ""),
                    )
                )
        return tuple(found)

    def condition(self, type_: str) -> Condition | None:
        return next((c for c in self.conditions if c.type == type_), None)

    @property
    def ref(self) -> str:
        """``Kind namespace/name`` for messages."""
        return f"{self.kind} {self.namespace + '/' if self.namespace else ''}{self.name}"

    def describe(self) -> str:
        """A one-line state: conditions, ``status.state``, deletion."""
        parts = [str(c) for c in self.conditions]
        if self.status.get("state"):
            parts.insert(0, f"state={self.status['state']}")
        if self.deleting:
            parts.append("being deleted")
        return f"{self.ref}: " + (", ".join(parts) or "no status yet")


def parse_manifest(data: bytes | str, *, source: str = "manifest") -> list[dict[str, Any]]:
    """The objects of a multi-document YAML manifest (``*List`` kinds flattened), in file order."""
    try:
        documents = list(yaml.safe_load_all(data))
    except yaml.YAMLError as exc:
        raise InvalidInput(f"{source} is not valid YAML: {exc}") from exc
    objects: list[dict[str, Any]] = []

    def add(document: Any, index: int) -> None:
        if document is None:
            return
        if not isinstance(document, dict) or not document.get("apiVersion") or not document.get("kind"):
            raise InvalidInput(f"{source}: document {index} is not a Kubernetes object (apiVersion, kind)")
        if str(document["kind"]).endswith("List") and isinstance(document.get("items"), list):
            for item in document["items"]:
                add(item, index)
            return
        objects.append(document)

    for index, document in enumerate(documents):
        add(document, index)
    return objects


def _error(exc: Exception, what: str) -> BtpReleaseError:
    """Map a lightkube/httpx failure to the library's errors."""
    from lightkube import ApiError

    if isinstance(exc, ApiError):
        status = exc.status
        code, reason, message = status.code or 0, status.reason or "", status.message or str(exc)
        text = f"{what}: {message}"
        if code == 401:
            return AuthenticationFailed(text, hint="check the kubeconfig's credentials")
        if code == 403:
            return PermissionDenied(text, hint="the kubeconfig's user lacks a permission (RBAC)")
        if code == 404:
            return NotFound(text)
        if code == 409 and reason == "AlreadyExists":
            return AlreadyExists(text)
        if code == 409:
            return Conflict(text, hint="the object changed meanwhile; re-run")
        if code in (400, 422):
            return InvalidInput(text, hint="the API server rejected the object")
        if code == 429 or code >= 500:
            return Transient(text)
        return BtpReleaseError(f"{text} (HTTP {code} {reason})")
    if isinstance(exc, httpx.TransportError):
        return Transient(f"{what}: the Kubernetes API is unreachable ({exc})", hint="is the cluster up?")
    return BtpReleaseError(f"{what}: {exc}")


class KubeClient:
    """One cluster, through a lightkube ``Client`` (injected; see :meth:`from_kubeconfig`).

    ``clock``/``sleeper`` drive the bounded waits, so tests run them instantly.
    """

    def __init__(
        self,
        client: Any,
        *,
        clock: Clock = time.monotonic,
        sleeper: Sleeper = time.sleep,
        field_manager: str = FIELD_MANAGER,
    ) -> None:
        self._client = client
        self.clock = clock
        self.sleeper = sleeper
        self.field_manager = field_manager

    @classmethod
    def from_kubeconfig(
        cls,
        path: Path | str,
        *,
        context: str | None = None,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 30.0,
        clock: Clock = time.monotonic,
        sleeper: Sleeper = time.sleep,
    ) -> KubeClient:
        """A client for ``context`` (default: the current one) of the kubeconfig at ``path``."""
        from lightkube import Client, KubeConfig
        from lightkube.core.exceptions import ConfigError

        kubeconfig = Path(path)
        if not kubeconfig.is_file():
            raise NotFound(f"kubeconfig {kubeconfig} does not exist", hint="create the cluster first")
        try:
            config = KubeConfig.from_file(str(kubeconfig)).get(context_name=context)
        except ConfigError as exc:
            raise InvalidInput(f"kubeconfig {kubeconfig}: {exc}") from exc
        client = Client(
            config=config,
            transport=transport,
            timeout=httpx.Timeout(timeout),
            field_manager=FIELD_MANAGER,
            trust_env=False,
        )
        return cls(client, clock=clock, sleeper=sleeper)

    # -- resources -------------------------------------------------------------------------------

    def _resource(self, api_version: str, kind: str) -> Any:
        """The lightkube resource class for a kind; custom kinds are looked up in the cluster's CRDs."""
        from lightkube.codecs import resource_registry
        from lightkube.core.exceptions import LoadResourceError
        from lightkube.generic_resource import load_in_cluster_generic_resources

        try:
            return resource_registry.load(api_version, kind)
        except LoadResourceError:
            pass
        try:
            load_in_cluster_generic_resources(self._client)
        except Exception as exc:
            raise _error(exc, "list CustomResourceDefinitions") from exc
        try:
            return resource_registry.load(api_version, kind)
        except LoadResourceError as exc:
            raise NotFound(
                f"the cluster has no kind {kind} in {api_version}", hint="is its CRD installed?"
            ) from exc

    def _call(self, what: str, fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except BtpReleaseError:
            raise
        except Exception as exc:
            raise _error(exc, what) from exc

    @staticmethod
    def _object(resource: Any) -> KubeObject:
        return KubeObject(resource.to_dict() if hasattr(resource, "to_dict") else dict(resource))

    def apply(self, body: Mapping[str, Any]) -> KubeObject:
        """Server-side apply of one object (create or update; our field manager, forced)."""
        res = self._resource(str(body["apiVersion"]), str(body["kind"]))
        meta = body.get("metadata") or {}
        name, namespace = str(meta.get("name", "")), meta.get("namespace")
        obj = res.from_dict(dict(body)) if hasattr(res, "from_dict") else dict(body)
        what = f"apply {body['kind']} {namespace + '/' if namespace else ''}{name}"
        applied = self._call(
            what,
            lambda: self._client.apply(
                obj, name=name, namespace=namespace, field_manager=self.field_manager, force=True
            ),
        )
        return self._object(applied)

    def apply_manifest(
        self, data: bytes | str, *, source: str = "manifest", policy: WaitPolicy = WaitPolicy(timeout=60)
    ) -> list[KubeObject]:
        """Apply every object of a manifest: CRDs first (and wait until they are Established), then
        namespaces, then the rest in file order."""
        objects = parse_manifest(data, source=source)
        crds = [o for o in objects if o["kind"] == "CustomResourceDefinition"]
        namespaces = [o for o in objects if o["kind"] == "Namespace"]
        rest = [o for o in objects if o["kind"] not in ("CustomResourceDefinition", "Namespace")]
        applied = [self.apply(o) for o in crds]
        for crd in applied:
            self.wait_condition(
                CRD_API, "CustomResourceDefinition", crd.name, None, "Established", policy=policy
            )
        if crds:
            self._register_crds(crds)
        applied += [self.apply(o) for o in namespaces + rest]
        return applied

    def _register_crds(self, crds: Iterable[Mapping[str, Any]]) -> None:
        from lightkube.generic_resource import create_resources_from_crd
        from lightkube.resources.apiextensions_v1 import CustomResourceDefinition

        for crd in crds:
            model: Any = CustomResourceDefinition
            create_resources_from_crd(model.from_dict(dict(crd)))

    def get(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> KubeObject | None:
        res = self._resource(api_version, kind)
        try:
            found = self._client.get(res, name=name, namespace=namespace)
        except Exception as exc:
            error = _error(exc, f"get {kind} {name}")
            if isinstance(error, NotFound):
                return None
            raise error from exc
        return self._object(found)

    def list_objects(
        self,
        api_version: str,
        kind: str,
        namespace: str | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> list[KubeObject]:
        res = self._resource(api_version, kind)
        kwargs: dict[str, Any] = {"labels": dict(labels)} if labels else {}
        if namespace is not None:
            kwargs["namespace"] = namespace
        items = self._call(f"list {kind}", lambda: list(self._client.list(res, **kwargs)))
        return [self._object(item) for item in items]

    def delete(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> bool:
        """Ask for deletion; ``False`` if it was already gone. Finalizers may keep it a while."""
        res = self._resource(api_version, kind)
        try:
            self._client.delete(res, name=name, namespace=namespace)
        except Exception as exc:
            error = _error(exc, f"delete {kind} {name}")
            if isinstance(error, NotFound):
                return False
            raise error from exc
        return True

    def delete_manifest(self, data: bytes | str, *, source: str = "manifest") -> list[str]:
        """Delete the objects of a manifest in reverse order (custom resources before their CRDs)."""
        deleted = []
        for body in reversed(parse_manifest(data, source=source)):
            meta = body.get("metadata") or {}
            name, namespace = str(meta.get("name", "")), meta.get("namespace")
            try:
                if self.delete(str(body["apiVersion"]), str(body["kind"]), name, namespace):
                    deleted.append(f"{body['kind']} {name}")
            except NotFound:  # its kind went with an earlier CRD
                continue
        return deleted

    def label(
        self, api_version: str, kind: str, name: str, namespace: str | None, labels: Mapping[str, str | None]
    ) -> KubeObject:
        """Set (or, with ``None``, remove) labels by a merge patch."""
        return self.merge_patch(api_version, kind, name, namespace, {"metadata": {"labels": dict(labels)}})

    def annotate(
        self,
        api_version: str,
        kind: str,
        name: str,
        namespace: str | None,
        annotations: Mapping[str, str | None],
    ) -> KubeObject:
        """Set (or, with ``None``, remove) annotations by a merge patch (``kubectl annotate``)."""
        patch = {"metadata": {"annotations": dict(annotations)}}
        return self.merge_patch(api_version, kind, name, namespace, patch)

    def merge_patch(
        self, api_version: str, kind: str, name: str, namespace: str | None, patch: Mapping[str, Any]
    ) -> KubeObject:
        """A JSON merge patch (``kubectl patch --type merge``): only the fields it names change, whoever
        owns the others (a server-side apply would drop fields our field manager applied before)."""
        from lightkube.types import PatchType

        res = self._resource(api_version, kind)
        patched = self._call(
            f"patch {kind} {name}",
            lambda: self._client.patch(
                res, name, dict(patch), namespace=namespace, patch_type=PatchType.MERGE
            ),
        )
        return self._object(patched)

    # -- waiting -----------------------------------------------------------------------------------

    def wait_for(
        self,
        api_version: str,
        kind: str,
        name: str,
        namespace: str | None,
        check: Callable[[KubeObject | None], bool],
        *,
        what: str,
        policy: WaitPolicy,
    ) -> KubeObject | None:
        """Poll the object until ``check`` holds; :class:`~btp_release.errors.Timeout` names ``what``
        and the object's last state."""

        def probe() -> Poll[KubeObject | None]:
            found = self.get(api_version, kind, name, namespace)
            state = found.describe() if found is not None else f"{kind} {name} not found"
            return Poll(check(found), found, state)

        return wait_until(probe, what=what, policy=policy, clock=self.clock, sleeper=self.sleeper)

    def wait_condition(
        self,
        api_version: str,
        kind: str,
        name: str,
        namespace: str | None,
        type_: str,
        status: str = "True",
        reason: str | Iterable[str] | None = None,
        *,
        policy: WaitPolicy,
    ) -> KubeObject:
        """Wait until condition ``type_`` has ``status`` (and one of ``reason``, when given)."""
        reasons = {reason} if isinstance(reason, str) else set(reason) if reason is not None else None

        def holds(found: KubeObject | None) -> bool:
            condition = found.condition(type_) if found is not None else None
            return (
                condition is not None
                and condition.status == status
                and (reasons is None or condition.reason in reasons)
            )

        wanted = f"{type_}={status}" + (f" with reason {' or '.join(sorted(reasons))}" if reasons else "")
        where = f"{namespace}/{name}" if namespace else name
        found = self.wait_for(
            api_version, kind, name, namespace, holds, what=f"{kind} {where} to be {wanted}", policy=policy
        )
        assert found is not None
        return found

    def wait_gone(
        self, api_version: str, kind: str, name: str, namespace: str | None, *, policy: WaitPolicy
    ) -> None:
        where = f"{namespace}/{name}" if namespace else name
        self.wait_for(
            api_version,
            kind,
            name,
            namespace,
            lambda o: o is None,
            what=f"{kind} {where} to be gone",
            policy=policy,
        )

    # -- diagnostics -------------------------------------------------------------------------------

    def events(self, namespace: str | None = None) -> list[KubeObject]:
        return self.list_objects("v1", "Event", namespace)

    def pod_logs(
        self, name: str, namespace: str, *, container: str | None = None, tail_lines: int = 500
    ) -> str:
        lines = self._call(
            f"logs of pod {namespace}/{name}",
            lambda: list(
                self._client.log(name, namespace=namespace, container=container, tail_lines=tail_lines)
            ),
        )
        return "".join(lines)
