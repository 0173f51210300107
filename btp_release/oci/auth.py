"""The challenge/response auth every registry request goes through.

:class:`RegistryAuth` is an ``httpx.Auth``: it answers the registry's ``WWW-Authenticate`` challenge
(``Basic`` → basic auth on every later request; ``Bearer`` → a token from the realm, cached per scope
until ``expires_in``) and resends the request once. A request whose body is a stream (a blob upload)
cannot be resent, so once a challenge has been seen, tokens are fetched *before* such a request is
sent; the registry client always starts an upload with a body-less ``POST``, which meets the
challenge first. Credentials (:mod:`btp_release.oci.credentials`) are resolved lazily, on the first
challenge, so an anonymous pull never runs a credential helper. Secrets are
:class:`~btp_release.secret.Secret` values: never in logs, messages or reprs, and sent only to the
registry's own origin and its token realm.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Generator, Iterable, Mapping

import attrs
import httpx

from btp_release.errors import AuthenticationFailed, RateLimited, Transient
from btp_release.oci.credentials import ANONYMOUS, Credentials, credentials_hint
from btp_release.redaction import get_logger
from btp_release.secret import Secret
from btp_release.wait import Clock

__all__ = [
    "Challenge",
    "RegistryAuth",
    "is_loopback",
    "parse_www_authenticate",
    "scope_for_request",
]

log = get_logger("btp_release.oci")

# Token servers may omit expires_in; the distribution token spec says to assume 60 seconds.
_DEFAULT_TOKEN_LIFETIME = 60
_TOKEN_CLIENT_ID = "btp-release"  # noqa: S105 - an OAuth2 client id


def is_loopback(host: str) -> bool:
    """``localhost``, ``127.0.0.0/8`` or ``[::1]``, with or without a port."""
    name = host.lower()
    if name.startswith("["):
        name = name[1 : name.find("]")] if "]" in name else name[1:]
    elif name.count(":") == 1:
        name = name.partition(":")[0]
    if name in ("localhost", "::1"):
        return True
    parts = name.split(".")
    return len(parts) == 4 and parts[0] == "127" and all(p.isdigit() and int(p) < 256 for p in parts)


# -- challenges (pure) ---------------------------------------------------------------------------

_HTTP_TOKEN = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"  # noqa: S105 - the RFC 9110 token grammar
_PARAM = re.compile(rf'\s*({_HTTP_TOKEN})\s*=\s*("(?:[^"\\]|\\.)*"|[^,\s]*)\s*(?:,|$)')
_SCHEME = re.compile(rf"[\s,]*({_HTTP_TOKEN})(?=\s|,|$)")


@attrs.frozen
class Challenge:
    """One ``WWW-Authenticate`` challenge: lowercase scheme and its parameters (lowercase keys)."""

    scheme: str
    params: Mapping[str, str] = attrs.field(factory=dict)

    @property
    def realm(self) -> str | None:
        return self.params.get("realm")

    @property
    def service(self) -> str | None:
        return self.params.get("service")

    @property
    def scopes(self) -> tuple[str, ...]:
        """Scopes are space-separated (a cross-repository mount needs two)."""
        return tuple(self.params.get("scope", "").split())

    @property
    def error(self) -> str | None:
        return self.params.get("error")


def parse_www_authenticate(value: str | None) -> list[Challenge]:
    """``Bearer realm="…",service="…",scope="repository:a:pull,push"`` → challenges, in order.

    Quoted values may contain commas; several challenges may share one header.
    """
    challenges: list[Challenge] = []
    if not value:
        return challenges
    scheme: str | None = None
    params: dict[str, str] = {}
    pos = 0
    while pos < len(value):
        if scheme is not None:
            param = _PARAM.match(value, pos)
            if param:
                raw = param.group(2)
                if raw.startswith('"'):
                    raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
                params[param.group(1).lower()] = raw
                pos = param.end()
                continue
        found = _SCHEME.match(value, pos)
        if not found:
            break
        if scheme is not None:
            challenges.append(Challenge(scheme, params))
        scheme, params, pos = found.group(1).lower(), {}, found.end()
    if scheme is not None:
        challenges.append(Challenge(scheme, params))
    return challenges


_V2_PATH = re.compile(r"^/v2/(?P<name>.+?)/(?:manifests/[^/]+|blobs/uploads/[^/]*|blobs/[^/]+|tags/list)$")


def scope_for_request(method: str, path: str) -> str | None:
    """The token scope a registry request needs: ``repository:<name>:pull`` for reads,
    ``…:pull,push`` for writes, ``…:delete`` for deletes; ``None`` for ``/v2/`` itself."""
    if path.rstrip("/") == "/v2/_catalog":
        return "registry:catalog:*"
    match = _V2_PATH.match(path)
    if not match:
        return None
    method = method.upper()
    action = "pull" if method in ("GET", "HEAD") else "delete" if method == "DELETE" else "pull,push"
    return f"repository:{match.group('name')}:{action}"


def _scope_grants(scopes: Iterable[str]) -> frozenset[tuple[str, str]]:
    """``repository:a:pull,push`` → {(repository:a, pull), (repository:a, push)}."""
    grants = set()
    for scope in scopes:
        resource, _, actions = scope.rpartition(":")
        for action in actions.split(","):
            if resource and action:
                grants.add((resource, action))
    return frozenset(grants)


@attrs.frozen
class _Token:
    value: Secret
    grants: frozenset[tuple[str, str]]
    expires_at: float

    def covers(self, needed: frozenset[tuple[str, str]]) -> bool:
        # A wildcard action grants them all.
        return all((resource, "*") in self.grants or (resource, a) in self.grants for resource, a in needed)


# -- the httpx.Auth --------------------------------------------------------------------------------

CredentialSource = Credentials | Callable[[], Credentials]


class RegistryAuth(httpx.Auth):
    """Basic and bearer-token auth for one registry origin, shared by all requests of a client.

    ``credentials`` may be a callable, called once on the first challenge (e.g.
    ``lambda: docker_config.credentials_for(host)``). ``clock`` (monotonic seconds) decides token
    expiry. ``allow_http_realm`` permits a plain-HTTP token realm outside loopback (only for
    registries the caller marked insecure). Thread-safe.
    """

    def __init__(
        self,
        registry_url: str | httpx.URL,
        credentials: CredentialSource | None = None,
        *,
        clock: Clock = time.monotonic,
        allow_http_realm: bool = False,
    ) -> None:
        url = httpx.URL(str(registry_url))
        self._origin = (url.scheme, url.host, url.port)
        self.registry = url.netloc.decode("ascii")
        self._source: CredentialSource = credentials if credentials is not None else ANONYMOUS
        self._credentials: Credentials | None = (
            self._source if isinstance(self._source, Credentials) else None
        )
        self._clock = clock
        self._allow_http_realm = allow_http_realm
        self._lock = threading.Lock()
        self._fetch_lock = threading.Lock()
        self._basic = False
        self._bearer: tuple[str, str | None] | None = None
        self._tokens: list[_Token] = []
        self.token_requests = 0

    def __repr__(self) -> str:
        mode = "bearer" if self._bearer else "basic" if self._basic else "unchallenged"
        return f"RegistryAuth({self.registry!r}, {mode})"

    @property
    def credentials(self) -> Credentials:
        """The resolved credentials (runs the credential source on first use)."""
        with self._lock:
            if self._credentials is None:
                source = self._source
                self._credentials = source if isinstance(source, Credentials) else source()
            return self._credentials

    @property
    def authenticated(self) -> bool:
        """Whether requests carry credentials (``False`` until resolved, and for anonymous access)."""
        return self._credentials is not None and not self._credentials.anonymous

    def last_challenge_scheme(self) -> str | None:
        return "bearer" if self._bearer else "basic" if self._basic else None

    # -- flow ---------------------------------------------------------------------------------------

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if (request.url.scheme, request.url.host, request.url.port) != self._origin:
            # Another origin (blob storage a registry redirects to): never our credentials.
            yield request
            return
        # Bytes (or no body) can be sent again after a challenge; an iterator has been consumed.
        replayable = isinstance(request.stream, httpx.ByteStream)
        needed = scope_for_request(request.method, request.url.path)
        yield from self._authorize(request, needed)
        response = yield request
        if response.status_code != 401:
            return
        challenges = parse_www_authenticate(response.headers.get("www-authenticate"))
        bearer = next((c for c in challenges if c.scheme == "bearer" and c.realm), None)
        basic = next((c for c in challenges if c.scheme == "basic"), None)
        sent = request.headers.get("authorization")
        if bearer is not None:
            assert bearer.realm is not None
            with self._lock:
                self._bearer = (bearer.realm, bearer.service)
                if sent and sent.startswith("Bearer "):
                    rejected = sent.removeprefix("Bearer ")
                    self._tokens = [t for t in self._tokens if t.value.reveal() != rejected]
            scopes = bearer.scopes or ((needed,) if needed else ())
            token = yield from self._fetch_token(bearer.realm, bearer.service, scopes)
            if replayable:
                request.headers["Authorization"] = f"Bearer {token.reveal()}"
                yield request
            return
        if basic is not None:
            header = self.credentials.basic_header()
            if header is None or sent == header:
                return  # anonymous, or the credentials were just rejected: the 401 stands
            with self._lock:
                self._basic = True
            if replayable:
                request.headers["Authorization"] = header
                yield request

    def _authorize(
        self, request: httpx.Request, needed: str | None
    ) -> Generator[httpx.Request, httpx.Response, None]:
        """Attach what earlier challenges taught us, so most requests are not challenged at all."""
        if "authorization" in request.headers:
            return
        if self._basic:
            header = self.credentials.basic_header()
            if header:
                request.headers["Authorization"] = header
            return
        bearer = self._bearer
        if bearer is None:
            return
        scopes = (needed,) if needed else ()
        token = self._cached(scopes)
        if token is None:
            token = yield from self._fetch_token(bearer[0], bearer[1], scopes)
        request.headers["Authorization"] = f"Bearer {token.reveal()}"

    def _cached(self, scopes: Iterable[str]) -> Secret | None:
        needed = _scope_grants(scopes)
        now = self._clock()
        with self._lock:
            self._tokens = [t for t in self._tokens if t.expires_at > now]
            for token in self._tokens:
                if token.covers(needed):
                    return token.value
        return None

    def _fetch_token(
        self, realm: str, service: str | None, scopes: Iterable[str]
    ) -> Generator[httpx.Request, httpx.Response, Secret]:
        scopes = tuple(scopes)
        # One token request at a time: threads challenged together (blobs in flight) share the
        # first one's token instead of each fetching their own.
        with self._fetch_lock:
            cached = self._cached(scopes)
            if cached is not None:
                return cached
            return (yield from self._request_token(realm, service, scopes))

    def _request_token(
        self, realm: str, service: str | None, scopes: tuple[str, ...]
    ) -> Generator[httpx.Request, httpx.Response, Secret]:
        realm_url = httpx.URL(realm)
        if realm_url.scheme != "https" and not (
            self._allow_http_realm or (realm_url.host and is_loopback(realm_url.host))
        ):
            raise AuthenticationFailed(
                f"registry {self.registry} sends credentials to a plain-HTTP token realm {realm}; refused",
                hint="use the registry over HTTPS, or mark it insecure if it is a test registry",
            )
        creds = self.credentials
        params: list[tuple[str, str | int | float | bool | None]] = [("service", service)] if service else []
        if creds.identity_token is not None:
            # Docker's OAuth2 flow for identity (refresh) tokens.
            form = {
                "grant_type": "refresh_token",
                "refresh_token": creds.identity_token.reveal(),
                "client_id": _TOKEN_CLIENT_ID,
                **({"service": service} if service else {}),
            }
            if scopes:
                form["scope"] = " ".join(scopes)
            token_request = httpx.Request("POST", realm_url, data=form)
        else:
            params += [("scope", scope) for scope in scopes]
            headers = {}
            header = creds.basic_header()
            if header:
                headers["Authorization"] = header
            token_request = httpx.Request("GET", realm_url, params=params, headers=headers)
        with self._lock:
            self.token_requests += 1
        response = yield token_request
        response.read()
        what = f"token for {' '.join(scopes) or 'registry access'} from {realm} ({creds.describe()})"
        if response.status_code in (401, 403):
            raise AuthenticationFailed(
                f"the token server refused a {what}: HTTP {response.status_code}",
                hint=credentials_hint(self.registry, creds),
            )
        if response.status_code == 429:
            raise RateLimited(f"the token server rate-limited a {what}: HTTP 429")
        if response.status_code >= 500:
            raise Transient(f"the token server failed to issue a {what}: HTTP {response.status_code}")
        if response.status_code != 200:
            raise AuthenticationFailed(f"the token server answered HTTP {response.status_code} for a {what}")
        try:
            body = response.json()
            value = body.get("token") or body.get("access_token")
            lifetime = int(body.get("expires_in") or _DEFAULT_TOKEN_LIFETIME)
        except (ValueError, AttributeError, TypeError):
            value, lifetime = None, 0
        if not isinstance(value, str) or not value:
            raise AuthenticationFailed(f"the token server answered without a token for a {what}")
        # Refresh a little early so a token never expires between being attached and being checked.
        margin = min(30.0, lifetime / 4)
        token = _Token(Secret(value), _scope_grants(scopes), self._clock() + lifetime - margin)
        with self._lock:
            self._tokens.append(token)
        log.debug("got a %s, valid for %ss", what, lifetime)
        return token.value
