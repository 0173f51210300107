"""HTTPS to a registry: a certificate nobody vouches for is refused; a trusted one works."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from btp_release.errors import BtpReleaseError, Transient, UntrustedCertificate
from btp_release.localservices.registry import registry_binary
from btp_release.oci import RegistryClient
from btp_release.retry import RetryPolicy
from btp_release.testing import FakeClock, LocalRegistry

from .tls_support import self_signed

pytestmark = pytest.mark.skipif(registry_binary() is None, reason="docker-registry is not installed")


@pytest.fixture(scope="module")
def tls_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalRegistry, Path]]:
    cert, key = self_signed(tmp_path_factory.mktemp("tls"))
    with LocalRegistry(tls=(cert, key)) as registry:
        yield registry, cert


def test_untrusted_certificate_is_refused(
    tls_registry: tuple[LocalRegistry, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    registry, _ = tls_registry
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    clock = FakeClock()
    with (
        RegistryClient(
            registry.host, scheme="https", retry=RetryPolicy(jitter=0), clock=clock, sleeper=clock.sleep
        ) as client,
        pytest.raises(BtpReleaseError) as info,
    ):
        client.list_tags("any/repo")
    message = str(info.value).lower()
    assert "certificate" in message
    # a certificate problem does not heal by waiting: it is reported at once, not retried
    assert not isinstance(info.value, Transient)
    assert isinstance(info.value, UntrustedCertificate)
    assert "SSL_CERT_FILE" in message.upper()
    assert clock.sleeps == []


def test_trusted_certificate_works(
    tls_registry: tuple[LocalRegistry, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    registry, cert = tls_registry
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    with RegistryClient(registry.host, scheme="https") as client:
        descriptor = client.push_blob("tls/repo", b"over tls", "application/octet-stream")
        assert client.blob_exists("tls/repo", descriptor.digest)
        assert client.read_blob("tls/repo", descriptor) == b"over tls"
