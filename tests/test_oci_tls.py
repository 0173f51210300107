"""HTTPS to a registry: a certificate nobody vouches for is refused; a trusted one works."""

from __future__ import annotations

import datetime
import ipaddress
from collections.abc import Iterator
from pathlib import Path

import pytest

from btp_release.errors import BtpReleaseError, Transient, UntrustedCertificate
from btp_release.oci import RegistryClient
from btp_release.retry import RetryPolicy
from btp_release.testing import FakeClock, LocalRegistry
from btp_release.testing.registry import registry_binary

pytestmark = pytest.mark.skipif(registry_binary() is None, reason="docker-registry is not installed")


def _self_signed(directory: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "btp-release test registry")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


@pytest.fixture(scope="module")
def tls_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalRegistry, Path]]:
    cert, key = _self_signed(tmp_path_factory.mktemp("tls"))
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
