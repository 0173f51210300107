"""OCI: references, descriptors and manifests; the registry client and the OCI layout store.

``OciLayout`` is imported on first use (PEP 562): a process that only talks to a registry does not
load it (start-up is most of a small artifact's push or pull).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from btp_release.oci.auth import RegistryAuth
from btp_release.oci.credentials import GCP_ACCESS_TOKEN_USER, Credentials, DockerConfig
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

if TYPE_CHECKING:
    from btp_release.oci.layout import OciLayout


def __getattr__(name: str) -> Any:
    if name == "OciLayout":
        from btp_release.oci.layout import OciLayout

        globals()[name] = OciLayout
        return OciLayout
    raise AttributeError(f"module 'btp_release.oci' has no attribute {name!r}")


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
