"""Throwaway X.509 certificates: the simulator's own for HTTPS, and those its btp-manager model keeps.

Why HTTPS: kubectl (client-go) sends credentials only over TLS — against an ``http://`` server it
drops the bearer token (kubernetes/kubectl#744), so a token-checking simulator must speak HTTPS
for kubectl. Why real certificates in the model: btp-manager's webhook CA ends up in the operand's
webhook configurations, and E2E checks parse it. EC P-256 keys keep generation to milliseconds
(btp-manager makes RSA 4096 ones: a shape no check depends on).
"""

from __future__ import annotations

import datetime
import ipaddress
import ssl
import tempfile
from collections.abc import Sequence
from pathlib import Path

import attrs
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@attrs.frozen
class Certificates:
    """PEM files in a private temporary directory (removed by :meth:`cleanup`)."""

    directory: tempfile.TemporaryDirectory[str]
    ca_pem: bytes
    cert_file: Path
    key_file: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(self.cert_file, self.key_file)
        return context

    def cleanup(self) -> None:
        self.directory.cleanup()


@attrs.frozen
class KeyPair:
    """A certificate and its private key, both PEM (the key unencrypted PKCS#8)."""

    cert_pem: bytes
    key_pem: bytes


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _general_name(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def make_ca(common_name: str, *, start: datetime.datetime, end: datetime.datetime) -> KeyPair:
    """A self-signed CA certificate (may sign leaf certificates only) valid from ``start`` to ``end``."""
    key = ec.generate_private_key(ec.SECP256R1())
    public = key.public_key()
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(_name(common_name))
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    return KeyPair(ca.public_bytes(serialization.Encoding.PEM), _key_pem(key))


def make_leaf(
    ca: KeyPair, common_name: str, names: Sequence[str], *, start: datetime.datetime, end: datetime.datetime
) -> KeyPair:
    """A server certificate for ``names`` (IP addresses or DNS names) signed by ``ca``.

    Raises ``ValueError`` when ``ca`` does not hold a CA certificate and its EC private key."""
    issuer = x509.load_pem_x509_certificate(ca.cert_pem)
    ca_key = serialization.load_pem_private_key(ca.key_pem, password=None)
    if not isinstance(ca_key, ec.EllipticCurvePrivateKey):
        raise ValueError("the CA's private key is not an EC key")
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(issuer.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, True, False, False, False, False, False, False), critical=True
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName([_general_name(n) for n in names]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    return KeyPair(leaf.public_bytes(serialization.Encoding.PEM), _key_pem(key))


def ca_and_leaf(
    ca_name: str,
    leaf_name: str,
    names: Sequence[str],
    *,
    start: datetime.datetime,
    ca_end: datetime.datetime,
    leaf_end: datetime.datetime,
) -> tuple[KeyPair, KeyPair]:
    """A new CA and a server certificate for ``names`` that it signed."""
    ca = make_ca(ca_name, start=start, end=ca_end)
    return ca, make_leaf(ca, leaf_name, names, start=start, end=leaf_end)


def load_certificate(pem: bytes) -> x509.Certificate | None:
    """The first certificate of ``pem``, or None when there is none (a key, garbage)."""
    try:
        return x509.load_pem_x509_certificate(pem)
    except ValueError:
        return None


def not_after(cert: x509.Certificate) -> datetime.datetime:
    """The end of validity, timezone-aware (``not_valid_after_utc`` is cryptography 42+)."""
    found = getattr(cert, "not_valid_after_utc", None)
    return (
        found if isinstance(found, datetime.datetime) else cert.not_valid_after.replace(tzinfo=datetime.UTC)
    )


def is_ca(cert: x509.Certificate) -> bool:
    try:
        return cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        return False


def signed_by(ca_pem: bytes, leaf_pem: bytes, at: datetime.datetime) -> bool:
    """Whether ``leaf_pem`` is a leaf certificate that the CA certificate ``ca_pem`` signed, valid ``at``."""
    ca, leaf = load_certificate(ca_pem), load_certificate(leaf_pem)
    if ca is None or leaf is None or not is_ca(ca) or is_ca(leaf) or not_after(leaf) < at:
        return False
    try:
        leaf.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def generate() -> Certificates:
    """A CA valid for a day and a server certificate it signed for 127.0.0.1 and localhost."""
    now = datetime.datetime.now(datetime.UTC)
    start, end = now - datetime.timedelta(minutes=5), now + datetime.timedelta(days=1)
    ca, server = ca_and_leaf(
        "kube-sim-ca", "kube-apiserver", ["127.0.0.1", "localhost"], start=start, ca_end=end, leaf_end=end
    )
    directory = tempfile.TemporaryDirectory(prefix="kube-sim-tls-")
    cert_file, key_file = Path(directory.name, "server.crt"), Path(directory.name, "server.key")
    cert_file.write_bytes(server.cert_pem)
    key_file.write_bytes(server.key_pem)
    key_file.chmod(0o600)
    return Certificates(directory, ca.cert_pem, cert_file, key_file)
