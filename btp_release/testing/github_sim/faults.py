"""Fault injection: make chosen requests fail the way GitHub and networks fail.

A fault matches a request by method and a regular expression searched in its path (any of the
three hosts), affects ``times`` matching requests, and is then consumed. Faults are tried in the
order they were added; the first one that matches wins.
"""

from __future__ import annotations

from typing import Literal, get_args

import attrs

from ..faultbook import kind_validator, matches_request, valid_regex

FaultKind = Literal["status", "status_after", "rate_limit", "secondary", "reset", "reset_after", "latency"]
FAULT_KINDS: frozenset[str] = frozenset(get_args(FaultKind))


@attrs.frozen
class Fault:
    """What to do to the next ``times`` requests matching ``method`` and ``path``.

    Kinds:
    - ``status``: answer ``status`` (e.g. 500/502/503) without doing anything;
    - ``status_after``: perform the operation, then answer ``status`` (a POST that timed out
      at the proxy but succeeded);
    - ``rate_limit``: primary limit exhausted: 403 (or 429 when ``status`` is 429) with
      ``x-ratelimit-remaining: 0`` and ``x-ratelimit-reset`` = now + ``retry_after``;
    - ``secondary``: 403 (or 429) with ``retry-after: <retry_after>``;
    - ``reset``: abort the TCP connection with RST before answering (an upload is cut after
      about half of its body, leaving an ``open`` asset);
    - ``reset_after``: perform the operation, then RST instead of answering;
    - ``latency``: sleep ``delay`` seconds, then handle normally.

    ``method="*"`` matches any method; ``path`` is searched (``re.search``) in the path without
    the query string.
    """

    method: str
    path: str = attrs.field(validator=valid_regex)
    kind: FaultKind = attrs.field(default="status", validator=kind_validator(FAULT_KINDS))
    times: int = attrs.field(default=1, validator=attrs.validators.ge(1))
    status: int = attrs.field(default=502, validator=attrs.validators.in_(range(100, 600)))
    retry_after: int = attrs.field(default=1, validator=attrs.validators.ge(0))
    delay: float = attrs.field(default=0.0, validator=attrs.validators.ge(0.0))

    def matches(self, method: str, path: str) -> bool:
        return matches_request(self.method, self.path, method, path)
