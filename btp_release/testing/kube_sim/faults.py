"""Fault injection: make chosen requests fail the way API servers and networks fail.

A fault matches a request by method and a regular expression searched in its path, affects
``times`` matching requests, and is then consumed. Faults are tried in the order they were
added; the first one that matches wins. A faulted request runs no reconcile pass unless the
operation itself ran (``status_after``).
"""

from __future__ import annotations

from typing import Literal, get_args

import attrs

from ..faultbook import kind_validator, matches_request, valid_regex

FaultKind = Literal["status", "status_after", "reset", "latency"]
FAULT_KINDS: frozenset[str] = frozenset(get_args(FaultKind))
STATUS_REASONS = {
    409: "Conflict",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}


@attrs.frozen
class Fault:
    """What to do to the next ``times`` requests matching ``method`` and ``path``.

    Kinds:
    - ``status``: answer a ``kind: Status`` with code ``status`` (429 carries ``Retry-After:
      <retry_after>``) without doing anything;
    - ``status_after``: perform the operation, then answer ``status`` (a write that succeeded
      but whose answer was lost at a proxy);
    - ``reset``: abort the TCP connection with RST before doing anything;
    - ``latency``: sleep ``delay`` seconds, then handle normally.

    ``method="*"`` matches any method; ``path`` is searched (``re.search``) in the path without
    the query string.
    """

    method: str
    path: str = attrs.field(validator=valid_regex)
    kind: FaultKind = attrs.field(default="status", validator=kind_validator(FAULT_KINDS))
    times: int = attrs.field(default=1, validator=attrs.validators.ge(1))
    status: int = attrs.field(default=500, validator=attrs.validators.in_(range(100, 600)))
    retry_after: int = attrs.field(default=1, validator=attrs.validators.ge(0))
    delay: float = attrs.field(default=0.0, validator=attrs.validators.ge(0.0))

    def matches(self, method: str, path: str) -> bool:
        return matches_request(self.method, self.path, method, path)
