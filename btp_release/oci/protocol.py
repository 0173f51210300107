"""Sans-I/O rules of the OCI distribution API: URLs, upload locations, ``Link`` pages, error mapping.

Pure functions over URLs, status codes, headers and bodies, unit-tested without a server; the
registry client does the I/O around them. Registry quirks are in ``spec/oci-performance.md``.
"""

from __future__ import annotations

import email.utils
import re
import time
import urllib.parse
from collections.abc import Mapping
from typing import Any

from btp_release.errors import (
    AuthenticationFailed,
    BtpReleaseError,
    Conflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
    RateLimited,
    Transient,
)
from btp_release.oci.auth import is_loopback, parse_www_authenticate

__all__ = [
    "base_url",
    "error_for_response",
    "next_page",
    "parse_link_header",
    "registry_errors",
    "retry_after",
    "with_digest",
]

_NOT_FOUND_CODES = {"MANIFEST_UNKNOWN", "BLOB_UNKNOWN", "NAME_UNKNOWN", "BLOB_UPLOAD_UNKNOWN"}
_INVALID_CODES = {
    "DIGEST_INVALID",
    "MANIFEST_INVALID",
    "MANIFEST_BLOB_UNKNOWN",
    "MANIFEST_UNVERIFIED",
    "NAME_INVALID",
    "TAG_INVALID",
    "SIZE_INVALID",
    "BLOB_UPLOAD_INVALID",
    "PAGINATION_NUMBER_INVALID",
    "RANGE_INVALID",
}


def base_url(host: str, *, insecure: bool = False, scheme: str | None = None) -> str:
    """``https://host`` unless plain HTTP is allowed: a loopback host, or ``insecure=True``.

    ``scheme`` forces one (``"https"`` for a loopback registry with TLS); ``"http"`` for a
    non-loopback host without ``insecure`` is refused, before any request is made.
    """
    if not host or any(c in host for c in "/ @?#"):
        raise InvalidInput(f"invalid registry host {host!r}", hint="use HOST or HOST:PORT, without a scheme")
    plain_ok = insecure or is_loopback(host)
    if scheme is None:
        scheme = "http" if plain_ok else "https"
    if scheme not in ("http", "https"):
        raise InvalidInput(f"invalid scheme {scheme!r} for registry {host}", hint="use https or http")
    if scheme == "http" and not plain_ok:
        raise InvalidInput(
            f"refusing plain HTTP to registry {host}: credentials and content would travel unprotected",
            hint="use HTTPS; plain HTTP is allowed only for loopback hosts or with insecure=True",
        )
    return f"{scheme}://{host}"


def check_url_allowed(url: str, *, insecure: bool) -> None:
    """Refuse a plain-HTTP URL outside loopback (a ``Location`` or redirect that downgrades)."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "https" or (parts.scheme == "http" and (insecure or is_loopback(parts.netloc))):
        return
    raise InvalidInput(
        f"refusing to follow the registry to {parts.scheme}://{parts.netloc}: not HTTPS",
        hint="the registry pointed at a plain-HTTP or unknown-scheme URL; use HTTPS or insecure=True",
    )


def with_digest(location: str, digest: str) -> str:
    """Append ``digest=`` to an upload location, keeping its own query (``_state``) verbatim."""
    separator = "&" if "?" in location else "?"
    return f"{location}{separator}digest={urllib.parse.quote(digest, safe='')}"


_LINK = re.compile(r'<(?P<url>[^>]*)>\s*;\s*rel="?(?P<rel>[^";]+)"?')


def parse_link_header(value: str | None) -> dict[str, str]:
    """``Link: </v2/x/tags/list?last=b&n=2>; rel="next"`` → ``{"next": "/v2/…"}`` (URLs verbatim)."""
    links: dict[str, str] = {}
    for match in _LINK.finditer(value or ""):
        for rel in match.group("rel").split():
            links[rel] = match.group("url")
    return links


def next_page(current_url: str, headers: Mapping[str, str]) -> str | None:
    """The next page's absolute URL, resolved against the current one; ``None`` on the last page."""
    link = parse_link_header(headers.get("link")).get("next")
    return urllib.parse.urljoin(current_url, link) if link else None


def retry_after(headers: Mapping[str, str], *, now: float | None = None) -> float | None:
    """``Retry-After`` in seconds (delta or HTTP date); ``None`` if absent or unreadable."""
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def registry_errors(body: Any) -> list[tuple[str, str]]:
    """The ``errors`` of a distribution error body as ``(code, message)`` pairs."""
    if not isinstance(body, Mapping):
        return []
    found = []
    for error in body.get("errors") or []:
        if isinstance(error, Mapping):
            found.append((str(error.get("code") or ""), str(error.get("message") or "").strip()))
    return found


def error_for_response(
    status: int,
    headers: Mapping[str, str],
    body: Any,
    *,
    operation: str,
    subject: str,
    registry: str,
    credentials_hint: str,
    sent_credentials: bool,
) -> BtpReleaseError:
    """Map an unexpected registry response to the typed error a caller can act on.

    The message names the operation ("push manifest"), the object (``registry/repo:tag``) and the
    registry's own error codes and messages; the hint says what to do.
    """
    errors = registry_errors(body)
    codes = {code for code, _ in errors}
    said = "; ".join(f"{code}: {message}" if message else code for code, message in errors)
    if not said and isinstance(body, str) and body.strip():
        said = body.strip()[:200]
    what = f"registry {operation} for {subject} failed: HTTP {status}" + (f" ({said})" if said else "")
    if status == 429 or "TOOMANYREQUESTS" in codes:
        wait = retry_after(headers)
        return RateLimited(what, retry_after=wait, hint=f"the registry {registry} asks to slow down; retried")
    if status == 401:
        challenges = parse_www_authenticate(headers.get("www-authenticate"))
        if sent_credentials and any(c.error == "insufficient_scope" for c in challenges):
            return PermissionDenied(
                what, hint=f"the credentials for {registry} are valid but lack this access to the repository"
            )
        return AuthenticationFailed(what, hint=credentials_hint)
    if status == 403 or "DENIED" in codes:
        return PermissionDenied(
            what, hint=f"the credentials for {registry} lack permission (pull/push) on this repository"
        )
    if status == 404 or codes & _NOT_FOUND_CODES:
        return NotFound(what, hint="check the repository, tag and digest; push the artifact first")
    if status == 400 or codes & _INVALID_CODES:
        if "MANIFEST_BLOB_UNKNOWN" in codes:
            return InvalidInput(what, hint="push every blob the manifest references before the manifest")
        return InvalidInput(
            what, hint="the registry rejected the content as invalid; check digests and sizes"
        )
    if status == 405 or "UNSUPPORTED" in codes:
        return Conflict(what, hint=f"the registry {registry} does not allow this operation (e.g. deletes)")
    if status == 409:
        return Conflict(what, hint="the registry's state forbids this; look at the object and retry")
    if status == 416:
        # A chunked upload that lost track of its offset: the whole upload session is restarted.
        return Transient(what, hint="the upload session was out of step; the upload is restarted")
    if status >= 500:
        return Transient(what, hint=f"the registry {registry} had a server error; retried, re-run later")
    return BtpReleaseError(what, hint="unexpected response from the registry")
