"""OCI: references, descriptors and manifests; the registry client and the OCI layout store."""

from btp_release.oci.model import (
    MANIFEST_ACCEPT,
    OCI_MANIFEST,
    ArtifactStore,
    Descriptor,
    Manifest,
    Reference,
    sha256_digest,
)

__all__ = [
    "MANIFEST_ACCEPT",
    "OCI_MANIFEST",
    "ArtifactStore",
    "Descriptor",
    "Manifest",
    "Reference",
    "sha256_digest",
]
