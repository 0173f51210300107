"""Go's ``time.ParseDuration``, as btp-manager reads the durations of its ConfigMap."""

from __future__ import annotations

import re

_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_PART = re.compile(r"(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)")


def parse_go_duration(text: str) -> float | None:
    """Seconds of a Go duration (``"10s"``, ``"1h30m"``, ``"1.5m"``, ``"-2s"``, ``"0"``), or
    ``None`` when Go would reject it (``"10"``, ``"10 s"``, ``"1d"``, ``""``)."""
    sign = 1.0
    rest = text
    if rest[:1] in ("+", "-"):
        sign, rest = (-1.0 if rest[0] == "-" else 1.0), rest[1:]
    if rest == "0":
        return 0.0
    if not rest:
        return None
    total, position = 0.0, 0
    while position < len(rest):
        match = _PART.match(rest, position)
        if match is None:
            return None
        total += float(match.group(1)) * _UNITS[match.group(2)]
        position = match.end()
    return sign * total
