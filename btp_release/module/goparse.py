"""Go's rules where modulectl's checks depend on them, in Python: ``strings.TrimSpace``'s spaces, Masterminds
semver's ``StrictNewVersion`` and ``net/url.Parse``.

A module-config.yaml that ``modulectl create`` accepts must be accepted here and one it refuses refused,
which turns on exactly how Go parses a version or a URL (Python's ``urllib.parse`` accepts far more).
These are rules only: each says why a text is refused, and knows nothing of module-config.yaml.
"""

from __future__ import annotations

import ipaddress

import attrs

__all__ = ["GO_SPACE", "GoUrl", "parse_url", "strict_semver_problem"]

# --- Masterminds semver v3 StrictNewVersion, as a rule: why text is not a strict version, or None ---------

_DIGITS = frozenset("0123456789")
_IDENT = frozenset("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-")
_UINT64_MAX = 2**64 - 1
# Go's unicode.IsSpace, which strings.TrimSpace trims.
GO_SPACE = (
    "\t\n\v\f\r \x85\xa0\u1680" + "".join(map(chr, range(0x2000, 0x200B))) + "\u2028\u2029\u202f\u205f\u3000"
)


def strict_semver_problem(text: str) -> str | None:
    """Why Masterminds' ``StrictNewVersion`` (semver v3.5) refuses ``text``; None when it accepts it."""
    if not text:
        return "it is empty"
    parts = text.split(".", 2)
    if len(parts) != 3:
        return f"expected three numbers separated by '.', got {len(parts)} part(s)"
    last = parts[2]
    if "+" in last:
        last, metadata = last.split("+", 1)
        if any(not item or not set(item) <= _IDENT for item in metadata.split(".")):
            return "the build metadata after '+' must be '.'-separated non-empty [0-9A-Za-z-] identifiers"
    if "-" in last:
        last, pre = last.split("-", 1)
        for item in pre.split("."):
            if not item or not set(item) <= _IDENT:
                return "the pre-release after '-' must be '.'-separated non-empty [0-9A-Za-z-] identifiers"
            if set(item) <= _DIGITS and len(item) > 1 and item[0] == "0":
                return f"the numeric pre-release identifier {item!r} has a leading zero"
    numbers = [parts[0], parts[1], last]
    for number in numbers:
        if not set(number) <= _DIGITS:
            hint = " (no 'v' prefix)" if text[:1] in "vV" else ""
            return f"MAJOR.MINOR.PATCH must be digits only{hint}"
        if len(number) > 1 and number[0] == "0":
            return f"{number!r} has a leading zero"
    for number in numbers:
        if not number:
            return "MAJOR, MINOR and PATCH must not be empty"
        if int(number) > _UINT64_MAX:
            return f"{number} is larger than {_UINT64_MAX}"
    return None


# --- Go net/url.Parse (Go 1.26, urlstrictcolons=1), as far as modulectl's checks depend on it ---------


@attrs.frozen
class GoUrl:
    """What Go's ``url.Parse`` makes of a URL, as far as modulectl looks at it."""

    scheme: str  # lowercased, as Go stores it
    host: str


_HOST_OK = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.~!$&'()*+,;=:[]<>\"")
_USERINFO_OK = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._:~!$&'()*+,;=%@")
_HEX = frozenset("0123456789abcdefABCDEF")


def _check_escapes(text: str, *, host: bool = False, zone: bool = False) -> None:
    """Go's unescape: every '%' starts two hex digits; in a host, only some characters are allowed."""
    i = 0
    while i < len(text):
        char = text[i]
        if char == "%":
            code = text[i : i + 3]
            if i + 2 >= len(text) or code[1] not in _HEX or code[2] not in _HEX:
                raise ValueError(f"invalid URL escape {code!r}")
            if host and int(code[1], 16) < 8 and code != "%25":
                raise ValueError(f"invalid URL escape {code!r}")
            byte = chr(int(code[1:], 16))
            if zone and code != "%25" and byte != " " and byte not in _HOST_OK:
                raise ValueError(f"invalid URL escape {code!r}")
            i += 3
            continue
        if (host or zone) and ord(char) < 0x80 and char not in _HOST_OK:
            raise ValueError(f"invalid character {char!r} in host name")
        i += 1


def _valid_port(colon_port: str) -> bool:
    return colon_port == "" or (colon_port[0] == ":" and all(c in _DIGITS for c in colon_port[1:]))


def _parse_host(scheme: str, host: str) -> str:
    opening = host.rfind("[")
    if opening > 0:
        raise ValueError("invalid IP-literal")
    if opening == 0:
        closing = host.rfind("]")
        if closing < 0:
            raise ValueError("missing ']' in host")
        colon_port = host[closing + 1 :]
        if not _valid_port(colon_port):
            raise ValueError(f"invalid port {colon_port!r} after host")
        name = host[1:closing]
        zone_at = name.find("%25")
        address, zone = (name, "") if zone_at < 0 else (name[:zone_at], name[zone_at:])
        _check_escapes(address, host=True)
        _check_escapes(zone, zone=True)
        try:
            ip = ipaddress.ip_address(address)
        except ValueError as exc:
            raise ValueError(f"invalid host: {address!r} is not an IPv6 address") from exc
        if ip.version == 4:
            raise ValueError("invalid IP-literal")
        return host
    colon = host.find(":")
    if colon >= 0:
        if scheme not in ("http", "https"):
            colon = host.rfind(":")
        if not _valid_port(host[colon:]):
            raise ValueError(f"invalid port {host[colon:]!r} after host")
    _check_escapes(host, host=True)
    return host


def parse_url(raw: str) -> GoUrl:
    """What Go's ``url.Parse`` makes of ``raw`` (scheme and host), or ValueError with Go's reason."""
    before, hash_mark, fragment = raw.partition("#")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in before):
        raise ValueError("invalid control character in URL")
    if before == "*":
        return GoUrl("", "")
    scheme, rest = "", before
    for index, char in enumerate(before):
        if char.isascii() and char.isalpha():
            continue
        if char in "0123456789+-.":
            if index == 0:
                break
            continue
        if char == ":":
            if index == 0:
                raise ValueError("missing protocol scheme")
            scheme, rest = before[:index].lower(), before[index + 1 :]
        break
    # The query is not checked by Go; a lone "?" at the end only forces an empty one.
    rest = rest[:-1] if rest.endswith("?") and rest.count("?") == 1 else rest.partition("?")[0]
    host = ""
    if not rest.startswith("/"):
        if scheme:
            return GoUrl(scheme, "")  # opaque
        if ":" in rest.partition("/")[0]:
            raise ValueError("first path segment in URL cannot contain colon")
    if (scheme or not rest.startswith("///")) and rest.startswith("//"):
        authority, slash, path = rest[2:].partition("/")
        rest = slash + path
        userinfo, at, host_part = authority.rpartition("@")
        host = _parse_host(scheme, host_part)
        if at:
            if not set(userinfo) <= _USERINFO_OK:
                raise ValueError("invalid userinfo")
            for piece in userinfo.split(":", 1):
                _check_escapes(piece)
    _check_escapes(rest)
    if hash_mark and fragment:
        _check_escapes(fragment)
    return GoUrl(scheme, host)
