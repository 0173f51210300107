"""btp_release: release Kyma modules — re-runnable after any failure, publishing what was tested.

The public API. Names are imported on first use (PEP 562), so ``import btp_release`` and
``btp-release --help`` stay fast and a script that only pushes OCI artifacts never loads the
GitHub client (or docker, or the Kubernetes client).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from btp_release.errors import (
    AlreadyExists,
    AuthenticationFailed,
    BtpReleaseError,
    BuildFailed,
    CheckFailed,
    Conflict,
    DigestMismatch,
    InvalidInput,
    NotFound,
    PermissionDenied,
    RateLimited,
    Timeout,
    Transient,
    UntrustedCertificate,
)
from btp_release.version import Version

if TYPE_CHECKING:
    from btp_release.actions import Actions
    from btp_release.config import ConfigError, ReleaseConfig, load_config
    from btp_release.github import (
        CheckRun,
        CombinedStatus,
        CommitStatus,
        GitHubClient,
        GitRef,
        Release,
        ReleaseAsset,
        Repository,
    )
    from btp_release.images import BuiltImage, ImageBuild, ImageBuilder
    from btp_release.kube import KubeClient
    from btp_release.module import ModuleArtifact, ModuleSpec
    from btp_release.oci import Descriptor, Manifest, OciLayout, Reference, RegistryClient
    from btp_release.pipeline import ReleasePipeline, StageResult
    from btp_release.retry import RetryPolicy
    from btp_release.secret import Secret
    from btp_release.wait import Poll, WaitPolicy, wait_until

__version__ = "0.1.0"

_LAZY = {
    "Actions": "btp_release.actions",
    "ConfigError": "btp_release.config",
    "ReleaseConfig": "btp_release.config",
    "load_config": "btp_release.config",
    "KubeClient": "btp_release.kube",
    "ReleasePipeline": "btp_release.pipeline",
    "StageResult": "btp_release.pipeline",
    "CheckRun": "btp_release.github",
    "CombinedStatus": "btp_release.github",
    "CommitStatus": "btp_release.github",
    "GitHubClient": "btp_release.github",
    "GitRef": "btp_release.github",
    "Release": "btp_release.github",
    "ReleaseAsset": "btp_release.github",
    "Repository": "btp_release.github",
    "BuiltImage": "btp_release.images",
    "ImageBuild": "btp_release.images",
    "ImageBuilder": "btp_release.images",
    "ModuleArtifact": "btp_release.module",
    "ModuleSpec": "btp_release.module",
    "Descriptor": "btp_release.oci",
    "Manifest": "btp_release.oci",
    "OciLayout": "btp_release.oci",
    "Reference": "btp_release.oci",
    "RegistryClient": "btp_release.oci",
    "RetryPolicy": "btp_release.retry",
    "Secret": "btp_release.secret",
    "Poll": "btp_release.wait",
    "WaitPolicy": "btp_release.wait",
    "wait_until": "btp_release.wait",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'btp_release' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "Actions",
    "AlreadyExists",
    "AuthenticationFailed",
    "BtpReleaseError",
    "BuildFailed",
    "BuiltImage",
    "CheckFailed",
    "CheckRun",
    "CombinedStatus",
    "CommitStatus",
    "ConfigError",
    "Conflict",
    "Descriptor",
    "DigestMismatch",
    "GitHubClient",
    "GitRef",
    "ImageBuild",
    "ImageBuilder",
    "InvalidInput",
    "KubeClient",
    "Manifest",
    "ModuleArtifact",
    "ModuleSpec",
    "NotFound",
    "OciLayout",
    "PermissionDenied",
    "Poll",
    "RateLimited",
    "Reference",
    "RegistryClient",
    "Release",
    "ReleaseConfig",
    "ReleasePipeline",
    "ReleaseAsset",
    "Repository",
    "RetryPolicy",
    "Secret",
    "StageResult",
    "Timeout",
    "Transient",
    "UntrustedCertificate",
    "Version",
    "WaitPolicy",
    "load_config",
    "wait_until",
]
