"""Registry auth: htpasswd basic auth on a real registry, Docker config files and credential helpers,
and the bearer-token flow against a loopback registry stub with its own token endpoint."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import secrets
import stat
import threading
import urllib.parse
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import attrs
import httpx
import pytest

from btp_release.errors import AuthenticationFailed, InvalidInput, PermissionDenied, Transient
from btp_release.localservices.registry import LocalRegistry, registry_binary
from btp_release.oci import Credentials, Descriptor, DockerConfig, Manifest, Reference, RegistryClient
from btp_release.oci.auth import Challenge, RegistryAuth, parse_www_authenticate, scope_for_request
from btp_release.oci.credentials import GCP_ACCESS_TOKEN_USER, normalize_registry_host
from btp_release.retry import RetryPolicy
from btp_release.secret import Secret
from btp_release.testing import FakeClock

needs_registry = pytest.mark.skipif(
    registry_binary() is None, reason="docker-registry is not installed (apt-get install docker-registry)"
)

USER = "alice"
PASSWORD = "pa55-" + secrets.token_hex(8)
LAYER = "application/vnd.oci.image.layer.v1.tar"


def make_client(host: str, clock: FakeClock, **options: Any) -> RegistryClient:
    return RegistryClient(
        host,
        retry=RetryPolicy(attempts=3, jitter=0),
        timeout=httpx.Timeout(30.0, connect=5.0),
        clock=clock,
        sleeper=clock.sleep,
        **options,
    )


def artifact() -> tuple[Manifest, dict[str, bytes | Path]]:
    config, layer = b"{}", os.urandom(64)
    manifest = Manifest(
        Descriptor.for_bytes("application/vnd.oci.empty.v1+json", config),
        (Descriptor.for_bytes(LAYER, layer),),
    )
    return manifest, {manifest.config.digest: config, manifest.layers[0].digest: layer}


# -- basic auth (htpasswd) on the real registry ------------------------------------------------------


@pytest.fixture(scope="module")
def basic_registry() -> Iterator[LocalRegistry]:
    if registry_binary() is None:
        pytest.skip("docker-registry is not installed (apt-get install docker-registry)")
    with LocalRegistry(basic_auth=(USER, PASSWORD)) as started:
        yield started


@needs_registry
def test_basic_auth_with_the_right_credentials(
    basic_registry: LocalRegistry, clock: FakeClock, tmp_path: Path
) -> None:
    big = tmp_path / "layer"
    big.write_bytes(os.urandom(300_000))
    manifest, blobs = artifact()
    ref = Reference(basic_registry.host, "auth/basic", "v1")
    with make_client(
        basic_registry.host, clock, credentials=Credentials.basic(USER, Secret(PASSWORD))
    ) as client:
        # A file upload first: the POST meets the challenge, the streamed PATCH carries the credentials.
        pushed = client.push_blob("auth/basic", big, LAYER)
        client.push_artifact(ref, manifest, blobs)
        assert client.get_manifest(ref) == (manifest, manifest.descriptor())
        assert client.read_blob("auth/basic", pushed) == big.read_bytes()
        assert client.session.auth.last_challenge_scheme() == "basic"
    assert clock.sleeps == []


@needs_registry
def test_basic_auth_wrong_password_fails_at_once(
    basic_registry: LocalRegistry, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "wrong-" + secrets.token_hex(6)
    with make_client(basic_registry.host, clock, credentials=Credentials.basic(USER, wrong)) as client:
        with pytest.raises(AuthenticationFailed) as info:
            client.head_manifest(Reference(basic_registry.host, "auth/basic", "v1"))
        assert wrong not in repr(client)
    assert clock.sleeps == []  # never retried
    assert "HTTP 401" in str(info.value) and "check the credentials" in str(info.value)
    assert wrong not in str(info.value) and wrong not in caplog.text


@needs_registry
def test_anonymous_access_to_a_protected_registry_says_to_log_in(
    basic_registry: LocalRegistry, clock: FakeClock
) -> None:
    with make_client(basic_registry.host, clock) as client, pytest.raises(AuthenticationFailed) as info:
        client.list_tags("auth/basic")
    assert info.value.hint is not None
    assert f"docker login {basic_registry.host}" in info.value.hint
    assert clock.sleeps == []


# -- Docker config ------------------------------------------------------------------------------------


def write_config(directory: Path, data: dict[str, Any]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "config.json").write_text(json.dumps(data))
    return directory


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def helper(bindir: Path, name: str, body: str) -> Path:
    bindir.mkdir(parents=True, exist_ok=True)
    path = bindir / f"docker-credential-{name}"
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def answering_helper(bindir: Path, name: str, username: str, secret: str, log: Path) -> Path:
    return helper(
        bindir,
        name,
        f'read server\necho "$1 $server" >> {log}\n'
        f'printf \'{{"ServerURL":"%s","Username":"{username}","Secret":"{secret}"}}\' "$server"\n',
    )


def test_config_path_from_environ(tmp_path: Path) -> None:
    write_config(tmp_path / "custom", {"auths": {"r.example.com": {"auth": b64("u:p")}}})
    write_config(tmp_path / "home" / ".docker", {"auths": {"h.example.com": {"auth": b64("u:p")}}})
    custom = DockerConfig.from_environ(
        {"DOCKER_CONFIG": str(tmp_path / "custom"), "HOME": str(tmp_path / "home")}
    )
    assert custom.path == tmp_path / "custom" / "config.json"
    assert set(custom.auths) == {"r.example.com"}
    home = DockerConfig.from_environ({"HOME": str(tmp_path / "home")})
    assert set(home.auths) == {"h.example.com"}
    empty = DockerConfig.from_environ({"DOCKER_CONFIG": str(tmp_path / "missing")})
    assert empty.credentials_for("r.example.com").anonymous


def test_auths_entries(tmp_path: Path) -> None:
    config = DockerConfig.from_environ(
        {
            "DOCKER_CONFIG": str(
                write_config(
                    tmp_path,
                    {
                        "auths": {
                            "https://europe-docker.pkg.dev": {
                                "auth": b64(f"{GCP_ACCESS_TOKEN_USER}:ya29.token")
                            },
                            "127.0.0.1:5000": {"auth": b64("bob:with:colons")},
                            "https://index.docker.io/v1/": {"auth": b64("hubuser:hubpass")},
                            "ghcr.io": {"identitytoken": "refresh-me"},
                            "quay.io": {"username": "q", "password": "qp"},
                            "empty.example.com": {},
                        }
                    },
                )
            )
        }
    )
    gcp = config.credentials_for("europe-docker.pkg.dev")
    assert gcp.username == GCP_ACCESS_TOKEN_USER and gcp.password is not None
    assert gcp.password.reveal() == "ya29.token"
    local = config.credentials_for("127.0.0.1:5000")
    assert (local.username, local.password and local.password.reveal()) == ("bob", "with:colons")
    assert config.credentials_for("registry-1.docker.io").username == "hubuser"
    ghcr = config.credentials_for("ghcr.io")
    assert ghcr.identity_token is not None and ghcr.identity_token.reveal() == "refresh-me"
    assert config.credentials_for("quay.io").username == "q"
    assert config.credentials_for("empty.example.com").anonymous
    assert config.credentials_for("unknown.example.com").anonymous
    for text in (repr(config), repr(gcp), str(gcp)):
        assert "ya29.token" not in text and "with:colons" not in text and "refresh-me" not in text


def test_bad_config_files_are_invalid_input_without_leaking(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text('{"auths": {"x.io": {"auth": "c2VjcmV0LW5vLWNvbG9u"}}}')
    with pytest.raises(InvalidInput, match="not base64 of user:password") as info:
        DockerConfig.load(tmp_path / "config.json")
    assert "c2VjcmV0" not in str(info.value) and "secret-no-colon" not in str(info.value)
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(InvalidInput, match="not valid JSON"):
        DockerConfig.load(tmp_path / "config.json")


def test_host_normalisation() -> None:
    assert normalize_registry_host("https://Europe-Docker.pkg.dev/v1/") == "europe-docker.pkg.dev"
    assert normalize_registry_host("http://127.0.0.1:5000") == "127.0.0.1:5000"
    assert normalize_registry_host("index.docker.io") == "docker.io"


@needs_registry
def test_cred_helper_and_creds_store(basic_registry: LocalRegistry, clock: FakeClock, tmp_path: Path) -> None:
    log = tmp_path / "helper.log"
    bindir = tmp_path / "bin"
    answering_helper(bindir, "test", USER, PASSWORD, log)
    answering_helper(bindir, "store", USER, PASSWORD, log)
    host = basic_registry.host
    environ = {"PATH": str(bindir)}
    manifest, blobs = artifact()

    with_helper = write_config(tmp_path / "a", {"credHelpers": {host: "test"}, "credsStore": "store"})
    config = DockerConfig.from_environ({**environ, "DOCKER_CONFIG": str(with_helper)})
    with make_client(host, clock, docker_config=config) as client:
        client.push_artifact(Reference(host, "auth/helper", "v1"), manifest, blobs)
        assert client.tag_exists(Reference(host, "auth/helper", "v1"))
    # Run once, on the first challenge, with the host on stdin.
    assert log.read_text().splitlines() == [f"get {host}"]

    with_store = write_config(tmp_path / "b", {"credsStore": "store", "auths": {host: {}}})
    config = DockerConfig.from_environ({**environ, "DOCKER_CONFIG": str(with_store)})
    with make_client(host, clock, docker_config=config) as client:
        assert client.list_tags("auth/helper") == ["v1"]
    assert log.read_text().splitlines()[-1] == f"get {host}"


@needs_registry
def test_helpers_run_only_when_challenged(clock: FakeClock, tmp_path: Path) -> None:
    log = tmp_path / "helper.log"
    answering_helper(tmp_path / "bin", "test", USER, PASSWORD, log)
    with LocalRegistry() as open_registry:
        config = DockerConfig.parse(
            {"credHelpers": {open_registry.host: "test"}}, search_path=str(tmp_path / "bin")
        )
        with make_client(open_registry.host, clock, docker_config=config) as client:
            manifest, blobs = artifact()
            client.push_artifact(Reference(open_registry.host, "anon/x", "v1"), manifest, blobs)
    assert not log.exists()


def test_helper_failures_are_typed_and_quiet(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    bindir = tmp_path / "bin"
    leak = "leaked-" + secrets.token_hex(6)
    helper(bindir, "broken", f"echo '{leak}'\necho '{leak}' >&2\nexit 3\n")
    helper(bindir, "none", "echo 'credentials not found in native keychain'\nexit 1\n")
    helper(bindir, "garbage", f"echo 'not json {leak}'\n")
    helper(bindir, "slow", "exec sleep 5\n")
    helper(bindir, "idtoken", 'printf \'{"Username":"<token>","Secret":"refresh-xyz"}\'\n')

    def creds(name: str, timeout: float = 10.0) -> Credentials:
        config = DockerConfig.parse({"credsStore": name}, search_path=str(bindir))
        return attrs.evolve(config, helper_timeout=timeout).credentials_for("r.example.com")

    with pytest.raises(AuthenticationFailed, match="exit status 3") as info:
        creds("broken")
    assert leak not in str(info.value)
    assert creds("none").anonymous
    with pytest.raises(AuthenticationFailed, match="no valid credentials") as info:
        creds("garbage")
    assert leak not in str(info.value)
    with pytest.raises(AuthenticationFailed, match="did not answer"):
        creds("slow", timeout=0.3)
    with pytest.raises(AuthenticationFailed, match=r"docker-credential-missing.*not installed"):
        creds("missing")
    token = creds("idtoken").identity_token
    assert token is not None and token.reveal() == "refresh-xyz"
    assert leak not in caplog.text


# -- the bearer flow against a registry stub ---------------------------------------------------------


class BearerStub:
    """A loopback registry stub with its token endpoint at ``/token``.

    Every ``/v2/<name>/…`` request needs a bearer token issued for ``repository:<name>:<actions>``
    (401 with a ``Bearer`` challenge otherwise; ``insufficient_scope`` for a valid token without
    the action). ``users`` None allows anonymous tokens; ``pull_only`` users never get ``push``.
    """

    def __init__(
        self,
        *,
        users: dict[str, str] | None = None,
        pull_only: frozenset[str] = frozenset(),
        lifetime: int = 300,
        token_field: str = "token",  # noqa: S107 - a JSON field name
        token_status: int = 200,
    ) -> None:
        self.users = users
        self.pull_only = pull_only
        self.lifetime = lifetime
        self.token_field = token_field
        self.token_status = token_status
        self.refresh_token = "refresh-" + secrets.token_hex(8)
        self.tokens: dict[str, set[tuple[str, str]]] = {}
        self.token_requests: list[tuple[dict[str, list[str]], str | None]] = []
        self.requests: list[tuple[str, str, str | None, int]] = []
        self.blobs: dict[str, bytes] = {}
        self.uploads: dict[str, bytearray] = {}
        self.manifests: dict[tuple[str, str], tuple[bytes, str]] = {}
        self.lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                stub.handle(self, "GET")

            def do_HEAD(self) -> None:
                stub.handle(self, "HEAD")

            def do_POST(self) -> None:
                stub.handle(self, "POST")

            def do_PATCH(self) -> None:
                stub.handle(self, "PATCH")

            def do_PUT(self) -> None:
                stub.handle(self, "PUT")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.host = f"127.0.0.1:{self.server.server_address[1]}"
        self.realm = f"http://{self.host}/token"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05})

    def __enter__(self) -> BearerStub:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    @staticmethod
    def reply(
        handler: BaseHTTPRequestHandler,
        status: int,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
        head: bool = False,
    ) -> None:
        handler.send_response(status)
        for key, value in (headers or {}).items():
            handler.send_header(key, value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        if not head:
            handler.wfile.write(body)

    def read_body(self, handler: BaseHTTPRequestHandler) -> bytes:
        return handler.rfile.read(int(handler.headers.get("Content-Length") or 0))

    def handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        url = urllib.parse.urlsplit(handler.path)
        if url.path == "/token" and method == "POST":  # OAuth2: an identity (refresh) token
            form = urllib.parse.parse_qs(self.read_body(handler).decode())
            return self.issue(handler, form)
        if url.path == "/token":
            return self.issue(handler, urllib.parse.parse_qs(url.query))
        body = self.read_body(handler) if method in ("POST", "PATCH", "PUT") else b""
        name, _, rest = url.path.removeprefix("/v2/").partition("/")
        for marker in ("/manifests/", "/blobs/", "/tags/"):
            if marker in url.path:
                name, _, rest = url.path.removeprefix("/v2/").partition(marker)
                rest = marker.strip("/") + "/" + rest
        actions = ("pull",) if method in ("GET", "HEAD") else ("pull", "push")
        auth = handler.headers.get("Authorization")
        granted = (
            self.tokens.get(auth.removeprefix("Bearer ")) if auth and auth.startswith("Bearer ") else None
        )
        if granted is None or not all((name, a) in granted for a in actions):
            challenge = (
                f'Bearer realm="{self.realm}",service="test",scope="repository:{name}:{",".join(actions)}"'
            )
            if granted is not None:
                challenge += ',error="insufficient_scope"'
            self.requests.append((method, url.path, auth, 401))
            error = json.dumps({"errors": [{"code": "UNAUTHORIZED", "message": "authentication required"}]})
            return self.reply(
                handler, 401, error.encode(), {"WWW-Authenticate": challenge}, head=method == "HEAD"
            )
        self.requests.append((method, url.path, auth, 200))
        query = urllib.parse.parse_qs(url.query)
        if rest.startswith("manifests/"):
            ref = rest.removeprefix("manifests/")
            if method == "PUT":
                digest = "sha256:" + hashlib.sha256(body).hexdigest()
                media_type = handler.headers["Content-Type"]
                self.manifests[(name, ref)] = self.manifests[(name, digest)] = (body, media_type)
                return self.reply(handler, 201, headers={"Docker-Content-Digest": digest})
            found = self.manifests.get((name, ref))
            if found is None:
                return self.reply(handler, 404, head=method == "HEAD")
            raw, media_type = found
            headers = {
                "Content-Type": media_type,
                "Docker-Content-Digest": "sha256:" + hashlib.sha256(raw).hexdigest(),
            }
            return self.reply(handler, 200, raw, headers, head=method == "HEAD")
        if rest == "blobs/uploads/" and method == "POST":
            session = str(uuid.uuid4())
            self.uploads[session] = bytearray()
            return self.reply(handler, 202, headers={"Location": f"/v2/{name}/blobs/uploads/{session}"})
        if rest.startswith("blobs/uploads/"):
            session = rest.removeprefix("blobs/uploads/")
            self.uploads[session] += body
            if method == "PATCH":
                return self.reply(handler, 202, headers={"Location": f"/v2/{name}/blobs/uploads/{session}"})
            data = bytes(self.uploads.pop(session))
            digest = "sha256:" + hashlib.sha256(data).hexdigest()
            assert query["digest"] == [digest]
            self.blobs[digest] = data
            return self.reply(handler, 201, headers={"Docker-Content-Digest": digest})
        if rest.startswith("blobs/"):
            data_or_none = self.blobs.get(rest.removeprefix("blobs/"))
            if data_or_none is None:
                return self.reply(handler, 404, head=method == "HEAD")
            return self.reply(handler, 200, data_or_none, head=method == "HEAD")
        return self.reply(handler, 404)

    def issue(self, handler: BaseHTTPRequestHandler, query: dict[str, list[str]]) -> None:
        auth = handler.headers.get("Authorization")
        self.token_requests.append((query, auth))
        user = None
        if "grant_type" in query:
            if query.get("refresh_token") != [self.refresh_token] or query["grant_type"] != ["refresh_token"]:
                return self.reply(handler, 401)
            query = {**query, "scope": query.get("scope", [""])[0].split()}
        elif self.users is not None:
            if not auth or not auth.startswith("Basic "):
                return self.reply(handler, 401)
            user, _, password = base64.b64decode(auth.removeprefix("Basic ")).decode().partition(":")
            if self.users.get(user) != password:
                return self.reply(handler, 401)
        if self.token_status != 200:
            return self.reply(handler, self.token_status)
        grants = set()
        for scope in query.get("scope", []):
            _, name_actions = scope.split(":", 1)
            name, _, actions = name_actions.rpartition(":")
            for action in actions.split(","):
                if action == "pull" or user not in self.pull_only:
                    grants.add((name, action))
        token = "tok-" + secrets.token_hex(8)
        with self.lock:
            self.tokens[token] = grants
        body = json.dumps({self.token_field: token, "expires_in": self.lifetime}).encode()
        return self.reply(handler, 200, body, {"Content-Type": "application/json"})

    def unauthorized(self) -> int:
        return sum(1 for r in self.requests if r[3] == 401)


def put_manifest(stub: BearerStub, name: str, tag: str) -> bytes:
    raw = b'{"schemaVersion":2,"config":{"mediaType":"a/b","digest":"sha256:' + b"0" * 64 + b'","size":1}}'
    stub.manifests[(name, tag)] = (raw, "application/vnd.oci.image.manifest.v1+json")
    return raw


def test_bearer_token_is_fetched_once_and_cached(clock: FakeClock) -> None:
    with BearerStub() as stub, make_client(stub.host, clock) as client:
        put_manifest(stub, "team/app", "v1")
        ref = Reference(stub.host, "team/app", "v1")
        for _ in range(5):
            assert client.head_manifest(ref) is not None
        assert client.get_manifest_raw(ref) is not None
        assert len(stub.token_requests) == 1
        assert stub.unauthorized() == 1  # only the very first request was challenged
        query, auth = stub.token_requests[0]
        assert query == {"service": ["test"], "scope": ["repository:team/app:pull"]}
        assert auth is None  # anonymous


def test_bearer_token_expires(clock: FakeClock) -> None:
    with BearerStub(lifetime=300) as stub, make_client(stub.host, clock) as client:
        put_manifest(stub, "team/app", "v1")
        ref = Reference(stub.host, "team/app", "v1")
        client.head_manifest(ref)
        clock.now += 200
        client.head_manifest(ref)
        assert len(stub.token_requests) == 1
        clock.now += 100  # past the lifetime (less a safety margin)
        client.head_manifest(ref)
        assert len(stub.token_requests) == 2
        assert stub.unauthorized() == 1  # refreshed before sending, not after a 401


def test_bearer_tokens_are_per_repository_scope(clock: FakeClock) -> None:
    with BearerStub() as stub, make_client(stub.host, clock) as client:
        for name in ("team/a", "team/b"):
            put_manifest(stub, name, "v1")
            client.head_manifest(Reference(stub.host, name, "v1"))
            client.head_manifest(Reference(stub.host, name, "v1"))
        scopes = [q["scope"] for q, _ in stub.token_requests]
        assert scopes == [["repository:team/a:pull"], ["repository:team/b:pull"]]


def test_bearer_with_credentials_and_access_token_field(clock: FakeClock) -> None:
    with BearerStub(users={USER: PASSWORD}, token_field="access_token") as stub:
        put_manifest(stub, "team/app", "v1")
        ref = Reference(stub.host, "team/app", "v1")
        with make_client(stub.host, clock, credentials=Credentials.basic(USER, PASSWORD)) as client:
            assert client.tag_exists(ref)
        _, auth = stub.token_requests[0]
        assert auth == "Basic " + b64(f"{USER}:{PASSWORD}")
        with (
            make_client(stub.host, clock, credentials=Credentials.basic(USER, "nope")) as client,
            pytest.raises(AuthenticationFailed, match="token server refused") as info,
        ):
            client.tag_exists(ref)
        assert "user 'alice'" in str(info.value) and "nope" not in str(info.value)
        assert clock.sleeps == []


def test_identity_token_uses_the_oauth2_refresh_grant(clock: FakeClock, tmp_path: Path) -> None:
    with BearerStub(users={USER: PASSWORD}) as stub:
        put_manifest(stub, "team/app", "v1")
        config = DockerConfig.parse({"auths": {stub.host: {"identitytoken": stub.refresh_token}}})
        with make_client(stub.host, clock, docker_config=config) as client:
            assert client.tag_exists(Reference(stub.host, "team/app", "v1"))
        form, auth = stub.token_requests[0]
        assert form["grant_type"] == ["refresh_token"] and form["service"] == ["test"]
        assert form["scope"] == ["repository:team/app:pull"] and auth is None
        expired = Credentials(identity_token=Secret("stale"))
        with (
            make_client(stub.host, clock, credentials=expired) as client,
            pytest.raises(AuthenticationFailed, match="an identity token"),
        ):
            client.tag_exists(Reference(stub.host, "team/app", "v1"))


def test_concurrent_challenges_share_one_token(clock: FakeClock) -> None:
    with BearerStub() as stub, make_client(stub.host, clock) as client:
        manifest, blobs = artifact()
        many = {d: os.urandom(100) for d in range(6)}
        layers = tuple(Descriptor.for_bytes(LAYER, data) for data in many.values())
        manifest = Manifest(manifest.config, layers)
        blobs = {
            manifest.config.digest: blobs[manifest.config.digest],
            **{d.digest: v for d, v in zip(layers, many.values(), strict=True)},
        }
        client.push_artifact(Reference(stub.host, "team/app", "v1"), manifest, blobs)
        # Up to four HEADs meet the first challenge together; they share one pull token, and the
        # uploads one push token.
        assert [q["scope"] for q, _ in stub.token_requests] == [
            ["repository:team/app:pull"],
            ["repository:team/app:pull,push"],
        ]


def test_streamed_upload_never_meets_a_challenge(clock: FakeClock, tmp_path: Path) -> None:
    path = tmp_path / "blob"
    path.write_bytes(os.urandom(2 << 20))
    with BearerStub() as stub, make_client(stub.host, clock) as client:
        pushed = client.push_blob("team/app", path, LAYER, chunk_size=1 << 20)
        assert stub.blobs[pushed.digest] == path.read_bytes()
        assert [(m, s) for m, _, _, s in stub.requests] == [
            ("POST", 401),  # the body-less POST meets the challenge...
            ("POST", 200),
            ("PATCH", 200),  # ...so each streamed PATCH is authorised when sent
            ("PATCH", 200),
            ("PUT", 200),
        ]
        assert stub.token_requests[0][0]["scope"] == ["repository:team/app:pull,push"]


def test_streamed_upload_after_reads_fetches_push_scope_first(clock: FakeClock, tmp_path: Path) -> None:
    path = tmp_path / "blob"
    path.write_bytes(os.urandom(1000))
    with BearerStub() as stub, make_client(stub.host, clock) as client:
        put_manifest(stub, "team/app", "v1")
        client.head_manifest(Reference(stub.host, "team/app", "v1"))  # learns the realm, pull token
        client.push_blob("team/app", path, LAYER)
        assert stub.unauthorized() == 1
        assert [q["scope"] for q, _ in stub.token_requests] == [
            ["repository:team/app:pull"],
            ["repository:team/app:pull,push"],
        ]


def test_missing_push_permission_is_permission_denied(clock: FakeClock) -> None:
    with BearerStub(users={"reader": "r"}, pull_only=frozenset({"reader"})) as stub:
        with (
            make_client(stub.host, clock, credentials=Credentials.basic("reader", "r")) as client,
            pytest.raises(PermissionDenied, match="lack this access"),
        ):
            client.push_blob("team/app", b"data", LAYER)
        assert clock.sleeps == []


def test_token_server_errors_are_transient(clock: FakeClock) -> None:
    with BearerStub(token_status=503) as stub, make_client(stub.host, clock) as client:
        put_manifest(stub, "team/app", "v1")
        with pytest.raises(Transient, match="token server failed"):
            client.head_manifest(Reference(stub.host, "team/app", "v1"))
        assert len(clock.sleeps) == 2  # retried like any transient failure


def test_secrets_stay_out_of_logs_errors_and_reprs(
    clock: FakeClock, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    caplog.set_level(logging.DEBUG)
    errors: list[str] = []
    path = tmp_path / "blob"
    path.write_bytes(os.urandom(5000))
    with BearerStub(users={USER: PASSWORD}) as stub:
        creds = Credentials.basic(USER, PASSWORD)
        with make_client(stub.host, clock, credentials=creds) as client:
            client.push_blob("team/app", path, LAYER)
            put_manifest(stub, "team/app", "v1")
            client.get_manifest_raw(Reference(stub.host, "team/app", "v1"))
            shown = [repr(client), repr(client.session.auth), repr(creds), str(creds), f"{creds}"]
        with make_client(stub.host, clock, credentials=Credentials.basic(USER, PASSWORD + "x")) as client:
            try:
                client.blob_exists("team/app", "sha256:" + "a" * 64)
            except AuthenticationFailed as exc:
                errors.append(str(exc))
        issued = list(stub.tokens)
    assert errors and issued
    for secret in [PASSWORD, b64(f"{USER}:{PASSWORD}"), *issued]:
        for text in [caplog.text, *errors, *shown]:
            assert secret not in text


# -- pure: challenges and scopes -------------------------------------------------------------------------


def test_parse_www_authenticate() -> None:
    assert parse_www_authenticate('Basic realm="Registry Realm"') == [
        Challenge("basic", {"realm": "Registry Realm"})
    ]
    bearer = parse_www_authenticate(
        'Bearer realm="https://auth.example.com/token",service="registry.example.com",'
        'scope="repository:a/b:pull,push repository:c:pull",error="insufficient_scope"'
    )
    assert len(bearer) == 1
    assert bearer[0].realm == "https://auth.example.com/token"
    assert bearer[0].service == "registry.example.com"
    assert bearer[0].scopes == ("repository:a/b:pull,push", "repository:c:pull")
    assert bearer[0].error == "insufficient_scope"
    two = parse_www_authenticate('Basic realm="x", Bearer realm=https://t/token, service="s"')
    assert [(c.scheme, c.realm) for c in two] == [("basic", "x"), ("bearer", "https://t/token")]
    assert two[1].service == "s"
    assert parse_www_authenticate(r'Bearer realm="a\"b"')[0].realm == 'a"b'
    assert parse_www_authenticate("") == [] and parse_www_authenticate(None) == []


def test_scope_for_request() -> None:
    assert scope_for_request("HEAD", "/v2/team/app/manifests/v1") == "repository:team/app:pull"
    assert scope_for_request("GET", "/v2/a/blobs/sha256:abc") == "repository:a:pull"
    assert scope_for_request("POST", "/v2/a/b/c/blobs/uploads/") == "repository:a/b/c:pull,push"
    assert scope_for_request("PATCH", "/v2/x/blobs/uploads/uuid-1") == "repository:x:pull,push"
    assert scope_for_request("DELETE", "/v2/x/manifests/sha256:abc") == "repository:x:delete"
    assert scope_for_request("GET", "/v2/blobs/blobs/x/tags/list") == "repository:blobs/blobs/x:pull"
    assert scope_for_request("GET", "/v2/") is None
    assert scope_for_request("GET", "/v2/_catalog") == "registry:catalog:*"


def test_plain_http_token_realm_is_refused(clock: FakeClock) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        assert request.url.host == "registry.example.com"  # the realm is never contacted
        return httpx.Response(
            401, headers={"WWW-Authenticate": 'Bearer realm="http://auth.example.com/token"'}
        )

    with (
        make_client(
            "registry.example.com",
            clock,
            transport=httpx.MockTransport(answer),
            credentials=Credentials.basic("u", PASSWORD),
        ) as client,
        pytest.raises(AuthenticationFailed, match="plain-HTTP token realm"),
    ):
        client.list_tags("x")


def test_auth_is_only_sent_to_the_registry_origin() -> None:
    auth = RegistryAuth("https://registry.example.com", Credentials.basic("u", PASSWORD))
    auth._basic = True
    flow = auth.sync_auth_flow(httpx.Request("GET", "https://storage.example.com/blob"))
    assert "authorization" not in next(flow).headers
    flow = auth.sync_auth_flow(httpx.Request("GET", "https://registry.example.com/v2/x/tags/list"))
    assert next(flow).headers["authorization"].startswith("Basic ")


def test_credentials_values() -> None:
    gcp = Credentials.gcp_access_token("ya29.abc")
    assert gcp.username == GCP_ACCESS_TOKEN_USER and "ya29" not in repr(gcp)
    assert Credentials().anonymous and not gcp.anonymous
    with pytest.raises(InvalidInput):
        Credentials(password=Secret("p"))


# -- the bearer flow against the real registry with token auth -----------------------------------------


@pytest.fixture(scope="module")
def token_registry() -> Iterator[tuple[LocalRegistry, Any]]:
    if registry_binary() is None:
        pytest.skip("docker-registry is not installed (apt-get install docker-registry)")
    pytest.importorskip("cryptography", reason="the token server signs JWTs with cryptography")
    from btp_release.testing.token_server import TokenServer

    with TokenServer() as tokens, LocalRegistry(token_auth=tokens) as started:
        yield started, tokens


@needs_registry
def test_real_token_auth_push_pull_mount_and_permissions(
    token_registry: tuple[LocalRegistry, Any], clock: FakeClock, tmp_path: Path
) -> None:
    registry, tokens = token_registry
    big = tmp_path / "layer"
    big.write_bytes(os.urandom(1 << 20))
    digest = "sha256:" + hashlib.sha256(big.read_bytes()).hexdigest()
    manifest, blobs = artifact()
    manifest = Manifest(manifest.config, (*manifest.layers, Descriptor(LAYER, digest, 1 << 20)))
    ref = Reference(registry.host, "kyma/module", "1.0.0")
    with make_client(registry.host, clock, credentials=Credentials.basic("ci", "ci-password")) as ci:
        ci.push_artifact(ref, manifest, {**blobs, digest: big})
        # Mount: the registry asks for pull,push on the target and pull on the source in one scope.
        copied = ci.copy_artifact(ref, Reference(registry.host, "kyma/mirror", "1.0.0"))
        assert copied.digest == manifest.digest
        assert ci.blob_exists("kyma/mirror", digest)
        assert any(len(r.scopes) == 2 for r in tokens.requests)
    with make_client(
        registry.host, clock, credentials=Credentials.basic("reader", "reader-password")
    ) as reader:
        reader.pull_artifact(ref, tmp_path / "out")
        assert (tmp_path / "out" / digest.removeprefix("sha256:")).read_bytes() == big.read_bytes()
        with pytest.raises(PermissionDenied):
            reader.push_blob("kyma/module", b"not allowed", LAYER)
    with (
        make_client(registry.host, clock, credentials=Credentials.basic("ci", "wrong")) as wrong,
        pytest.raises(AuthenticationFailed, match="token server refused"),
    ):
        wrong.tag_exists(ref)
    with make_client(registry.host, clock) as anonymous, pytest.raises(AuthenticationFailed) as info:
        anonymous.tag_exists(ref)
    assert info.value.hint is not None and "docker login" in info.value.hint
    assert clock.sleeps == []
