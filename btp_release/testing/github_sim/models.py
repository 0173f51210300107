"""Immutable values of the simulated repository.

The state module swaps whole values instead of mutating them, so a snapshot handed to a test
(``sim.releases()``) can never change under its feet.
"""

from __future__ import annotations

import enum
from typing import Literal

import attrs

from .objects import Signature

# "starter": the empty asset GitHub may leave behind when an upload was answered 5xx (github-api.md);
# GitHub's OpenAPI enum only lists "uploaded" and "open".
AssetState = Literal["uploaded", "open", "starter"]
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
    """A commit: its tree, parents (two for a merge), author and committer.

    ``created_at`` is the committer date, the one GitHub orders and reports commits by.
    """

    sha: str
    message: str
    tree: str
    parents: tuple[str, ...]
    author: Signature
    committer: Signature

    @property
    def parent(self) -> str | None:
        """The first parent (None for a root commit)."""
        return self.parents[0] if self.parents else None

    @property
    def created_at(self) -> float:
        return self.committer.date


@attrs.frozen
class GitRef:
    """A git reference such as ``refs/tags/v1.0.0`` pointing at a commit or an annotated tag object
    (``object_type == "tag"``, as ``POST /git/tags`` then ``POST /git/refs`` make one)."""

    ref: str
    sha: str
    object_type: Literal["commit", "tag"] = "commit"


@attrs.frozen
class TagObject:
    """An annotated tag object (``POST /git/tags``); it tags a commit."""

    sha: str
    tag: str
    message: str
    object_sha: str
    tagger_name: str
    tagger_email: str
    tagged_at: float


@attrs.frozen
class Release:
    """A GitHub release; ``published_at`` is None while it is a draft.

    ``created_at`` is the date of the release's commit, as GitHub documents it ("the date of the
    commit used for the release, and not the date when the release was drafted or published").
    ``make_latest`` is what the caller last sent (``None``: never sent).
    """

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
    make_latest: str | None = None


@attrs.frozen
class Asset:
    """A release asset; ``state`` ``open`` (an upload cut short) or ``starter`` (an upload answered
    5xx) means it never completed, yet it holds its name."""

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
    a test needs to check that credentials are not forwarded to the storage host. ``path`` is the
    path as GitHub's routes see it (``/repos/{owner}/{repo}/…``, the same in every host layout);
    ``sent_path`` is the path as the client sent it (``/repositories/{id}/…`` when it followed a
    ``Link``, with the ``/api/uploads`` prefix for an upload in the one-origin layout).
    """

    method: str
    path: str
    status: int
    etag_hit: bool
    authorized: bool
    query: str = ""
    service: str = "api"
    host: str = ""
    sent_path: str = ""


PullState = Literal["open", "closed"]


@attrs.frozen
class Label:
    """A repository label (created when first added to an issue or pull request)."""

    id: int
    name: str
    color: str = "ededed"
    description: str | None = None


@attrs.frozen
class PullRequest:
    """A pull request between two branches of one repository (no forks).

    ``head_sha`` is where the head branch pointed when the pull request was last updated; while it
    is open GitHub follows the branch (the routes render the live value). ``number`` is shared
    with issues. ``merged`` once merged (then also ``closed``).
    """

    number: int
    id: int
    title: str
    body: str | None
    head: str
    base: str
    head_sha: str
    state: PullState
    draft: bool
    created_at: float
    updated_at: float
    closed_at: float | None = None
    merged_at: float | None = None
    merge_commit_sha: str | None = None
    # Where the base branch was when the pull request closed (GitHub keeps reporting against it).
    base_sha: str | None = None
    maintainer_can_modify: bool = True
    labels: tuple[str, ...] = ()
    requested_reviewers: tuple[str, ...] = ()
    requested_teams: tuple[str, ...] = ()  # team slugs of the repository's organisation

    @property
    def merged(self) -> bool:
        return self.merged_at is not None


@attrs.frozen
class Issue:
    """An issue (a number shared with pull requests), e.g. in a release-management repository."""

    number: int
    id: int
    title: str
    body: str | None
    state: PullState
    created_at: float
    updated_at: float
    labels: tuple[str, ...] = ()


@attrs.frozen
class IssueComment:
    """A comment on an issue or a pull request (``issue_number``)."""

    id: int
    issue_number: int
    body: str
    created_at: float
    updated_at: float
