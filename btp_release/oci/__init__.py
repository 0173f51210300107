"""OCI: references, descriptors and manifests; the registry client and the OCI layout store."""

from btp_release.oci.auth import RegistryAuth
from btp_release.oci.credentials import GCP_ACCESS_TOKEN_USER, Credentials, DockerConfig
from btp_release.oci.layout import OciLayout
from btp_release.oci.model import (
    MANIFEST_ACCEPT,
    OCI_MANIFEST,
    ArtifactStore,
    Descriptor,
    Manifest,
    Reference,
    sha256_digest,
)
from btp_release.oci.registry import RegistryClient

__all__ = [
    "GCP_ACCESS_TOKEN_USER",
    "MANIFEST_ACCEPT",
    "OCI_MANIFEST",
    "ArtifactStore",
    "Credentials",
    "Descriptor",
    "DockerConfig",
    "Manifest",
    "OciLayout",
    "Reference",
    "RegistryAuth",
    "RegistryClient",
    "sha256_digest",
]
