"""The I/O under :class:`~btp_release.oci.RegistryClient`: one request path for every registry call.

It picks HTTPS (plain HTTP only for loopback or ``insecure``), authenticates through
:class:`~btp_release.oci.auth.RegistryAuth`, maps failures to typed errors and retries idempotent
calls with the one :class:`~btp_release.retry.RetryPolicy`; the request path itself is
:class:`~btp_release.http_core.HttpSession`, shared with the GitHub client.
"""

from __future__ import annotations

import contextlib
import os
import ssl
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import httpx

from btp_release.errors import BtpReleaseError, Transient
from btp_release.http_core import USER_AGENT, HttpSession, TransportWording, read_error_body
from btp_release.neterrors import Cause
from btp_release.oci.auth import RegistryAuth
from btp_release.oci.credentials import Credentials, DockerConfig, credentials_hint
from btp_release.oci.protocol import base_url, check_url_allowed, error_for_response
from btp_release.redaction import get_logger
from btp_release.retry import RetryPolicy
from btp_release.wait import Clock, Sleeper

__all__ = ["DEFAULT_TIMEOUT", "USER_AGENT", "RegistrySession"]

log = get_logger("btp_release.oci")

# Per network operation (connect, each read, each write), not for a whole blob transfer.
DEFAULT_TIMEOUT = httpx.Timeout(60.0, connect=10.0)
_MAX_REDIRECTS = 5
_TRUST_LOCK = threading.Lock()


class _DeferredTrustContext(ssl.SSLContext):
    """httpx's default verifying TLS context, except that the CA certificates are loaded at the first
    TLS handshake instead of when the client is created.

    Loading certifi's bundle costs about 30 ms of CPU per process (measured with ``cProfile``: a
    sixth of a whole-process pull of a small artifact), which a session to a plain-HTTP loopback
    registry never needs. Same trust as httpx: ``SSL_CERT_FILE``, else ``SSL_CERT_DIR``, else certifi.
    """

    _trusted = False

    def _trust(self) -> None:
        with _TRUST_LOCK:
            if self._trusted:
                return
            if os.environ.get("SSL_CERT_FILE"):
                self.load_verify_locations(cafile=os.environ["SSL_CERT_FILE"])
            elif os.environ.get("SSL_CERT_DIR"):
                self.load_verify_locations(capath=os.environ["SSL_CERT_DIR"])
            else:
                import certifi  # httpx's own dependency

                self.load_verify_locations(cafile=certifi.where())
            self._trusted = True

    def wrap_socket(self, *args: Any, **kwargs: Any) -> ssl.SSLSocket:
        self._trust()
        return super().wrap_socket(*args, **kwargs)

    def wrap_bio(self, *args: Any, **kwargs: Any) -> ssl.SSLObject:
        self._trust()
        return super().wrap_bio(*args, **kwargs)


def _wording(host: str) -> TransportWording:
    """How a registry session words transport failures: the server named, and where to allow plain HTTP."""
    return TransportWording(
        timed_out="{what} timed out ({kind}) at {where}",
        timeout_hint="the registry is slow or overloaded; the call is retried",
        unreachable="{what}: the registry is unreachable at {where} ({exc})",
        unreachable_hint="check that the registry runs and that host and port are right; the call is retried",
        network_error="{what}: network error at {where} ({kind}: {exc})",
        network_hint="check connectivity to the registry; the call is retried",
        lasting_hints={
            Cause.UNTRUSTED_CERTIFICATE: "add the registry's CA certificate to SSL_CERT_FILE (or the "
            "system store); never disable verification for a registry you do not control",
            Cause.PLAIN_HTTP: f"if {host} is meant to be reached over plain HTTP, add it to the "
            "insecure-registries setting (config key insecure-registries, environment "
            "BTP_RELEASE_INSECURE_REGISTRIES, flag --insecure-registries); otherwise check the port",
            Cause.UNKNOWN_HOST: "check the registry host name in the configuration (module-registry, "
            "image-repo) or the image reference",
        },
    )


class RegistrySession(HttpSession):
    """Connection, credentials and request policy for one registry host (``name[:port]``)."""

    service = "registry"

    def __init__(
        self,
        host: str,
        *,
        credentials: Credentials | None = None,
        docker_config: DockerConfig | None = None,
        insecure: bool = False,
        scheme: str | None = None,
        http: httpx.Client | None = None,
        transport: httpx.BaseTransport | None = None,
        retry: RetryPolicy | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        clock: Clock = time.monotonic,
        sleeper: Sleeper = time.sleep,
        user_agent: str = USER_AGENT,
        max_connections: int = 8,
    ) -> None:
        self.host = host
        self.insecure = insecure
        self.base_url = base_url(host, insecure=insecure, scheme=scheme)
        source: Credentials | Callable[[], Credentials] | None = credentials
        if credentials is None and docker_config is not None:
            config = docker_config
            source = lambda: config.credentials_for(host)  # noqa: E731 - resolved on the first challenge
        self.auth = RegistryAuth(self.base_url, source, clock=clock, allow_http_realm=insecure)
        limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
        super().__init__(
            http,
            lambda: httpx.Client(
                transport=transport,
                timeout=timeout,
                limits=limits,
                verify=_DeferredTrustContext(ssl.PROTOCOL_TLS_CLIENT) if transport is None else True,
            ),
            retry=retry or RetryPolicy(),
            clock=clock,
            sleeper=sleeper,
        )
        self._headers = {"User-Agent": user_agent}
        self._wording = _wording(host)

    # -- URLs -------------------------------------------------------------------------------------

    def url(self, repository: str, path: str) -> str:
        return f"{self.base_url}/v2/{repository}/{path}"

    def resolve(self, location: str, relative_to: str | None = None) -> str:
        """An absolute URL for a ``Location`` header; plain-HTTP downgrades are refused."""
        url = urllib.parse.urljoin(relative_to or self.base_url + "/", location)
        check_url_allowed(url, insecure=self.insecure)
        return url

    # -- one exchange ----------------------------------------------------------------------------

    def _where(self, exc: httpx.TransportError) -> str:
        try:
            url = exc.request.url
        except RuntimeError:  # no request attached
            return self.base_url
        origin = f"{url.scheme}://{url.netloc.decode('ascii')}"
        return self.base_url if origin == self.base_url else f"{origin} (token server or storage)"

    def send(
        self,
        method: str,
        url: str,
        *,
        operation: str,
        subject: str,
        expect: Iterable[int] = (200,),
        params: Mapping[str, str | int] | None = None,
        content: Iterable[bytes] | bytes | None = None,
        headers: Mapping[str, str] | None = None,
        stream: bool = False,
    ) -> httpx.Response:
        """One HTTP exchange, no retry: the response if its status is expected, else a typed error.

        With ``stream`` the caller must close the response. Redirects are not followed here
        (see :meth:`stream_get`).
        """
        check_url_allowed(url, insecure=self.insecure)
        request = self._http.build_request(
            method, url, params=params, content=content, headers={**self._headers, **(headers or {})}
        )
        return self.exchange(
            request, operation=operation, subject=subject, expect=expect, stream=stream, auth=self.auth
        )

    def _error(
        self, response: httpx.Response, *, operation: str, subject: str, stream: bool
    ) -> BtpReleaseError:
        body = read_error_body(response)
        sent = "authorization" in response.request.headers
        # Resolving credentials may run a helper: only a 401 needs them, for the advice.
        hint = credentials_hint(self.host, self.auth.credentials) if response.status_code == 401 else ""
        return error_for_response(
            response.status_code,
            response.headers,
            body,
            operation=operation,
            subject=subject,
            registry=self.host,
            credentials_hint=hint,
            sent_credentials=sent,
        )

    @contextlib.contextmanager
    def stream_get(
        self,
        url: str,
        *,
        operation: str,
        subject: str,
        headers: Mapping[str, str] | None = None,
    ) -> Iterator[httpx.Response]:
        """GET with a streamed body, following up to five redirects (blob storage), each checked
        against the HTTPS rule; other origins get no credentials (``RegistryAuth`` is per origin)."""
        for _ in range(_MAX_REDIRECTS + 1):
            response = self.send(
                "GET",
                url,
                operation=operation,
                subject=subject,
                expect=(200, 301, 302, 303, 307, 308),
                headers=headers,
                stream=True,
            )
            if response.status_code == 200:
                try:
                    yield response
                finally:
                    response.close()
                return
            response.close()
            url = self.resolve(response.headers.get("location", ""), relative_to=url)
        raise Transient(f"registry {operation} for {subject}: more than {_MAX_REDIRECTS} redirects")
