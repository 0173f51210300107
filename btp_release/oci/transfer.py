"""Publishing what a snapshot holds: an OCI layout's artifact into a registry, byte for byte.

A ``--snapshot`` run writes the module into an OCI layout; publishing must put exactly those bytes
into the registry, so the digest that was tested is the digest that is released. The manifest is
copied as raw bytes (never re-serialized) and every blob streams from its file with its known
digest, so blobs the registry already has are skipped and the registry verifies the rest.
"""

from __future__ import annotations

from btp_release.errors import NotFound
from btp_release.oci.layout import OciLayout
from btp_release.oci.model import Descriptor, Reference
from btp_release.oci.registry import RegistryClient
from btp_release.redaction import get_logger

__all__ = ["publish_from_layout"]

log = get_logger(__name__)


def publish_from_layout(layout: OciLayout, tag: str, client: RegistryClient, dest: Reference) -> Descriptor:
    """Copy the image manifest tagged ``tag`` in ``layout`` and its blobs to ``dest`` (tag or digest).

    Idempotent: a re-run uploads nothing the registry has. Blobs go first and the manifest last, so
    a failure leaves no tag pointing at incomplete content. Raises :class:`NotFound` when the tag or
    a blob is missing from the layout (before anything is uploaded), ``DigestMismatch`` when the
    layout's content is corrupt.
    """
    found = layout.get_manifest(dest.repository, tag)
    if found is None:
        raise NotFound(
            f"tag {tag!r} is not in the OCI layout {layout.root}",
            hint=f"tags there: {', '.join(layout.tags()) or 'none'}",
        )
    manifest, descriptor = found
    raw = layout.read_blob(dest.repository, descriptor)  # exact bytes, verified against the index
    blobs = list({blob.digest: blob for blob in (manifest.config, *manifest.layers)}.values())
    missing = [blob.digest for blob in blobs if not layout.has_blob(blob.digest)]
    if missing:
        raise NotFound(
            f"the OCI layout {layout.root} lacks blob(s) {', '.join(missing)} of {tag!r}",
            hint="rebuild the snapshot; nothing was uploaded",
        )
    for blob in blobs:
        client.push_blob(dest.repository, layout.blob_path(blob.digest), blob.media_type, digest=blob.digest)
    published = client.push_manifest_raw(dest, raw, descriptor.media_type)
    log.info("published %s from %s:%s as %s", published.digest, layout.root, tag, dest)
    return published
