"""A wrapper that keeps tokens and passwords out of logs, reprs and exception messages."""

from __future__ import annotations

import attrs

__all__ = ["Secret"]


@attrs.frozen(repr=False, eq=False)
class Secret:
    """Holds a credential; ``str()`` and ``repr()`` never show it, only ``reveal()`` does.

    Equality is deliberately identity-free but value-based only through ``reveal()`` by the caller,
    so that comparisons in logs or asserts cannot leak the value either.
    """

    _value: str = attrs.field(alias="value")

    def reveal(self) -> str:
        """Return the raw value; call only where it goes on the wire."""
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return format(repr(self), spec)
