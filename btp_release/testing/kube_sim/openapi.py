"""A skeleton OpenAPI v3: the PATCH operations and their query parameters, no schemas.

Why: ``kubectl apply`` checks, in ``/openapi/v3``, whether the server supports the
``fieldValidation`` query parameter (``x-kubernetes-group-version-kind`` on a PATCH operation);
without an answer it falls back to client-side validation, which needs the full schemas, and
fails. Custom resources' group-versions are left out on purpose: kubectl then checks the CRD
API's PATCH operation, as it does for a CRD that publishes no schema.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any

from .resources import ResourceType

Obj = dict[str, Any]
QUERY_PARAMETERS = ("dryRun", "fieldManager", "fieldValidation", "force")


def _prefix(rt: ResourceType) -> str:
    return f"apis/{rt.group}/{rt.version}" if rt.group else f"api/{rt.version}"


def group_version_document(types: Iterable[ResourceType], prefix: str) -> Obj | None:
    """The document for one group-version (``api/v1``, ``apis/apps/v1``), or None."""
    paths: Obj = {}
    for rt in types:
        if rt.crd is not None or _prefix(rt) != prefix or rt.read_only:
            continue
        namespaced = "/namespaces/{namespace}" if rt.namespaced else ""
        operation = {
            "operationId": f"patch{rt.kind}",
            "x-kubernetes-action": "patch",
            "x-kubernetes-group-version-kind": {"group": rt.group, "version": rt.version, "kind": rt.kind},
            "parameters": [
                {"name": name, "in": "query", "schema": {"type": "string"}, "uniqueItems": True}
                for name in QUERY_PARAMETERS
            ],
            "responses": {"200": {"description": "OK"}},
        }
        paths[f"/{prefix}{namespaced}/{rt.plural}/{{name}}"] = {"patch": operation}
    if not paths:
        return None
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.32.0"},
        "paths": paths,
        "components": {"schemas": {}},
    }


def root_document(types: list[ResourceType]) -> Obj:
    """``/openapi/v3``: where each group-version's document is (with a content hash, as served)."""
    paths: Obj = {}
    for prefix in sorted({_prefix(rt) for rt in types if rt.crd is None}):
        document = group_version_document(types, prefix)
        if document is None:
            continue
        digest = hashlib.sha512(json.dumps(document, sort_keys=True).encode()).hexdigest()[:32].upper()
        paths[prefix] = {"serverRelativeURL": f"/openapi/v3/{prefix}?hash={digest}"}
    return {"paths": paths}
