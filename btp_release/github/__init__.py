"""GitHub: releases, tags, assets, commit statuses and check runs (REST API 2022-11-28)."""

from btp_release.github.client import GitHubClient, ReleaseNotes
from btp_release.github.models import (
    CheckRun,
    CombinedStatus,
    CommitStatus,
    GitRef,
    Release,
    ReleaseAsset,
    Repository,
)
from btp_release.github.protocol import ApiUrls, RateLimitInfo

__all__ = [
    "ApiUrls",
    "CheckRun",
    "CombinedStatus",
    "CommitStatus",
    "GitHubClient",
    "GitRef",
    "RateLimitInfo",
    "Release",
    "ReleaseAsset",
    "ReleaseNotes",
    "Repository",
]
