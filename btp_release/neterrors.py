"""Why a connection failed, decided once for the registry client and the GitHub client.

httpx reports every failed connection as one ``ConnectError``; the cause is further down its
``__cause__``/``__context__`` chain (an ``ssl.SSLError``, a ``socket.gaierror``). Some causes do not
heal by waiting: a certificate the client does not trust, a server that answers plain HTTP on the
port the client speaks HTTPS to, a host name that does not exist. Retrying those only delays the
error by the whole backoff and hides what to fix, so :func:`classify` names the cause and
:func:`lasting_error` turns it into a typed, not retried, error carrying the client's own advice.
Everything else (refused connections, resets, a resolver that is temporarily down) stays transient.
"""

from __future__ import annotations

import enum
import re
import socket
import ssl
from collections.abc import Mapping

from btp_release.errors import BtpReleaseError, InvalidInput, UntrustedCertificate

__all__ = ["Cause", "classify", "lasting_error", "request_host", "request_origin"]

_MAX_CHAIN = 10
# What OpenSSL says when the "TLS record" it reads is an HTTP response: WRONG_VERSION_NUMBER up to
# OpenSSL 3.1, RECORD_LAYER_FAILURE / PACKET_LENGTH_TOO_LONG from 3.2 on, HTTP_REQUEST on the server side.
_PLAIN_HTTP_REASONS = frozenset(
    {"WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE", "PACKET_LENGTH_TOO_LONG", "HTTP_REQUEST"}
)
_PLAIN_HTTP_TEXT = re.compile(r"\[SSL: (" + "|".join(sorted(_PLAIN_HTTP_REASONS)) + r")\]")
# getaddrinfo's "no such name" (EAI_NODATA: the name exists without an address; not on every platform).
# EAI_AGAIN ("Temporary failure in name resolution") is left out on purpose: that one is transient.
_UNKNOWN_HOST_ERRNOS = frozenset(
    code for code in (socket.EAI_NONAME, getattr(socket, "EAI_NODATA", None)) if code is not None
)
_UNKNOWN_HOST_TEXT = (
    "Name or service not known",  # glibc EAI_NONAME
    "nodename nor servname provided",  # BSD / macOS EAI_NONAME
    "No address associated with hostname",  # glibc EAI_NODATA
)


class Cause(enum.Enum):
    """Why a connection failed, as far as it decides whether retrying can help."""

    UNTRUSTED_CERTIFICATE = "untrusted certificate"
    PLAIN_HTTP = "plain HTTP on the HTTPS port"
    UNKNOWN_HOST = "unknown host"
    OTHER = "other"


def _chain(exc: BaseException) -> list[BaseException]:
    links: list[BaseException] = []
    seen: BaseException | None = exc
    while seen is not None and len(links) < _MAX_CHAIN and all(seen is not link for link in links):
        links.append(seen)
        seen = seen.__cause__ or seen.__context__
    return links


def classify(exc: BaseException) -> Cause:
    """The cause of a connect error, found anywhere in its (bounded) ``__cause__``/``__context__`` chain.

    Pure: it only looks at the exceptions. Meant for errors raised while connecting (a TLS record
    error later in a stream is not a plain-HTTP server).
    """
    for link in _chain(exc):
        text = str(link)
        if isinstance(link, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY_FAILED" in text:
            return Cause.UNTRUSTED_CERTIFICATE
        reason = getattr(link, "reason", None) if isinstance(link, ssl.SSLError) else None
        if reason in _PLAIN_HTTP_REASONS or _PLAIN_HTTP_TEXT.search(text):
            return Cause.PLAIN_HTTP
        if isinstance(link, socket.gaierror):
            return Cause.UNKNOWN_HOST if link.errno in _UNKNOWN_HOST_ERRNOS else Cause.OTHER
        if any(phrase in text for phrase in _UNKNOWN_HOST_TEXT):
            return Cause.UNKNOWN_HOST
    return Cause.OTHER


def request_host(exc: BaseException) -> str | None:
    """The host name of the request an httpx error belongs to (no user info, no port), if known."""
    try:
        host = exc.request.url.host  # type: ignore[attr-defined]
    except (AttributeError, RuntimeError):  # not an httpx error, or no request attached
        return None
    return str(host) or None


def request_origin(exc: BaseException) -> str | None:
    """``scheme://host[:port]`` of the request an httpx error belongs to, without user info."""
    try:
        url = exc.request.url  # type: ignore[attr-defined]
    except (AttributeError, RuntimeError):
        return None
    host = f"[{url.host}]" if ":" in url.host else url.host
    return f"{url.scheme}://{host}" + (f":{url.port}" if url.port is not None else "")


def lasting_error(
    exc: BaseException, *, what: str, where: str, hints: Mapping[Cause, str]
) -> BtpReleaseError | None:
    """The typed error for a connect failure that waiting does not heal, or ``None`` (retry it).

    ``what`` names the operation ("registry list tags for x/y"), ``where`` the server
    (``https://host:port``); ``hints`` holds the client's advice per cause. The message holds only
    these, the host and the exception's class and text: never a credential.
    """
    cause = classify(exc)
    hint = hints.get(cause)
    if cause is Cause.UNTRUSTED_CERTIFICATE:
        return UntrustedCertificate(
            f"{what}: the TLS certificate of {where} is not trusted ({exc})", hint=hint
        )
    if cause is Cause.PLAIN_HTTP:
        return InvalidInput(
            f"{what}: {where} answered plain HTTP to an HTTPS request ({type(exc).__name__}: {exc})",
            hint=hint,
        )
    if cause is Cause.UNKNOWN_HOST:
        host = request_host(exc) or where
        return InvalidInput(
            f"{what}: the host name {host} does not resolve ({type(exc).__name__}: {exc})", hint=hint
        )
    return None
