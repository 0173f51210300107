"""Immutable values of the simulated repository.

The state module swaps whole values instead of mutating them, so a snapshot handed to a test
(``sim.releases()``) can never change under its feet.
"""

from __future__ import annotations

import enum
from typing import Literal

import attrs

AssetState = Literal["uploaded", "open"]
StatusState = Literal["pending", "success", "failure", "error"]
CheckStatus = Literal["queued", "in_progress", "completed", "waiting", "requested", "pending"]
CheckConclusion = Literal[
    "success", "failure", "neutral", "cancelled", "skipped", "timed_out", "action_required"
]

STATUS_STATES: frozenset[str] = frozenset({"pending", "success", "failure", "error"})
CHECK_STATUSES: frozenset[str] = frozenset(
    {"queued", "in_progress", "completed", "waiting", "requested", "pending"}
)
CHECK_CONCLUSIONS: frozenset[str] = frozenset(
    {"success", "failure", "neutral", "cancelled", "skipped", "timed_out", "action_required"}
)


class Access(enum.Enum):
    """What a caller may do: anonymous callers and read-only tokens never see drafts."""

    ANONYMOUS = "anonymous"
    READ = "read"
    WRITE = "write"

    @property
    def can_push(self) -> bool:
        return self is Access.WRITE


@attrs.frozen
class Commit:
    """A commit on the simulated default branch (history is linear)."""

    sha: str
    message: str
    parent: str | None
    created_at: float


@attrs.frozen
class GitRef:
    """A git reference such as ``refs/tags/v1.0.0`` pointing at a commit sha."""

    ref: str
    sha: str


@attrs.frozen
class Release:
    """A GitHub release; ``published_at`` is None while it is a draft."""

    id: int
    tag_name: str
    target_commitish: str
    name: str | None
    body: str | None
    draft: bool
    prerelease: bool
    created_at: float
    updated_at: float
    published_at: float | None = None
    immutable: bool = False
    make_latest: str = "true"


@attrs.frozen
class Asset:
    """A release asset; ``state == "open"`` means an upload never completed."""

    id: int
    release_id: int
    name: str
    label: str | None
    content_type: str
    size: int
    state: AssetState
    digest: str | None
    created_at: float
    updated_at: float
    download_count: int = 0


@attrs.frozen
class CommitStatus:
    """One commit status as posted to ``/statuses/{sha}``."""

    id: int
    sha: str
    context: str
    state: StatusState
    description: str | None
    target_url: str | None
    created_at: float
    updated_at: float


@attrs.frozen
class CheckRun:
    """One check run on a commit (as GitHub Actions jobs report them)."""

    id: int
    head_sha: str
    name: str
    status: CheckStatus
    conclusion: CheckConclusion | None
    started_at: float | None
    completed_at: float | None


@attrs.frozen
class RecordedRequest:
    """One request the simulator answered, for assertions.

    ``status`` is 0 when the connection was reset instead of answered; ``authorized`` tells
    whether the request carried an ``Authorization`` header at all (valid or not), which is what
    a test needs to check that credentials are not forwarded to the storage host.
    """

    method: str
    path: str
    status: int
    etag_hit: bool
    authorized: bool
    query: str = ""
    service: str = "api"
    host: str = ""
