"""btp_release: release Kyma modules — re-runnable after any failure, publishing what was tested.

The public API; heavy dependencies (docker, oras, Kubernetes) are imported lazily by the modules
that need them, so ``import btp_release`` stays fast.
"""

from btp_release.actions import Actions
from btp_release.errors import (
    AlreadyExists,
    AuthenticationFailed,
    BtpReleaseError,
    CheckFailed,
    Conflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
    RateLimited,
    Timeout,
    Transient,
)
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
from btp_release.retry import RetryPolicy
from btp_release.secret import Secret
from btp_release.version import Version
from btp_release.wait import Poll, WaitPolicy, wait_until

__version__ = "0.1.0"

__all__ = [
    "Actions",
    "AlreadyExists",
    "AuthenticationFailed",
    "BtpReleaseError",
    "CheckFailed",
    "CheckRun",
    "CombinedStatus",
    "CommitStatus",
    "Conflict",
    "GitHubClient",
    "GitRef",
    "InvalidInput",
    "NotFound",
    "PermissionDenied",
    "Poll",
    "RateLimited",
    "Release",
    "ReleaseAsset",
    "Repository",
    "RetryPolicy",
    "Secret",
    "Timeout",
    "Transient",
    "Version",
    "WaitPolicy",
    "wait_until",
]
