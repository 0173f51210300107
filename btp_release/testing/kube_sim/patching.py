"""The four PATCH flavours and field ownership (``metadata.managedFields``), as pure functions.

- JSON merge patch (RFC 7386) and JSON patch (RFC 6902): exact.
- Strategic merge patch, simplified: a merge patch, except that the lists named in
  :data:`NAMED_LISTS` (``containers``, ``env``, ``volumes``…) are merged element by element on
  ``name`` (``$patch: delete`` removes an element), ``$deleteFromPrimitiveList/<field>`` removes
  values, and ``$patch: replace`` replaces a map; ``$setElementOrder`` and ``$retainKeys`` are
  accepted and ignored. Every other list is replaced whole (the API server would merge e.g.
  ``ports`` on ``containerPort`` or ``finalizers`` as a set).
- Server-side apply, simplified ownership: an object's fields are its leaves (maps are
  descended, lists and scalars are atomic — the API server's associative lists are one field
  here); ``status`` and identity fields are not tracked. An apply sets the leaves of the applied
  configuration, removes leaves this manager applied before and no longer applies (unless
  another manager also owns them), and conflicts (409) when it changes a leaf that another
  manager owns — unless ``force``, which takes the field over. Updates (POST/PUT/PATCH) give the
  changed leaves to the updating manager without conflicts. Ownership is kept in
  ``metadata.managedFields`` in the ``FieldsV1`` format (``f:`` keys only).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from .errors import KubeError, apply_conflict, bad_request

Obj = dict[str, Any]
Path = tuple[str, ...]

NAMED_LISTS = frozenset(
    {
        "containers",
        "initContainers",
        "ephemeralContainers",
        "volumes",
        "volumeMounts",
        "env",
        "imagePullSecrets",
    }
)
_UNTRACKED: frozenset[Path] = frozenset(
    {
        ("apiVersion",),
        ("kind",),
        ("status",),
        ("metadata", "name"),
        ("metadata", "namespace"),
        ("metadata", "uid"),
        ("metadata", "resourceVersion"),
        ("metadata", "generation"),
        ("metadata", "creationTimestamp"),
        ("metadata", "managedFields"),
        ("metadata", "deletionTimestamp"),
        ("metadata", "deletionGracePeriodSeconds"),
        ("metadata", "selfLink"),
    }
)
_MISSING = object()


# -- merge patch, JSON patch, strategic merge patch ----------------------------------------


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: maps merge recursively, ``null`` deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def strategic_merge_patch(target: Any, patch: Any) -> Any:
    """Kubernetes' strategic merge patch, simplified as the module docstring says."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if patch.get("$patch") == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if key in ("$patch", "$retainKeys") or key.startswith("$setElementOrder/"):
            continue
        if key.startswith("$deleteFromPrimitiveList/"):
            field = key.split("/", 1)[1]
            if isinstance(result.get(field), list) and isinstance(value, list):
                result[field] = [item for item in result[field] if item not in value]
            continue
        if value is None or (isinstance(value, dict) and value.get("$patch") == "delete"):
            result.pop(key, None)
        elif key in NAMED_LISTS and isinstance(value, list) and isinstance(result.get(key), list):
            result[key] = _merge_named(result[key], value)
        else:
            result[key] = strategic_merge_patch(result.get(key), value)
    return result


def _merge_named(current: list[Any], patch: list[Any]) -> list[Any]:
    merged = copy.deepcopy(current)
    for item in patch:
        name = item.get("name") if isinstance(item, dict) else None
        index = next(
            (i for i, old in enumerate(merged) if isinstance(old, dict) and name and old.get("name") == name),
            None,
        )
        if isinstance(item, dict) and item.get("$patch") == "delete":
            if index is not None:
                del merged[index]
        elif index is not None:
            merged[index] = strategic_merge_patch(merged[index], item)
        else:
            merged.append(strategic_merge_patch({}, item) if isinstance(item, dict) else item)
    return merged


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise bad_request(f"invalid JSON pointer {path!r}")
    return [part.replace("~1", "/").replace("~0", "~") for part in path[1:].split("/")]


def _patch_failed(message: str) -> KubeError:
    return KubeError(
        422, "Invalid", f"the server rejected our request due to an error in our request: {message}"
    )


def _resolve(doc: Any, parts: list[str], path: str) -> Any:
    current = doc
    for part in parts:
        if isinstance(current, dict) and part in current:
            current = current[part]
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            raise _patch_failed(f"path {path!r} does not exist")
    return current


def _remove(doc: Any, path: str) -> Any:
    parts = _pointer(path)
    if not parts:
        raise _patch_failed("cannot remove the whole document")
    parent = _resolve(doc, parts[:-1], path)
    last = parts[-1]
    if isinstance(parent, dict) and last in parent:
        return parent.pop(last)
    if isinstance(parent, list) and last.isdigit() and int(last) < len(parent):
        return parent.pop(int(last))
    raise _patch_failed(f"remove operation does not apply: doc is missing path: {path}")


def _add(doc: Any, path: str, value: Any, *, replace: bool) -> Any:
    parts = _pointer(path)
    if not parts:
        return value
    parent = _resolve(doc, parts[:-1], path)
    last = parts[-1]
    if isinstance(parent, dict):
        if replace and last not in parent:
            raise _patch_failed(f"replace operation does not apply: doc is missing key: {path}")
        parent[last] = value
    elif isinstance(parent, list):
        if last == "-" and not replace:
            parent.append(value)
        elif last.isdigit() and int(last) <= len(parent) - (1 if replace else 0):
            if replace:
                parent[int(last)] = value
            else:
                parent.insert(int(last), value)
        else:
            raise _patch_failed(f"index out of range in {path}")
    else:
        raise _patch_failed(f"cannot add to a scalar at {path}")
    return doc


def json_patch(doc: Any, operations: Any) -> Any:
    """RFC 6902 on a copy of ``doc``; 422 when an operation does not apply (like the API server)."""
    if not isinstance(operations, list):
        raise bad_request("json patch must be a list of operations")
    result = copy.deepcopy(doc)
    for operation in operations:
        if not isinstance(operation, dict) or "op" not in operation or "path" not in operation:
            raise bad_request(f"invalid json patch operation {operation!r}")
        op, path = operation["op"], str(operation["path"])
        if op in ("add", "replace"):
            if "value" not in operation:
                raise bad_request(f"{op} operation needs a value")
            result = _add(result, path, copy.deepcopy(operation["value"]), replace=op == "replace")
        elif op == "remove":
            _remove(result, path)
        elif op in ("move", "copy"):
            source = str(operation.get("from", ""))
            value = (
                _remove(result, source)
                if op == "move"
                else copy.deepcopy(_resolve(result, _pointer(source), source))
            )
            result = _add(result, path, value, replace=False)
        elif op == "test":
            if _resolve(result, _pointer(path), path) != operation.get("value"):
                raise _patch_failed(f"testing value {path} failed")
        else:
            raise bad_request(f"unknown json patch operation {op!r}")
    return result


# -- field ownership ------------------------------------------------------------------------


def _untracked(path: Path) -> bool:
    return any(path[: len(prefix)] == prefix for prefix in _UNTRACKED)


def tracked_fields(obj: Mapping[str, Any] | None) -> dict[Path, Any]:
    """The object's leaves (see module docstring) that ownership applies to."""
    out: dict[Path, Any] = {}

    def walk(value: Any, path: Path) -> None:
        if _untracked(path):
            return
        if isinstance(value, dict) and value:
            for key, child in value.items():
                walk(child, (*path, str(key)))
        elif path:
            out[path] = value

    walk(dict(obj or {}), ())
    return out


def get_path(obj: Any, path: Path) -> Any:
    current = obj
    for part in path:
        if not isinstance(current, dict) or part not in current:
            return _MISSING
        current = current[part]
    return current


def _set_path(obj: Obj, path: Path, value: Any) -> None:
    current = obj
    for part in path[:-1]:
        if not isinstance(current.get(part), dict):
            current[part] = {}
        current = current[part]
    if value == {} and isinstance(current.get(path[-1]), dict):
        return  # an empty map in a configuration merges: it does not wipe the fields of others
    current[path[-1]] = copy.deepcopy(value)


def _delete_path(obj: Obj, path: Path) -> None:
    parents: list[tuple[Obj, str]] = []
    current: Any = obj
    for part in path[:-1]:
        if not isinstance(current, dict) or not isinstance(current.get(part), dict):
            return
        parents.append((current, part))
        current = current[part]
    if isinstance(current, dict):
        current.pop(path[-1], None)
    for parent, key in reversed(parents):  # prune maps this removal emptied
        if parent[key] or (parent is obj and key == "metadata"):
            break
        del parent[key]


def _related(a: Path, b: Path) -> bool:
    shorter = min(len(a), len(b))
    return a[:shorter] == b[:shorter]


def _overlaps(owned: Path, path: Path, live: Obj | None) -> bool:
    """Whether setting ``path`` changes what the owner of ``owned`` set."""
    if owned[: len(path)] == path:  # the same field, or one inside what is being set
        return True
    # ``owned`` is a parent of ``path``: only a conflict when it holds a value, not a map.
    return path[: len(owned)] == owned and not isinstance(get_path(live, owned), dict)


def render_path(path: Path) -> str:
    return "." + ".".join(path)


@attrs.define
class ManagerEntry:
    """One ``managedFields`` entry: which leaves a manager owns, and how it set them."""

    manager: str
    operation: str
    api_version: str
    time: str
    paths: set[Path]

    def to_json(self) -> Obj:
        return {
            "manager": self.manager,
            "operation": self.operation,
            "apiVersion": self.api_version,
            "time": self.time,
            "fieldsType": "FieldsV1",
            "fieldsV1": _to_fields_v1(self.paths),
        }


def _to_fields_v1(paths: Iterable[Path]) -> Obj:
    root: Obj = {}
    ordered = sorted(paths)
    for path in ordered:
        node = root
        for part in path:
            node = node.setdefault(f"f:{part}", {})
    for path in ordered:  # a path that is also a parent of others is marked "."
        node = root
        for part in path:
            node = node[f"f:{part}"]
        if node and "." not in node:
            node["."] = {}
    return root


def _from_fields_v1(tree: Mapping[str, Any], prefix: Path = ()) -> set[Path]:
    out: set[Path] = set()
    for key, child in tree.items():
        if key == "." or not key.startswith("f:"):
            out.add(prefix)  # the node itself, or list items (k:/v:/i:) of an atomic list
            continue
        path = (*prefix, key[2:])
        if isinstance(child, Mapping) and child:
            out |= _from_fields_v1(child, path)
        else:
            out.add(path)
    out.discard(())
    return out


def read_entries(obj: Mapping[str, Any] | None) -> list[ManagerEntry]:
    entries = []
    for raw in ((obj or {}).get("metadata") or {}).get("managedFields") or []:
        entries.append(
            ManagerEntry(
                manager=str(raw.get("manager", "")),
                operation=str(raw.get("operation", "Update")),
                api_version=str(raw.get("apiVersion", "")),
                time=str(raw.get("time", "")),
                paths=_from_fields_v1(raw.get("fieldsV1") or {}),
            )
        )
    return entries


def write_entries(obj: Obj, entries: Iterable[ManagerEntry]) -> None:
    rendered = [entry.to_json() for entry in entries if entry.paths]
    metadata = obj.setdefault("metadata", {})
    if rendered:
        metadata["managedFields"] = rendered
    else:
        metadata.pop("managedFields", None)


def _entry(
    entries: list[ManagerEntry], manager: str, operation: str, api_version: str, now: str
) -> ManagerEntry:
    for entry in entries:
        if entry.manager == manager and entry.operation == operation:
            entry.api_version, entry.time = api_version, now
            return entry
    entry = ManagerEntry(manager, operation, api_version, now, set())
    entries.append(entry)
    return entry


def record_update(old: Obj | None, new: Obj, manager: str, api_version: str, now: str) -> None:
    """Give the leaves an update changed to ``manager`` (operation Update); updates ``new``."""
    old_fields, new_fields = tracked_fields(old), tracked_fields(new)
    changed = {path for path, value in new_fields.items() if old_fields.get(path, _MISSING) != value}
    entries = read_entries(old)
    for entry in entries:
        entry.paths = {p for p in entry.paths if p in new_fields and p not in changed}
    if changed:
        _entry(entries, manager, "Update", api_version, now).paths |= changed
    write_entries(new, entries)


@attrs.frozen
class ApplyTarget:
    """What the conflict error names: the resource (plural, group) and object name."""

    plural: str
    group: str
    name: str


def server_side_apply(
    live: Obj | None,
    applied: Obj,
    *,
    manager: str,
    force: bool,
    api_version: str,
    now: str,
    target: ApplyTarget,
) -> Obj:
    """The object after applying ``applied`` as ``manager``; raises 409 on conflicts (see module doc)."""
    config = tracked_fields(applied)
    entries = read_entries(live)
    mine = next((e for e in entries if e.manager == manager and e.operation == "Apply"), None)
    others = [e for e in entries if e is not mine]
    conflicts: list[tuple[str, str, str]] = []
    contested: set[Path] = set()
    for path, value in config.items():
        current = get_path(live, path)
        if current == value or (value == {} and isinstance(current, dict)):
            continue  # no change (an empty map merges into an existing one)
        for entry in others:
            if any(_overlaps(owned, path, live) for owned in entry.paths):
                conflicts.append((entry.manager, entry.api_version, render_path(path)))
                contested.add(path)
    if conflicts and not force:
        raise apply_conflict(target.plural, target.group, target.name, conflicts)
    for entry in others:
        entry.paths = {p for p in entry.paths if not any(_related(p, c) for c in contested)}
    new = copy.deepcopy(live) if live is not None else {}
    still_owned = {p for entry in others for p in entry.paths}
    for path in (mine.paths if mine else set()) - set(config):
        if not any(_related(path, owned) for owned in still_owned):
            _delete_path(new, path)
    for path, value in config.items():
        _set_path(new, path, value)
    _entry(entries, manager, "Apply", api_version, now).paths = set(config)
    write_entries(new, entries)
    return new
