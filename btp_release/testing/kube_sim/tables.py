"""Server-side printing: ``meta.k8s.io/v1`` Tables for ``kubectl get``.

kubectl asks for a Table (``Accept: application/json;as=Table;...``); without one it falls back
to NAME and AGE. Built-in kinds get the usual columns (pods: Ready/Status/Restarts,
deployments: Ready/Up-to-date/Available…) and Age, custom resources their CRD's
``additionalPrinterColumns`` (simple JSONPaths such as ``.status.conditions[0].reason``), or Age
when the CRD declares none.
"""

from __future__ import annotations

import calendar
import re
import time
from collections.abc import Callable
from typing import Any

from .resources import PrinterColumn, ResourceType

Obj = dict[str, Any]
Cell = Callable[[Obj], Any]


def wants_table(accept: str) -> bool:
    return "as=Table" in accept


def human_duration(seconds: float) -> str:
    """Kubernetes' HumanDuration (``42s``, ``5m10s``, ``3h``, ``2d4h``)."""
    s = max(int(seconds), 0)
    if s < 120:
        return f"{s}s"
    m = s // 60
    if m < 10:
        return f"{m}m{s % 60}s" if s % 60 else f"{m}m"
    if m < 180:
        return f"{m}m"
    h = m // 60
    if h < 8:
        return f"{h}h{m % 60}m" if m % 60 else f"{h}h"
    if h < 48:
        return f"{h}h"
    d = h // 24
    if d < 8:
        return f"{d}d{h % 24}h" if h % 24 else f"{d}d"
    if d < 730:
        return f"{d}d"
    return f"{d // 365}y{d % 365}d" if d % 365 else f"{d // 365}y"


def _parse_time(value: Any) -> float | None:
    try:
        return float(calendar.timegm(time.strptime(str(value), "%Y-%m-%dT%H:%M:%SZ")))
    except ValueError:
        return None


_TOKEN = re.compile(r"\.([A-Za-z0-9_-]+)|\[(\d+)\]")


def json_path(obj: Any, path: str) -> Any:
    """Evaluate a simple JSONPath (``.a.b[0].c``; braces tolerated); None when absent."""
    current = obj
    for name, index in _TOKEN.findall(path.strip().strip("{}")):
        if name and isinstance(current, dict):
            current = current.get(name)
        elif index and isinstance(current, list) and int(index) < len(current):
            current = current[int(index)]
        else:
            return None
    return current


def _pod_ready(pod: Obj) -> str:
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    return (
        f"{sum(1 for s in statuses if s.get('ready'))}/{len((pod.get('spec') or {}).get('containers') or [])}"
    )


def _pod_status(pod: Obj) -> str:
    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        return "Terminating"
    for entry in (pod.get("status") or {}).get("containerStatuses") or []:
        waiting = (entry.get("state") or {}).get("waiting")
        if waiting:
            return str(waiting.get("reason", "Waiting"))
    return str((pod.get("status") or {}).get("phase", "Unknown"))


def _restarts(pod: Obj) -> int:
    return sum(
        int(s.get("restartCount", 0)) for s in (pod.get("status") or {}).get("containerStatuses") or []
    )


def _spec(obj: Obj, field: str, default: Any) -> Any:
    return (obj.get("spec") or {}).get(field, default)


def _status(obj: Obj, field: str) -> Any:
    return (obj.get("status") or {}).get(field) or 0


BUILTIN_COLUMNS: dict[str, list[tuple[str, str, Cell]]] = {
    "Namespace": [("Status", "string", lambda o: (o.get("status") or {}).get("phase", ""))],
    "Pod": [
        ("Ready", "string", _pod_ready),
        ("Status", "string", _pod_status),
        ("Restarts", "integer", _restarts),
    ],
    "Deployment": [
        ("Ready", "string", lambda o: f"{_status(o, 'readyReplicas')}/{_spec(o, 'replicas', 1)}"),
        ("Up-to-date", "integer", lambda o: _status(o, "updatedReplicas")),
        ("Available", "integer", lambda o: _status(o, "availableReplicas")),
    ],
    "Secret": [
        ("Type", "string", lambda o: o.get("type", "")),
        ("Data", "string", lambda o: len(o.get("data") or {})),
    ],
    "ConfigMap": [("Data", "string", lambda o: len(o.get("data") or {}) + len(o.get("binaryData") or {}))],
    "Event": [
        ("Type", "string", lambda o: o.get("type", "")),
        ("Reason", "string", lambda o: o.get("reason", "")),
        ("Object", "string", lambda o: f"{(o.get('involvedObject') or {}).get('kind', '').lower()}/"
                                       f"{(o.get('involvedObject') or {}).get('name', '')}"),
        ("Message", "string", lambda o: o.get("message", "")),
    ],
}  # fmt: skip


def _custom_cell(obj: Obj, column: PrinterColumn, now: float) -> Any:
    value = json_path(obj, column.json_path)
    if value is None:
        return "<none>" if column.type == "string" else None
    if column.type == "date":
        parsed = _parse_time(value)
        return human_duration(now - parsed) if parsed is not None else str(value)
    return value


def table(rt: ResourceType, objects: list[Obj], *, resource_version: str, now: float, include: str) -> Obj:
    """A Table of ``objects``; ``include`` is the ``includeObject`` parameter (Metadata by default)."""
    definitions: list[Obj] = [
        {"name": "Name", "type": "string", "format": "name", "description": "Name", "priority": 0}
    ]
    custom = list(rt.printer_columns)
    builtin = BUILTIN_COLUMNS.get(rt.kind, []) if rt.crd is None else []
    for name, kind, _ in builtin:
        definitions.append({"name": name, "type": kind, "format": "", "description": name, "priority": 0})
    for column in custom:
        definitions.append(
            {
                "name": column.name,
                "type": column.type,
                "format": "",
                "description": column.description,
                "priority": column.priority,
            }
        )
    # A CRD with printer columns shows exactly those; without any it shows Age (as the API server does).
    omit_age = rt.crd is not None and bool(custom)
    if not omit_age:
        definitions.append(
            {"name": "Age", "type": "string", "format": "", "description": "Age", "priority": 0}
        )
    rows = []
    for obj in objects:
        metadata = obj.get("metadata") or {}
        cells: list[Any] = [metadata.get("name")]
        cells += [cell(obj) for _, _, cell in builtin]
        cells += [_custom_cell(obj, column, now) for column in custom]
        if not omit_age:
            created = _parse_time(metadata.get("creationTimestamp"))
            cells.append(human_duration(now - created) if created is not None else "<unknown>")
        row: Obj = {"cells": cells}
        if include == "Object":
            row["object"] = obj
        elif include != "None":
            row["object"] = {
                "kind": "PartialObjectMetadata",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": metadata,
            }
        rows.append(row)
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": resource_version},
        "columnDefinitions": definitions,
        "rows": rows,
    }
