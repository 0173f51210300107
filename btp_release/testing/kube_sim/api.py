"""The REST layer: paths to resources, verbs to store operations, bodies, selectors, discovery.

Kept free of sockets: :meth:`Api.handle` maps a parsed :class:`Request` to a :class:`Reply` (or
raises :class:`~.errors.KubeError`), so it can be read and tested as plain functions.
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
from collections.abc import Callable, Mapping
from typing import Any, cast

import attrs
import yaml

from .errors import (
    PATCH_TYPES,
    KubeError,
    bad_request,
    method_not_allowed,
    not_found,
    route_not_found,
    unsupported_media_type,
)
from .openapi import group_version_document, root_document
from .patching import ApplyTarget, json_patch, merge_patch, server_side_apply, strategic_merge_patch
from .resources import (
    ResourceType,
    api_group,
    api_group_list,
    api_resource_list,
    api_versions,
    group_versions,
)
from .selectors import fields_match, labels_match, parse_field_selector, parse_label_selector
from .store import Propagation, Store, identity, meta
from .tables import table, wants_table

Obj = dict[str, Any]
JSON = "application/json"
SERVER_VERSION = {
    "major": "1",
    "minor": "32",
    "gitVersion": "v1.32.0+kube-sim",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2025-01-01T00:00:00Z",
    "goVersion": "go1.23.4",
    "compiler": "gc",
    "platform": "linux/amd64",
}
_HEALTH = ("/healthz", "/livez", "/readyz")


@attrs.frozen
class Request:
    """A parsed request: path without query, first value of each query parameter, lower-case headers."""

    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    body: bytes = b""

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    def flag(self, name: str) -> bool:
        return self.query.get(name, "").lower() in ("true", "1")


@attrs.frozen
class Reply:
    status: int
    body: bytes = b""
    content_type: str = JSON
    headers: tuple[tuple[str, str], ...] = ()


def json_reply(status: int, payload: Any) -> Reply:
    return Reply(status, json.dumps(payload, separators=(",", ":")).encode())


@attrs.frozen
class Target:
    """What a resource path names."""

    rt: ResourceType
    namespace: str | None  # None: all namespaces (or a cluster-scoped type)
    name: str | None = None
    subresource: str = ""


class Api:
    """Handles one request against the store (the caller holds the lock and runs the reconcile pass)."""

    def __init__(self, store: Store, server_address: Callable[[], str]) -> None:
        self.store = store
        self.server_address = server_address

    # -- routing ------------------------------------------------------------------------

    def handle(self, request: Request) -> Reply:
        path = request.path.rstrip("/") or "/"
        parts = [p for p in path.split("/") if p]
        if path == "/version":
            return json_reply(200, SERVER_VERSION)
        if path in _HEALTH:
            return Reply(200, b"ok", "text/plain; charset=utf-8")
        if parts == ["api"]:
            return json_reply(200, api_versions(self.server_address()))
        types = self.store.types()
        if parts[:2] == ["openapi", "v3"]:
            document = (
                root_document(types)
                if len(parts) == 2
                else group_version_document(types, "/".join(parts[2:]))
            )
            if document is None:
                raise route_not_found()
            return json_reply(200, document)
        if parts == ["apis"]:
            return json_reply(200, api_group_list(types))
        if len(parts) == 2 and parts[0] == "api":
            if parts[1] != "v1":
                raise route_not_found()
            return json_reply(200, api_resource_list(types, "", "v1"))
        if len(parts) == 2 and parts[0] == "apis":
            versions = group_versions(types, parts[1])
            if not versions:
                raise route_not_found()
            return json_reply(200, api_group(parts[1], versions))
        if len(parts) == 3 and parts[0] == "apis":
            if parts[2] not in group_versions(types, parts[1]):
                raise route_not_found()
            return json_reply(200, api_resource_list(types, parts[1], parts[2]))
        target = self._target(parts)
        return self._dispatch(request, target)

    def _target(self, parts: list[str]) -> Target:
        if len(parts) >= 3 and parts[0] == "api" and parts[1] == "v1":
            group, version, rest = "", "v1", parts[2:]
        elif len(parts) >= 4 and parts[0] == "apis":
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            raise route_not_found()
        namespace: str | None = None
        if (
            rest[0] == "namespaces"
            and len(rest) >= 3
            and not (len(rest) == 3 and rest[2] in ("status", "finalize"))
        ):
            namespace, rest = rest[1], rest[2:]
        if len(rest) > 3:
            raise route_not_found()
        rt = self.store.find_type(group, version, rest[0])
        if rt is None or (namespace is not None and not rt.namespaced):
            raise route_not_found()
        name = rest[1] if len(rest) >= 2 else None
        subresource = rest[2] if len(rest) == 3 else ""
        if subresource and subresource not in rt.subresources:
            raise route_not_found()
        if rt.namespaced and name is not None and namespace is None:
            raise route_not_found()
        return Target(rt, namespace, name, subresource)

    def _dispatch(self, request: Request, target: Target) -> Reply:
        method = request.method
        if request.body and "protobuf" in request.content_type:
            # kubectl's typed generators (create namespace/secret…) send protobuf; we only speak JSON
            raise unsupported_media_type(request.content_type, ("application/json", "application/yaml"))
        if request.flag("watch"):
            raise method_not_allowed(
                "watch is not supported by the kube simulator: poll with get or list instead"
            )
        if target.name is None:
            if method == "GET":
                return self._list(request, target)
            if method == "POST":
                return self._create(request, target)
            if method == "DELETE":
                return self._delete_collection(request, target)
            raise method_not_allowed(
                f"the server does not allow this method on the requested resource ({method})"
            )
        if target.subresource == "log":
            if method != "GET":
                raise method_not_allowed("pods/log only supports GET")
            return self._log(request, target)
        if method == "GET":
            return self._render(
                request, target.rt, self.store.require(target.rt, target.namespace or "", target.name)
            )
        if target.rt.read_only and method != "DELETE":
            raise method_not_allowed(
                f"{target.rt.plural} are created by the simulator's models and are read-only here"
            )
        if method == "PUT":
            return self._replace(request, target)
        if method == "PATCH":
            return self._patch(request, target)
        if method == "DELETE" and not target.subresource:
            return self._delete(request, target)
        raise method_not_allowed(
            f"the server does not allow this method on the requested resource ({method})"
        )

    # -- helpers ------------------------------------------------------------------------

    def _out(self, rt: ResourceType, obj: Obj) -> Obj:
        out = copy.deepcopy(obj)
        out["apiVersion"], out["kind"] = rt.api_version, rt.kind
        return out

    def _render(self, request: Request, rt: ResourceType, obj: Obj, status: int = 200) -> Reply:
        if wants_table(request.headers.get("accept", "")):
            rendered = table(
                rt, [self._out(rt, obj)], resource_version=self.store.resource_version,
                now=self.store.clock(), include=request.query.get("includeObject", "Metadata"),
            )  # fmt: skip
            return json_reply(status, rendered)
        return json_reply(status, self._out(rt, obj))

    def _body(self, request: Request, *, yaml_ok: bool = False) -> Any:
        text = request.body.decode("utf-8", errors="replace")
        if not text.strip():
            raise bad_request("the request body is empty")
        try:
            if yaml_ok or "yaml" in request.content_type:
                return yaml.safe_load(text)
            return json.loads(text)
        except (ValueError, yaml.YAMLError) as exc:
            raise bad_request(f"couldn't decode the request body: {exc}") from exc

    def _object_body(self, request: Request, target: Target, *, yaml_ok: bool = False) -> Obj:
        body = self._body(request, yaml_ok=yaml_ok)
        rt = target.rt
        if not isinstance(body, dict):
            raise bad_request("the request body must be a JSON object")
        if body.get("apiVersion", rt.api_version) != rt.api_version:
            raise bad_request(
                f"the API version in the data ({body.get('apiVersion')}) does not match the expected "
                f"API version ({rt.api_version})"
            )
        if body.get("kind", rt.kind) != rt.kind:
            raise bad_request(
                f"the kind in the data ({body.get('kind')}) does not match the expected kind ({rt.kind})"
            )
        metadata = body.setdefault("metadata", {})
        if not isinstance(metadata, dict):
            raise bad_request("metadata must be an object")
        if rt.namespaced:
            given = metadata.get("namespace")
            if given and given != target.namespace:
                raise bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request"
                )
            metadata["namespace"] = target.namespace
        if target.name is not None and metadata.get("name", target.name) != target.name:
            raise bad_request(
                f"the name of the object ({metadata.get('name')}) does not match the name on the URL "
                f"({target.name})"
            )
        if target.name is not None:
            metadata["name"] = target.name
        return cast("Obj", body)

    def _manager(self, request: Request) -> str:
        manager = request.query.get("fieldManager")
        if manager:
            return manager
        return request.headers.get("user-agent", "unknown").split("/")[0] or "unknown"

    def _write_options(self, request: Request) -> dict[str, Any]:
        dry_run = request.query.get("dryRun", "")
        if dry_run not in ("", "All"):
            raise bad_request(f'Invalid dryRun value "{dry_run}": only "All" is supported')
        strict = request.query.get("fieldValidation", "") == "Strict"
        return {"manager": self._manager(request), "dry_run": dry_run == "All", "strict": strict}

    # -- verbs --------------------------------------------------------------------------

    def _list(self, request: Request, target: Target) -> Reply:
        rt = target.rt
        labels = parse_label_selector(request.query.get("labelSelector", ""))
        fields = parse_field_selector(request.query.get("fieldSelector", ""), rt.field_selectors)
        items = [
            obj
            for obj in self.store.list(rt, target.namespace if rt.namespaced else None)
            if labels_match(labels, meta(obj).get("labels")) and fields_match(fields, obj)
        ]
        start = request.query.get("continue")
        if start:
            try:
                after = tuple(json.loads(base64.urlsafe_b64decode(start.encode())))
            except (ValueError, binascii.Error, TypeError) as exc:
                raise KubeError(
                    410, "Expired", "the provided continue parameter is too old or malformed"
                ) from exc
            items = [obj for obj in items if identity(obj) > after]
        list_meta: Obj = {"resourceVersion": self.store.resource_version}
        limit = int(request.query.get("limit") or 0)
        if 0 < limit < len(items):
            remaining = len(items) - limit
            items = items[:limit]
            token = json.dumps(list(identity(items[-1]))).encode()
            list_meta.update(
                **{"continue": base64.urlsafe_b64encode(token).decode(), "remainingItemCount": remaining}
            )
        rendered = [self._out(rt, obj) for obj in items]
        if wants_table(request.headers.get("accept", "")):
            payload = table(
                rt, rendered, resource_version=self.store.resource_version, now=self.store.clock(),
                include=request.query.get("includeObject", "Metadata"),
            )  # fmt: skip
            payload["metadata"] = list_meta
            return json_reply(200, payload)
        return json_reply(
            200,
            {
                "kind": f"{rt.kind}List",
                "apiVersion": rt.api_version,
                "metadata": list_meta,
                "items": rendered,
            },
        )

    def _create(self, request: Request, target: Target) -> Reply:
        if target.rt.read_only:
            raise method_not_allowed(
                f"{target.rt.plural} are created by the simulator's models and are read-only here"
            )
        if target.rt.namespaced and target.namespace is None:
            raise route_not_found()
        body = self._object_body(request, target)
        created = self.store.create(target.rt, body, **self._write_options(request))
        return self._render(request, target.rt, created, 201)

    def _replace(self, request: Request, target: Target) -> Reply:
        body = self._object_body(request, target)
        updated = self.store.update(
            target.rt,
            body,
            subresource=target.subresource,
            require_version=True,
            **self._write_options(request),
        )
        return self._render(request, target.rt, updated)

    def _patch(self, request: Request, target: Target) -> Reply:
        rt, content_type = target.rt, request.content_type
        if content_type not in PATCH_TYPES:
            raise unsupported_media_type(content_type, sorted(PATCH_TYPES))
        if content_type == "application/apply-patch+yaml":
            return self._apply(request, target)
        live = self._out(rt, self.store.require(rt, target.namespace or "", target.name or ""))
        body = self._body(request)
        if content_type == "application/json-patch+json":
            patched = json_patch(live, body)
        elif not isinstance(body, dict):
            raise bad_request("a merge patch must be a JSON object")
        elif content_type == "application/merge-patch+json":
            patched = merge_patch(live, body)
        else:
            patched = strategic_merge_patch(live, body)
        if not isinstance(patched, dict):
            raise bad_request("the patched object is not a JSON object")
        if identity(patched) != identity(live):
            raise KubeError(422, "Invalid", "metadata.name/namespace: Invalid value: field is immutable")
        updated = self.store.update(
            rt, patched, subresource=target.subresource, **self._write_options(request)
        )
        return self._render(request, rt, updated)

    def _apply(self, request: Request, target: Target) -> Reply:
        rt = target.rt
        options = self._write_options(request)
        if not request.query.get("fieldManager"):
            raise bad_request(
                "PATCH requests with an apply patch must have a fieldManager "
                "(fieldManager is required for apply requests)"
            )
        applied = self._object_body(request, target, yaml_ok=True)
        for field in ("apiVersion", "kind"):
            if field not in applied:
                raise bad_request(f"{field} must be set in an apply configuration")
        live = self.store.get(rt, target.namespace or "", target.name or "")
        if target.subresource == "status":
            if live is None:
                raise not_found(rt.plural, rt.group, target.name or "")
            patched = merge_patch(self._out(rt, live), {"status": applied.get("status")})
            return self._render(request, rt, self.store.update(rt, patched, subresource="status", **options))
        result = server_side_apply(
            None if live is None else self._out(rt, live),
            applied,
            manager=options["manager"],
            force=request.flag("force"),
            api_version=rt.api_version,
            now=self.store.now(),
            target=ApplyTarget(rt.plural, rt.group, target.name or ""),
        )
        for field in ("name", "namespace"):
            if field in meta(applied):
                meta(result)[field] = meta(applied)[field]
        if live is None:
            created = self.store.create(rt, result, applied=True, **options)
            return self._render(request, rt, created, 201)
        return self._render(request, rt, self.store.update(rt, result, applied=True, **options))

    def _delete_options(self, request: Request) -> tuple[Propagation, bool, Obj]:
        options: Obj = {}
        if request.body.strip():
            body = self._body(request)
            options = body if isinstance(body, dict) else {}
        policy = str(
            options.get("propagationPolicy") or request.query.get("propagationPolicy") or "Background"
        )
        if options.get("orphanDependents") is True or request.query.get("orphanDependents") == "true":
            policy = "Orphan"
        if policy not in ("Background", "Foreground", "Orphan"):
            raise bad_request(
                f'Unsupported value: "{policy}": supported values: "Foreground", "Background", "Orphan"'
            )
        dry_run = [*(options.get("dryRun") or []), request.query.get("dryRun", "")]
        return cast("Propagation", policy), "All" in dry_run, options.get("preconditions") or {}

    def _delete(self, request: Request, target: Target) -> Reply:
        rt = target.rt
        policy, dry_run, preconditions = self._delete_options(request)
        obj, gone = self.store.delete(
            rt, target.namespace or "", target.name or "", propagation=policy, dry_run=dry_run,
            uid=preconditions.get("uid"), resource_version=preconditions.get("resourceVersion"),
        )  # fmt: skip
        if gone and rt.crd is None:
            details = {"name": target.name, "kind": rt.plural, "uid": meta(obj).get("uid")}
            if rt.group:
                details["group"] = rt.group
            return json_reply(
                200,
                {
                    "kind": "Status",
                    "apiVersion": "v1",
                    "metadata": {},
                    "status": "Success",
                    "details": details,
                },
            )
        return json_reply(200, self._out(rt, obj))

    def _delete_collection(self, request: Request, target: Target) -> Reply:
        rt = target.rt
        policy, dry_run, _ = self._delete_options(request)
        labels = parse_label_selector(request.query.get("labelSelector", ""))
        fields = parse_field_selector(request.query.get("fieldSelector", ""), rt.field_selectors)
        doomed = [
            obj for obj in self.store.list(rt, target.namespace if rt.namespaced else None)
            if labels_match(labels, meta(obj).get("labels")) and fields_match(fields, obj)
        ]  # fmt: skip
        for obj in doomed:
            self.store.delete(rt, *identity(obj), propagation=policy, dry_run=dry_run)
        return json_reply(200, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"})

    def _log(self, request: Request, target: Target) -> Reply:
        namespace, name = target.namespace or "", target.name or ""
        pod = self.store.require(target.rt, namespace, name)
        containers = [str(c.get("name")) for c in (pod.get("spec") or {}).get("containers") or []]
        container = request.query.get("container")
        if container is None:
            if len(containers) != 1:
                raise bad_request(
                    f"a container name must be specified for pod {name}, "
                    f"choose one of: [{' '.join(containers)}]"
                )
            container = containers[0]
        if container not in containers:
            raise bad_request(f"container {container} is not valid for pod {name}")
        for entry in (pod.get("status") or {}).get("containerStatuses") or []:
            waiting = (entry.get("state") or {}).get("waiting") or {}
            if entry.get("name") == container and waiting.get("reason") == "ContainerCreating":
                raise bad_request(
                    f'container "{container}" in pod "{name}" is waiting to start: ContainerCreating'
                )
        lines = self.store.logs.get((namespace, name), [])
        tail = request.query.get("tailLines")
        if tail is not None and tail.isdigit():
            lines = lines[len(lines) - int(tail) :] if int(tail) else []
        stamped = request.flag("timestamps")
        text = "".join(f"{stamp} {line}\n" if stamped else f"{line}\n" for stamp, line in lines)
        return Reply(200, text.encode(), "text/plain")
