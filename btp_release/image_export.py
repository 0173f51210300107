"""Convert a ``docker save`` archive into an OCI image in an :class:`~btp_release.oci.layout.OciLayout`.

Why: a ``--snapshot`` run may have a Docker daemon but no registry; the image it built still has to
land in the snapshot's layout, as an image that skopeo, a registry and a daemon accept.
:meth:`btp_release.images.ImageBuilder.save_to_layout` streams the archive from the daemon into
:func:`convert_docker_archive`; the conversion itself needs no daemon, so it is tested on hand-made
archives.

Both archive formats are read through their ``manifest.json`` (``[{Config, RepoTags, Layers}]``):
the legacy docker-archive of Docker ≤ 24 (``<id>.json`` config, ``<id>/layer.tar`` layers, duplicate
layers as symlinks) and the OCI-layout-in-a-tar of Docker ≥ 25 (config and layers under
``blobs/sha256/``). The archive's own ``index.json`` is ignored: the manifest is always rebuilt from
the config and the uncompressed layers, so the same image gives the same manifest digest from
either format.

The tar is read in stream mode, never held in memory: every member is spooled to a temporary
directory inside the layout (its ``manifest.json`` comes last in the legacy format, so nothing is
known to be a layer until the end) while it is hashed. Everything is verified before the first
blob is written, so a bad archive leaves the layout as it was. Disk use peaks at about twice the
image's uncompressed size.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import json
import posixpath
import tarfile
import tempfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from btp_release.errors import DigestMismatch, InvalidInput
from btp_release.oci.model import Descriptor, Manifest, check_digest
from btp_release.redaction import get_logger

if TYPE_CHECKING:
    from btp_release.oci.layout import OciLayout

__all__ = ["OCI_CONFIG", "OCI_LAYER", "convert_docker_archive"]

log = get_logger(__name__)

OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
CHUNK = 1024 * 1024
MAX_JSON = 16 * 1024 * 1024
"""Largest ``manifest.json`` or image config read into memory (bytes); real ones are a few KiB."""

_MAX_LINK_HOPS = 16
_GZIP = b"\x1f\x8b"
_ZSTD = b"\x28\xb5\x2f\xfd"


@attrs.frozen
class _Spooled:
    """An archive member copied to disk, with its digest, size and first bytes (to spot compression)."""

    path: Path
    digest: str
    size: int
    head: bytes


class _ChunkReader(io.RawIOBase):
    """A read-only file over an iterator of byte chunks (the docker SDK's ``get_image`` stream)."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        super().__init__()
        self._chunks: Iterator[bytes] = iter(chunks)
        self._pending = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._pending = memoryview(chunk)
        count = min(len(buffer), len(self._pending))
        memoryview(buffer).cast("B")[:count] = self._pending[:count]
        self._pending = self._pending[count:]
        return count

    def drain(self) -> None:
        """Consume what the tar reader left (end-of-archive padding), so the response ends cleanly."""
        self._pending = memoryview(b"")
        for _ in self._chunks:
            pass


def _spool(read: Callable[[int], bytes], path: Path) -> _Spooled:
    hasher = hashlib.sha256()
    size = 0
    head = b""
    try:
        out = path.open("wb")
    except OSError as exc:
        raise _write_error(path, exc) from exc
    with out:
        while chunk := read(CHUNK):
            hasher.update(chunk)
            size += len(chunk)
            if len(head) < 4:
                head += chunk[: 4 - len(head)]
            try:
                out.write(chunk)
            except OSError as exc:
                raise _write_error(path, exc) from exc
    return _Spooled(path, "sha256:" + hasher.hexdigest(), size, head)


def _write_error(path: Path, exc: OSError) -> InvalidInput:
    return InvalidInput(
        f"cannot spool the image archive to {path}: {exc}",
        hint="the layout's file system needs free space for about twice the image's uncompressed size",
    )


def _normal(name: str) -> str:
    """Archive member names as ``manifest.json`` writes them: no leading ``./`` or ``/``."""
    return posixpath.normpath("/" + name).lstrip("/")


class _Archive:
    """The members of one spooled archive, by name; symlinks and hard links resolved on lookup."""

    def __init__(self, image: str, directory: Path) -> None:
        self.image = image
        self.directory = directory
        self.files: dict[str, _Spooled] = {}
        self.links: dict[str, str] = {}
        self._spooled = 0

    def read(self, chunks: Iterable[bytes]) -> None:
        """Spool every regular file of the tar; the stream is read to its end (tar padding included)."""
        reader = _ChunkReader(chunks)
        stream = io.BufferedReader(reader, buffer_size=CHUNK)
        try:
            with tarfile.open(fileobj=stream, mode="r|") as tar:
                for member in tar:
                    name = _normal(member.name)
                    if member.issym():
                        target = posixpath.join(posixpath.dirname(name), member.linkname)
                        self.links[name] = posixpath.normpath(target)
                    elif member.islnk():
                        self.links[name] = _normal(member.linkname)
                    elif member.isreg():
                        source = tar.extractfile(member)
                        assert source is not None  # a regular file always has content
                        self._spooled += 1
                        self.files[name] = _spool(source.read, self.directory / str(self._spooled))
        except (tarfile.TarError, EOFError) as exc:
            raise InvalidInput(
                f"the archive of {self.image} is not a readable tar: {exc}",
                hint="the daemon's `docker save` stream was cut short or is not an image archive; save again",
            ) from exc
        reader.drain()

    @property
    def format(self) -> str:
        return "oci" if "oci-layout" in self.files else "docker-archive"

    def get(self, name: str) -> _Spooled:
        wanted = current = _normal(name)
        for _ in range(_MAX_LINK_HOPS):
            if current in self.files:
                return self.files[current]
            if current not in self.links:
                break
            current = self.links[current]
        raise InvalidInput(
            f"the archive of {self.image} has no file {wanted!r} (named in its manifest.json)",
            hint="the archive is incomplete or not a `docker save` archive",
        )

    def read_json(self, name: str) -> Any:
        spooled = self.get(name)
        if spooled.size > MAX_JSON:
            raise InvalidInput(f"{name} in the archive of {self.image} is {spooled.size} bytes: too large")
        raw = spooled.path.read_bytes()
        try:
            return json.loads(raw)
        except ValueError as exc:
            raise InvalidInput(f"{name} in the archive of {self.image} is not JSON: {exc}") from exc

    def uncompressed(self, spooled: _Spooled, name: str) -> _Spooled:
        """The layer as a plain tar: the containerd image store saves gzip-compressed layers."""
        if spooled.head.startswith(_ZSTD):
            raise InvalidInput(
                f"layer {name} in the archive of {self.image} is zstd-compressed",
                hint="only uncompressed and gzip layers are converted; save from the classic image store",
            )
        if not spooled.head.startswith(_GZIP):
            return spooled
        try:
            with gzip.open(spooled.path, "rb") as source:
                return _spool(source.read, spooled.path.with_suffix(".tar"))
        except (OSError, EOFError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError
            raise InvalidInput(f"layer {name} in the archive of {self.image} is corrupt gzip: {exc}") from exc


@attrs.frozen
class _Image:
    """One image of ``manifest.json``: its config and layer paths inside the archive."""

    config: str
    layers: tuple[str, ...]


def _images(archive: _Archive) -> list[_Image]:
    entries = archive.read_json("manifest.json")
    if not isinstance(entries, list) or not entries:
        raise InvalidInput(f"manifest.json in the archive of {archive.image} lists no image")
    images = []
    for entry in entries:
        config = entry.get("Config") if isinstance(entry, dict) else None
        layers = entry.get("Layers") if isinstance(entry, dict) else None
        if (
            not isinstance(config, str)
            or not isinstance(layers, list)
            or not all(isinstance(layer, str) for layer in layers)
        ):
            raise InvalidInput(
                f"manifest.json in the archive of {archive.image} has an entry without Config and Layers: "
                f"{entry!r}"
            )
        images.append(_Image(config, tuple(layers)))
    return images


def _pick(archive: _Archive, images: list[_Image], expected_id: str | None) -> _Image:
    if expected_id is None:
        if len(images) != 1:
            raise InvalidInput(
                f"the archive of {archive.image} holds {len(images)} images",
                hint="give the image ID (expected_id) to choose one",
            )
        return images[0]
    for image in images:
        if archive.get(image.config).digest == expected_id:
            return image
    found = ", ".join(sorted({archive.get(image.config).digest for image in images}))
    raise DigestMismatch(
        f"the archive of {archive.image} holds the image config {found}, not the image ID {expected_id}",
        hint="the tag was probably moved (rebuilt) while the image was saved; save it again",
    )


def _diff_ids(archive: _Archive, image: _Image) -> list[str]:
    config = archive.read_json(image.config)
    rootfs = config.get("rootfs") if isinstance(config, dict) else None
    diff_ids = rootfs.get("diff_ids") if isinstance(rootfs, dict) else None
    if not isinstance(diff_ids, list) or not all(isinstance(d, str) for d in diff_ids):
        raise InvalidInput(f"the image config of {archive.image} has no rootfs.diff_ids list")
    for diff_id in diff_ids:
        check_digest(diff_id)
    if len(diff_ids) != len(image.layers):
        raise InvalidInput(
            f"the archive of {archive.image} has {len(image.layers)} layers, "
            f"but its config lists {len(diff_ids)} rootfs.diff_ids"
        )
    return diff_ids


def _present(layout: OciLayout, descriptor: Descriptor) -> bool:
    with contextlib.suppress(FileNotFoundError):
        return layout.blob_path(descriptor.digest).stat().st_size == descriptor.size
    return False


def convert_docker_archive(
    chunks: Iterable[bytes],
    layout: OciLayout,
    *,
    image: str,
    repository: str,
    tag: str | None,
    expected_id: str | None = None,
) -> Descriptor:
    """Store the image of a ``docker save`` archive in ``layout`` as an OCI image; returns the manifest.

    ``chunks`` is the archive as it streams from the daemon; ``image`` names it in messages;
    ``repository`` is recorded by the layout; ``tag`` (``None``: untagged) is pointed at the
    manifest. With ``expected_id`` (the daemon's image ID) the archive must hold an image whose
    config has that digest; without it, exactly one image. Layers are stored uncompressed
    (``application/vnd.oci.image.layer.v1.tar``), so each digest equals its ``rootfs.diff_ids``
    entry. Idempotent: the same image gives the same manifest digest and one tag entry.

    Raises :class:`InvalidInput` for a malformed archive (or a write error while spooling it) and
    :class:`DigestMismatch` when a layer differs from its diff_id or the config from the image ID;
    in both cases nothing has been written to the layout. Errors of ``chunks`` propagate as they are.
    """
    with tempfile.TemporaryDirectory(prefix=".tmp-docker-save-", dir=layout.root) as spool:
        archive = _Archive(image, Path(spool))
        archive.read(chunks)
        chosen = _pick(archive, _images(archive), expected_id)
        diff_ids = _diff_ids(archive, chosen)
        config_raw = archive.get(chosen.config).path.read_bytes()  # size checked by _diff_ids
        layers: list[_Spooled] = []
        for name, diff_id in zip(chosen.layers, diff_ids, strict=True):
            layer = archive.uncompressed(archive.get(name), name)
            if layer.digest != diff_id:
                raise DigestMismatch(
                    f"layer {name} of {image} has digest {layer.digest}, "
                    f"but the image config's rootfs.diff_ids says {diff_id}",
                    hint="the archive is corrupt or was modified; save the image again",
                )
            layers.append(layer)
        log.debug("%s: a %s archive with %d layers", image, archive.format, len(layers))

        descriptors = []
        for layer in layers:
            descriptor = Descriptor(OCI_LAYER, layer.digest, layer.size)
            if not _present(layout, descriptor):
                stored = layout.push_blob(repository, layer.path, OCI_LAYER)
                if stored.digest != layer.digest:
                    raise DigestMismatch(
                        f"the spooled layer {layer.path} of {image} changed while it was stored",
                        hint="something else writes into the layout's directory; save the image again",
                    )
            descriptors.append(descriptor)
        config_descriptor = layout.push_blob(repository, config_raw, OCI_CONFIG)
        manifest = Manifest(config=config_descriptor, layers=tuple(descriptors))
        result = layout.push_manifest(repository, manifest, tag)
    log.info("saved %s into %s as %s%s", image, layout.root, result.digest, f" (tag {tag})" if tag else "")
    return result
