"""Build and push the manager image through a Docker daemon (docker SDK, low-level API).

Why the low-level API: the daemon's build and push endpoints answer ``200`` and report failures
*inside* their JSON stream. The SDK's push helper returns normally on ``unauthorized`` or
``connection refused``, so this module reads both streams entry by entry: build log lines go to
the debug log, an ``error`` entry becomes a typed error carrying the last log lines, and the pushed
digest comes from the final ``aux: {Tag, Digest, Size}`` entry.

:meth:`ImageBuilder.save_to_layout` exports a local image into an OCI layout instead (``--snapshot``
runs with a daemon but no registry); the archive conversion lives in :mod:`btp_release.image_export`.

``docker`` is imported lazily (only :meth:`ImageBuilder.from_environ` needs it at all) so that
``import btp_release`` stays fast. Verified against dockerd 20.10 in ``tests/test_images.py``; see
``docs/images.md``.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

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
from btp_release.image_export import convert_docker_archive
from btp_release.oci.model import Descriptor, Reference, check_digest
from btp_release.redaction import get_logger
from btp_release.retry import RetryPolicy
from btp_release.secret import Secret
from btp_release.wait import Sleeper

if TYPE_CHECKING:
    from btp_release.oci.layout import OciLayout

__all__ = [
    "BuiltImage",
    "ImageBuild",
    "ImageBuilder",
    "build_error",
    "push_error",
]

log = get_logger(__name__)

LOG_TAIL = 20
"""How many of the last build/push log lines an error message carries."""

DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock"

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_STATUS_DIGEST = re.compile(r"digest: (sha256:[a-f0-9]{64})")


def _str_dict(value: Mapping[str, str] | None) -> dict[str, str]:
    return {str(k): str(v) for k, v in sorted((value or {}).items())}


def _pushable(_instance: object, _attribute: object, reference: Reference) -> None:
    if not reference.tag or reference.digest:
        raise InvalidInput(
            f"image reference {reference} cannot be a build target",
            hint="give a tag and no digest, e.g. europe-docker.pkg.dev/project/repo/btp-manager:1.2.0",
        )


def _utcnow() -> datetime:
    return datetime.now(UTC)


def rfc3339(moment: datetime) -> str:
    """``2024-05-01T12:00:00Z``: the format of ``org.opencontainers.image.created``."""
    if moment.tzinfo is None:
        raise ValueError("the clock must return timezone-aware datetimes")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@attrs.frozen(kw_only=True)
class ImageBuild:
    """What to build: a context directory, its Dockerfile, build args and the target reference.

    ``dockerfile`` is relative to ``context`` unless absolute (it may live outside the context).
    ``version`` defaults to the reference's tag; ``revision`` (the git commit) and ``source`` (the
    repository URL) are recorded as OCI labels when given. User ``labels`` win over the computed
    OCI ones. ``network_mode="none"``: build steps get no network (``COPY``-only builds need none);
    ``pull=False``: base images are not refreshed from their registry.
    """

    context: Path = attrs.field(converter=Path)
    reference: Reference = attrs.field(validator=_pushable)
    dockerfile: Path = attrs.field(default=Path("Dockerfile"), converter=Path)
    build_args: Mapping[str, str] = attrs.field(factory=dict, converter=_str_dict)
    labels: Mapping[str, str] = attrs.field(factory=dict, converter=_str_dict)
    version: str | None = None
    revision: str | None = None
    source: str | None = None
    network_mode: str = "none"
    pull: bool = False

    @property
    def dockerfile_path(self) -> Path:
        return self.dockerfile if self.dockerfile.is_absolute() else self.context / self.dockerfile

    def all_labels(self, created: datetime) -> dict[str, str]:
        """The OCI annotation labels (version, revision, source, created) plus the user's labels."""
        labels = {
            "org.opencontainers.image.created": rfc3339(created),
            "org.opencontainers.image.version": self.version or str(self.reference.tag),
        }
        if self.revision:
            labels["org.opencontainers.image.revision"] = self.revision
        if self.source:
            labels["org.opencontainers.image.source"] = self.source
        labels.update(self.labels)
        return labels


@attrs.frozen
class BuiltImage:
    """A local image: its ID (``sha256:…`` of the config) and the tag it was built as."""

    id: str
    reference: Reference


def _has(text: str, *needles: str) -> bool:
    return any(needle in text for needle in needles)


_NETWORK = (
    "connection refused",
    "no such host",
    "i/o timeout",
    "tls handshake timeout",
    "connection reset",
    "broken pipe",
    "unexpected eof",
    ": eof",
    "network is unreachable",
    "no route to host",
    "context deadline exceeded",
    "service unavailable",
    "bad gateway",
    "gateway timeout",
    "internal server error",
    "unexpected http status: 5",
)
_RATE_LIMIT = ("toomanyrequests", "too many requests", "rate limit")


def push_error(message: str, reference: Reference, log_tail: Iterable[str] = ()) -> BtpReleaseError:
    """Map an ``error`` entry of the daemon's push stream to a typed error.

    The daemon passes on the registry's words (``unauthorized: authentication required``,
    ``denied: …``) or its own (``no basic auth credentials``, ``dial tcp …: connection refused``).
    """
    text = message.lower()
    what = f"docker push of {reference} failed: {message}"
    tail = _format_tail(log_tail)
    if _has(
        text, "no basic auth credentials", "unauthorized", "authentication required", "incorrect username"
    ):
        return AuthenticationFailed(
            what,
            hint=f"pass auth=(user, Secret(password)) valid for {reference.registry}, "
            "or log the daemon's client in (docker login)",
        )
    if _has(text, "denied", "forbidden", "insufficient_scope"):
        return PermissionDenied(
            what,
            hint=f"the credentials are valid but may not push to {reference.registry}/{reference.repository}",
        )
    if _has(text, *_RATE_LIMIT):
        return RateLimited(what, hint="the registry rate-limits pushes; retry later")
    if _has(text, "does not exist locally", "no such image"):
        return NotFound(what, hint=f"build the image first, or tag a local image as {reference}")
    if _has(text, "server gave http response to https client", "x509", "certificate"):
        return InvalidInput(
            what,
            hint="the daemon and the registry disagree on TLS: trust the registry's CA or add it to the "
            "daemon's insecure-registries (loopback registries are insecure-allowed by default)",
        )
    if _has(text, *_NETWORK):
        return Transient(what + tail, hint=f"check that {reference.registry} is reachable from the daemon")
    return BtpReleaseError(what + tail)


_DOCKERFILE_MISTAKES = (
    "copy failed",
    "add failed",
    "dockerfile parse error",
    "unknown instruction",
    "unknown flag",
    "failed to process",
    "no source files were specified",
    "file not found in build context",
    "forbidden path outside the build context",
    "cannot locate specified dockerfile",
    "the dockerfile (",
)


def build_error(message: str, reference: Reference, log_tail: Iterable[str] = ()) -> BtpReleaseError:
    """Map an ``error`` entry (or rejection) of a build to a typed error with the last log lines."""
    text = message.lower()
    what = f"docker build of {reference} failed: {message}" + _format_tail(log_tail)
    if _has(text, *_DOCKERFILE_MISTAKES):
        return InvalidInput(what, hint="fix the Dockerfile or the build context it refers to")
    if _has(text, *_RATE_LIMIT):
        return RateLimited(what, hint="a registry rate-limited pulling a base image; retry later")
    if _has(text, *_NETWORK):
        return Transient(what, hint="a base image registry was unreachable; retry, or build with pull=False")
    return BuildFailed(what, hint="see the build log lines above; run the failing step locally to debug it")


def _format_tail(lines: Iterable[str]) -> str:
    kept = [line for line in lines if line.strip()]
    if not kept:
        return ""
    return "\n--- last log lines ---\n" + "\n".join(kept)


def _is_connection_error(exc: BaseException) -> bool:
    # requests' exceptions subclass OSError; naming them by module avoids importing requests (no stubs).
    return type(exc).__module__.split(".")[0] in {"requests", "urllib3"} or isinstance(
        exc, ConnectionError | TimeoutError
    )


class ImageBuilder:
    """Builds, tags and pushes images through one Docker daemon.

    ``client`` is a ``docker.DockerClient`` (or anything with its ``.api``); ``docker_host`` only
    names the daemon in error messages. ``now`` gives the ``created`` label (timezone-aware);
    ``retry`` and ``sleeper`` govern retries of pushes (builds are not retried: a failed build
    step fails the same way again). Both calls block until the daemon finishes; the client's
    timeout bounds each read from the daemon, not the whole build.
    """

    def __init__(
        self,
        client: Any,
        *,
        docker_host: str | None = None,
        now: Callable[[], datetime] = _utcnow,
        retry: RetryPolicy | None = None,
        sleeper: Sleeper = time.sleep,
    ) -> None:
        self._client = client
        self._api = client.api
        self.docker_host = docker_host or str(getattr(self._api, "base_url", "the Docker daemon"))
        self._now = now
        self._retry = retry or RetryPolicy()
        self._sleeper = sleeper

    @classmethod
    def from_environ(
        cls,
        environ: Mapping[str, str],
        *,
        timeout: float = 600.0,
        now: Callable[[], datetime] = _utcnow,
        retry: RetryPolicy | None = None,
        sleeper: Sleeper = time.sleep,
    ) -> ImageBuilder:
        """Connect to the daemon named by ``DOCKER_HOST`` (and ``DOCKER_TLS_VERIFY``/``DOCKER_CERT_PATH``).

        Negotiates the API version with the daemon, so an unreachable daemon fails here with
        :class:`Transient` naming the socket tried. ``timeout`` (seconds) bounds each read; keep it
        above the longest silent build step.
        """
        import docker  # lazily: importing the SDK costs more than the rest of btp_release

        host = environ.get("DOCKER_HOST")
        described = f"DOCKER_HOST={host}" if host else f"{DEFAULT_DOCKER_HOST} (DOCKER_HOST is not set)"
        try:
            client = docker.DockerClient.from_env(environment=dict(environ), timeout=timeout)
        except docker.errors.DockerException as exc:
            if "fetching server api version" in str(exc).lower():
                raise _unreachable(described, exc) from exc
            raise InvalidInput(
                f"cannot use {described}: {exc}",
                hint="DOCKER_HOST looks like unix:///path or tcp://host:port",
            ) from exc
        return cls(client, docker_host=described, now=now, retry=retry, sleeper=sleeper)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> ImageBuilder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def ping(self) -> None:
        """Raise :class:`Transient` unless the daemon answers."""
        try:
            self._api.ping()
        except Exception as exc:
            if _is_connection_error(exc) or _is_api_error(exc):
                raise _unreachable(self.docker_host, exc) from exc
            raise

    def build(self, spec: ImageBuild) -> BuiltImage:
        """Build ``spec`` and tag it as ``spec.reference``; returns the image ID.

        Raises :class:`InvalidInput` for a missing context/Dockerfile or a Dockerfile mistake
        (unknown instruction, ``COPY`` of a missing file), :class:`BuildFailed` when a step fails,
        :class:`Transient` when the daemon is unreachable. Messages end with the last log lines.
        """
        if not spec.context.is_dir():
            raise InvalidInput(f"build context {spec.context} is not a directory")
        dockerfile = spec.dockerfile_path.absolute()
        if not dockerfile.is_file():
            raise InvalidInput(f"Dockerfile {dockerfile} does not exist", hint="pass dockerfile= explicitly")
        labels = spec.all_labels(self._now())
        tail: deque[str] = deque(maxlen=LOG_TAIL)
        image_id: str | None = None
        log.info("building %s from %s (build args: %s)", spec.reference, dockerfile, sorted(spec.build_args))
        try:
            stream = self._api.build(
                path=str(spec.context.absolute()),
                dockerfile=str(dockerfile),
                tag=str(spec.reference),
                buildargs=dict(spec.build_args),
                labels=labels,
                network_mode=spec.network_mode,
                pull=spec.pull,
                rm=True,
                forcerm=True,
                decode=True,
            )
            # Closed however the loop ends: a stream left open would let the daemon go on building
            # for a caller that has given up (an error, an interrupt) until garbage collection.
            with _closed(stream):
                for entry in stream:
                    if not isinstance(entry, dict):
                        continue
                    if "error" in entry or "errorDetail" in entry:
                        raise build_error(_error_text(entry), spec.reference, tail)
                    for line in _ANSI.sub(
                        "", str(entry.get("stream") or entry.get("status") or "")
                    ).splitlines():
                        if line.strip():
                            tail.append(line)
                            log.debug("build %s: %s", spec.reference, line)
                    aux = entry.get("aux")
                    if isinstance(aux, dict) and isinstance(aux.get("ID"), str):
                        image_id = aux["ID"]
        except BtpReleaseError:
            raise
        except Exception as exc:
            if _is_api_error(exc):
                status = int(getattr(exc, "status_code", 0) or 0)
                text = _api_error_text(exc)
                if 400 <= status < 500:
                    raise InvalidInput(
                        f"docker build of {spec.reference} rejected: {text}" + _format_tail(tail),
                        hint=f"fix the Dockerfile {dockerfile}",
                    ) from exc
                raise build_error(text, spec.reference, tail) from exc
            if _is_connection_error(exc):
                raise _unreachable(self.docker_host, exc) from exc
            raise
        if image_id is None:  # daemons before API 1.30 only print "Successfully built <short id>"
            image_id = str(self._inspect(spec.reference)["Id"])
        log.info("built %s as %s", spec.reference, image_id)
        return BuiltImage(image_id, spec.reference)

    def _inspect(self, reference: Reference) -> dict[str, Any]:
        try:
            result: dict[str, Any] = self._api.inspect_image(str(reference))
        except Exception as exc:
            if _is_connection_error(exc):
                raise _unreachable(self.docker_host, exc) from exc
            if _is_api_error(exc) and getattr(exc, "status_code", 0) == 404:
                raise NotFound(f"no local image {reference} on {self.docker_host}") from exc
            raise
        return result

    def inspect_labels(self, reference: Reference) -> dict[str, str]:
        """The labels of a local image (its config's ``Labels``)."""
        config = self._inspect(reference).get("Config") or {}
        return dict(config.get("Labels") or {})

    def save_to_layout(
        self, reference: Reference, layout: OciLayout, *, tag: str | None = None
    ) -> Descriptor:
        """Export the local image ``reference`` into ``layout`` as an OCI image tagged ``tag``.

        For ``--snapshot`` runs with a daemon but no registry. ``tag`` defaults to the reference's
        tag. ``docker save`` is streamed, spooled inside the layout's directory and converted by
        :func:`~btp_release.image_export.convert_docker_archive` (layers uncompressed, config digest =
        image ID); returns the manifest's descriptor. Idempotent: saving the same image again gives
        the same digest and one tag entry. Blocks until the whole image is written.

        Raises :class:`NotFound` when the daemon has no such image, :class:`Transient` when it is
        unreachable, :class:`InvalidInput` for a malformed archive and :class:`DigestMismatch` when
        its content does not match the image's digests.
        """
        tag = tag or reference.tag
        if tag is None:
            raise InvalidInput(f"no tag to save {reference} as", hint="give tag= or a reference with a tag")
        try:
            image_id = str(self._inspect(reference)["Id"])
        except NotFound as exc:
            raise NotFound(
                f"no local image {reference} on {self.docker_host} to save into {layout.root}",
                hint=f"build it first (ImageBuilder.build), or tag a local image as {reference}",
            ) from exc
        log.info("saving %s (%s) into %s as %s", reference, image_id, layout.root, tag)
        try:
            chunks = self._api.get_image(str(reference))
            try:
                return convert_docker_archive(
                    chunks,
                    layout,
                    image=str(reference),
                    repository=reference.repository,
                    tag=tag,
                    expected_id=image_id,
                )
            finally:
                getattr(chunks, "close", lambda: None)()  # the SDK's generator, left early on an error
        except BtpReleaseError:
            raise
        except Exception as exc:
            if _is_connection_error(exc):
                raise _unreachable(self.docker_host, exc) from exc
            if _is_api_error(exc):
                text = _api_error_text(exc)
                if getattr(exc, "status_code", 0) == 404:  # removed between inspect and save
                    raise NotFound(
                        f"docker save of {reference} failed: {text}", hint="build the image first"
                    ) from exc
                raise BtpReleaseError(f"docker save of {reference} failed: {text}") from exc
            raise

    def push(self, reference: Reference, auth: tuple[str, Secret] | None = None) -> str:
        """Push the local image tagged ``reference``; returns the manifest digest the registry stored.

        ``auth=(user, Secret(password))`` is sent to the daemon for this push only; without it the
        daemon client's own configuration (``~/.docker/config.json``) applies. Transient failures
        (network, 5xx, rate limits) are retried under the retry policy; pushing is idempotent.
        Raises :class:`AuthenticationFailed`, :class:`PermissionDenied`, :class:`NotFound` (no such
        local image), :class:`Transient`, or a plain :class:`BtpReleaseError` with the daemon's words.
        """
        _pushable(None, None, reference)
        return self._retry.call(
            lambda: self._push_once(reference, auth), what=f"docker push {reference}", sleeper=self._sleeper
        )

    def _push_once(self, reference: Reference, auth: tuple[str, Secret] | None) -> str:
        auth_config = None
        if auth is not None:
            user, password = auth
            auth_config = {
                "username": user,
                "password": password.reveal(),
                "serveraddress": reference.registry,
            }
        tail: deque[str] = deque(maxlen=LOG_TAIL)
        digest: str | None = None
        log.info("pushing %s%s", reference, f" as {auth[0]}" if auth else "")
        try:
            stream = self._api.push(
                f"{reference.registry}/{reference.repository}",
                tag=reference.tag,
                stream=True,
                decode=True,
                auth_config=auth_config,
            )
            with _closed(stream):
                for entry in stream:
                    if not isinstance(entry, dict):
                        continue
                    if "error" in entry or "errorDetail" in entry:
                        raise push_error(_redact(_error_text(entry), auth), reference, tail)
                    status = str(entry.get("status") or "")
                    if status and "progress" not in entry:
                        line = f"{entry['id']}: {status}" if entry.get("id") else status
                        tail.append(line)
                        log.debug("push %s: %s", reference, line)
                        if digest is None and (found := _STATUS_DIGEST.search(status)):
                            digest = found.group(1)
                    aux = entry.get("aux")
                    if isinstance(aux, dict) and isinstance(aux.get("Digest"), str):
                        if aux.get("Tag") not in (None, reference.tag):
                            continue
                        digest = aux["Digest"]
        except BtpReleaseError:
            raise
        except Exception as exc:
            if _is_api_error(exc):
                raise _push_api_error(exc, reference, auth) from exc
            if _is_connection_error(exc):
                raise _unreachable(self.docker_host, exc) from exc
            raise
        if digest is None:
            raise Transient(
                f"docker push of {reference} ended without reporting a digest" + _format_tail(tail),
                hint="the daemon's stream was cut short; re-run the push (it is idempotent)",
            )
        check_digest(digest)
        log.info("pushed %s: %s", reference, digest)
        return digest


@contextlib.contextmanager
def _closed(stream: object) -> Iterator[None]:
    """Close the SDK's stream (a generator over the HTTP response) however the block ends."""
    try:
        yield
    finally:
        getattr(stream, "close", lambda: None)()


def _push_api_error(exc: Exception, reference: Reference, auth: tuple[str, Secret] | None) -> BtpReleaseError:
    status = int(getattr(exc, "status_code", 0) or 0)
    text = _redact(_api_error_text(exc), auth)
    if status == 404:
        return NotFound(
            f"docker push of {reference} failed: {text}", hint=f"build the image or tag it as {reference}"
        )
    if status == 401:
        return AuthenticationFailed(f"docker push of {reference} failed: {text}")
    if status == 403:
        return PermissionDenied(f"docker push of {reference} failed: {text}")
    if 400 <= status < 500:
        return InvalidInput(f"docker push of {reference} rejected: {text}")
    return push_error(text, reference)


def _is_api_error(exc: BaseException) -> bool:
    from docker.errors import APIError

    return isinstance(exc, APIError)


def _api_error_text(exc: BaseException) -> str:
    explanation = getattr(exc, "explanation", None)
    return str(explanation or exc)


def _error_text(entry: Mapping[str, Any]) -> str:
    detail = entry.get("errorDetail")
    if isinstance(detail, dict) and detail.get("message"):
        return str(detail["message"])
    return str(entry.get("error") or "unknown error")


def _redact(text: str, auth: tuple[str, Secret] | None) -> str:
    """Registries do not echo passwords, but a message is no place to find out they did."""
    if auth is not None and auth[1].reveal():
        return text.replace(auth[1].reveal(), "***")
    return text


def _unreachable(host: str, exc: BaseException) -> Transient:
    return Transient(
        f"cannot reach the Docker daemon at {host}: {exc}",
        hint="start a daemon (e.g. `systemctl start docker`, or `dockerd` as root) or set DOCKER_HOST "
        "to a running daemon's socket, e.g. DOCKER_HOST=unix:///var/run/docker.sock; "
        "`docker version` must answer",
    )
