"""The OCI registry client: manifests, tags, blobs and whole artifacts over the distribution API.

:class:`RegistryClient` talks to one registry host. It is an
:class:`~btp_release.oci.model.ArtifactStore` (like the OCI layout store) and adds what a release
needs: existence checks by one ``HEAD``, bounded waits for a tag, paged tag listing, streamed and
verified blob transfer, concurrent artifact push/pull and copies between repositories and
registries. Why it is built on httpx and not on oras-py: ``docs/oci.md``.

The client checks references and composes whole artifacts here; the manifest and tag requests live
in :mod:`~btp_release.oci.manifests`, the blob requests in :mod:`~btp_release.oci.blobs`.
"""

from __future__ import annotations

import concurrent.futures
import functools
import json
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import attrs
import httpx

from btp_release.errors import InvalidInput, NotFound
from btp_release.oci.blobs import DEFAULT_READ_LIMIT, BlobTransfer
from btp_release.oci.credentials import Credentials, DockerConfig
from btp_release.oci.manifests import Manifests
from btp_release.oci.model import (
    DOCKER_LIST,
    OCI_EMPTY,
    OCI_INDEX,
    TITLE,
    Descriptor,
    Manifest,
    Reference,
)
from btp_release.oci.session import DEFAULT_TIMEOUT, USER_AGENT, RegistrySession
from btp_release.retry import RetryPolicy
from btp_release.wait import Clock, Poll, Sleeper, WaitPolicy, wait_until

if TYPE_CHECKING:
    from btp_release.oci.model import ArtifactStore

__all__ = ["RegistryClient"]

T = TypeVar("T")
R = TypeVar("R")

_INDEX_TYPES = (OCI_INDEX, DOCKER_LIST)
# push_files reads a file up to this size into memory and sends it in one PUT: one request less than a
# streamed PATCH and a commit, which counts for many small layers.
_IN_MEMORY = 4 << 20


class RegistryClient:
    """A client for one registry host (``name[:port]``); thread-safe, use it as a context manager.

    HTTPS by default; plain HTTP only for loopback hosts (``127.0.0.0/8``, ``localhost``,
    ``[::1]``) or with ``insecure=True``. Credentials: ``credentials`` if given, else what
    ``docker_config`` says for the host (resolved on the first challenge), else anonymous.
    ``http`` (an ``httpx.Client``) or ``transport``, ``retry``, ``clock`` and ``sleeper`` are
    injected for tests. ``max_workers`` bounds the blobs in flight in artifact operations.

    Errors: :class:`~btp_release.errors.AuthenticationFailed` (401),
    :class:`~btp_release.errors.PermissionDenied` (403), :class:`~btp_release.errors.NotFound`,
    :class:`~btp_release.errors.InvalidInput` (rejected content), ``RateLimited`` and
    ``Transient`` (retried first), :class:`~btp_release.errors.DigestMismatch` (content that does
    not match its digest).
    """

    def __init__(
        self,
        host: str,
        *,
        credentials: Credentials | None = None,
        docker_config: DockerConfig | None = None,
        insecure: bool = False,
        scheme: str | None = None,
        http: httpx.Client | None = None,
        transport: httpx.BaseTransport | None = None,
        retry: RetryPolicy | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        clock: Clock = time.monotonic,
        sleeper: Sleeper = time.sleep,
        max_workers: int = 4,
        user_agent: str = USER_AGENT,
    ) -> None:
        if max_workers < 1:
            raise InvalidInput(f"max_workers must be at least 1, not {max_workers}")
        self.session = RegistrySession(
            host,
            credentials=credentials,
            docker_config=docker_config,
            insecure=insecure,
            scheme=scheme,
            http=http,
            transport=transport,
            retry=retry,
            timeout=timeout,
            clock=clock,
            sleeper=sleeper,
            user_agent=user_agent,
            max_connections=max(8, 2 * max_workers),
        )
        self.host = host
        self.max_workers = max_workers
        self._blobs = BlobTransfer(self.session)
        self._manifests = Manifests(self.session)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.session.base_url!r}, auth={self.session.auth!r})"

    @property
    def base_url(self) -> str:
        return self.session.base_url

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def reference(self, repository: str, tag: str | None = None, digest: str | None = None) -> Reference:
        """A reference to ``repository`` in this registry."""
        return Reference(self.host, repository, tag, digest)

    def _check(self, ref: Reference) -> Reference:
        if ref.registry != self.host:
            raise InvalidInput(
                f"reference {ref} is not in registry {self.host}",
                hint="use a client for the reference's registry",
            )
        return ref

    def _ref(self, repository: str | Reference, reference: str | None) -> Reference:
        if isinstance(repository, Reference):
            ref = self._check(repository)
            if reference is None:
                return ref
            repository = ref.repository
        if reference is None:
            raise InvalidInput(f"no tag or digest given for {self.host}/{repository}")
        if reference.startswith("sha256:"):
            return Reference(self.host, repository, digest=reference)
        return Reference(self.host, repository, tag=reference)

    # -- manifests ---------------------------------------------------------------------------------

    def head_manifest(self, ref: Reference) -> Descriptor | None:
        """The manifest's descriptor by one ``HEAD`` (with the OCI ``Accept``), or ``None``."""
        return self._manifests.head(self._check(ref))

    def tag_exists(self, ref: Reference) -> bool:
        return self.head_manifest(ref) is not None

    def get_manifest_raw(self, ref: Reference) -> tuple[bytes, Descriptor] | None:
        """The manifest's exact bytes (any media type: image manifest, index) and descriptor, or
        ``None``; the digest is verified against the reference and the registry's header."""
        return self._manifests.get_raw(self._check(ref))

    def get_manifest(
        self, repository: str | Reference, reference: str | None = None
    ) -> tuple[Manifest, Descriptor] | None:
        """The image manifest for ``ref`` (or ``repository`` and a tag or digest), or ``None``.

        The descriptor describes the bytes the registry holds (their digest is the artifact's
        digest), which may differ from our canonical rendering. An index raises ``InvalidInput``.
        """
        ref = self._ref(repository, reference)
        found = self.get_manifest_raw(ref)
        if found is None:
            return None
        raw, descriptor = found
        if descriptor.media_type in _INDEX_TYPES:
            raise InvalidInput(
                f"{ref} is an image index, not an image manifest", hint="pick a platform digest"
            )
        return Manifest.from_bytes(raw), descriptor

    def push_manifest(
        self, repository: str | Reference, manifest: Manifest, tag: str | None = None
    ) -> Descriptor:
        """PUT the manifest (canonical bytes) under ``tag``, or by digest without a tag; the blobs
        must be there. Idempotent and retried; the registry's digest is verified."""
        if isinstance(repository, Reference):
            ref = self._check(repository)
            tag = tag or ref.tag
            repository = ref.repository
        target = self.reference(repository, tag=tag) if tag else self.reference(repository)
        return self.push_manifest_raw(target, manifest.to_bytes(), manifest.media_type)

    def push_manifest_raw(self, ref: Reference, raw: bytes, media_type: str) -> Descriptor:
        """PUT exact manifest bytes (a copy keeps its digest) under the reference's tag or digest."""
        return self._manifests.push_raw(self._check(ref), raw, media_type)

    def delete_manifest(self, ref: Reference) -> bool:
        """Delete the manifest ``ref`` points at; ``False`` if there was none.

        Registries delete by digest, so a tag is resolved first and **every tag** of that manifest
        goes with it. Needs deletes enabled on the registry (else ``Conflict``).
        """
        return self._manifests.delete(self._check(ref))

    # -- tags --------------------------------------------------------------------------------------

    def list_tags(self, repository: str, page_size: int | None = None, *, max_pages: int = 1000) -> list[str]:
        """Every tag of ``repository``, in the registry's order, following ``Link: rel="next"``
        verbatim; ``[]`` for a repository without tags (distribution answers 404 ``NAME_UNKNOWN``).

        ``page_size`` asks for ``n`` tags per page (registries may ignore it; distribution 2.8
        does). More than ``max_pages`` pages is an error, never an endless loop.
        """
        return self._manifests.list_tags(repository, page_size, max_pages)

    def wait_for_tag(
        self,
        ref: Reference,
        policy: WaitPolicy = WaitPolicy(),
        *,
        on_progress: Callable[[Poll[Descriptor | None], float], None] | None = None,
    ) -> Descriptor:
        """Wait until ``ref`` resolves; one ``HEAD`` per poll on a kept-alive connection, no retries
        inside a poll (a transient error counts as "not yet"). Raises ``Timeout`` at the deadline."""
        ref = self._check(ref)

        def probe() -> Poll[Descriptor | None]:
            found = self._manifests.probe(ref)
            return Poll(found is not None, found, f"{ref} present" if found else f"{ref} not found")

        found = wait_until(
            probe,
            what=f"manifest {ref} in the registry",
            policy=policy,
            clock=self.session.clock,
            sleeper=self.session.sleeper,
            on_progress=on_progress,
        )
        assert found is not None
        return found

    # -- blobs -------------------------------------------------------------------------------------

    def blob_exists(self, repository: str, digest: str) -> bool:
        """One ``HEAD`` of the blob (retried)."""
        return self._blobs.exists(repository, digest)

    def push_blob(
        self,
        repository: str,
        source: bytes | Any,
        media_type: str,
        *,
        digest: str | None = None,
        mount_from: str | None = None,
        chunk_size: int | None = None,
    ) -> Descriptor:
        """Store a blob from bytes or a ``pathlib.Path``; returns its descriptor.

        When the digest is known (always for bytes; ``digest=`` for a file) a ``HEAD`` skips a
        blob the repository has, and ``mount_from`` (a repository of this registry) mounts it
        instead of uploading; a refused mount falls back to the upload. A file is read once:
        hashed while it streams in one ``PATCH`` (or one per ``chunk_size`` bytes), so a file
        without ``digest=`` is always uploaded (see docs/oci.md). Bytes go in one ``PUT``.
        ``DigestMismatch`` if the content does not match ``digest`` or what the registry stored.
        """
        return self._blobs.push(
            repository, source, media_type, digest=digest, mount_from=mount_from, chunk_size=chunk_size
        )

    def check_push_access(self, repository: str) -> None:
        """Raise unless the credentials may push to ``repository``: starts an upload session and
        cancels it at once, so nothing is stored. ``AuthenticationFailed``/``PermissionDenied``
        for missing rights, ``Transient`` when the registry is unreachable."""
        self._blobs.probe_push(repository)

    def image_labels(self, ref: Reference) -> dict[str, str] | None:
        """The labels in the config of the image ``ref`` names, or ``None`` when there is no such tag
        (an image index or a config without labels gives ``{}``)."""
        found = self.get_manifest_raw(self._check(ref))
        if found is None:
            return None
        raw, descriptor = found
        if descriptor.media_type in _INDEX_TYPES:
            return {}
        manifest = Manifest.from_bytes(raw)
        config = json.loads(self.read_blob(ref.repository, manifest.config))
        labels = (config.get("config") or {}).get("Labels") or {} if isinstance(config, dict) else {}
        return {str(k): str(v) for k, v in labels.items()}

    def read_blob(
        self, repository: str, descriptor: Descriptor, *, max_size: int = DEFAULT_READ_LIMIT
    ) -> bytes:
        """A small blob's content (at most ``max_size`` bytes), verified against the descriptor."""
        return self._blobs.read(repository, descriptor, max_size=max_size)

    def pull_blob(self, repository: str, descriptor: Descriptor, dest: Path) -> Path:
        """Stream a blob to ``dest`` through a temporary file in the same directory, verifying size
        and digest, then rename it into place; on ``DigestMismatch`` nothing is left behind."""
        return self._blobs.pull(repository, descriptor, dest)

    # -- artifacts ---------------------------------------------------------------------------------

    def _parallel(self, fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
        """``fn`` over ``items`` with up to ``max_workers`` in flight; the first error cancels the rest."""
        if len(items) <= 1 or self.max_workers == 1:
            return [fn(item) for item in items]
        pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=min(self.max_workers, len(items)), thread_name_prefix="btp-release-oci"
        )
        try:
            futures = [pool.submit(fn, item) for item in items]
            concurrent.futures.wait(futures, return_when=concurrent.futures.FIRST_EXCEPTION)
            for future in futures:
                error = future.exception() if future.done() else None
                if error is not None:
                    raise error
            return [future.result() for future in futures]
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def push_artifact(
        self,
        ref: Reference,
        manifest: Manifest,
        blobs: Mapping[str, bytes | Path],
        *,
        mount_from: str | None = None,
        chunk_size: int | None = None,
    ) -> Descriptor:
        """Push the blobs (``digest → bytes | Path``; up to ``max_workers`` at once, each skipped if
        present), then the manifest under ``ref``'s tag. A blob the manifest names but ``blobs``
        lacks must already be in the repository. Safe to re-run: nothing is uploaded twice."""
        ref = self._check(ref)
        wanted = _unique([manifest.config, *manifest.layers])
        extra = set(blobs) - {d.digest for d in wanted}
        if extra:
            raise InvalidInput(f"blobs given for {ref} that its manifest does not reference: {sorted(extra)}")

        def push(descriptor: Descriptor) -> None:
            source = blobs.get(descriptor.digest)
            if source is None:
                if not self.blob_exists(ref.repository, descriptor.digest):
                    raise InvalidInput(
                        f"manifest of {ref} references {descriptor.digest}, which is neither given nor in "
                        f"{self.host}/{ref.repository}",
                        hint="pass the blob's content in blobs",
                    )
                return
            pushed = self.push_blob(
                ref.repository,
                source,
                descriptor.media_type,
                digest=descriptor.digest,
                mount_from=mount_from,
                chunk_size=chunk_size,
            )
            if pushed.size != descriptor.size:
                raise InvalidInput(
                    f"manifest of {ref} gives {descriptor.digest} size {descriptor.size}, the content has "
                    f"{pushed.size} bytes",
                    hint="rebuild the manifest from the content",
                )

        self._parallel(push, wanted)
        return self.push_manifest(ref, manifest, ref.tag)

    def push_files(
        self,
        ref: Reference,
        files: Sequence[Path],
        media_type: str,
        *,
        config: bytes = b"{}",
        config_media_type: str = OCI_EMPTY,
        chunk_size: int | None = None,
    ) -> tuple[Manifest, Descriptor]:
        """Push files as the layers of a new artifact (in order, each titled with its file name), then
        the config and the manifest built from what was sent; returns both.

        Made for a fresh push (a release): every file is read once, up to ``max_workers`` at once,
        and nothing is asked before it is sent. A file of at most 4 MiB is read into memory, hashed
        and sent in one ``PUT``; a larger one is hashed while it streams (:meth:`push_blob` without
        ``digest=``). A blob the repository already has is sent again (the registry keeps one copy);
        to skip those, build the manifest and use :meth:`push_artifact`.
        """
        ref = self._check(ref)

        def layer(path: Path) -> Descriptor:
            if path.is_file() and path.stat().st_size <= _IN_MEMORY:
                pushed = self._blobs.upload_bytes(ref.repository, path.read_bytes(), media_type)
            else:
                pushed = self.push_blob(ref.repository, path, media_type, chunk_size=chunk_size)
            return attrs.evolve(pushed, annotations={TITLE: path.name})

        tasks: list[Callable[[], Descriptor]] = [functools.partial(layer, path) for path in files]
        tasks.append(functools.partial(self._blobs.upload_bytes, ref.repository, config, config_media_type))
        *layers, config_descriptor = self._parallel(lambda task: task(), tasks)
        manifest = Manifest(config_descriptor, tuple(layers))
        return manifest, self.push_manifest(ref, manifest, ref.tag)

    def pull_artifact(self, ref: Reference, dest_dir: Path) -> Manifest:
        """Pull the manifest and every blob (config and layers) into ``dest_dir``, one file per
        blob named by its digest's hex, each verified; up to ``max_workers`` at once."""
        ref = self._check(ref)
        found = self.get_manifest(ref)
        if found is None:
            raise NotFound(f"artifact {ref} not found", hint="check the repository and tag; push it first")
        manifest, _ = found
        dest_dir.mkdir(parents=True, exist_ok=True)
        self._parallel(
            lambda d: self.pull_blob(ref.repository, d, dest_dir / d.digest.removeprefix("sha256:")),
            _unique([manifest.config, *manifest.layers]),
        )
        return manifest

    def copy_artifact(
        self, src_ref: Reference, dst_ref: Reference, dst_client: RegistryClient | None = None
    ) -> Descriptor:
        """Copy a manifest (or an index and its manifests) with its blobs, by digest: the copy has
        the source's digest. Within one registry blobs are mounted; between registries they stream
        through this process (never to disk), verified on the way. Blobs the destination has are
        skipped. ``dst_client`` is the destination registry's client (default: this one)."""
        src_ref = self._check(src_ref)
        dst = dst_client or self
        dst_ref = dst._check(dst_ref)
        found = self.get_manifest_raw(src_ref)
        if found is None:
            raise NotFound(f"artifact {src_ref} not found", hint="check the source reference")
        raw, descriptor = found
        try:
            data = json.loads(raw)
        except ValueError:
            raise InvalidInput(f"manifest {src_ref} is not JSON") from None
        if descriptor.media_type in _INDEX_TYPES or "manifests" in data:
            for child in data.get("manifests") or []:
                digest = Descriptor.from_json(child).digest
                self.copy_artifact(
                    attrs.evolve(src_ref, tag=None, digest=digest),
                    attrs.evolve(dst_ref, tag=None, digest=digest),
                    dst,
                )
        else:
            manifest = Manifest.from_bytes(raw)
            same_registry = dst.base_url == self.base_url
            self._parallel(
                lambda d: self._copy_blob(src_ref.repository, dst, dst_ref.repository, d, same_registry),
                _unique([manifest.config, *manifest.layers]),
            )
        target = dst_ref if dst_ref.tag else dst_ref.with_digest(descriptor.digest)
        return dst.push_manifest_raw(target, raw, descriptor.media_type)

    def _copy_blob(
        self, src_repo: str, dst: RegistryClient, dst_repo: str, descriptor: Descriptor, same: bool
    ) -> None:
        location = None
        if same and src_repo != dst_repo:
            done, location = dst._blobs._existing_or_mounted(dst_repo, descriptor.digest, src_repo)
        else:
            done = dst.blob_exists(dst_repo, descriptor.digest)
        if done:
            return
        dst._blobs.upload_stream(
            dst_repo,
            lambda: self._blobs.open(src_repo, descriptor),
            size=lambda: descriptor.size,
            expected=descriptor.digest,
            location=location,
            source=f"{self.host}/{src_repo}@{descriptor.digest}",
        )


def _unique(descriptors: Iterable[Descriptor]) -> list[Descriptor]:
    seen: dict[str, Descriptor] = {}
    for descriptor in descriptors:
        seen.setdefault(descriptor.digest, descriptor)
    return list(seen.values())


if TYPE_CHECKING:

    def _conforms(client: RegistryClient) -> ArtifactStore:
        return client
