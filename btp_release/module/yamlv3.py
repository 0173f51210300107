"""YAML read the way Go's yaml.v3 reads it into a struct, with every problem collected instead of raised.

modulectl decodes module-config.yaml with yaml.v3, whose rules differ from PyYAML's: only
``true``/``false`` are booleans among plain scalars (YAML 1.2 core), but a bool field also takes
``yes``/``on``/``no``/``off``; a scalar given for a text field is taken as written; ``null`` is the
empty value; a key twice in one mapping is an error; merge keys (``<<``) fill in what a mapping lacks.
:class:`Yamlv3Loader` composes nodes with those scalar rules and :class:`Decoder` reads values from them,
so that a file is refused here exactly where yaml.v3 refuses it.
"""

from __future__ import annotations

import re

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

__all__ = ["Decoder", "Yamlv3Loader", "is_null", "node_kind", "node_line", "scalar_text"]

_STR = "tag:yaml.org,2002:str"
_NULL = "tag:yaml.org,2002:null"
_BOOL = "tag:yaml.org,2002:bool"
_MERGE = "tag:yaml.org,2002:merge"


class Yamlv3Loader(yaml.BaseLoader):
    """Composes nodes only; plain scalars resolve as in yaml.v3 (only ``true``/``false`` are booleans)."""


Yamlv3Loader.add_implicit_resolver(_NULL, re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""])
Yamlv3Loader.add_implicit_resolver(_BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))
Yamlv3Loader.add_implicit_resolver(_MERGE, re.compile(r"^(?:<<)$"), ["<"])


def node_line(node: Node) -> int:
    return int(node.start_mark.line) + 1


def is_null(node: Node) -> bool:
    return isinstance(node, ScalarNode) and node.tag == _NULL


def node_kind(node: Node) -> str:
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    return "null" if is_null(node) else f"{node.value!r}"


_YES = frozenset({"y", "Y", "yes", "Yes", "YES", "on", "On", "ON"})
_NO = frozenset({"n", "N", "no", "No", "NO", "off", "Off", "OFF"})


def scalar_text(node: ScalarNode) -> str:
    return "" if node.tag == _NULL else str(node.value)


class Decoder:
    """Reads values from a node tree as yaml.v3 sets them into Go fields, collecting every problem.
    ``bad`` holds the paths that already have a type problem, so a wrongly typed value is not reported
    a second time (as missing, say) by the rules that read it next."""

    def __init__(self) -> None:
        self.problems: list[str] = []
        self.bad: set[str] = set()
        self.key_lines: dict[int, int] = {}  # id(value node) → line of its key, where a problem is shown

    def problem(self, text: str, node: Node | None = None) -> None:
        if node is not None:
            text += f" (line {self.key_lines.get(id(node), node_line(node))})"
        self.problems.append(text)

    def wrong_type(self, path: str, expected: str, node: Node) -> None:
        self.bad.add(path)
        self.problem(f"{path}: must be {expected}, got {node_kind(node)}", node)

    # mappings: a key twice is an error; merge keys as yaml.v3 (explicit keys win, then earlier merges)

    def pairs(self, node: MappingNode, path: str, _seen: frozenset[int] = frozenset()) -> dict[str, Node]:
        result: dict[str, Node] = {}
        first: dict[str, Node] = {}
        merges: list[Node] = []
        where = path or "the file"
        for key, value in node.value:
            if not isinstance(key, ScalarNode):
                self.problem(f"{where}: a key must be text, got {node_kind(key)}", key)
                continue
            if key.value in first:
                shown = f"{path}.{key.value}" if path else str(key.value)
                self.problem(f"{shown}: defined twice (first at line {node_line(first[key.value])})", key)
                continue
            first[key.value] = key
            self.key_lines.setdefault(id(value), node_line(key))
            if key.tag == _MERGE:
                merges.append(value)
            else:
                result[scalar_text(key)] = value
        for merge in merges:
            for item in merge.value if isinstance(merge, SequenceNode) else [merge]:
                if not isinstance(item, MappingNode):
                    self.problem(f"{where}: '<<' merges mappings only, got {node_kind(item)}", item)
                elif id(item) not in _seen:
                    for name, value in self.pairs(item, path, _seen | {id(node)}).items():
                        result.setdefault(name, value)
        return result

    # scalars

    def text(self, node: Node | None, path: str) -> str | None:
        """A text value as yaml.v3 sets a Go string: None when absent, "" for null, else as written."""
        if node is None:
            return None
        if isinstance(node, ScalarNode):
            return scalar_text(node)
        self.wrong_type(path, "text", node)
        return None

    def flag(self, node: Node | None, path: str) -> bool | None:
        """A Go bool as yaml.v3 sets it; None when absent or null (the default applies)."""
        if node is None or is_null(node):
            return None
        if isinstance(node, ScalarNode):
            value = str(node.value)
            if node.tag == _BOOL and value.lower() in ("true", "false"):
                return value.lower() == "true"
            # yaml.v3 takes YAML 1.1's words when the target is a bool, quoted or not.
            if node.tag == _STR and value in _YES | _NO:
                return value in _YES
        self.wrong_type(path, "true or false", node)
        return None

    def string_map(self, node: Node | None, path: str) -> dict[str, str]:
        if node is None or is_null(node):
            return {}
        if not isinstance(node, MappingNode):
            self.wrong_type(path, "a mapping of text keys to text values", node)
            return {}
        result = {}
        for name, value in self.pairs(node, path).items():
            text = self.text(value, f"{path}.{name}")
            if text is not None:
                result[name] = text
        return dict(sorted(result.items()))

    def required_text(self, node: Node | None, key: str, what: str) -> str | None:
        value = self.text(node, key)
        if node is None:
            self.problem(f"{key}: required: {what}")
        elif value == "":
            self.problem(f"{key}: must not be empty: {what}", node)
        return value or None
