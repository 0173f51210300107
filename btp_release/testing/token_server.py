"""A real token server for the distribution token flow, on 127.0.0.1, for tests.

GHCR, Artifact Registry and Docker Hub do not take basic auth on ``/v2/``: they answer ``401`` with
``WWW-Authenticate: Bearer realm=…,service=…,scope=…``; the client fetches a JWT from the realm
(basic auth, ``GET ?service=…&scope=repository:<name>:pull,push``) and retries with it. This server
is that realm for a :class:`~btp_release.localservices.LocalRegistry` (distribution 2.8 with an
``auth.token`` section), so clients are tested against the real registry validating real tokens.

Tokens are RS256 JWTs signed with a key generated at start. The header carries ``x5c`` (the
self-signed certificate, which is also the registry's ``rootcertbundle``), or ``kid`` (the libtrust
key ID distribution derives from every certificate in that bundle) with ``key_reference="kid"``.
Users get only the actions they are allowed; a refused login is a ``401`` from this server, an
allowed login without the action is a token without it (the registry then answers
``insufficient_scope``), as real registries do. Every request served is recorded.

Needs the ``cryptography`` package (a test dependency).
"""

from __future__ import annotations

import base64
import binascii
import datetime
import fnmatch
import hashlib
import json
import logging
import secrets
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

import attrs
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

__all__ = ["DEFAULT_USERS", "Grant", "TokenRequest", "TokenServer", "TokenUser", "libtrust_key_id"]

logger = logging.getLogger(__name__)

KeyReference = Literal["x5c", "kid"]


def _str_set(values: Iterable[str]) -> frozenset[str]:
    return frozenset(values)


def _str_tuple(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(values)


@attrs.frozen
class TokenUser:
    """A login the token server accepts, with the actions it may get on matching repositories."""

    name: str
    password: str
    actions: frozenset[str] = attrs.field(default=frozenset(("pull", "push", "delete")), converter=_str_set)
    # fnmatch patterns of repository names this user may access at all.
    repositories: tuple[str, ...] = attrs.field(default=("*",), converter=_str_tuple)


DEFAULT_USERS = (
    TokenUser("ci", "ci-password"),
    TokenUser("reader", "reader-password", actions=frozenset({"pull"})),
)


@attrs.frozen
class Grant:
    """One ``access`` claim entry: ``actions`` on resource ``type``/``name``."""

    type: str
    name: str
    actions: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, "name": self.name, "actions": list(self.actions)}


@attrs.frozen
class TokenRequest:
    """A request the server answered: who asked (``None``: anonymous), for what, what it got."""

    path: str
    account: str | None
    service: str | None
    scopes: tuple[str, ...]
    status: int
    granted: tuple[Grant, ...] = ()


def libtrust_key_id(public_key: rsa.RSAPublicKey) -> str:
    """The key ID distribution (libtrust) computes for a public key: the ``kid`` it trusts.

    SHA-256 of the DER SubjectPublicKeyInfo, truncated to 240 bits, base32 without padding, in
    groups of four joined by ``:`` (``ABCD:EFGH:…``, 12 groups).
    """
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    encoded = base64.b32encode(hashlib.sha256(der).digest()[:30]).decode().rstrip("=")
    return ":".join(encoded[i : i + 4] for i in range(0, len(encoded), 4))


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _rfc3339(timestamp: float) -> str:
    return datetime.datetime.fromtimestamp(timestamp, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_scope(text: str) -> tuple[str, str, tuple[str, ...]] | None:
    """``repository:kyma/btp:pull,push`` → ``("repository", "kyma/btp", ("pull", "push"))``.

    The name may itself hold ``:`` (``repository:host:5000/x:pull``), so type is before the first
    colon and the actions after the last one. ``None`` if malformed.
    """
    kind, _, rest = text.partition(":")
    name, _, actions = rest.rpartition(":")
    if not kind or not name:
        return None
    return kind, name, tuple(a for a in actions.split(",") if a)


class TokenServer:
    """``with TokenServer() as tokens: LocalRegistry(token_auth=tokens)`` — see the module docstring.

    ``lifetime`` is the token validity in seconds; ``clock`` gives the issue time (wall clock,
    since the registry checks ``exp``/``nbf`` against its own; distribution allows 60 s of leeway).
    """

    def __init__(
        self,
        users: Iterable[TokenUser] = DEFAULT_USERS,
        *,
        anonymous_pull: bool = False,
        service: str = "btp-release-test-registry",
        issuer: str = "btp-release-test-token-server",
        lifetime: int = 300,
        key_reference: KeyReference = "x5c",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.users = {user.name: user for user in users}
        self.anonymous_pull = anonymous_pull
        self.service = service
        self.issuer = issuer
        self.lifetime = lifetime
        self.key_reference = key_reference
        self.clock = clock
        self._lock = threading.Lock()
        self._requests: list[TokenRequest] = []
        self._failures: list[int] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._key: rsa.RSAPrivateKey | None = None
        self._cert: x509.Certificate | None = None
        self.port = 0

    # -- lifecycle -----------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def realm(self) -> str:
        return f"{self.url}/token"

    @property
    def cert_bundle(self) -> Path:
        """PEM file with the signing certificate: the registry's ``rootcertbundle``."""
        assert self._tmp is not None, "start the token server first"
        return Path(self._tmp.name) / "token-ca.pem"

    @property
    def certificate(self) -> x509.Certificate:
        assert self._cert is not None, "start the token server first"
        return self._cert

    @property
    def key_id(self) -> str:
        return libtrust_key_id(self._private_key().public_key())

    def _private_key(self) -> rsa.RSAPrivateKey:
        assert self._key is not None, "start the token server first"
        return self._key

    def start(self) -> TokenServer:
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        now = datetime.datetime.now(datetime.UTC)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, self.issuer)])
        self._cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=7))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self._key, hashes.SHA256())
        )
        self._tmp = tempfile.TemporaryDirectory(prefix="btp-release-token-")
        self.cert_bundle.write_bytes(self._cert.public_bytes(serialization.Encoding.PEM))
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.token_server = self  # type: ignore[attr-defined]
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, name="token-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> TokenServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def registry_auth_config(self) -> dict[str, Any]:
        """The distribution ``auth:`` config section that trusts this server."""
        return {
            "token": {
                "realm": self.realm,
                "service": self.service,
                "issuer": self.issuer,
                "rootcertbundle": str(self.cert_bundle),
            }
        }

    # -- observation and faults ----------------------------------------------------------------

    @property
    def requests(self) -> tuple[TokenRequest, ...]:
        with self._lock:
            return tuple(self._requests)

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()

    def fail_next(self, status: int = 503, times: int = 1) -> None:
        """Answer the next ``times`` token requests with ``status`` (e.g. 503, 429) instead."""
        with self._lock:
            self._failures.extend([status] * times)

    def _record(self, request: TokenRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def _take_failure(self) -> int | None:
        with self._lock:
            return self._failures.pop(0) if self._failures else None

    # -- tokens --------------------------------------------------------------------------------

    def grant(
        self, account: str | None, scopes: Iterable[tuple[str, str, tuple[str, ...]]]
    ) -> tuple[Grant, ...]:
        """What ``account`` (``None``: anonymous) gets for the requested scopes."""
        grants: dict[tuple[str, str], list[str]] = {}
        for kind, name, requested in scopes:
            if account is None:
                allowed = {"pull"} if self.anonymous_pull and kind == "repository" else set()
            else:
                user = self.users[account]
                matches = any(fnmatch.fnmatchcase(name, pattern) for pattern in user.repositories)
                allowed = set(user.actions) if matches or kind != "repository" else set()
            actions = grants.setdefault((kind, name), [])
            actions.extend(a for a in requested if a in allowed and a not in actions)
        return tuple(Grant(kind, name, tuple(actions)) for (kind, name), actions in grants.items())

    def issue_token(
        self, account: str | None, access: Iterable[Grant], *, issued_at: float | None = None
    ) -> str:
        """A signed JWT for ``access`` — also usable directly by tests (e.g. an expired token)."""
        now = int(self.clock() if issued_at is None else issued_at)
        header: dict[str, Any] = {"typ": "JWT", "alg": "RS256"}
        if self.key_reference == "x5c":
            der = self.certificate.public_bytes(serialization.Encoding.DER)
            header["x5c"] = [base64.b64encode(der).decode()]
        else:
            header["kid"] = self.key_id
        claims = {
            "iss": self.issuer,
            "sub": account or "",
            "aud": self.service,  # a string: distribution 2.8 does not accept an audience list
            "exp": now + self.lifetime,
            "nbf": now,
            "iat": now,
            "jti": secrets.token_hex(16),
            "access": [grant.to_json() for grant in access],
        }
        signing_input = ".".join(
            _b64url(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims)
        ).encode()
        signature = self._private_key().sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input.decode()}.{_b64url(signature)}"

    def authenticate(self, authorization: str | None) -> tuple[bool, str | None]:
        """``(ok, account)`` for an ``Authorization`` header; no header is anonymous."""
        if not authorization:
            return self.anonymous_pull, None
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() != "basic":
            return False, None
        try:
            user, _, password = base64.b64decode(value.strip(), validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False, None
        known = self.users.get(user)
        if known is None or not secrets.compare_digest(known.password.encode(), password.encode()):
            return False, user
        return True, user


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "btp-release-token-server"

    @property
    def tokens(self) -> TokenServer:
        server: TokenServer = self.server.token_server  # type: ignore[attr-defined]
        return server

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("token server: " + format, *args)

    def _reply(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(raw)

    def _error(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        self._reply(status, {"errors": [{"code": code, "message": message}], "details": message}, headers)

    def do_GET(self) -> None:
        tokens = self.tokens
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        service = query.get("service", [None])[0]
        raw_scopes = tuple(scope for value in query.get("scope", []) for scope in value.split())
        ok, account = tokens.authenticate(self.headers.get("Authorization"))

        def record(status: int, granted: tuple[Grant, ...] = ()) -> None:
            tokens._record(TokenRequest(url.path, account, service, raw_scopes, status, granted))

        failure = tokens._take_failure()
        if failure is not None:
            record(failure)
            self._error(failure, "UNAVAILABLE", "injected failure", {"Retry-After": "0"})
            return
        if url.path != "/token":
            record(404)
            self._error(404, "NOT_FOUND", f"no such endpoint {url.path}")
            return
        if service is not None and service != tokens.service:
            record(400)
            self._error(400, "INVALID_REQUEST", f"unknown service {service!r}, not {tokens.service!r}")
            return
        parsed = [parse_scope(scope) for scope in raw_scopes]
        if any(scope is None for scope in parsed):
            record(400)
            self._error(400, "INVALID_SCOPE", f"malformed scope in {list(raw_scopes)}")
            return
        if not ok:
            record(401)
            message = "incorrect username or password" if account else "authentication required"
            challenge = {"WWW-Authenticate": f'Basic realm="{tokens.issuer}"'}
            self._error(401, "UNAUTHORIZED", message, challenge)
            return
        granted = tokens.grant(account, [scope for scope in parsed if scope is not None])
        now = tokens.clock()
        token = tokens.issue_token(account, granted, issued_at=now)
        record(200, granted)
        self._reply(
            200,
            {
                "token": token,
                "access_token": token,
                "expires_in": tokens.lifetime,
                "issued_at": _rfc3339(now),
            },
        )
