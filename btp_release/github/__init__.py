"""GitHub: releases, tags, assets, commit statuses and check runs; files, commits and branches of
a repository; pull requests, reviewers, labels and comments (REST API 2022-11-28, github.com or
GitHub Enterprise Server)."""

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
from btp_release.github.pulls import IssueComment, PullRequest
from btp_release.github.repofiles import RepoFile

__all__ = [
    "ApiUrls",
    "CheckRun",
    "CombinedStatus",
    "CommitStatus",
    "GitHubClient",
    "GitRef",
    "IssueComment",
    "PullRequest",
    "RateLimitInfo",
    "Release",
    "ReleaseAsset",
    "ReleaseNotes",
    "RepoFile",
    "Repository",
]
