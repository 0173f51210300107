"""The pending faults of a simulator, consumed as requests match them (shared by the simulators).

Each simulator defines its own ``Fault`` (the kinds of failure its API can show); the book only needs
``times`` and ``matches(method, path)``. Faults are tried in the order they were added; the first one
that matches wins and loses one use.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Collection
from typing import Generic, Protocol, TypeVar

import attrs

__all__ = ["FaultBook", "MatchingFault", "kind_validator", "matches_request", "valid_regex"]


def valid_regex(_instance: object, _attribute: object, value: str) -> None:
    """attrs validator: ``value`` compiles as a regular expression."""
    re.compile(value)


def kind_validator(kinds: Collection[str]) -> Callable[[object, object, str], None]:
    """attrs validator: a fault kind out of ``kinds``, else a message listing them."""

    def check(_instance: object, _attribute: object, value: str) -> None:
        if value not in kinds:
            raise ValueError(f"unknown fault kind {value!r}; expected one of {sorted(kinds)}")

    return check


def matches_request(method_pattern: str, path_pattern: str, method: str, path: str) -> bool:
    """A fault's match: its method (``*`` for any, case-insensitive) and its regular expression
    searched in the request's path (without the query string)."""
    same_method = method_pattern == "*" or method_pattern.upper() == method.upper()
    return same_method and re.search(path_pattern, path) is not None


class MatchingFault(Protocol):
    @property
    def times(self) -> int: ...

    def matches(self, method: str, path: str) -> bool: ...


F = TypeVar("F", bound=MatchingFault)


@attrs.define
class _Pending(Generic[F]):
    fault: F
    remaining: int


class FaultBook(Generic[F]):
    """The pending faults, consumed as requests match them (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: list[_Pending[F]] = []

    def add(self, fault: F) -> None:
        with self._lock:
            self._pending.append(_Pending(fault, fault.times))

    def clear(self) -> None:
        with self._lock:
            self._pending.clear()

    def take(self, method: str, path: str) -> F | None:
        """Consume one use of the first fault matching the request, if any."""
        with self._lock:
            for entry in self._pending:
                if entry.fault.matches(method, path):
                    entry.remaining -= 1
                    if entry.remaining <= 0:
                        self._pending.remove(entry)
                    return entry.fault
            return None

    def pending(self) -> list[tuple[F, int]]:
        """The faults not yet consumed and how many uses each has left."""
        with self._lock:
            return [(entry.fault, entry.remaining) for entry in self._pending]
