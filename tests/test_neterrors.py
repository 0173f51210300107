"""Connect failures that waiting does not heal are reported at once, with what to fix; the rest retry.

The classifier is tested on constructed exception chains; both clients against real servers on
127.0.0.1 (a plain-HTTP server spoken HTTPS to, a self-signed HTTPS server, a closed port) and
against host names under ``.invalid``, which never resolve (RFC 2606).
"""

from __future__ import annotations

import http.server
import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import httpcore
import httpx
import pytest

from btp_release.errors import InvalidInput, Transient, UntrustedCertificate
from btp_release.github import GitHubClient
from btp_release.neterrors import Cause, classify, lasting_error
from btp_release.oci import RegistryClient
from btp_release.retry import RetryPolicy
from btp_release.testing import FakeClock

from .tls_support import self_signed

TOKEN = "ghp_neterrorsTestToken0123456789abcdef"
REPO = "kyma-project/btp-manager"


# -- the classifier on constructed chains ----------------------------------------------------------


def _as_httpx(cause: BaseException) -> httpx.ConnectError:
    """The chain httpx builds: httpx.ConnectError from httpcore.ConnectError from the OS/TLS error."""
    try:
        try:
            try:
                raise cause
            except BaseException as exc:
                raise httpcore.ConnectError(str(exc)) from exc
        except httpcore.ConnectError as exc:
            raise httpx.ConnectError(str(exc)) from exc
    except httpx.ConnectError as exc:
        return exc


def test_unknown_host_name() -> None:
    error = socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    assert classify(_as_httpx(error)) is Cause.UNKNOWN_HOST
    assert classify(error) is Cause.UNKNOWN_HOST


@pytest.mark.skipif(not hasattr(socket, "EAI_NODATA"), reason="no EAI_NODATA on this platform")
def test_name_without_address() -> None:
    error = socket.gaierror(socket.EAI_NODATA, "No address associated with hostname")
    assert classify(_as_httpx(error)) is Cause.UNKNOWN_HOST


def test_temporary_resolver_failure_stays_transient() -> None:
    error = socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")
    assert classify(_as_httpx(error)) is Cause.OTHER


def test_unknown_host_by_text_alone() -> None:
    # macOS words it so; the errno may be lost when a library re-raises only the text
    assert classify(httpx.ConnectError("[Errno 8] nodename nor servname provided, or not known")) is (
        Cause.UNKNOWN_HOST
    )


@pytest.mark.parametrize(
    "text",
    [
        "[SSL: WRONG_VERSION_NUMBER] wrong version number (_ssl.c:1006)",
        "[SSL: RECORD_LAYER_FAILURE] record layer failure (_ssl.c:1000)",
        "[SSL: PACKET_LENGTH_TOO_LONG] packet length too long (_ssl.c:1000)",
    ],
)
def test_plain_http_server(text: str) -> None:
    assert classify(_as_httpx(ssl.SSLError(1, text))) is Cause.PLAIN_HTTP


def test_plain_http_by_ssl_reason() -> None:
    error = ssl.SSLError(1, "wrong version number")
    error.reason = "WRONG_VERSION_NUMBER"
    assert classify(_as_httpx(error)) is Cause.PLAIN_HTTP


def test_untrusted_certificate() -> None:
    error = ssl.SSLCertVerificationError(1, "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed")
    assert classify(_as_httpx(error)) is Cause.UNTRUSTED_CERTIFICATE
    assert classify(httpx.ConnectError("[SSL: CERTIFICATE_VERIFY_FAILED] self-signed certificate")) is (
        Cause.UNTRUSTED_CERTIFICATE
    )


@pytest.mark.parametrize(
    "error",
    [
        ConnectionRefusedError(111, "Connection refused"),
        ConnectionResetError(104, "Connection reset by peer"),
        ssl.SSLError(1, "[SSL: SSLV3_ALERT_HANDSHAKE_FAILURE] handshake failure"),
        TimeoutError("timed out"),
    ],
)
def test_other_failures(error: BaseException) -> None:
    assert classify(_as_httpx(error)) is Cause.OTHER


def test_chain_walk_is_bounded_and_survives_cycles() -> None:
    first, second = RuntimeError("a"), RuntimeError("b")
    first.__context__, second.__context__ = second, first
    assert classify(first) is Cause.OTHER
    deep: BaseException = socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    for level in range(20):
        outer = RuntimeError(f"level {level}")
        outer.__cause__ = deep
        deep = outer
    assert classify(deep) is Cause.OTHER  # too deep to be this connect error's cause


def test_lasting_error_for_other_causes_is_none() -> None:
    assert lasting_error(_as_httpx(ConnectionRefusedError()), what="x", where="y", hints={}) is None


# -- real servers on 127.0.0.1 -----------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Connections go where the test says, not to a proxy from the environment."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)


class _CountingServer(http.server.ThreadingHTTPServer):
    connections = 0

    def verify_request(self, request: object, client_address: object) -> bool:
        self.connections += 1
        return True

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client that gives up on the TLS handshake is what these tests expect


class _Quiet(http.server.BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def plain_server() -> Iterator[_CountingServer]:
    """A plain-HTTP server on an ephemeral loopback port; ``connections`` counts accepted connections."""
    server = _CountingServer(("127.0.0.1", 0), _Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[_CountingServer]:
    """An HTTPS server with a self-signed certificate on an ephemeral loopback port."""
    cert, key = self_signed(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = _CountingServer(("127.0.0.1", 0), _Quiet)
    server.socket = context.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def _registry(host: str, clock: FakeClock, **kwargs: object) -> RegistryClient:
    return RegistryClient(
        host,
        retry=RetryPolicy(jitter=0),
        timeout=httpx.Timeout(5.0),
        clock=clock,
        sleeper=clock.sleep,
        **kwargs,  # type: ignore[arg-type]
    )


def _github(api_url: str, clock: FakeClock) -> GitHubClient:
    return GitHubClient(
        REPO,
        token=TOKEN,
        api_url=api_url,
        retry=RetryPolicy(jitter=0),
        timeout=httpx.Timeout(5.0),
        clock=clock,
        sleeper=clock.sleep,
        environ={},
    )


def test_registry_speaking_https_to_plain_http_is_not_retried(
    plain_server: _CountingServer, clock: FakeClock
) -> None:
    host = f"127.0.0.1:{plain_server.server_port}"
    with _registry(host, clock, scheme="https") as client, pytest.raises(InvalidInput) as info:
        client.list_tags("any/repo")
    error = info.value
    assert host in error.message
    assert "plain HTTP" in error.message
    assert error.hint is not None
    for name in ("insecure-registries", "BTP_RELEASE_INSECURE_REGISTRIES", "--insecure-registries"):
        assert name in error.hint
    assert plain_server.connections == 1
    assert clock.sleeps == []


def test_github_speaking_https_to_plain_http_is_not_retried(
    plain_server: _CountingServer, clock: FakeClock
) -> None:
    with (
        _github(f"https://127.0.0.1:{plain_server.server_port}", clock) as client,
        pytest.raises(InvalidInput) as info,
    ):
        client.resolve_commit("main")
    error = info.value
    assert f"127.0.0.1:{plain_server.server_port}" in error.message
    assert "plain HTTP" in error.message
    assert error.hint is not None and "github-api-url" in error.hint
    assert TOKEN not in str(error)
    assert plain_server.connections == 1
    assert clock.sleeps == []


def test_github_untrusted_certificate_is_not_retried(tls_server: _CountingServer, clock: FakeClock) -> None:
    with (
        _github(f"https://127.0.0.1:{tls_server.server_port}", clock) as client,
        pytest.raises(UntrustedCertificate) as info,
    ):
        client.resolve_commit("main")
    assert "certificate" in info.value.message
    assert info.value.hint is not None and "SSL_CERT_FILE" in info.value.hint
    assert tls_server.connections == 1
    assert clock.sleeps == []


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_refused_connection_is_still_retried(clock: FakeClock) -> None:
    port = _closed_port()
    with _registry(f"127.0.0.1:{port}", clock) as client, pytest.raises(Transient):
        client.list_tags("any/repo")
    assert len(clock.sleeps) == RetryPolicy().attempts - 1
    other = FakeClock()
    with _github(f"http://127.0.0.1:{port}", other) as github, pytest.raises(Transient):
        github.resolve_commit("main")
    assert len(other.sleeps) == RetryPolicy().attempts - 1


def _resolver_says_unknown() -> bool:
    try:
        socket.getaddrinfo("registry.invalid", 443)
    except socket.gaierror as exc:
        return classify(exc) is Cause.UNKNOWN_HOST
    return False


needs_nxdomain = pytest.mark.skipif(
    not _resolver_says_unknown(), reason="the local resolver does not answer 'unknown name' for .invalid"
)


@needs_nxdomain
def test_registry_unknown_host_is_not_retried(clock: FakeClock) -> None:
    with _registry("registry.invalid", clock) as client, pytest.raises(InvalidInput) as info:
        client.list_tags("any/repo")
    assert "registry.invalid" in info.value.message
    assert "does not resolve" in info.value.message
    assert info.value.hint is not None and "module-registry" in info.value.hint
    assert clock.sleeps == []


@needs_nxdomain
def test_github_unknown_host_is_not_retried(clock: FakeClock) -> None:
    with _github("https://api.github.invalid", clock) as client, pytest.raises(InvalidInput) as info:
        client.resolve_commit("main")
    assert "api.github.invalid" in info.value.message
    assert info.value.hint is not None and "github-api-url" in info.value.hint
    assert TOKEN not in str(info.value)
    assert clock.sleeps == []


def _failing_transport(cause: BaseException) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        raise _as_httpx(cause)

    return httpx.MockTransport(handler)


def test_temporary_resolver_failure_is_retried_by_both_clients(clock: FakeClock) -> None:
    again = socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")
    with (
        _registry("registry.invalid", clock, transport=_failing_transport(again)) as client,
        pytest.raises(Transient),
    ):
        client.list_tags("any/repo")
    assert len(clock.sleeps) == RetryPolicy().attempts - 1
    other = FakeClock()
    github = GitHubClient(
        REPO,
        token=TOKEN,
        api_url="https://api.github.invalid",
        transport=_failing_transport(again),
        retry=RetryPolicy(jitter=0),
        clock=other,
        sleeper=other.sleep,
        environ={},
    )
    with github, pytest.raises(Transient):
        github.resolve_commit("main")
    assert len(other.sleeps) == RetryPolicy().attempts - 1
