"""Label and field selectors: parsing the query syntax and matching objects (pure functions).

Label selectors take the full set-based syntax (``a=b``, ``a==b``, ``a!=b``, ``a in (x,y)``,
``a notin (x)``, ``a``, ``!a``); field selectors take ``=``, ``==`` and ``!=`` on the fields each
resource type supports (``metadata.name`` and ``metadata.namespace`` everywhere) — anything else
is rejected with 400, as the API server does.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, Literal

import attrs

from .errors import bad_request

Operator = Literal["=", "!=", "in", "notin", "exists", "!"]

_KEY = r"[A-Za-z0-9][-A-Za-z0-9_./]*"
_VALUE = r"[-A-Za-z0-9_.]*"
_SET = re.compile(rf"^\s*({_KEY})\s+(in|notin)\s*\(([^)]*)\)\s*$")
_EQUALITY = re.compile(rf"^\s*({_KEY})\s*(==|=|!=)\s*({_VALUE})\s*$")
_EXISTS = re.compile(rf"^\s*(!?)\s*({_KEY})\s*$")


@attrs.frozen
class Requirement:
    """One term of a label selector."""

    key: str
    op: Operator
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        value = labels.get(self.key)
        if self.op == "=":
            return present and value == self.values[0]
        if self.op == "!=":
            return not present or value != self.values[0]
        if self.op == "in":
            return present and value in self.values
        if self.op == "notin":
            return not present or value not in self.values
        if self.op == "exists":
            return present
        return not present


def _split_terms(text: str) -> list[str]:
    """Split at commas that are not inside ``( )``."""
    terms: list[str] = []
    current: list[str] = []
    depth = 0
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            terms.append("".join(current))
            current = []
        else:
            current.append(char)
    terms.append("".join(current))
    return [term for term in terms if term.strip()]


def parse_label_selector(text: str) -> tuple[Requirement, ...]:
    """Parse ``labelSelector``; 400 BadRequest for a malformed term."""
    requirements: list[Requirement] = []
    for term in _split_terms(text):
        if match := _SET.match(term):
            values = tuple(v.strip() for v in match.group(3).split(",") if v.strip())
            op: Operator = "in" if match.group(2) == "in" else "notin"
            requirements.append(Requirement(match.group(1), op, values))
        elif match := _EQUALITY.match(term):
            op = "!=" if match.group(2) == "!=" else "="
            requirements.append(Requirement(match.group(1), op, (match.group(3),)))
        elif match := _EXISTS.match(term):
            requirements.append(Requirement(match.group(2), "!" if match.group(1) else "exists"))
        else:
            raise bad_request(
                f"unable to parse requirement: found {term.strip()!r}, expected a label selector"
            )
    return tuple(requirements)


def requirements_from_selector(selector: Mapping[str, Any]) -> tuple[Requirement, ...]:
    """A ``LabelSelector`` object (``matchLabels``/``matchExpressions``) as requirements."""
    out = [Requirement(k, "=", (str(v),)) for k, v in (selector.get("matchLabels") or {}).items()]
    ops: dict[str, Operator] = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!"}
    for expression in selector.get("matchExpressions") or []:
        op = ops.get(str(expression.get("operator")))
        if op is None:
            raise ValueError(f"unknown selector operator {expression.get('operator')!r}")
        out.append(Requirement(str(expression.get("key")), op, tuple(expression.get("values") or ())))
    return tuple(out)


def labels_match(requirements: Iterable[Requirement], labels: Mapping[str, str] | None) -> bool:
    found = labels or {}
    return all(requirement.matches(found) for requirement in requirements)


@attrs.frozen
class FieldRequirement:
    field: str
    equal: bool
    value: str


_FIELD = re.compile(r"^\s*([A-Za-z0-9_.]+)\s*(==|=|!=)\s*(.*?)\s*$")


def parse_field_selector(text: str, supported: Iterable[str]) -> tuple[FieldRequirement, ...]:
    """Parse ``fieldSelector``; 400 for malformed terms or fields the resource does not index."""
    allowed = set(supported) | {"metadata.name", "metadata.namespace"}
    out: list[FieldRequirement] = []
    for term in (t for t in text.split(",") if t.strip()):
        match = _FIELD.match(term)
        if match is None:
            raise bad_request(f"invalid selector: {text!r}; can't understand {term!r}")
        field, op, value = match.groups()
        if field not in allowed:
            raise bad_request(f"field label not supported: {field}")
        out.append(FieldRequirement(field, op != "!=", value))
    return tuple(out)


def field_value(obj: Mapping[str, Any], path: str) -> str:
    """The string form of a dotted field (``""`` when absent), as field selectors compare it."""
    current: Any = obj
    for part in path.split("."):
        if not isinstance(current, Mapping):
            return ""
        current = current.get(part)
    if current is None:
        return ""
    if isinstance(current, bool):
        return "true" if current else "false"
    return str(current)


def fields_match(requirements: Iterable[FieldRequirement], obj: Mapping[str, Any]) -> bool:
    return all((field_value(obj, r.field) == r.value) == r.equal for r in requirements)
