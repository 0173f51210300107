"""Credentials that never reach a log, a repr, an exception message or a workflow command.

:class:`Secret` keeps a value out of ``str``/``repr``/``format``, so our own code cannot print it by
accident, and registers it with :mod:`btp_release.redaction`, so text that libraries below us write
(an httpx error quoting a header, a proxy's error page) is redacted at every sink too.

:func:`credential` is how a secret is read from the outside world (an environment variable, a flag):
it refuses an empty value and — for tokens — any whitespace or control character, the usual trace of
``$(cat token-file)`` on a CRLF file, before the value can reach an HTTP header.
"""

from __future__ import annotations

from typing import Literal

import attrs

from btp_release.errors import InvalidInput
from btp_release.redaction import register

__all__ = ["Secret", "credential"]


@attrs.frozen(repr=False, eq=False)
class Secret:
    """Holds a credential; ``str()`` and ``repr()`` never show it, only ``reveal()`` does.

    Equality is deliberately identity-free but value-based only through ``reveal()`` by the caller,
    so that comparisons in logs or asserts cannot leak the value either. Creating one registers the
    value for :func:`redact`.
    """

    _value: str = attrs.field(alias="value")

    def __attrs_post_init__(self) -> None:
        register(self._value)

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


def credential(value: str, *, source: str, kind: Literal["token", "password"] = "token") -> Secret:
    """``value`` read from ``source`` (e.g. ``environment GITHUB_TOKEN``) as a :class:`Secret`.

    A token must be one word of printable characters; a password may hold inner spaces but no control
    character and no surrounding whitespace. Anything else raises :class:`InvalidInput` that names
    the source and the kind of character, never the value (which is registered for redaction first).
    """
    secret = Secret(value)
    problem = None
    if not value:
        problem = "is empty"
    elif any(c in value for c in "\r\n"):
        problem = "contains a line break (CR or LF; was it read from a file with a trailing newline?)"
    elif any(not c.isprintable() for c in value):
        problem = "contains a control character"
    elif value != value.strip():
        problem = "starts or ends with whitespace"
    elif kind == "token" and any(c.isspace() for c in value):
        problem = "contains whitespace"
    if problem:
        raise InvalidInput(
            f"the {kind} in {source} {problem}",
            hint=f"set {source.rsplit(' ', 1)[-1]} to the bare {kind}, e.g. \"$(tr -d '\\r\\n' < FILE)\"",
        )
    return secret
