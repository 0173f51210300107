"""The token server: JWTs distribution 2.8 accepts, per-user actions, the bearer flow over raw httpx."""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from btp_release.localservices.registry import LocalRegistry, registry_binary
from btp_release.oci.layout import OciLayout
from btp_release.oci.model import MANIFEST_ACCEPT, OCI_MANIFEST, Descriptor, Manifest
from btp_release.testing.token_server import (
    Grant,
    TokenServer,
    TokenUser,
    libtrust_key_id,
    parse_scope,
)

needs_registry = pytest.mark.skipif(
    registry_binary() is None, reason="docker-registry is not installed (apt-get install docker-registry)"
)
REPO = "kyma/btp-manager"
CI = ("ci", "ci-password")
READER = ("reader", "reader-password")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def decode(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    header, claims, _ = token.split(".")
    return json.loads(b64url_decode(header)), json.loads(b64url_decode(claims))


def fetch_token(
    tokens: TokenServer, scope: str | None, auth: tuple[str, str] | None, *, service: str | None = None
) -> httpx.Response:
    params = {"service": service or tokens.service}
    if scope:
        params["scope"] = scope
    return httpx.get(tokens.realm, params=params, auth=auth, timeout=10)


def token_for(tokens: TokenServer, scope: str | None, auth: tuple[str, str] | None) -> str:
    response = fetch_token(tokens, scope, auth)
    assert response.status_code == 200, response.text
    token = response.json()["token"]
    assert isinstance(token, str)
    return token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def push_small_artifact(registry: LocalRegistry, token: str, tag: str) -> str:
    """Config + one layer (POST, then one PUT each) and an OCI manifest; returns the manifest digest."""
    blobs = [b"{}", b"kind: BtpOperator\n"]
    for blob in blobs:
        started = httpx.post(f"{registry.url}/v2/{REPO}/blobs/uploads/", headers=bearer(token), timeout=10)
        assert started.status_code == 202, started.text
        location = httpx.URL(registry.url).join(started.headers["Location"])
        response = httpx.put(
            location.copy_merge_params({"digest": Descriptor.for_bytes("x", blob).digest}),
            content=blob,
            headers={**bearer(token), "Content-Type": "application/octet-stream"},
            timeout=10,
        )
        assert response.status_code == 201, response.text
    manifest = Manifest(
        config=Descriptor.for_bytes("application/vnd.oci.image.config.v1+json", blobs[0]),
        layers=(Descriptor.for_bytes("application/x-yaml", blobs[1]),),
    )
    response = httpx.put(
        f"{registry.url}/v2/{REPO}/manifests/{tag}",
        content=manifest.to_bytes(),
        headers={**bearer(token), "Content-Type": OCI_MANIFEST},
        timeout=10,
    )
    assert response.status_code == 201, response.text
    return manifest.digest


# -- pure pieces -----------------------------------------------------------------------------


def test_parse_scope() -> None:
    assert parse_scope("repository:kyma/btp:pull,push") == ("repository", "kyma/btp", ("pull", "push"))
    assert parse_scope("repository:host:5000/x:pull") == ("repository", "host:5000/x", ("pull",))
    assert parse_scope("registry:catalog:*") == ("registry", "catalog", ("*",))
    assert parse_scope("repository") is None
    assert parse_scope(":name:pull") is None


def test_grants_follow_user_actions_and_repositories() -> None:
    users = [
        TokenUser("ci", "pw"),
        TokenUser("reader", "pw", actions=frozenset({"pull"})),
        TokenUser("scoped", "pw", repositories=("kyma/*",)),
    ]
    tokens = TokenServer(users, anonymous_pull=True)
    wanted = [("repository", "kyma/btp", ("pull", "push")), ("repository", "other", ("pull", "push"))]
    assert tokens.grant("ci", wanted) == (
        Grant("repository", "kyma/btp", ("pull", "push")),
        Grant("repository", "other", ("pull", "push")),
    )
    assert tokens.grant("reader", wanted) == (
        Grant("repository", "kyma/btp", ("pull",)),
        Grant("repository", "other", ("pull",)),
    )
    assert tokens.grant("scoped", wanted) == (
        Grant("repository", "kyma/btp", ("pull", "push")),
        Grant("repository", "other", ()),
    )
    assert tokens.grant(None, wanted) == (
        Grant("repository", "kyma/btp", ("pull",)),
        Grant("repository", "other", ("pull",)),
    )
    merged = tokens.grant("ci", [("repository", "a", ("pull",)), ("repository", "a", ("push", "pull"))])
    assert merged == (Grant("repository", "a", ("pull", "push")),)


def test_token_is_a_verifiable_rs256_jwt() -> None:
    with TokenServer(clock=lambda: 1_700_000_000.0) as tokens:
        token = tokens.issue_token("ci", [Grant("repository", REPO, ("pull",))])
        header, claims = decode(token)
        assert header["alg"] == "RS256"
        assert header["typ"] == "JWT"
        der = tokens.certificate.public_bytes(serialization.Encoding.DER)
        assert [base64.b64decode(cert) for cert in header["x5c"]] == [der]
        assert claims["iss"] == tokens.issuer
        assert claims["aud"] == tokens.service
        assert claims["sub"] == "ci"
        assert (claims["iat"], claims["nbf"], claims["exp"]) == (1_700_000_000, 1_700_000_000, 1_700_000_300)
        assert claims["access"] == [{"type": "repository", "name": REPO, "actions": ["pull"]}]
        assert re.fullmatch(r"[0-9a-f]{32}", claims["jti"])
        signing_input, _, signature = token.rpartition(".")
        public_key = tokens.certificate.public_key()
        assert isinstance(public_key, rsa.RSAPublicKey)
        public_key.verify(
            b64url_decode(signature), signing_input.encode(), padding.PKCS1v15(), hashes.SHA256()
        )
        bundle = tokens.cert_bundle
        assert bundle.read_text().startswith("-----BEGIN CERTIFICATE-----")
        assert tokens.registry_auth_config()["token"]["rootcertbundle"] == str(bundle)
    assert not bundle.exists()


def test_kid_is_the_libtrust_key_id() -> None:
    with TokenServer(key_reference="kid") as tokens:
        header, _ = decode(tokens.issue_token("ci", []))
        assert "x5c" not in header
        public_key = tokens.certificate.public_key()
        assert isinstance(public_key, rsa.RSAPublicKey)
        assert header["kid"] == libtrust_key_id(public_key)
        assert re.fullmatch(r"([A-Z2-7]{4}:){11}[A-Z2-7]{4}", header["kid"])


# -- the token endpoint alone ----------------------------------------------------------------


@pytest.fixture(scope="module")
def tokens() -> Iterator[TokenServer]:
    with TokenServer() as server:
        yield server


def test_token_response_shape(tokens: TokenServer) -> None:
    tokens.clear_requests()
    response = fetch_token(tokens, f"repository:{REPO}:pull,push", CI)
    assert response.status_code == 200
    body = response.json()
    assert body["token"] == body["access_token"]
    assert body["expires_in"] == 300
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", body["issued_at"])
    assert decode(body["token"])[1]["access"] == [
        {"type": "repository", "name": REPO, "actions": ["pull", "push"]}
    ]
    (request,) = tokens.requests
    assert request.account == "ci"
    assert request.scopes == (f"repository:{REPO}:pull,push",)
    assert request.status == 200
    assert request.granted == (Grant("repository", REPO, ("pull", "push")),)


def test_several_scopes_in_one_request(tokens: TokenServer) -> None:
    response = httpx.get(
        tokens.realm,
        params=[("service", tokens.service), ("scope", "repository:a:pull"), ("scope", "repository:b:push")],
        auth=CI,
        timeout=10,
    )
    access = decode(response.json()["token"])[1]["access"]
    assert [(entry["name"], entry["actions"]) for entry in access] == [("a", ["pull"]), ("b", ["push"])]


def test_wrong_password_or_unknown_user_is_401(tokens: TokenServer) -> None:
    tokens.clear_requests()
    for auth in [("ci", "wrong"), ("nobody", "ci-password")]:
        response = fetch_token(tokens, f"repository:{REPO}:pull", auth)
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].startswith("Basic ")
        assert response.json()["errors"][0]["code"] == "UNAUTHORIZED"
    assert [(r.account, r.status, r.granted) for r in tokens.requests] == [
        ("ci", 401, ()),
        ("nobody", 401, ()),
    ]


def test_anonymous_is_refused_unless_enabled(tokens: TokenServer) -> None:
    assert fetch_token(tokens, f"repository:{REPO}:pull", None).status_code == 401
    with TokenServer(anonymous_pull=True) as open_tokens:
        token = token_for(open_tokens, f"repository:{REPO}:pull,push", None)
        _, claims = decode(token)
        assert claims["sub"] == ""
        assert claims["access"] == [{"type": "repository", "name": REPO, "actions": ["pull"]}]


def test_bad_requests(tokens: TokenServer) -> None:
    assert fetch_token(tokens, "repository:x:pull", CI, service="someone-else").status_code == 400
    assert fetch_token(tokens, "nonsense", CI).status_code == 400
    assert httpx.get(f"{tokens.url}/elsewhere", timeout=10).status_code == 404


def test_injected_failures(tokens: TokenServer) -> None:
    tokens.fail_next(503, times=2)
    assert fetch_token(tokens, None, CI).status_code == 503
    assert fetch_token(tokens, None, CI).status_code == 503
    assert fetch_token(tokens, None, CI).status_code == 200


# -- with the real registry ------------------------------------------------------------------


@pytest.fixture(scope="module")
def registry(tokens: TokenServer) -> Iterator[LocalRegistry]:
    if registry_binary() is None:
        pytest.skip("docker-registry is not installed (apt-get install docker-registry)")
    with LocalRegistry(token_auth=tokens) as started:
        yield started


@needs_registry
def test_registry_challenges_with_our_realm(registry: LocalRegistry, tokens: TokenServer) -> None:
    response = httpx.get(f"{registry.url}/v2/", timeout=10)
    assert response.status_code == 401
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith("Bearer ")
    assert f'realm="{tokens.realm}"' in challenge
    assert f'service="{tokens.service}"' in challenge

    scoped = httpx.get(f"{registry.url}/v2/{REPO}/tags/list", timeout=10)
    assert scoped.status_code == 401
    assert f'scope="repository:{REPO}:pull"' in scoped.headers["WWW-Authenticate"]


@needs_registry
def test_token_then_retry_succeeds(registry: LocalRegistry, tokens: TokenServer) -> None:
    tokens.clear_requests()
    assert (
        httpx.get(f"{registry.url}/v2/", headers=bearer(token_for(tokens, None, CI)), timeout=10).status_code
        == 200
    )
    token = token_for(tokens, f"repository:{REPO}:pull,push", CI)
    digest = push_small_artifact(registry, token, "1.0.0")
    response = httpx.head(
        f"{registry.url}/v2/{REPO}/manifests/1.0.0",
        headers={**bearer(token), "Accept": MANIFEST_ACCEPT},
        timeout=10,
    )
    assert response.status_code == 200
    assert response.headers["Docker-Content-Digest"] == digest
    assert len(tokens.requests) == 2


@needs_registry
def test_pull_only_token_cannot_push(registry: LocalRegistry, tokens: TokenServer) -> None:
    token = token_for(tokens, f"repository:{REPO}:pull,push", READER)
    response = httpx.post(f"{registry.url}/v2/{REPO}/blobs/uploads/", headers=bearer(token), timeout=10)
    assert response.status_code == 401
    assert 'error="insufficient_scope"' in response.headers["WWW-Authenticate"]
    # the same token reads fine
    listed = httpx.get(f"{registry.url}/v2/{REPO}/tags/list", headers=bearer(token), timeout=10)
    assert listed.status_code in (200, 404)  # 404 only if no test pushed into REPO yet


@needs_registry
def test_registry_rejects_expired_and_foreign_tokens(registry: LocalRegistry, tokens: TokenServer) -> None:
    access = [Grant("repository", REPO, ("pull", "push"))]
    url = f"{registry.url}/v2/{REPO}/blobs/uploads/"
    fresh = tokens.issue_token("ci", access)
    assert httpx.post(url, headers=bearer(fresh), timeout=10).status_code == 202
    expired = tokens.issue_token("ci", access, issued_at=time.time() - 3600)  # beyond the 60 s leeway
    assert httpx.post(url, headers=bearer(expired), timeout=10).status_code == 401
    with TokenServer(service=tokens.service, issuer=tokens.issuer) as impostor:
        foreign = impostor.issue_token("ci", access)
    assert httpx.post(url, headers=bearer(foreign), timeout=10).status_code == 401
    tampered_header, tampered_claims, signature = fresh.split(".")
    claims = json.loads(b64url_decode(tampered_claims))
    claims["sub"] = "someone-else"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    assert (
        httpx.post(url, headers=bearer(f"{tampered_header}.{forged}.{signature}"), timeout=10).status_code
        == 401
    )


@needs_registry
def test_anonymous_pull_through_the_registry() -> None:
    with TokenServer(anonymous_pull=True) as open_tokens, LocalRegistry(token_auth=open_tokens) as registry:
        digest = push_small_artifact(
            registry, token_for(open_tokens, f"repository:{REPO}:pull,push", CI), "1.0.0"
        )
        anonymous = token_for(open_tokens, f"repository:{REPO}:pull,push", None)
        pulled = httpx.get(
            f"{registry.url}/v2/{REPO}/manifests/1.0.0",
            headers={**bearer(anonymous), "Accept": MANIFEST_ACCEPT},
            timeout=10,
        )
        assert pulled.status_code == 200
        assert pulled.headers["Docker-Content-Digest"] == digest
        pushed = httpx.post(f"{registry.url}/v2/{REPO}/blobs/uploads/", headers=bearer(anonymous), timeout=10)
        assert pushed.status_code == 401
    assert not open_tokens.running  # started by the caller: the caller stops it


@needs_registry
def test_registry_starts_and_stops_a_token_server_it_was_given_unstarted() -> None:
    tokens = TokenServer(key_reference="kid")
    with LocalRegistry(token_auth=tokens) as registry:
        assert tokens.running
        token = token_for(tokens, f"repository:{REPO}:pull,push", CI)
        response = httpx.post(f"{registry.url}/v2/{REPO}/blobs/uploads/", headers=bearer(token), timeout=10)
        assert response.status_code == 202  # distribution found the key by its libtrust kid
    assert not tokens.running


@needs_registry
@pytest.mark.skipif(shutil.which("skopeo") is None, reason="skopeo is not installed (apt-get install skopeo)")
def test_skopeo_uses_the_token_flow(registry: LocalRegistry, tokens: TokenServer, tmp_path: Path) -> None:
    layout = OciLayout(tmp_path / "snap")
    config = layout.push_blob(REPO, b"{}", "application/vnd.oci.image.config.v1+json")
    layer = layout.push_blob(REPO, b"kind: Layer\n", "application/x-yaml")
    descriptor = layout.push_manifest(REPO, Manifest(config=config, layers=(layer,)), "v1.0.0")
    target = f"docker://{registry.host}/{REPO}:v1.0.0"

    def copy(user: tuple[str, str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                *("skopeo", "copy", "--quiet", "--dest-tls-verify=false", "--dest-creds", ":".join(user)),
                *(f"oci:{layout.root}:v1.0.0", target),
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    tokens.clear_requests()
    denied = copy(READER)
    assert denied.returncode != 0
    assert "denied" in denied.stderr.lower() or "unauthorized" in denied.stderr.lower()
    done = copy(CI)
    assert done.returncode == 0, done.stderr
    assert {r.account for r in tokens.requests} == {"reader", "ci"}
    token = token_for(tokens, f"repository:{REPO}:pull", READER)
    response = httpx.head(
        f"{registry.url}/v2/{REPO}/manifests/v1.0.0",
        headers={**bearer(token), "Accept": MANIFEST_ACCEPT},
        timeout=10,
    )
    assert response.headers["Docker-Content-Digest"] == descriptor.digest
