"""Sans-I/O GitHub REST rules: URLs, headers, pagination links, rate limits and error mapping.

Pure functions over status codes, headers and bodies, so they are unit-tested without a server;
the client in ``client.py`` only does the I/O around them. Behaviour per
``spec/github-api.md`` (GitHub REST API, version 2022-11-28).
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Mapping
from typing import Any

import attrs

from btp_release.errors import (
    AlreadyExists,
    AuthenticationFailed,
    BtpReleaseError,
    Conflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
    RateLimited,
    Transient,
)

__all__ = [
    "API_VERSION",
    "GITHUB_API_URL",
    "ApiUrls",
    "RateLimitInfo",
    "error_for_response",
    "expand_upload_url",
    "next_link",
    "parse_link_header",
]

API_VERSION = "2022-11-28"
GITHUB_API_URL = "https://api.github.com"
# Without Retry-After GitHub asks to wait "at least one minute" after a secondary rate limit.
SECONDARY_LIMIT_DEFAULT_WAIT = 60.0

_PERMISSION_HINT = (
    "the token needs 'contents: write' for releases, tags and assets "
    "(in a workflow: permissions: contents: write; a fine-grained token: Contents read and write)"
)


@attrs.frozen
class ApiUrls:
    """REST root and uploads root, for github.com or a GitHub Enterprise Server host."""

    api: str
    uploads: str

    @classmethod
    def for_api_url(cls, api_url: str) -> ApiUrls:
        """Derive the uploads root: github.com → uploads.github.com; GHES ``/api/v3`` → ``/api/uploads``."""
        api = api_url.rstrip("/")
        parts = urllib.parse.urlsplit(api)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise InvalidInput(
                f"invalid GitHub API URL {api_url!r}",
                hint="use https://api.github.com or https://HOST/api/v3 for GitHub Enterprise Server",
            )
        if parts.netloc == "api.github.com":
            return cls(api, "https://uploads.github.com")
        if parts.path.endswith("/api/v3"):
            uploads_path = parts.path.removesuffix("v3") + "uploads"  # /api/v3 → /api/uploads
            return cls(api, urllib.parse.urlunsplit(parts._replace(path=uploads_path)))
        return cls(api, api)

    @classmethod
    def for_enterprise_host(cls, host: str) -> ApiUrls:
        """GitHub Enterprise Server: ``https://HOST/api/v3`` and ``https://HOST/api/uploads``."""
        return cls(f"https://{host}/api/v3", f"https://{host}/api/uploads")


_LINK = re.compile(r'<(?P<url>[^>]*)>\s*;\s*rel="?(?P<rel>[^";]+)"?')


def parse_link_header(value: str | None) -> dict[str, str]:
    """``Link`` header → ``{rel: url}``; URLs are kept verbatim, as GitHub asks."""
    if not value:
        return {}
    links: dict[str, str] = {}
    for match in _LINK.finditer(value):
        for rel in match.group("rel").split():
            links[rel] = match.group("url")
    return links


def next_link(headers: Mapping[str, str]) -> str | None:
    return parse_link_header(headers.get("link")).get("next")


_TEMPLATE = re.compile(r"\{[^}]*\}$")


def expand_upload_url(template: str, name: str, label: str | None = None) -> str:
    """Expand the release's ``upload_url`` hypermedia template (``…/assets{?name,label}``)."""
    base = _TEMPLATE.sub("", template)
    query = {"name": name} | ({"label": label} if label else {})
    return f"{base}?{urllib.parse.urlencode(query, quote_via=urllib.parse.quote)}"


def _float(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


@attrs.frozen
class RateLimitInfo:
    """The ``x-ratelimit-*`` headers of one response (any may be missing)."""

    limit: int | None
    remaining: int | None
    used: int | None
    reset: float | None
    resource: str | None

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> RateLimitInfo:
        def num(name: str) -> int | None:
            value = _float(headers.get(name))
            return int(value) if value is not None else None

        return cls(
            limit=num("x-ratelimit-limit"),
            remaining=num("x-ratelimit-remaining"),
            used=num("x-ratelimit-used"),
            reset=_float(headers.get("x-ratelimit-reset")),
            resource=headers.get("x-ratelimit-resource"),
        )


def _message(body: Any) -> str:
    if isinstance(body, Mapping):
        message = str(body.get("message") or "").strip()
        details = []
        for error in body.get("errors") or []:
            if isinstance(error, Mapping):
                parts = [str(error[k]) for k in ("resource", "field", "code", "message") if error.get(k)]
                details.append(" ".join(parts))
            else:
                details.append(str(error))
        if details:
            message = f"{message} ({'; '.join(details)})" if message else "; ".join(details)
        return message
    return str(body or "").strip()[:200]


def _error_codes(body: Any) -> set[str]:
    if not isinstance(body, Mapping):
        return set()
    return {str(e.get("code")) for e in body.get("errors") or [] if isinstance(e, Mapping)}


def rate_limit_wait(status: int, headers: Mapping[str, str], body: Any, now: float) -> float | None:
    """Seconds to wait if the response is a primary or secondary rate limit, else ``None``."""
    if status not in (403, 429):
        return None
    retry_after = _float(headers.get("retry-after"))
    if retry_after is not None:
        return max(0.0, retry_after)
    info = RateLimitInfo.from_headers(headers)
    if info.remaining == 0 and info.reset is not None:
        return max(1.0, info.reset - now)
    message = _message(body).lower()
    if status == 429 or "secondary rate limit" in message or "abuse" in message:
        return SECONDARY_LIMIT_DEFAULT_WAIT
    if "rate limit" in message:
        return SECONDARY_LIMIT_DEFAULT_WAIT
    return None


def error_for_response(
    status: int, headers: Mapping[str, str], body: Any, *, operation: str, subject: str, now: float
) -> BtpReleaseError:
    """Map an unexpected response to the typed error a caller can act on.

    ``operation`` is what we tried ("create draft release"), ``subject`` the object it was about
    ("release 1.2.0 of kyma-project/btp-manager"); both appear in the message with GitHub's own.
    """
    said = _message(body)
    what = f"GitHub {operation} for {subject} failed: HTTP {status}" + (f" {said}" if said else "")
    wait = rate_limit_wait(status, headers, body, now)
    if wait is not None:
        return RateLimited(
            what, retry_after=wait, hint=f"GitHub asks to wait {wait:.0f}s; re-run later if this persists"
        )
    if status == 401:
        return AuthenticationFailed(
            what, hint="check GITHUB_TOKEN / GH_TOKEN: the token is missing, wrong or expired"
        )
    if status == 403:
        return PermissionDenied(what, hint=_PERMISSION_HINT)
    if status == 404:
        return NotFound(
            what,
            hint="check the repository and the name; drafts are visible only to tokens with push access",
        )
    if status == 422:
        lowered = said.lower()
        if "already_exists" in _error_codes(body) or "already exists" in lowered:
            return AlreadyExists(what, hint="look it up and reuse or delete it instead of creating it again")
        if "no commit found" in lowered:  # get-commit answers 422, not 404, for an unknown ref
            return NotFound(what, hint="check the branch, tag or SHA")
        if "immutable" in lowered:
            return Conflict(
                what,
                hint="the release is immutable: it cannot change after publishing; release a new version",
            )
        return InvalidInput(what, hint="the request was rejected as invalid; check the values given")
    if status == 409:
        return Conflict(what, hint="the repository is in a state that forbids this (empty or archived?)")
    if status >= 500:
        return Transient(what, hint="GitHub had a server error; it is retried, re-run later if it persists")
    return InvalidInput(what, hint="unexpected response from GitHub")
