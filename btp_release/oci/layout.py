"""An OCI image layout directory as an artifact store: the embedded store for ``--snapshot`` runs.

The layout follows the OCI image-spec "Image Layout": an ``oci-layout`` marker file, an ``index.json``
whose entries carry the tag in the ``org.opencontainers.image.ref.name`` annotation, and content in
``blobs/sha256/<hex>``. skopeo (``oci:DIR:TAG``) reads what we write and we read what it writes.

One layout holds one repository: the ``repository`` argument of the :class:`ArtifactStore` methods is
only recorded (:attr:`OciLayout.repositories_seen`), never part of a path.

Writes are crash-safe: a blob goes to a temporary file in its final directory while it is hashed,
is checked, flushed to disk and then renamed to its digest; ``index.json`` is rewritten through a
temporary file and ``os.replace``. A crash leaves at most a stray ``.tmp-*`` file behind, never a
blob whose name lies about its content nor a half-written index. Index updates hold an exclusive
``flock`` on the layout directory, so several processes may push into one layout.

Reads verify: every blob read through :meth:`OciLayout.read_blob` or :meth:`OciLayout.open_blob`
is checked against its digest and size. Errors name the file: a content mismatch raises
:class:`~btp_release.errors.DigestMismatch`, a missing blob or layout
:class:`~btp_release.errors.NotFound`, a corrupt or missing ``index.json`` or ``oci-layout``
:class:`~btp_release.errors.InvalidInput`.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import json
import os
import re
import tempfile
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from btp_release.errors import DigestMismatch, InvalidInput, NotFound
from btp_release.oci.model import OCI_INDEX, Descriptor, Manifest, check_digest, sha256_digest
from btp_release.redaction import get_logger

if TYPE_CHECKING:
    from btp_release.oci.model import ArtifactStore

__all__ = ["LAYOUT_VERSION", "REF_NAME", "OciLayout"]

logger = get_logger(__name__)

LAYOUT_VERSION = "1.0.0"
REF_NAME = "org.opencontainers.image.ref.name"
CHUNK = 1024 * 1024
# The same tag rule as btp_release.oci.model.Reference: a layout tag must also be a registry tag.
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")


def _check_tag(tag: str) -> str:
    if not _TAG.match(tag):
        raise InvalidInput(
            f"invalid tag {tag!r} for an OCI layout",
            hint="at most 128 of [A-Za-z0-9_.-], not starting with . or -",
        )
    return tag


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _chunks(stream: io.BufferedIOBase) -> Iterator[memoryview]:
    """1 MiB reads into one reused buffer: each chunk is valid until the next is requested."""
    buffer = bytearray(CHUNK)
    view = memoryview(buffer)
    while count := stream.readinto(view):
        yield view[:count]


class _VerifyingReader(io.RawIOBase):
    """Reads a blob file and checks size and digest when the caller reaches the end."""

    def __init__(self, path: Path, descriptor: Descriptor) -> None:
        super().__init__()
        self._path = path
        self._descriptor = descriptor
        self._file = path.open("rb")
        self._hash = hashlib.sha256()
        self._read = 0
        self._checked = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        count = self._file.readinto(buffer)
        if count:
            self._hash.update(memoryview(buffer)[:count])
            self._read += count
            if self._read > self._descriptor.size:
                _raise_mismatch(self._path, self._descriptor, f"more than {self._descriptor.size} bytes")
        elif not self._checked:
            self._checked = True
            actual = "sha256:" + self._hash.hexdigest()
            if self._read != self._descriptor.size or actual != self._descriptor.digest:
                _raise_mismatch(self._path, self._descriptor, f"{self._read} bytes with digest {actual}")
        return count

    def close(self) -> None:
        self._file.close()
        super().close()


def _raise_mismatch(path: Path, expected: Descriptor, found: str) -> None:
    raise DigestMismatch(
        f"corrupt blob {path}: expected {expected.size} bytes with digest {expected.digest}, found {found}",
        hint="the OCI layout was modified or damaged; rebuild it (push the artifact again)",
    )


class OciLayout:
    """An OCI image layout directory, read and write; implements ``ArtifactStore``.

    ``OciLayout(path, create=True)`` initialises an empty layout (``oci-layout`` and an empty
    ``index.json``) if the directory holds none; ``create=False`` requires an existing layout and
    raises :class:`NotFound` otherwise. ``durable=False`` skips ``fsync`` (faster; for throwaway
    layouts in tests) but keeps the temp-file-and-rename protocol.
    """

    def __init__(self, root: str | os.PathLike[str], *, create: bool = True, durable: bool = True) -> None:
        self.root = Path(root)
        self.durable = durable
        self.repositories_seen: set[str] = set()
        self._lock = threading.Lock()
        marker = self.root / "oci-layout"
        if not marker.exists():
            if not create:
                raise NotFound(
                    f"no OCI layout at {self.root}: {marker} is missing",
                    hint="give the directory a snapshot run wrote, or create it with create=True",
                )
            self._initialise()
        self._check_marker(marker)

    # -- layout files -------------------------------------------------------------------------

    @property
    def index_path(self) -> Path:
        return self.root / "index.json"

    def _initialise(self) -> None:
        (self.root / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
        with self._index_lock():
            if not self.index_path.exists():
                self._write_index({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []})
            marker = self.root / "oci-layout"
            if not marker.exists():
                self._atomic_write(marker, json.dumps({"imageLayoutVersion": LAYOUT_VERSION}).encode())

    def _check_marker(self, marker: Path) -> None:
        try:
            data = json.loads(marker.read_bytes())
        except (OSError, ValueError) as exc:
            raise InvalidInput(f"corrupt OCI layout marker {marker}: {exc}") from exc
        version = data.get("imageLayoutVersion") if isinstance(data, dict) else None
        if not isinstance(version, str) or not version.startswith("1."):
            raise InvalidInput(
                f"unsupported OCI layout {marker}: imageLayoutVersion {version!r}",
                hint=f"this store reads and writes layout version {LAYOUT_VERSION}",
            )

    def _read_index(self) -> dict[str, Any]:
        path = self.index_path
        try:
            raw = path.read_bytes()
        except FileNotFoundError as exc:
            raise InvalidInput(
                f"OCI layout {self.root} has no index {path}",
                hint="the layout is incomplete; rebuild it (push the artifact again)",
            ) from exc
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise InvalidInput(f"corrupt OCI layout index {path}: not JSON ({exc})") from exc
        if (
            not isinstance(data, dict)
            or data.get("schemaVersion") != 2
            or not isinstance(data.get("manifests", []), list)
        ):
            raise InvalidInput(
                f"corrupt OCI layout index {path}: not an OCI image index (schemaVersion 2, manifests list)"
            )
        data.setdefault("manifests", [])
        for entry in data["manifests"]:
            if not isinstance(entry, dict):
                raise InvalidInput(f"corrupt OCI layout index {path}: manifest entry {entry!r}")
        return data

    def _entries(self) -> list[tuple[dict[str, Any], Descriptor]]:
        index = self._read_index()
        try:
            return [(entry, Descriptor.from_json(entry)) for entry in index["manifests"]]
        except InvalidInput as exc:
            raise InvalidInput(f"corrupt OCI layout index {self.index_path}: {exc.message}") from exc

    def _write_index(self, index: dict[str, Any]) -> None:
        raw = json.dumps(index, separators=(",", ":")).encode()
        self._atomic_write(self.index_path, raw)

    def _atomic_write(self, path: Path, data: bytes) -> None:
        fd, tmp = tempfile.mkstemp(prefix=f".tmp-{path.name}-", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                if self.durable:
                    out.flush()
                    os.fsync(out.fileno())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        if self.durable:
            _fsync_dir(path.parent)

    @contextlib.contextmanager
    def _index_lock(self) -> Iterator[None]:
        """Serialise read-modify-write of ``index.json`` across threads and processes."""
        with self._lock:
            fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                yield
            finally:
                os.close(fd)  # closing releases the flock

    # -- blobs ---------------------------------------------------------------------------------

    def blob_path(self, digest: str) -> Path:
        """Where the blob with ``digest`` lives (whether or not it is there)."""
        algorithm, _, hexdigest = check_digest(digest).partition(":")
        return self.root / "blobs" / algorithm / hexdigest

    def has_blob(self, digest: str) -> bool:
        return self.blob_path(digest).is_file()

    def push_blob(self, repository: str, source: bytes | Any, media_type: str) -> Descriptor:
        """Store a blob from bytes or a path (streamed in 1 MiB reads); idempotent.

        A blob already present with the same digest and size is not written again.
        """
        self.repositories_seen.add(repository)
        if isinstance(source, bytes | bytearray | memoryview):
            data = bytes(source)
            descriptor = Descriptor(media_type, sha256_digest(data), len(data))
            if not self._present(descriptor):
                self._store([data], descriptor)
            return descriptor
        if isinstance(source, os.PathLike):
            path = Path(source)
            try:
                with path.open("rb") as stream:
                    return self._store(_chunks(stream), None, media_type)
            except FileNotFoundError as exc:
                raise NotFound(f"blob source {path} does not exist") from exc
        raise InvalidInput(
            f"cannot push a blob from {type(source).__name__}", hint="give bytes or a pathlib.Path"
        )

    def _present(self, descriptor: Descriptor) -> bool:
        try:
            return self.blob_path(descriptor.digest).stat().st_size == descriptor.size
        except FileNotFoundError:
            return False

    def _store(
        self, chunks: Iterable[bytes | memoryview], expected: Descriptor | None, media_type: str | None = None
    ) -> Descriptor:
        """Write chunks to a temp file while hashing, check, flush, rename to the digest."""
        directory = self.root / "blobs" / "sha256"
        directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=directory)
        try:
            hasher = hashlib.sha256()
            size = 0
            with os.fdopen(fd, "wb") as out:
                for chunk in chunks:
                    hasher.update(chunk)
                    out.write(chunk)
                    size += len(chunk)
                out.flush()
                written = os.fstat(out.fileno()).st_size
                if self.durable:
                    os.fsync(out.fileno())
            digest = "sha256:" + hasher.hexdigest()
            if written != size:
                raise DigestMismatch(f"short write of blob {digest} to {tmp}: {written} of {size} bytes")
            if expected is not None and (expected.digest != digest or expected.size != size):
                raise DigestMismatch(
                    f"blob content changed while storing it: expected {expected.digest} ({expected.size} "
                    f"bytes), wrote {digest} ({size} bytes)"
                )
            descriptor = expected or Descriptor(media_type or "application/octet-stream", digest, size)
            final = self.blob_path(digest)
            if self._present(descriptor):
                os.unlink(tmp)
            else:
                os.replace(tmp, final)
                if self.durable:
                    _fsync_dir(directory)
            return descriptor
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise

    def _checked_path(self, descriptor: Descriptor) -> Path:
        path = self.blob_path(descriptor.digest)
        try:
            size = path.stat().st_size
        except FileNotFoundError as exc:
            raise NotFound(
                f"blob {descriptor.digest} is missing from the OCI layout {self.root} ({path})",
                hint="the layout is incomplete; rebuild it (push the artifact again)",
            ) from exc
        if size != descriptor.size:
            _raise_mismatch(path, descriptor, f"{size} bytes")
        return path

    def read_blob(self, repository: str, descriptor: Descriptor) -> bytes:
        """The whole blob, verified against the descriptor's digest and size (for small blobs)."""
        self.repositories_seen.add(repository)
        path = self._checked_path(descriptor)
        data = path.read_bytes()
        if len(data) != descriptor.size or sha256_digest(data) != descriptor.digest:
            _raise_mismatch(path, descriptor, f"{len(data)} bytes with digest {sha256_digest(data)}")
        return data

    def open_blob(self, blob: Descriptor | str) -> BinaryIO:
        """A stream over the blob; reading it to the end raises ``DigestMismatch`` on a wrong digest.

        Given a descriptor, the size is checked on opening; the digest is checked once the caller
        has read every byte (a caller that stops early gets no digest check). Close it (``with``).
        """
        if isinstance(blob, str):
            path = self.blob_path(blob)
            size = path.stat().st_size if path.is_file() else 0
            blob = Descriptor("application/octet-stream", blob, size)
        return io.BufferedReader(_VerifyingReader(self._checked_path(blob), blob), buffer_size=CHUNK)

    # -- manifests and tags --------------------------------------------------------------------

    def push_manifest(self, repository: str, manifest: Manifest, tag: str | None) -> Descriptor:
        """Store the manifest and point ``tag`` at it (repointing an existing tag); idempotent.

        The config and every layer must already be in the layout (like a registry's
        ``MANIFEST_BLOB_UNKNOWN``). Without a tag the manifest is still listed in ``index.json``
        (untagged), so it stays reachable for tools that walk the index.
        """
        self.repositories_seen.add(repository)
        if tag is not None:
            _check_tag(tag)
        missing = [d.digest for d in (manifest.config, *manifest.layers) if not self._present(d)]
        if missing:
            raise InvalidInput(
                f"manifest {manifest.digest} refers to blobs missing from the OCI layout {self.root}: "
                + ", ".join(missing),
                hint="push the config and layers before the manifest",
            )
        raw = manifest.to_bytes()
        descriptor = manifest.descriptor()
        if not self._present(descriptor):
            self._store([raw], descriptor)
        with self._index_lock():
            index = self._read_index()
            entries: list[dict[str, Any]] = index["manifests"]
            if tag is None:
                if not any(entry.get("digest") == descriptor.digest for entry in entries):
                    entries.append(descriptor.to_json())
                    self._write_index(index)
                return descriptor
            wanted = {**descriptor.to_json(), "annotations": {REF_NAME: tag}}
            kept = [
                entry
                for entry in entries
                if _ref_name(entry) != tag
                and not (_ref_name(entry) is None and entry.get("digest") == descriptor.digest)
            ]
            current = [entry for entry in entries if _ref_name(entry) == tag]
            if current == [wanted] and len(kept) == len(entries) - 1:
                return descriptor  # already exactly so: leave index.json untouched
            index["manifests"] = [*kept, wanted]
            self._write_index(index)
        logger.debug("tagged %s as %s in %s", descriptor.digest, tag, self.root)
        return descriptor

    def tags(self) -> list[str]:
        """The tags in ``index.json``, sorted."""
        return sorted({name for entry, _ in self._entries() if (name := _ref_name(entry)) is not None})

    def resolve(self, tag: str) -> Descriptor | None:
        """The descriptor ``tag`` points at (as listed in ``index.json``), or ``None``."""
        found = [descriptor for entry, descriptor in self._entries() if _ref_name(entry) == tag]
        if len(found) > 1 and len({d.digest for d in found}) > 1:
            raise InvalidInput(
                f"corrupt OCI layout index {self.index_path}: tag {tag!r} points at "
                + ", ".join(sorted({d.digest for d in found})),
                hint="remove the tag and push it again",
            )
        return found[0] if found else None

    def remove_tag(self, tag: str) -> bool:
        """Drop ``tag`` from ``index.json``; ``True`` if it was there. Blobs stay (no garbage collection)."""
        with self._index_lock():
            index = self._read_index()
            kept = [entry for entry in index["manifests"] if _ref_name(entry) != tag]
            if len(kept) == len(index["manifests"]):
                return False
            index["manifests"] = kept
            self._write_index(index)
            return True

    def get_manifest(self, repository: str, reference: str) -> tuple[Manifest, Descriptor] | None:
        """The manifest for a tag or a ``sha256:`` digest, verified; ``None`` if there is none."""
        self.repositories_seen.add(repository)
        descriptor: Descriptor | None
        if reference.startswith("sha256:"):
            path = self.blob_path(reference)
            if not path.is_file():
                return None
            raw = path.read_bytes()
            if sha256_digest(raw) != reference:
                raise DigestMismatch(
                    f"corrupt blob {path}: its content has digest {sha256_digest(raw)}, not {reference}",
                    hint="the OCI layout was modified or damaged; rebuild it (push the artifact again)",
                )
        else:
            descriptor = self.resolve(reference)
            if descriptor is None:
                return None
            raw = self.read_blob(repository, descriptor)
        try:
            manifest = Manifest.from_bytes(raw)
        except InvalidInput as exc:
            raise InvalidInput(
                f"{reference} in the OCI layout {self.root} is not an image manifest: {exc.message}"
            ) from exc
        return manifest, Descriptor(manifest.media_type, sha256_digest(raw), len(raw))

    def __repr__(self) -> str:
        return f"OciLayout({str(self.root)!r})"


def _ref_name(entry: dict[str, Any]) -> str | None:
    annotations = entry.get("annotations")
    if isinstance(annotations, dict):
        name = annotations.get(REF_NAME)
        return name if isinstance(name, str) else None
    return None


if TYPE_CHECKING:

    def _conforms(layout: OciLayout) -> ArtifactStore:
        return layout
