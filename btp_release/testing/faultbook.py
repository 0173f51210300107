"""The pending faults of a simulator, consumed as requests match them (shared by the simulators).

Each simulator defines its own ``Fault`` (the kinds of failure its API can show); the book only needs
``times`` and ``matches(method, path)``. Faults are tried in the order they were added; the first one
that matches wins and loses one use.
"""

from __future__ import annotations

import threading
from typing import Generic, Protocol, TypeVar

import attrs

__all__ = ["FaultBook", "MatchingFault"]


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
