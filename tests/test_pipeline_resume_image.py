"""Crash and resume inside the manager image build and push, which run in the Docker daemon.

The first run "dies" (a :class:`Crash`, as in ``test_pipeline_resume``) inside the docker SDK's
low-level ``build`` or ``push`` stream that :class:`~btp_release.images.ImageBuilder` reads: while the
daemon streams the build, when the build stream ended, before the push, after the daemon reported the
first layer pushed, or after it reported the manifest's digest. Dying mid-stream also closes the
connection to the daemon, as the kernel does for a killed process.

dockerd 20.10 notices a dead client between steps (a build stops before its next step, a push before
its next request to the registry) but not during a request: a manifest upload already on its way
still lands. Which one happens after the first layer was pushed is a race, so the registry is reached
through :class:`HoldingRelay`, which holds the daemon's manifest upload until the process died and
then forwards it (the push completes for a client that is gone) or drops it (the registry has the
layer, no manifest): a test for each outcome.

A fresh pipeline (fresh work directory, same simulator, registry and daemon) must then finish the
release exactly once, keep an image of this commit that is in the registry instead of rebuilding it,
and record the digest that the registry's tag really holds.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal

import attrs
import pytest

from btp_release.localservices.registry import registry_binary
from btp_release.oci import Reference, RegistryClient
from btp_release.pipeline.stages import REVISION_LABEL
from btp_release.testing import GitHubSimulator, LocalRegistry
from btp_release.testing.release import prepare_example_module

from .pipeline_support import EXAMPLE, VERSION, Rig
from .test_pipeline_resume import Crash, assert_released_exactly_once, reference_module_digest, resume

pytestmark = pytest.mark.skipif(registry_binary() is None, reason="docker-registry is not installed")

WAIT = 30.0  # seconds: bound of every wait for the daemon (a daemon that never reacts fails the test)


# -- the kill points inside the daemon's streams ---------------------------------------------------


@attrs.frozen
class DockerCrashAt:
    """Die in the daemon's ``call`` (``build`` or ``push``): ``before`` asking the daemon, at the first
    ``entry`` of its stream whose text (``stream``/``status``) matches ``pattern`` (received, not yet
    handled), or at the ``end`` of the stream (the daemon finished; the caller has not returned)."""

    call: Literal["build", "push"]
    when: Literal["before", "entry", "end"]
    pattern: str = ""


def _text(entry: Any) -> str:
    return str(entry.get("stream") or entry.get("status") or "") if isinstance(entry, dict) else ""


def _hang_up(stream: Any) -> None:
    """Close the daemon connection under a docker SDK stream, as the kernel does when a process dies.

    The SDK's ``_stream_helper(response, decode)`` generator holds the ``requests`` response; closing
    only the generator would leave the socket open until garbage collection, and the daemon would
    finish the build or push for a client that is gone."""
    frame = getattr(stream, "gi_frame", None)
    response = frame.f_locals.get("response") if frame is not None else None
    assert response is not None, "the docker SDK stream no longer holds its response: update _hang_up"
    response.close()
    stream.close()


class DockerAPI:
    """``client.api`` of a ``docker.DockerClient`` that records the ``build``/``push`` calls and their
    stream entries, and raises :class:`Crash` at ``point``; everything else goes to the real API."""

    def __init__(self, inner: Any, point: DockerCrashAt | None, before_crash: Callable[[], None]) -> None:
        self._inner = inner
        self.point = point
        self.before_crash = before_crash
        self.fired = False
        self.calls: list[str] = []
        self.entries: dict[str, list[dict[str, Any]]] = {"build": [], "push": []}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def build(self, **options: Any) -> Iterator[Any]:
        return self._stream("build", lambda: self._inner.build(**options))

    def push(self, repository: str, **options: Any) -> Iterator[Any]:
        return self._stream("push", lambda: self._inner.push(repository, **options))

    def _armed(self, call: str) -> DockerCrashAt | None:
        point = self.point
        return point if point is not None and point.call == call and not self.fired else None

    def _crash(self, what: str, stream: Any = None) -> Crash:
        self.fired = True
        self.before_crash()
        if stream is not None:
            _hang_up(stream)
        return Crash(f"crashed {what}")

    def _stream(self, call: Literal["build", "push"], start: Callable[[], Iterator[Any]]) -> Iterator[Any]:
        self.calls.append(call)
        point = self._armed(call)
        if point is not None and point.when == "before":
            raise self._crash(f"before docker {call}")
        return self._entries(call, start(), point)

    def _entries(self, call: str, stream: Iterator[Any], point: DockerCrashAt | None) -> Iterator[Any]:
        for entry in stream:
            self.entries[call].append(entry)
            if point is not None and point.when == "entry" and re.search(point.pattern, _text(entry)):
                raise self._crash(f"in docker {call} at {_text(entry)!r}", stream)
            yield entry
        if point is not None and point.when == "end":
            raise self._crash(f"after docker {call} ended")

    def statuses(self, call: str) -> list[str]:
        return [_text(entry) for entry in self.entries[call]]

    def pushed_digest(self) -> str | None:
        digests = [e["aux"]["Digest"] for e in self.entries["push"] if "Digest" in (e.get("aux") or {})]
        return digests[-1] if digests else None


class DockerClient:
    """What ``ImageBuilder`` needs of a ``docker.DockerClient``: ``api`` and ``close``."""

    def __init__(self, inner: Any, api: DockerAPI) -> None:
        self._inner = inner
        self.api = api

    def close(self) -> None:
        self._inner.close()


class DockerTap:
    """The ``docker`` wrapper for ``Rig.pipeline``: every Docker client the pipeline opens goes
    through a :class:`DockerAPI` with the crash ``point``."""

    def __init__(
        self, point: DockerCrashAt | None = None, before_crash: Callable[[], None] = lambda: None
    ) -> None:
        self.point = point
        self.before_crash = before_crash
        self.apis: list[DockerAPI] = []

    def __call__(self, client: Any) -> DockerClient:
        api = DockerAPI(client.api, self.point, self.before_crash)
        self.apis.append(api)
        return DockerClient(client, api)

    @property
    def api(self) -> DockerAPI:
        assert len(self.apis) == 1, f"the pipeline opened {len(self.apis)} Docker clients"
        return self.apis[0]


# -- a registry the daemon cannot race -------------------------------------------------------------


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)  # wakes a thread blocked in recv on it
    sock.close()


class HoldingRelay:
    """A TCP relay to a registry (``host`` stands in for the registry's: the pipeline and the daemon
    both go through it). After ``hold(pattern)``, the next request whose bytes match ``pattern`` waits
    in the relay (``held`` is set) until ``release(forward=...)`` sends it on — ``answered`` is set
    once the registry's answer came back — or drops it (closes its connection unanswered)."""

    def __init__(self, upstream: str) -> None:
        address, _, port = upstream.rpartition(":")
        self._upstream = (address, int(port))
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._pattern: re.Pattern[bytes] | None = None
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        self._stopping = False
        self._held_upstream: socket.socket | None = None
        self._forward: bool | None = None
        self._released = threading.Event()
        self.held = threading.Event()
        self.answered = threading.Event()

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self._listener.getsockname()[1]}"

    def hold(self, pattern: bytes) -> None:
        with self._lock:
            self._pattern = re.compile(pattern)

    def release(self, *, forward: bool) -> None:
        assert self.held.is_set(), "nothing is held"
        self._forward = forward
        self._released.set()

    def _take_hold(self, data: bytes, upstream: socket.socket) -> bool:
        with self._lock:
            if self._pattern is None or not self._pattern.search(data):
                return False
            self._pattern = None
            self._held_upstream = upstream
            return True

    def _spawn(self, target: Callable[..., None], *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True, name="holding-relay")
        self._threads.append(thread)
        thread.start()

    def _track(self, *sockets: socket.socket) -> bool:
        with self._lock:
            if self._stopping:
                return False
            self._sockets.update(sockets)
            return True

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:  # stopped
                return
            try:
                upstream = socket.create_connection(self._upstream, timeout=WAIT)
            except OSError:
                _close(client)
                continue
            upstream.settimeout(None)
            if not self._track(client, upstream):
                _close(client)
                _close(upstream)
                return
            self._spawn(self._requests, client, upstream)
            self._spawn(self._responses, upstream, client)

    def _requests(self, client: socket.socket, upstream: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := client.recv(65536):
                if self._take_hold(data, upstream):
                    self.held.set()
                    if not (self._released.wait(WAIT) and self._forward):
                        break  # dropped: the sender sees its connection closed, unanswered
                upstream.sendall(data)
        _close(upstream)
        _close(client)

    def _responses(self, upstream: socket.socket, client: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := upstream.recv(65536):
                if upstream is self._held_upstream:  # only the held request is in flight here
                    self.answered.set()
                client.sendall(data)
        _close(client)
        _close(upstream)

    def __enter__(self) -> HoldingRelay:
        self._spawn(self._accept)
        return self

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self._stopping = True
            sockets = list(self._sockets)
        self._released.set()
        _close(self._listener)
        for sock in sockets:
            _close(sock)
        for thread in self._threads:
            thread.join(timeout=WAIT)


# -- the tests -------------------------------------------------------------------------------------

IMAGE_MANIFEST_PUT = rb"(?m)^PUT /v2/kyma-project/prod/btp-manager/manifests/"


@attrs.frozen
class DockerPoint:
    """One death of the first run in the daemon's build or push, and the state it leaves:
    ``built`` (the daemon holds an image of this commit under the release's tag; ``None``: not checked,
    the daemon may still be abandoning the build), ``pushed`` (the registry's tag holds it).

    ``manifest``: the relay holds the daemon's manifest upload until the process died, then sends it
    on (``"forward"``: it was on its way, the daemon finishes the push for a client that is gone) or
    drops it (``"drop"``: the daemon gives up before the registry has the manifest). The daemon does
    not cancel a request in flight when its client dies, and whether it notices the death before it
    sends the manifest is a race: the relay makes each outcome deterministic."""

    name: str
    crash: DockerCrashAt
    built: bool | None
    pushed: bool
    manifest: Literal["forward", "drop"] | None = None


LAYER_PUSHED = DockerCrashAt("push", "entry", r"^Pushed$")
POINTS = [
    DockerPoint("build-after-first-step", DockerCrashAt("build", "entry", r"^Step 2/"), None, False),
    DockerPoint("build-stream-ended-not-returned", DockerCrashAt("build", "end"), True, False),
    DockerPoint("built-before-push", DockerCrashAt("push", "before"), True, False),
    DockerPoint("push-layer-pushed-manifest-never-arrives", LAYER_PUSHED, True, False, manifest="drop"),
    DockerPoint("push-layer-pushed-manifest-in-flight", LAYER_PUSHED, True, True, manifest="forward"),
    DockerPoint("push-manifest-pushed-digest-not-recorded", DockerCrashAt("push", "end"), True, True),
]


@pytest.fixture
def relayed(tmp_path: Path, docker_daemon: Any) -> Iterator[tuple[Rig, HoldingRelay]]:
    """A rig whose registry is reached through a :class:`HoldingRelay`; removes the image it built."""
    with (
        GitHubSimulator(owner="kyma-project", repo="btp-manager") as sim,
        LocalRegistry() as registry,
        HoldingRelay(registry.host) as relay,
    ):
        module_dir = prepare_example_module(EXAMPLE, tmp_path / "module")
        # the relay stands in for the registry: a rig only needs its host
        rig = Rig(sim, relay, module_dir, tmp_path / "work", docker_daemon)  # type: ignore[arg-type]
        try:
            yield rig, relay
        finally:
            client = docker_daemon.client()
            with contextlib.suppress(Exception):
                client.api.remove_image(f"{relay.host}/kyma-project/prod/btp-manager:{VERSION}", force=True)
            client.close()


def local_revision(rig: Rig, image: Reference) -> str | None:
    """The revision label of the daemon's image tagged ``image``, ``None`` without one."""
    client = rig.daemon.client()
    try:
        labels = client.api.inspect_image(str(image))["Config"]["Labels"] or {}
    except Exception as exc:
        if getattr(exc, "status_code", None) == 404:
            return None
        raise
    finally:
        client.close()
    return str(labels.get(REVISION_LABEL))


def kill_in_docker(rig: Rig, relay: HoldingRelay, point: DockerPoint) -> DockerAPI:
    """The first run, killed at ``point``; returns its Docker API (what it saw of the daemon)."""

    def manifest_on_its_way() -> None:
        if point.manifest:
            assert relay.held.wait(WAIT), "the daemon never sent the image manifest"

    if point.manifest:
        relay.hold(IMAGE_MANIFEST_PUT)
    tap = DockerTap(point.crash, manifest_on_its_way)
    with rig.pipeline(docker=tap) as first, pytest.raises(Crash):
        first.run()
    assert tap.api.fired
    assert tap.api.pushed_digest() is None or point.crash.when == "end"
    if point.manifest:
        relay.release(forward=point.manifest == "forward")
        assert relay.answered.wait(WAIT) if point.manifest == "forward" else not relay.answered.is_set()
    return tap.api


def image_id(registry: RegistryClient, image: Reference) -> str:
    """The image ID (config digest) of the image the registry's tag holds."""
    found = registry.get_manifest_raw(image)
    assert found is not None, f"{image} is not in the registry"
    return str(json.loads(found[0])["config"]["digest"])


def built_id(api: DockerAPI) -> str | None:
    ids = [e["aux"]["ID"] for e in api.entries["build"] if "ID" in (e.get("aux") or {})]
    return ids[-1] if ids else None


def finish_after_kill(rig: Rig, relay: HoldingRelay, point: DockerPoint, workdir: Path, moved: bool) -> None:
    commit = rig.sim.head_sha
    module_digest = reference_module_digest(rig, commit)
    image = Reference.parse(f"{relay.host}/kyma-project/prod/btp-manager:{VERSION}")

    killed = kill_in_docker(rig, relay, point)
    if point.crash.when == "entry":  # it died on that entry: the stream went no further
        assert re.search(point.crash.pattern, killed.statuses(point.crash.call)[-1])
    with RegistryClient(relay.host) as registry:
        in_registry = registry.head_manifest(image)
        assert (in_registry is not None) == point.pushed
        if in_registry is not None:  # the image the killed run built, whether or not it saw the digest
            assert image_id(registry, image) == built_id(killed)
    if point.built is not None:
        assert (local_revision(rig, image) == commit) == point.built
    if point.crash == DockerCrashAt("push", "end"):
        assert in_registry is not None
        assert in_registry.digest == killed.pushed_digest()
    if moved:
        assert rig.sim.add_commit("merged while the release was interrupted") != commit

    tap = DockerTap()
    results, provenance, runner = resume(rig, workdir, docker=tap)
    assert_released_exactly_once(rig, provenance, module_digest, commit)
    assert provenance is not None
    with RegistryClient(relay.host) as registry:
        tagged = registry.head_manifest(image)
        assert tagged is not None
        pushed_id = image_id(registry, image)
    assert provenance.image.reference == str(image)
    assert provenance.image.digest == tagged.digest  # what the registry's tag really holds
    (build,) = (r for r in results if r.stage == "build")
    if in_registry is not None:  # kept, not rebuilt: images are not reproducible
        assert [call for api in tap.apis for call in api.calls] == []
        assert tagged.digest == in_registry.digest
        assert any(action.endswith("; kept") for action in build.actions), build.actions
    else:
        assert tap.api.calls == ["build", "push"]
        assert tagged.digest == tap.api.pushed_digest()
        assert pushed_id == built_id(tap.api)
        assert local_revision(rig, image) == commit
    if point.manifest == "drop":  # the layer the killed run pushed is reused, the manifest is new
        (layer,) = {e["id"] for e in killed.entries["push"] if e.get("status") == "Pushed"}
        reused = {"id": layer, "status": "Layer already exists", "progressDetail": {}}
        assert reused in tap.api.entries["push"]
    assert runner.installed == [module_digest]
    assert runner.requests[0].image_reference == str(image.with_digest(tagged.digest))


@pytest.mark.parametrize("point", POINTS, ids=lambda p: p.name)
def test_a_release_killed_in_the_image_build_or_push_is_finished_exactly_once(
    relayed: tuple[Rig, HoldingRelay], point: DockerPoint, tmp_path: Path
) -> None:
    finish_after_kill(*relayed, point, tmp_path / "resumed", moved=False)


@pytest.mark.parametrize(
    "point",
    [p for p in POINTS if p.name in ("built-before-push", "push-layer-pushed-manifest-in-flight")],
    ids=lambda p: p.name,
)
def test_a_release_killed_in_the_image_push_finishes_its_commit_after_main_moved(
    relayed: tuple[Rig, HoldingRelay], point: DockerPoint, tmp_path: Path
) -> None:
    finish_after_kill(*relayed, point, tmp_path / "resumed", moved=True)
