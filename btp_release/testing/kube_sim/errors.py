"""Kubernetes' error answer: a ``kind: Status`` body with ``reason`` and ``code``.

Messages follow the API server's wording (``deployments.apps "x" not found``) because clients
and people grep for it; ``details`` carries name/group/kind (the resource's plural, as the API
server does) and, for 422 and apply conflicts, the ``causes``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

Obj = dict[str, Any]


class KubeError(Exception):
    """An error answer; raised anywhere in the simulator and rendered by the HTTP layer."""

    def __init__(
        self,
        code: int,
        reason: str,
        message: str,
        *,
        details: Obj | None = None,
        headers: Sequence[tuple[str, str]] = (),
    ) -> None:
        super().__init__(f"{code} {reason}: {message}")
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.headers = tuple(headers)

    def status(self) -> Obj:
        body: Obj = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details is not None:
            body["details"] = self.details
        return body


def qualified(plural: str, group: str) -> str:
    """``deployments.apps``; core resources have no group suffix (``pods``)."""
    return f"{plural}.{group}" if group else plural


def _details(plural: str, group: str, name: str, **extra: Any) -> Obj:
    details: Obj = {"name": name, "kind": plural}
    if group:
        details["group"] = group
    details.update(extra)
    return details


def not_found(plural: str, group: str, name: str) -> KubeError:
    return KubeError(
        404,
        "NotFound",
        f'{qualified(plural, group)} "{name}" not found',
        details=_details(plural, group, name),
    )


def route_not_found() -> KubeError:
    """A path the API server does not serve at all (no such resource type)."""
    return KubeError(404, "NotFound", "the server could not find the requested resource", details={})


def already_exists(plural: str, group: str, name: str) -> KubeError:
    return KubeError(
        409,
        "AlreadyExists",
        f'{qualified(plural, group)} "{name}" already exists',
        details=_details(plural, group, name),
    )


def modified(plural: str, group: str, name: str) -> KubeError:
    """Optimistic concurrency: the request's resourceVersion is not the stored one."""
    return KubeError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {qualified(plural, group)} "{name}": the object has been '
        "modified; please apply your changes to the latest version and try again",
        details=_details(plural, group, name),
    )


def apply_conflict(
    plural: str, group: str, name: str, conflicts: Sequence[tuple[str, str, str]]
) -> KubeError:
    """Server-side apply conflicts; each is (manager, apiVersion, field path like ``.spec.replicas``)."""
    count = len(conflicts)
    lines = [f'conflict with "{manager}" using {api}: {field}' for manager, api, field in conflicts]
    noun = "conflict" if count == 1 else "conflicts"
    message = f"Apply failed with {count} {noun}: " + (
        lines[0] if count == 1 else "\n- " + "\n- ".join(lines)
    )
    causes = [
        {
            "reason": "FieldManagerConflict",
            "message": f'conflict with "{manager}" using {api}',
            "field": field,
        }
        for manager, api, field in conflicts
    ]
    return KubeError(409, "Conflict", message, details=_details(plural, group, name, causes=causes))


def invalid(kind: str, group: str, name: str, causes: Sequence[tuple[str, str, str]]) -> KubeError:
    """422; each cause is (field, reason like ``FieldValueRequired``, message)."""
    described = ", ".join(f"{field}: {message}" for field, _, message in causes)
    qualified_kind = f"{kind}.{group}" if group else kind
    return KubeError(
        422,
        "Invalid",
        f'{qualified_kind} "{name}" is invalid: {described}',
        details={
            "name": name,
            **({"group": group} if group else {}),
            "kind": kind,
            "causes": [
                {"reason": reason, "message": message, "field": field} for field, reason, message in causes
            ],
        },
    )


def bad_request(message: str) -> KubeError:
    return KubeError(400, "BadRequest", message)


def method_not_allowed(message: str) -> KubeError:
    return KubeError(405, "MethodNotAllowed", message, details={})


def forbidden(message: str, plural: str = "", group: str = "", name: str = "") -> KubeError:
    details = _details(plural, group, name) if plural else None
    return KubeError(403, "Forbidden", message, details=details)


def unauthorized() -> KubeError:
    return KubeError(401, "Unauthorized", "Unauthorized")


def unsupported_media_type(content_type: str, accepted_types: Sequence[str]) -> KubeError:
    accepted = ", ".join(accepted_types)
    return KubeError(
        415,
        "UnsupportedMediaType",
        f"the body of the request was in an unknown format ({content_type!r}) - "
        f"accepted media types include: {accepted}",
    )


PATCH_TYPES = frozenset(
    {
        "application/json-patch+json",
        "application/merge-patch+json",
        "application/strategic-merge-patch+json",
        "application/apply-patch+yaml",
    }
)
