"""RegistryClient against a real registry (distribution 2.8 on 127.0.0.1), plus its pure rules."""

from __future__ import annotations

import json
import os
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from btp_release.errors import (
    AuthenticationFailed,
    BtpReleaseError,
    Conflict,
    DigestMismatch,
    InvalidInput,
    NotFound,
    PermissionDenied,
    RateLimited,
    Timeout,
    Transient,
)
from btp_release.localservices.registry import LocalRegistry, registry_binary
from btp_release.oci import Descriptor, Manifest, Reference, RegistryClient, sha256_digest
from btp_release.oci.auth import is_loopback
from btp_release.oci.model import OCI_INDEX
from btp_release.oci.protocol import (
    base_url,
    error_for_response,
    next_page,
    parse_link_header,
    retry_after,
    with_digest,
)
from btp_release.retry import RetryPolicy
from btp_release.testing import FakeClock
from btp_release.wait import WaitPolicy

needs_registry = pytest.mark.skipif(
    registry_binary() is None, reason="docker-registry is not installed (apt-get install docker-registry)"
)

LAYER = "application/vnd.oci.image.layer.v1.tar"
CONFIG = "application/vnd.oci.empty.v1+json"
MiB = 1 << 20


# -- helpers ----------------------------------------------------------------------------------------


class Recorder(httpx.BaseTransport):
    """Passes requests to a real transport, records them, and can tamper with or fail some.

    ``fail(request)`` may return a response to send instead (the request is not forwarded);
    ``tamper(request)`` says whether to flip the last byte of the response body.
    """

    def __init__(
        self,
        *,
        fail: Callable[[httpx.Request], httpx.Response | None] | None = None,
        tamper: Callable[[httpx.Request], bool] | None = None,
    ) -> None:
        self.inner = httpx.HTTPTransport()
        self.requests: list[httpx.Request] = []
        self.streamed: list[bool] = []
        self.fail = fail
        self.tamper = tamper
        self._lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            self.requests.append(request)
            self.streamed.append(not isinstance(request.stream, httpx.ByteStream))
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            failed = self.fail(request) if self.fail else None
            if failed is not None:
                return failed
            response = self.inner.handle_request(request)
            if self.tamper and self.tamper(request) and response.status_code == 200:
                body = bytearray(response.read())
                body[-1] ^= 0xFF
                headers = [(k, v) for k, v in response.headers.items() if k.lower() != "transfer-encoding"]
                return httpx.Response(
                    response.status_code, headers=headers, stream=httpx.ByteStream(bytes(body))
                )
            return response
        finally:
            with self._lock:
                self.in_flight -= 1

    def close(self) -> None:
        self.inner.close()

    def calls(self, method: str | None = None, contains: str = "") -> list[httpx.Request]:
        return [
            r
            for r in self.requests
            if (method is None or r.method == method) and contains in urllib.parse.unquote(str(r.url))
        ]

    def clear(self) -> None:
        self.requests.clear()
        self.streamed.clear()


@pytest.fixture(scope="module")
def registry() -> Iterator[LocalRegistry]:
    if registry_binary() is None:
        pytest.skip("docker-registry is not installed (apt-get install docker-registry)")
    with LocalRegistry() as started:
        yield started


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


def make_client(
    host: str, clock: FakeClock, transport: httpx.BaseTransport | None = None, **options: Any
) -> RegistryClient:
    return RegistryClient(
        host,
        transport=transport,
        retry=RetryPolicy(attempts=3, jitter=0),
        timeout=httpx.Timeout(30.0, connect=5.0),
        clock=clock,
        sleeper=clock.sleep,
        **options,
    )


@pytest.fixture
def client(registry: LocalRegistry, clock: FakeClock, recorder: Recorder) -> Iterator[RegistryClient]:
    with make_client(registry.host, clock, recorder) as registry_client:
        yield registry_client


_counter = iter(range(1_000_000))


def repo(name: str = "repo") -> str:
    """A fresh repository per use: tests share one registry."""
    return f"test/{name}-{next(_counter)}"


def small_artifact(n_layers: int = 2) -> tuple[Manifest, dict[str, bytes | Path]]:
    config = b"{}"
    layers = [os.urandom(100 + i) for i in range(n_layers)]
    blobs: dict[str, bytes | Path] = {sha256_digest(config): config}
    blobs.update({sha256_digest(layer): layer for layer in layers})
    manifest = Manifest(
        Descriptor.for_bytes(CONFIG, config), tuple(Descriptor.for_bytes(LAYER, layer) for layer in layers)
    )
    return manifest, blobs


def random_file(tmp_path: Path, size: int, name: str = "blob") -> Path:
    path = tmp_path / name
    path.write_bytes(os.urandom(size))
    return path


# -- manifests -----------------------------------------------------------------------------------


@needs_registry
def test_push_and_pull_artifact_round_trip(client: RegistryClient, tmp_path: Path) -> None:
    manifest, blobs = small_artifact(3)
    ref = client.reference(repo(), tag="v1.2.0")
    pushed = client.push_artifact(ref, manifest, blobs)
    assert pushed.digest == manifest.digest and pushed.media_type == manifest.media_type

    pulled = client.pull_artifact(ref, tmp_path / "out")
    assert pulled == manifest
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(
        d.removeprefix("sha256:") for d in blobs
    )
    for digest, content in blobs.items():
        assert (tmp_path / "out" / digest.removeprefix("sha256:")).read_bytes() == content


@needs_registry
def test_head_get_and_tag_exists(client: RegistryClient, recorder: Recorder) -> None:
    manifest, blobs = small_artifact()
    ref = client.reference(repo(), tag="1.0.0")
    assert client.head_manifest(ref) is None
    assert client.tag_exists(ref) is False
    assert client.get_manifest(ref) is None
    client.push_artifact(ref, manifest, blobs)

    recorder.clear()
    head = client.head_manifest(ref)
    assert head == manifest.descriptor()
    assert [r.method for r in recorder.requests] == ["HEAD"]
    assert "application/vnd.oci.image.manifest.v1+json" in recorder.requests[0].headers["accept"]
    assert client.tag_exists(ref)

    found = client.get_manifest(ref.repository, "1.0.0")
    assert found == (manifest, manifest.descriptor())
    by_digest = client.get_manifest(ref.with_digest(manifest.digest))
    assert by_digest is not None and by_digest[1].digest == manifest.digest


@needs_registry
def test_get_manifest_raw_serves_any_media_type(client: RegistryClient) -> None:
    manifest, blobs = small_artifact()
    name = repo()
    child = client.push_artifact(client.reference(name, tag="child"), manifest, blobs)
    index = json.dumps(
        {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [child.to_json()]}, separators=(",", ":")
    ).encode()
    pushed = client.push_manifest_raw(client.reference(name, tag="index"), index, OCI_INDEX)
    raw = client.get_manifest_raw(client.reference(name, tag="index"))
    assert raw == (index, pushed)
    assert pushed.media_type == OCI_INDEX
    with pytest.raises(InvalidInput, match="image index"):
        client.get_manifest(client.reference(name, tag="index"))


@needs_registry
def test_push_manifest_without_blobs_is_invalid_input(client: RegistryClient) -> None:
    manifest, _ = small_artifact()
    with pytest.raises(InvalidInput, match="MANIFEST_BLOB_UNKNOWN") as info:
        client.push_manifest(repo(), manifest, "v1")
    assert "push manifest" in str(info.value) and "push every blob" in str(info.value)


@needs_registry
def test_push_manifest_by_digest_without_tag(client: RegistryClient) -> None:
    manifest, blobs = small_artifact()
    name = repo()
    for digest, content in blobs.items():
        client.push_blob(name, content, LAYER, digest=digest)
    pushed = client.push_manifest(name, manifest)
    assert client.head_manifest(client.reference(name, digest=pushed.digest)) == pushed
    assert client.list_tags(name) == []


@needs_registry
def test_delete_manifest_by_tag(client: RegistryClient) -> None:
    manifest, blobs = small_artifact()
    ref = client.reference(repo(), tag="gone")
    client.push_artifact(ref, manifest, blobs)
    assert client.delete_manifest(ref) is True
    assert client.head_manifest(ref) is None
    assert client.delete_manifest(ref) is False
    assert client.delete_manifest(ref.with_digest(manifest.digest)) is False


@needs_registry
def test_reference_of_another_registry_is_refused(client: RegistryClient) -> None:
    with pytest.raises(InvalidInput, match="not in registry"):
        client.head_manifest(Reference.parse("ghcr.io/kyma-project/x:1"))


# -- tags ---------------------------------------------------------------------------------------


@needs_registry
def test_list_tags_single_response(client: RegistryClient) -> None:
    manifest, blobs = small_artifact()
    name = repo()
    for tag in ("b", "a", "c"):
        client.push_artifact(client.reference(name, tag=tag), manifest, blobs)
    assert sorted(client.list_tags(name)) == ["a", "b", "c"]
    assert client.list_tags(repo("never-pushed")) == []


class _TagPager(BaseHTTPRequestHandler):
    """What distribution v3 does and 2.8 does not: page tags/list by ``n``/``last`` with a ``Link``."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # one write per response: no delayed-ACK stalls
    upstream = ""
    default_n = 0
    seen: list[str]

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        self.seen.append(self.path)
        query = urllib.parse.parse_qs(url.query)
        answer = httpx.get(f"{self.upstream}{url.path}", timeout=10)
        status, headers, body = answer.status_code, {"Content-Type": "application/json"}, answer.content
        if status == 200 and url.path.endswith("/tags/list"):
            tags = sorted(answer.json().get("tags") or [])
            last = query.get("last", [""])[0]
            n = int(query.get("n", [self.default_n])[0]) or len(tags)
            page = [t for t in tags if t > last][:n]
            name = url.path.removeprefix("/v2/").removesuffix("/tags/list")
            body = json.dumps({"name": name, "tags": page}).encode()
            if page and page[-1] != tags[-1]:
                headers["Link"] = f'<{url.path}?last={page[-1]}&n={n}>; rel="next"'
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def tag_pager(registry: LocalRegistry) -> Iterator[tuple[str, list[str]]]:
    seen: list[str] = []
    handler = type("Pager", (_TagPager,), {"upstream": registry.url, "default_n": 0, "seen": seen})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@needs_registry
def test_list_tags_follows_link_pages(
    client: RegistryClient, tag_pager: tuple[str, list[str]], clock: FakeClock
) -> None:
    manifest, blobs = small_artifact()
    name = repo()
    tags = [f"1.{i}.0" for i in range(7)]
    for tag in tags:
        client.push_artifact(client.reference(name, tag=tag), manifest, blobs)
    host, seen = tag_pager
    with make_client(host, clock) as paged:
        assert paged.list_tags(name, page_size=3) == sorted(tags)
        assert [urllib.parse.urlsplit(p).query for p in seen] == [
            "n=3",
            "last=1.2.0&n=3",
            "last=1.5.0&n=3",
        ]
        with pytest.raises(BtpReleaseError, match="more than 2 pages"):
            paged.list_tags(name, page_size=3, max_pages=2)
        with pytest.raises(InvalidInput):
            paged.list_tags(name, page_size=0)


# -- waiting -----------------------------------------------------------------------------------


@needs_registry
def test_wait_for_tag_returns_once_the_tag_appears(
    registry: LocalRegistry, recorder: Recorder, tmp_path: Path
) -> None:
    manifest, blobs = small_artifact()
    clock = FakeClock()
    ref = Reference(registry.host, repo(), "late")
    with make_client(registry.host, clock, recorder) as client:
        for digest, content in blobs.items():
            client.push_blob(ref.repository, content, LAYER, digest=digest)

        def sleep(seconds: float) -> None:
            clock.sleep(seconds)
            if len(clock.sleeps) == 3:  # the producer finishes during the third interval
                client.push_manifest(ref, manifest)

        client.session.sleeper = sleep
        recorder.clear()
        found = client.wait_for_tag(ref, WaitPolicy(timeout=60, interval=1, backoff=1))
    assert found.digest == manifest.digest
    heads = recorder.calls("HEAD", "/manifests/late")
    assert len(heads) == 4 and len(clock.sleeps) == 3  # one HEAD per poll, nothing else
    assert all("vnd.oci.image.manifest" in r.headers["accept"] for r in heads)


@needs_registry
def test_wait_for_tag_times_out_naming_the_reference(client: RegistryClient, clock: FakeClock) -> None:
    ref = client.reference(repo(), tag="never")
    with pytest.raises(Timeout, match=r"manifest .*:never in the registry") as info:
        client.wait_for_tag(ref, WaitPolicy(timeout=10, interval=2, backoff=1))
    assert "not found" in str(info.value)
    assert sum(clock.sleeps) == pytest.approx(10)


# -- blobs: uploads --------------------------------------------------------------------------------


@needs_registry
def test_file_upload_is_one_streamed_patch(
    client: RegistryClient, recorder: Recorder, tmp_path: Path
) -> None:
    path = random_file(tmp_path, 3 * MiB + 17)
    name = repo()
    pushed = client.push_blob(name, path, LAYER)
    assert pushed == Descriptor(LAYER, sha256_digest(path.read_bytes()), 3 * MiB + 17)
    methods = [(r.method, streamed) for r, streamed in zip(recorder.requests, recorder.streamed, strict=True)]
    # No HEAD without a digest: the file is read once, hashed while it streams.
    assert methods == [("POST", False), ("PATCH", True), ("PUT", False)]
    patch = recorder.calls("PATCH")[0]
    assert patch.headers["content-length"] == str(3 * MiB + 17)
    assert "content-range" not in patch.headers
    assert f"digest={pushed.digest}" in urllib.parse.unquote(str(recorder.calls("PUT")[0].url))
    assert client.read_blob(name, pushed) == path.read_bytes()


@needs_registry
def test_chunked_upload_sends_content_ranges(
    client: RegistryClient, recorder: Recorder, tmp_path: Path
) -> None:
    path = random_file(tmp_path, 3 * MiB)
    name = repo()
    pushed = client.push_blob(name, path, LAYER, chunk_size=MiB)
    patches = recorder.calls("PATCH")
    assert [p.headers["content-range"] for p in patches] == [
        f"0-{MiB - 1}",
        f"{MiB}-{2 * MiB - 1}",
        f"{2 * MiB}-{3 * MiB - 1}",
    ]
    assert all(p.headers["content-length"] == str(MiB) for p in patches)
    assert all(recorder.streamed[recorder.requests.index(p)] for p in patches)
    assert client.read_blob(name, pushed) == path.read_bytes()

    odd = random_file(tmp_path, 2 * MiB + 5, "odd")
    recorder.clear()
    client.push_blob(name, odd, LAYER, chunk_size=MiB)
    assert [p.headers["content-range"] for p in recorder.calls("PATCH")][-1] == f"{2 * MiB}-{2 * MiB + 4}"


@needs_registry
def test_empty_file_upload(client: RegistryClient, tmp_path: Path) -> None:
    path = tmp_path / "empty"
    path.write_bytes(b"")
    pushed = client.push_blob(repo(), path, LAYER, chunk_size=MiB)
    assert pushed.digest == sha256_digest(b"") and pushed.size == 0
    with pytest.raises(InvalidInput, match="not a readable file"):
        client.push_blob(repo(), tmp_path / "missing", LAYER)


@needs_registry
def test_bytes_upload_is_head_post_put(client: RegistryClient, recorder: Recorder) -> None:
    data = os.urandom(1000)
    name = repo()
    pushed = client.push_blob(name, data, LAYER)
    assert [r.method for r in recorder.requests] == ["HEAD", "POST", "PUT"]
    assert recorder.calls("PUT")[0].content == data
    assert client.blob_exists(name, pushed.digest)
    assert not client.blob_exists(name, sha256_digest(b"other"))


@needs_registry
def test_second_push_uploads_nothing(client: RegistryClient, recorder: Recorder, tmp_path: Path) -> None:
    manifest, blobs = small_artifact(3)
    big = random_file(tmp_path, 2 * MiB)
    big_digest = sha256_digest(big.read_bytes())
    blobs[big_digest] = big
    manifest = Manifest(manifest.config, (*manifest.layers, Descriptor(LAYER, big_digest, 2 * MiB)))
    ref = client.reference(repo(), tag="v1")
    client.push_artifact(ref, manifest, blobs)
    recorder.clear()
    assert client.push_artifact(ref, manifest, blobs).digest == manifest.digest
    assert sorted(r.method for r in recorder.requests) == ["HEAD"] * 5 + ["PUT"]
    assert "/manifests/" in str(recorder.calls("PUT")[0].url)


@needs_registry
def test_push_artifact_runs_at_most_four_blobs_at_once(client: RegistryClient, recorder: Recorder) -> None:
    manifest, blobs = small_artifact(12)
    client.push_artifact(client.reference(repo(), tag="many"), manifest, blobs)
    assert 1 <= recorder.max_in_flight <= 4
    assert len(recorder.calls("PUT", "/blobs/uploads/")) == 13


@needs_registry
def test_push_artifact_checks_its_blob_mapping(client: RegistryClient) -> None:
    manifest, blobs = small_artifact()
    ref = client.reference(repo(), tag="v1")
    with pytest.raises(InvalidInput, match="does not reference"):
        client.push_artifact(ref, manifest, {**blobs, sha256_digest(b"x"): b"x"})
    missing = dict(blobs)
    del missing[manifest.layers[0].digest]
    with pytest.raises(InvalidInput, match="neither given nor in"):
        client.push_artifact(ref, manifest, missing)
    wrong_size = Manifest(manifest.config, (Descriptor(LAYER, manifest.layers[0].digest, 1),))
    with pytest.raises(InvalidInput, match="size 1"):
        client.push_artifact(ref, wrong_size, {manifest.layers[0].digest: blobs[manifest.layers[0].digest]})


@needs_registry
def test_file_with_known_digest_is_skipped_when_present(
    client: RegistryClient, recorder: Recorder, tmp_path: Path
) -> None:
    path = random_file(tmp_path, 5000)
    name = repo()
    first = client.push_blob(name, path, LAYER)
    recorder.clear()
    assert client.push_blob(name, path, LAYER, digest=first.digest) == first
    assert [r.method for r in recorder.requests] == ["HEAD"]


@needs_registry
def test_file_not_matching_its_digest_is_not_committed(
    client: RegistryClient, recorder: Recorder, tmp_path: Path
) -> None:
    path = random_file(tmp_path, 5000)
    wrong = sha256_digest(b"something else")
    name = repo()
    with pytest.raises(DigestMismatch, match="changed while it was uploaded"):
        client.push_blob(name, path, LAYER, digest=wrong)
    assert not recorder.calls("PUT")
    assert recorder.calls("DELETE", "/blobs/uploads/")  # the session is cancelled
    assert not client.blob_exists(name, sha256_digest(path.read_bytes()))
    with pytest.raises(InvalidInput, match="not the given digest"):
        client.push_blob(name, b"abc", LAYER, digest=wrong)


@needs_registry
def test_mount_between_repositories(client: RegistryClient, recorder: Recorder, tmp_path: Path) -> None:
    source, target = repo("source"), repo("target")
    path = random_file(tmp_path, MiB)
    pushed = client.push_blob(source, path, LAYER)
    recorder.clear()
    mounted = client.push_blob(target, path, LAYER, mount_from=source)
    assert mounted == pushed
    assert [r.method for r in recorder.requests] == ["HEAD", "POST"]
    assert "mount=" in str(recorder.requests[1].url) and f"from={source}" in urllib.parse.unquote(
        str(recorder.requests[1].url)
    )
    assert client.blob_exists(target, pushed.digest)


@needs_registry
def test_refused_mount_falls_back_to_upload(client: RegistryClient, recorder: Recorder) -> None:
    data = os.urandom(2000)
    name = repo()
    client.push_blob(name, data, LAYER, mount_from=repo("empty"))
    # The 202 to the mount opened the upload session that is used: no second POST.
    assert [r.method for r in recorder.requests] == ["HEAD", "POST", "PUT"]
    assert client.read_blob(name, Descriptor.for_bytes(LAYER, data)) == data


@needs_registry
def test_transient_failure_restarts_the_whole_upload(
    registry: LocalRegistry, clock: FakeClock, tmp_path: Path
) -> None:
    failed: list[str] = []

    def fail_first_patch(request: httpx.Request) -> httpx.Response | None:
        if request.method == "PATCH" and not failed:
            failed.append(str(request.url))
            return httpx.Response(503, json={"errors": [{"code": "UNAVAILABLE", "message": "try later"}]})
        return None

    recorder = Recorder(fail=fail_first_patch)
    path = random_file(tmp_path, 2 * MiB)
    with make_client(registry.host, clock, recorder) as client:
        pushed = client.push_blob(repo(), path, LAYER)
    assert [r.method for r in recorder.requests] == ["POST", "PATCH", "POST", "PATCH", "PUT"]
    assert str(recorder.calls("PATCH")[1].url) != failed[0]  # a new session, not a replay
    assert len(clock.sleeps) == 1
    assert pushed.digest == sha256_digest(path.read_bytes())


# -- blobs: downloads -------------------------------------------------------------------------------


def _blob_file(registry: LocalRegistry, digest: str) -> Path:
    hexdigest = digest.removeprefix("sha256:")
    return registry.storage / "docker/registry/v2/blobs/sha256" / hexdigest[:2] / hexdigest / "data"


@needs_registry
def test_pull_blob_streams_and_verifies(client: RegistryClient, recorder: Recorder, tmp_path: Path) -> None:
    path = random_file(tmp_path, 3 * MiB)
    name = repo()
    pushed = client.push_blob(name, path, LAYER)
    recorder.clear()
    dest = client.pull_blob(name, pushed, tmp_path / "sub" / "pulled")
    assert dest.read_bytes() == path.read_bytes()
    assert recorder.requests[0].headers["accept-encoding"] == "identity"
    assert sorted(p.name for p in (tmp_path / "sub").iterdir()) == ["pulled"]


@needs_registry
def test_corrupt_blob_in_storage_is_detected(
    registry: LocalRegistry, client: RegistryClient, tmp_path: Path
) -> None:
    data = os.urandom(4096)
    name = repo()
    pushed = client.push_blob(name, data, LAYER)
    stored = _blob_file(registry, pushed.digest)
    corrupt = bytearray(stored.read_bytes())
    corrupt[100] ^= 0x01
    stored.write_bytes(bytes(corrupt))
    out = tmp_path / "out"
    with pytest.raises(DigestMismatch, match=pushed.digest) as info:
        client.pull_blob(name, pushed, out / "blob")
    assert "download of blob" in str(info.value)
    assert list(out.iterdir()) == []  # neither the file nor a .part
    with pytest.raises(DigestMismatch):
        client.read_blob(name, pushed)


@needs_registry
def test_flipped_byte_in_transit_is_detected(
    registry: LocalRegistry, clock: FakeClock, tmp_path: Path
) -> None:
    manifest, blobs = small_artifact()
    ref = Reference(registry.host, repo(), "v1")
    with make_client(registry.host, clock) as plain:
        plain.push_artifact(ref, manifest, blobs)
    tamper = Recorder(tamper=lambda r: r.method == "GET" and "/blobs/" in r.url.path)
    with make_client(registry.host, clock, tamper) as client, pytest.raises(DigestMismatch):
        client.pull_artifact(ref, tmp_path / "out")
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.startswith(".")]
    manifests = Recorder(tamper=lambda r: "/manifests/" in r.url.path)
    with make_client(registry.host, clock, manifests) as client, pytest.raises(DigestMismatch, match="says"):
        client.get_manifest(ref)


@needs_registry
def test_read_blob_refuses_big_blobs(client: RegistryClient) -> None:
    descriptor = Descriptor(LAYER, sha256_digest(b"x"), 100 * MiB)
    with pytest.raises(InvalidInput, match="use pull_blob"):
        client.read_blob(repo(), descriptor)
    with pytest.raises(NotFound, match="BLOB_UNKNOWN"):
        client.read_blob(repo(), Descriptor.for_bytes(LAYER, b"never pushed"))


@needs_registry
def test_pull_missing_artifact_is_not_found(client: RegistryClient, tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="not found"):
        client.pull_artifact(client.reference(repo(), tag="nope"), tmp_path)


# -- copies --------------------------------------------------------------------------------------


@needs_registry
def test_copy_within_a_registry_mounts(client: RegistryClient, recorder: Recorder) -> None:
    manifest, blobs = small_artifact()
    src = client.reference(repo("src"), tag="1.0.0")
    dst = client.reference(repo("dst"), tag="v1.0.0")
    client.push_artifact(src, manifest, blobs)
    recorder.clear()
    copied = client.copy_artifact(src, dst)
    assert copied.digest == manifest.digest
    assert len(recorder.calls("POST", "mount=")) == 3
    assert not recorder.calls("PATCH") and not recorder.calls("GET", "/blobs/")
    assert client.get_manifest(dst) == (manifest, copied)


@needs_registry
def test_copy_between_registries_streams_through(
    client: RegistryClient, clock: FakeClock, recorder: Recorder, tmp_path: Path
) -> None:
    big = random_file(tmp_path, 2 * MiB)
    manifest, blobs = small_artifact(1)
    digest = sha256_digest(big.read_bytes())
    manifest = Manifest(manifest.config, (*manifest.layers, Descriptor(LAYER, digest, 2 * MiB)))
    src = client.reference(repo(), tag="1.0.0")
    client.push_artifact(src, manifest, {**blobs, digest: big})
    with LocalRegistry() as other, make_client(other.host, clock) as dst_client:
        dst = Reference(other.host, "mirror/module", "1.0.0")
        copied = client.copy_artifact(src, dst, dst_client)
        assert copied.digest == manifest.digest
        assert dst_client.read_blob("mirror/module", Descriptor(LAYER, digest, 2 * MiB)) == big.read_bytes()
        recorder.clear()
        client.copy_artifact(src, dst, dst_client)  # again: nothing to transfer
        assert not recorder.calls("GET", "/blobs/")


@needs_registry
def test_copy_index_copies_its_manifests(client: RegistryClient) -> None:
    manifest, blobs = small_artifact()
    name = repo()
    child = client.push_artifact(client.reference(name, tag="child"), manifest, blobs)
    index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [child.to_json()]}).encode()
    client.push_manifest_raw(client.reference(name, tag="multi"), index, OCI_INDEX)
    target = client.reference(repo(), tag="multi")
    copied = client.copy_artifact(client.reference(name, tag="multi"), target)
    assert copied.digest == sha256_digest(index)
    assert client.head_manifest(target.with_digest(child.digest)) == child


# -- failures --------------------------------------------------------------------------------------


def _closed_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_unreachable_registry_is_transient_after_retries(clock: FakeClock) -> None:
    port = _closed_port()
    with make_client(f"127.0.0.1:{port}", clock) as client, pytest.raises(Transient) as info:
        client.head_manifest(client.reference("x/y", tag="1"))
    assert f"unreachable at http://127.0.0.1:{port}" in str(info.value)
    assert "check manifest for 127.0.0.1" in str(info.value)
    assert len(clock.sleeps) == 2  # three attempts


@needs_registry
def test_server_errors_are_retried_then_succeed(registry: LocalRegistry, clock: FakeClock) -> None:
    manifest, blobs = small_artifact()
    ref = Reference(registry.host, repo(), "v1")
    with make_client(registry.host, clock) as plain:
        plain.push_artifact(ref, manifest, blobs)
    failures = iter([httpx.Response(502), httpx.Response(429, headers={"Retry-After": "7"})])
    recorder = Recorder(fail=lambda r: next(failures, None))
    with make_client(registry.host, clock, recorder) as client:
        assert client.get_manifest(ref) == (manifest, manifest.descriptor())
    assert clock.sleeps == [1.0, 7.0]
    assert len(recorder.requests) == 3


def test_plain_http_is_refused_outside_loopback() -> None:
    with pytest.raises(InvalidInput, match="refusing plain HTTP"):
        RegistryClient("registry.example.com", scheme="http")
    assert RegistryClient("registry.example.com").base_url == "https://registry.example.com"
    assert RegistryClient("registry.example.com", insecure=True).base_url == "http://registry.example.com"
    assert RegistryClient("localhost:5000").base_url == "http://localhost:5000"
    assert RegistryClient("127.0.0.1:5000", scheme="https").base_url == "https://127.0.0.1:5000"


def test_https_only_for_remote_hosts_and_no_downgrade_by_location(clock: FakeClock) -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.method == "HEAD":
            return httpx.Response(404)
        return httpx.Response(202, headers={"Location": "http://registry.example.com/v2/x/blobs/uploads/1"})

    transport = httpx.MockTransport(answer)
    with (
        make_client("registry.example.com", clock, transport) as client,
        pytest.raises(InvalidInput, match="not HTTPS"),
    ):
        client.push_blob("x", b"data", LAYER)
    assert [(r.method, r.url.scheme) for r in seen] == [("HEAD", "https"), ("POST", "https")]


def test_loopback_detection() -> None:
    for host in ("localhost", "localhost:5000", "127.0.0.1", "127.8.9.10:80", "[::1]:5000", "[::1]"):
        assert is_loopback(host), host
    for host in ("10.0.0.1:5000", "localhost.example.com", "127.0.0.1.nip.io", "ghcr.io", "[::2]:5000"):
        assert not is_loopback(host), host
    with pytest.raises(InvalidInput):
        base_url("https://ghcr.io")


# -- pure rules ------------------------------------------------------------------------------------


def _error(
    status: int, codes: list[tuple[str, str]] | None = None, headers: dict[str, str] | None = None
) -> BtpReleaseError:
    body = {"errors": [{"code": c, "message": m} for c, m in codes or []]}
    return error_for_response(
        status,
        httpx.Headers(headers or {}),
        body,
        operation="push manifest",
        subject="127.0.0.1:5000/x:1",
        registry="127.0.0.1:5000",
        credentials_hint="log in",
        sent_credentials=True,
    )


def test_error_mapping() -> None:
    error = _error(404, [("MANIFEST_UNKNOWN", "manifest unknown")])
    assert isinstance(error, NotFound)
    assert str(error).startswith(
        "registry push manifest for 127.0.0.1:5000/x:1 failed: HTTP 404 (MANIFEST_UNKNOWN: manifest unknown)"
    )
    assert isinstance(_error(404, [("BLOB_UNKNOWN", "")]), NotFound)
    assert isinstance(_error(400, [("DIGEST_INVALID", "bad")]), InvalidInput)
    assert isinstance(_error(400, [("MANIFEST_INVALID", "bad")]), InvalidInput)
    unauthorized = _error(401, [("UNAUTHORIZED", "authentication required")])
    assert isinstance(unauthorized, AuthenticationFailed) and unauthorized.hint == "log in"
    scope = _error(401, headers={"WWW-Authenticate": 'Bearer realm="r",error="insufficient_scope"'})
    assert isinstance(scope, PermissionDenied)
    assert isinstance(_error(403, [("DENIED", "no")]), PermissionDenied)
    limited = _error(429, [("TOOMANYREQUESTS", "slow down")], {"Retry-After": "12"})
    assert isinstance(limited, RateLimited) and limited.retry_after == 12.0
    assert isinstance(_error(503), Transient) and not isinstance(_error(503), RateLimited)
    assert isinstance(_error(405, [("UNSUPPORTED", "")]), Conflict)
    assert isinstance(_error(416), Transient)
    assert type(_error(418)) is BtpReleaseError


def test_link_and_location_helpers() -> None:
    assert parse_link_header('</v2/x/tags/list?last=b&n=2>; rel="next"') == {
        "next": "/v2/x/tags/list?last=b&n=2"
    }
    assert (
        next_page("http://r:1/v2/x/tags/list?n=2", {"link": '</v2/x/tags/list?last=b&n=2>; rel="next"'})
        == "http://r:1/v2/x/tags/list?last=b&n=2"
    )
    assert next_page("http://r:1/v2/x/tags/list", {}) is None
    digest = sha256_digest(b"")
    assert with_digest("http://r/v2/x/blobs/uploads/u?_state=a%3D", digest) == (
        f"http://r/v2/x/blobs/uploads/u?_state=a%3D&digest=sha256%3A{digest[7:]}"
    )
    assert with_digest("/v2/x/blobs/uploads/u", digest).startswith("/v2/x/blobs/uploads/u?digest=")
    assert retry_after({"retry-after": "3"}) == 3.0
    assert retry_after({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}, now=1445412470.0) == 10.0
    assert retry_after({}) is None and retry_after({"retry-after": "soon"}) is None
