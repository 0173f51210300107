"""Image build and push against a real private dockerd and a real local registry.

The example image (``examples/btp-operator``) is built from a temporary copy of its directory with
``/bin/busybox`` copied in; every push is checked against the registry's own digest, and the pushed
image is pulled back by digest into an empty local store and run. Tests that need dockerd or
docker-registry skip with the reason where those are unavailable; the pure error mapping and the
stream handling run everywhere.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import signal
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from btp_release.errors import (
    AuthenticationFailed,
    BtpReleaseError,
    BuildFailed,
    InvalidInput,
    NotFound,
    PermissionDenied,
    RateLimited,
    Transient,
)
from btp_release.images import BuiltImage, ImageBuild, ImageBuilder, build_error, push_error, rfc3339
from btp_release.localservices.docker_daemon import DockerDaemon, _mounts_under, _pids_referring_to
from btp_release.localservices.registry import LocalRegistry, registry_binary
from btp_release.oci.model import MANIFEST_ACCEPT, Reference
from btp_release.retry import RetryPolicy
from btp_release.secret import Secret
from btp_release.testing import FakeClock

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "btp-operator"
BUSYBOX = Path("/bin/busybox")
CREATED = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
VERSION = "1.2.3"

needs_registry = pytest.mark.skipif(
    registry_binary() is None, reason="docker-registry is not installed (apt-get install docker-registry)"
)
needs_busybox = pytest.mark.skipif(
    not BUSYBOX.is_file(), reason="/bin/busybox is missing (apt-get install busybox-static)"
)


def unique(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}"


# -- pure: values, labels and error mapping ---------------------------------------------------------


def test_build_target_needs_a_tag_and_no_digest() -> None:
    with pytest.raises(InvalidInput, match="cannot be a build target"):
        ImageBuild(context=".", reference=Reference.parse("127.0.0.1:5000/btp-manager"))
    pinned = Reference.parse("127.0.0.1:5000/btp-manager:1.0.0@sha256:" + "a" * 64)
    with pytest.raises(InvalidInput, match="cannot be a build target"):
        ImageBuild(context=".", reference=pinned)


def test_oci_labels_come_from_the_spec_and_the_clock_and_user_labels_win() -> None:
    spec = ImageBuild(
        context="ctx",
        reference=Reference.parse("127.0.0.1:5000/btp-manager:1.2.0"),
        revision="0123abc",
        source="https://github.com/kyma-project/btp-manager",
        labels={"team": "sap-btp", "org.opencontainers.image.source": "https://example.test/fork"},
    )
    assert spec.all_labels(CREATED) == {
        "org.opencontainers.image.created": "2024-05-01T12:00:00Z",
        "org.opencontainers.image.version": "1.2.0",
        "org.opencontainers.image.revision": "0123abc",
        "org.opencontainers.image.source": "https://example.test/fork",
        "team": "sap-btp",
    }
    assert spec.dockerfile_path == Path("ctx/Dockerfile")
    assert ImageBuild(context="ctx", reference=spec.reference, dockerfile="/abs/Df").dockerfile_path == Path(
        "/abs/Df"
    )


def test_created_needs_an_aware_clock() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        rfc3339(datetime(2024, 5, 1))  # naive: the point of the test


REF = Reference.parse("127.0.0.1:5000/btp-manager:1.2.0")


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("no basic auth credentials", AuthenticationFailed),
        ("unauthorized: authentication required", AuthenticationFailed),
        ("denied: requested access to the resource is denied", PermissionDenied),
        ("toomanyrequests: You have reached your pull rate limit", RateLimited),
        ("An image does not exist locally with the tag: 127.0.0.1:5000/btp-manager", NotFound),
        ('Get "https://127.0.0.1:5000/v2/": http: server gave HTTP response to HTTPS client', InvalidInput),
        ('Get "http://127.0.0.1:1/v2/": dial tcp 127.0.0.1:1: connect: connection refused', Transient),
        ("received unexpected HTTP status: 503 Service Unavailable", Transient),
        ("manifest invalid: manifest invalid", BtpReleaseError),
    ],
)
def test_push_stream_errors_map_to_typed_errors(message: str, expected: type[BtpReleaseError]) -> None:
    error = push_error(message, REF)
    assert type(error) is expected
    assert str(REF) in str(error) and message in str(error)


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("COPY failed: file not found in build context or excluded by .dockerignore: stat x", InvalidInput),
        ("dockerfile parse error line 2: unknown instruction: FOO", InvalidInput),
        ("The command '/bin/busybox false' returned a non-zero code: 1", BuildFailed),
        ('Get "https://quay.io/v2/": dial tcp: lookup quay.io: no such host', Transient),
    ],
)
def test_build_errors_map_to_typed_errors_with_the_log_tail(
    message: str, expected: type[BtpReleaseError]
) -> None:
    error = build_error(message, REF, ["Step 1/2 : FROM scratch", "Step 2/2 : COPY x /x"])
    assert type(error) is expected
    assert message in str(error) and "Step 2/2 : COPY x /x" in str(error)


class CannedAPI:
    """The two low-level calls ImageBuilder streams, answering with a canned stream."""

    def __init__(self, entries: list[dict[str, Any]]) -> None:
        self.entries = entries
        self.calls = 0

    def push(self, *_args: Any, **_kwargs: Any) -> Iterator[dict[str, Any]]:
        self.calls += 1
        return iter(self.entries)


class CannedClient:
    def __init__(self, entries: list[dict[str, Any]]) -> None:
        self.api = CannedAPI(entries)


def test_the_push_stream_is_closed_when_the_daemon_reports_an_error(clock: FakeClock) -> None:
    """A stream left open lets the daemon go on for a caller that gave up (until garbage collection)."""
    closed: list[bool] = []

    def stream() -> Iterator[dict[str, Any]]:
        try:
            yield {"status": "Preparing", "id": "abc"}
            yield {"error": "denied: requested access to the resource is denied"}
            yield {"status": "never read"}
        finally:
            closed.append(True)

    client = CannedClient([])
    client.api.push = lambda *_a, **_k: stream()  # type: ignore[method-assign]
    builder = ImageBuilder(client, retry=RetryPolicy(attempts=1, jitter=0), sleeper=clock.sleep)
    with pytest.raises(BtpReleaseError) as caught:  # keeps the traceback (and its frames) alive
        builder.push(REF)
    assert "denied" in str(caught.value)
    assert closed == [True], "the stream was left open"


def test_a_push_stream_without_a_digest_is_an_error_not_a_success(clock: FakeClock) -> None:
    client = CannedClient([{"status": "The push refers to repository [127.0.0.1:5000/btp-manager]"}])
    builder = ImageBuilder(client, retry=RetryPolicy(attempts=2, jitter=0), sleeper=clock.sleep)
    with pytest.raises(Transient, match="without reporting a digest"):
        builder.push(REF)
    assert client.api.calls == 2  # idempotent: retried once


def test_the_digest_comes_from_the_aux_entry_of_our_tag() -> None:
    digest = "sha256:" + "b" * 64
    client = CannedClient(
        [
            {"status": "Pushed", "progressDetail": {}, "id": "7c3ea808c86c"},
            {"aux": {"Tag": "other", "Digest": "sha256:" + "c" * 64, "Size": 1}},
            {"aux": {"Tag": "1.2.0", "Digest": digest, "Size": 528}},
        ]
    )
    assert ImageBuilder(client).push(REF) == digest


# -- a real daemon ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def builder(docker_daemon: DockerDaemon) -> Iterator[ImageBuilder]:
    with ImageBuilder(
        docker_daemon.client(),
        docker_host=docker_daemon.host,
        now=lambda: CREATED,
        retry=RetryPolicy(attempts=1),
    ) as images:
        yield images


@pytest.fixture(scope="module")
def example_context(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not BUSYBOX.is_file():
        pytest.skip("/bin/busybox is missing (apt-get install busybox-static)")
    context = tmp_path_factory.mktemp("example") / "btp-operator"
    shutil.copytree(EXAMPLE, context)
    shutil.copy2(BUSYBOX, context / "bin" / "busybox")
    return context


@pytest.fixture(scope="module")
def example(builder: ImageBuilder, example_context: Path) -> BuiltImage:
    spec = ImageBuild(
        context=example_context,
        reference=Reference.parse(f"127.0.0.1:5999/{unique('btp-manager')}:{VERSION}"),
        build_args={"VERSION": VERSION},
        revision="0123456789abcdef0123456789abcdef01234567",
        source="https://github.com/kyma-project/btp-manager",
        labels={"io.kyma-project.module": "btp-operator"},
    )
    return builder.build(spec)


def retag(docker_daemon: DockerDaemon, image: BuiltImage, target: Reference) -> None:
    client = docker_daemon.client()
    try:
        assert client.api.tag(image.id, f"{target.registry}/{target.repository}", target.tag)
    finally:
        client.close()


def registry_digest(
    registry: LocalRegistry, reference: Reference, auth: tuple[str, str] | None = None
) -> str:
    response = httpx.head(
        f"{registry.url}/v2/{reference.repository}/manifests/{reference.tag}",
        headers={"Accept": MANIFEST_ACCEPT},
        auth=auth,
        timeout=10,
    )
    assert response.status_code == 200, response
    return response.headers["Docker-Content-Digest"]


def test_private_daemon_uses_its_own_socket_and_allows_loopback_registries(
    docker_daemon: DockerDaemon,
) -> None:
    info = docker_daemon.info()
    assert info["DockerRootDir"] == str(docker_daemon.data_root)
    assert "127.0.0.0/8" in info["RegistryConfig"]["InsecureRegistryCIDRs"]
    assert docker_daemon.ping()


def test_build_example_image_records_oci_and_user_labels(builder: ImageBuilder, example: BuiltImage) -> None:
    assert example.id.startswith("sha256:")
    labels = builder.inspect_labels(example.reference)
    assert labels["org.opencontainers.image.version"] == VERSION
    assert labels["org.opencontainers.image.revision"] == "0123456789abcdef0123456789abcdef01234567"
    assert labels["org.opencontainers.image.source"] == "https://github.com/kyma-project/btp-manager"
    assert labels["org.opencontainers.image.created"] == "2024-05-01T12:00:00Z"
    assert labels["io.kyma-project.module"] == "btp-operator"


def test_the_build_log_goes_to_debug(
    builder: ImageBuilder, example_context: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="btp_release.images")
    reference = Reference.parse(f"127.0.0.1:5999/{unique('logged')}:1.0.0")
    builder.build(ImageBuild(context=example_context, reference=reference))
    assert any(
        "Step 1/" in record.getMessage() and record.levelno == logging.DEBUG for record in caplog.records
    )


@needs_registry
def test_push_returns_the_registry_digest_and_the_image_pulls_by_digest_and_runs(
    docker_daemon: DockerDaemon, builder: ImageBuilder, example: BuiltImage
) -> None:
    with LocalRegistry() as registry:
        target = Reference(registry.host, example.reference.repository, VERSION)
        retag(docker_daemon, example, target)
        digest = builder.push(target)
        assert digest == registry_digest(registry, target)

        client = docker_daemon.client()
        try:
            client.images.remove(example.id, force=True)  # every tag: the pull must really fetch it
            with pytest.raises(NotFound):
                builder.inspect_labels(target)
            pinned = target.with_digest(digest)
            pulled = client.images.pull(f"{target.registry}/{target.repository}@{digest}")
            assert pulled.id == example.id
            output = client.containers.run(str(pinned), ["--version"], network_mode="none", remove=True)
            assert output.decode().strip() == f"btp-manager {VERSION}"
        finally:
            client.close()


@needs_registry
def test_push_with_basic_auth_fails_typed_without_credentials_and_works_with_them(
    docker_daemon: DockerDaemon, builder: ImageBuilder, example: BuiltImage, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, the docker SDK's and urllib3's included
    password = "s3cret-" + uuid.uuid4().hex
    with LocalRegistry(basic_auth=("releaser", password)) as registry:
        target = Reference(registry.host, unique("btp-manager"), VERSION)
        retag(docker_daemon, example, target)

        with pytest.raises(AuthenticationFailed) as missing:
            builder.push(target)
        assert str(target) in str(missing.value)

        with pytest.raises(AuthenticationFailed) as wrong:
            builder.push(target, auth=("releaser", Secret(password + "-wrong")))
        assert password not in str(wrong.value)

        digest = builder.push(target, auth=("releaser", Secret(password)))
        assert digest == registry_digest(registry, target, auth=("releaser", password))
    assert password not in caplog.text


@needs_registry
def test_push_to_a_closed_port_is_transient_after_retries(
    docker_daemon: DockerDaemon, example: BuiltImage, clock: FakeClock
) -> None:
    with LocalRegistry() as registry:
        closed = registry.host
    target = Reference(closed, unique("btp-manager"), VERSION)
    retag(docker_daemon, example, target)
    with (
        ImageBuilder(
            docker_daemon.client(), retry=RetryPolicy(attempts=2, jitter=0), sleeper=clock.sleep
        ) as images,
        pytest.raises(Transient) as info,
    ):
        images.push(target)
    assert "connection refused" in str(info.value) and str(target) in str(info.value)
    assert len(clock.sleeps) == 1


def test_push_of_an_image_that_is_not_there_is_not_found(builder: ImageBuilder) -> None:
    with pytest.raises(NotFound, match="does not exist locally"):
        builder.push(Reference.parse(f"127.0.0.1:5999/{unique('absent')}:1.0.0"))


def broken_context(tmp_path: Path, dockerfile: str) -> ImageBuild:
    shutil.copy2(BUSYBOX, tmp_path / "busybox")
    (tmp_path / "Dockerfile").write_text(dockerfile)
    return ImageBuild(context=tmp_path, reference=Reference.parse(f"127.0.0.1:5999/{unique('broken')}:1"))


@needs_busybox
def test_copy_of_a_missing_file_is_invalid_input_with_the_daemons_words(
    builder: ImageBuilder, tmp_path: Path
) -> None:
    spec = broken_context(
        tmp_path, "FROM scratch\nCOPY busybox /bin/busybox\nCOPY missing.txt /missing.txt\n"
    )
    with pytest.raises(InvalidInput) as info:
        builder.build(spec)
    message = str(info.value)
    assert "COPY failed" in message and "missing.txt" in message
    assert re.search(r"Step 3/\d+ : COPY missing.txt /missing.txt", message)  # the log tail


@needs_busybox
def test_unknown_instruction_is_invalid_input(builder: ImageBuilder, tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="unknown instruction"):
        builder.build(broken_context(tmp_path, "FROM scratch\nFETCH busybox\n"))


@needs_busybox
def test_a_failing_run_step_is_build_failed(builder: ImageBuilder, tmp_path: Path) -> None:
    spec = broken_context(
        tmp_path, 'FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "false"]\n'
    )
    with pytest.raises(BuildFailed, match="returned a non-zero code: 1"):
        builder.build(spec)


def test_missing_dockerfile_is_invalid_input_before_the_daemon_is_asked(tmp_path: Path) -> None:
    builder = ImageBuilder(CannedClient([]))
    with pytest.raises(InvalidInput, match="does not exist"):
        builder.build(ImageBuild(context=tmp_path, reference=REF))


def test_unreachable_daemon_from_environ_is_transient_and_names_docker_host(tmp_path: Path) -> None:
    host = f"unix://{tmp_path}/no-daemon.sock"
    with pytest.raises(Transient) as info:
        ImageBuilder.from_environ({"DOCKER_HOST": host})
    assert f"DOCKER_HOST={host}" in str(info.value)
    assert "start a daemon" in str(info.value)


def test_unreachable_daemon_during_build_and_push_is_transient(tmp_path: Path) -> None:
    import docker

    host = f"unix://{tmp_path}/no-daemon.sock"
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    client = docker.DockerClient(base_url=host, version="1.41")  # no version negotiation: fails later
    with ImageBuilder(client, docker_host=host, retry=RetryPolicy(attempts=1)) as images:
        with pytest.raises(Transient, match=f"cannot reach the Docker daemon at {host}"):
            images.build(ImageBuild(context=tmp_path, reference=REF))
        with pytest.raises(Transient, match=f"cannot reach the Docker daemon at {host}"):
            images.push(REF)


def test_from_environ_reaches_the_daemon_named_by_docker_host(docker_daemon: DockerDaemon) -> None:
    with ImageBuilder.from_environ(docker_daemon.environ()) as images:
        images.ping()
        assert images.docker_host == f"DOCKER_HOST={docker_daemon.host}"


# -- the DockerDaemon helper itself ---------------------------------------------------------------------


def test_a_killed_daemon_leaves_no_process_mount_or_directory(
    docker_daemon: DockerDaemon, example_context: Path
) -> None:
    # Needs root and dockerd like the session daemon (the fixture skipped otherwise).
    with DockerDaemon() as daemon:
        root = daemon.root
        client = daemon.client()
        try:
            client.images.build(path=str(example_context), tag="sleeper:1", network_mode="none")
            container = client.containers.run(
                "sleeper:1",
                ["run"],
                entrypoint=["/bin/busybox", "sleep", "300"],
                network_mode="none",
                detach=True,
            )
            container_pid = int(client.api.inspect_container(container.id)["State"]["Pid"])
        finally:
            client.close()
        assert _mounts_under(root)
        assert daemon.pid is not None
        os.kill(daemon.pid, signal.SIGKILL)  # no graceful shutdown: the helper must clean up alone
    assert not root.exists()
    assert _mounts_under(root) == []
    assert list(_pids_referring_to(root)) == []
    stat = Path(f"/proc/{container_pid}/stat")
    assert not stat.exists() or stat.read_text().rpartition(")")[2].split()[0] == "Z"
