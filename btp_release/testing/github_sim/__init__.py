"""A faithful, stateful GitHub REST simulator for release workflows, over real HTTP.

Modelled on GitHub's REST API version 2022-11-28 (``X-GitHub-Api-Version``; 2026-03-10 is
accepted too) and its documentation; see docs/github-simulator.md.

What it models: several repositories on one simulator (``add_repository``; each with its own id,
branches, commits, files, releases and pull requests; ``/repositories/{id}/…`` paths for each),
tokens with write, read or no access per repository (``add_token``; the repository answers 404
to a token that may not see it); github.com's host layout or GitHub Enterprise Server's
(``ghes=True``: REST under ``/api/v3``, GraphQL at ``/api/graphql``, uploads under
``/api/uploads``, web paths at the root). Git data with git's own object names: blobs
(``sha1("blob <size>\0" + data)``), trees (nested paths, ``base_tree``, ``sha: null``
deletions), commits (parents, tree, author/committer dated by the injected clock; merges),
branches, refs (fast-forward check, ``force``), tags, annotated tag objects; the contents API
(files in base64, raw, directories; create/update needing the current blob sha — 422 without it,
409 with another —, delete). Pull requests (open/closed/merged, head and base branches, one open
per head and base, none without commits ahead, the ``owner:branch`` head filter — a bare branch
is ignored, as GitHub does —, closing when a branch is deleted, merge via ``PUT …/merge`` or
``sim.merge_pull_request``: merge commit, squash or fast-forward with a file-level three-way
merge), issues sharing their numbers, issue comments, labels, requested reviewers. Releases
(drafts, publishing that creates the tag, get by id/tag, list, update, delete, generated notes),
``created_at`` as the date of the release's commit, "latest" as a pointer set by
``make_latest`` (``true``/``false``/``legacy``, the legacy rule by commit date then SemVer),
immutable releases; eventually consistent deletion of tags; release assets (streamed uploads, an
``open`` asset after a broken upload and an empty ``starter`` one after an upload answered 5xx,
rename, delete, download redirected to storage, GitHub's limits of 1000 assets per release and
under 2 GiB each); commit statuses and check runs; tokens with and without push, anonymous
access; the primary rate limit and, when enabled, the secondary limit on content creation (80
per minute, 500 per hour, ``retry-after``); ``ETag``/``If-None-Match`` and
``Last-Modified``/``If-Modified-Since`` with 304; ``Link`` pagination with GitHub's
``/repositories/{id}/…`` links; GitHub's error shapes. Hosts: by default one loopback origin
serves the API, the uploads (under ``/api/uploads``) and the storage, which independent clients
such as PyGithub need; ``separate_hosts=True`` puts each on its own port as github.com does;
absolute-form requests through ``HTTP_PROXY`` with gh's ``*.github.localhost`` names serve the
real ``gh`` CLI (releases, ``gh api``, ``gh pr create/list/view``). Injectable faults (5xx,
rate limits, resets, latency) on every route.

What it does NOT model: forks (a pull request's head is a branch of the same repository), users,
organisations, teams and collaborators as objects of their own (every write is the App bot's;
requested reviewers are bare logins, requested teams slugs of the repository's owner, never
checked); OAuth scopes and fine-grained permissions beyond write/read/none per repository, and admin
rights (the immutable-releases setting answers any caller); branch protection, rulesets, required
reviews and checks, and protected tags other than those of immutable releases; merge queues,
auto-merge, rebase merges (``PUT …/merge`` answers 405), line-level merging (a file changed on both
sides conflicts), GitHub's test merge commit of an open pull request (``merge_commit_sha`` is null
until merged), reviews and review comments, draft conversion; issue endpoints beyond comments and
labels (no issue creation, listing or editing over REST: ``sim.add_issue``); compare, commit
listing, tree truncation, submodule contents, symlink targets and the ``raw``/``download_url`` host
(rendered, not served); the contents API's ``application/vnd.github.object`` media type only for
directories; git objects other than blobs, trees, commits and tags of commits, and signature
verification (always "unsigned"); GraphQL beyond the queries gh's release and pull request commands
send (matched by operation name); release discussions (``discussion_category_name`` is accepted and
ignored) and reactions; tarball/zipball downloads (their URLs are rendered, not served); asset
downloads answered 200 directly (always a 302 to storage); ``starter`` assets other than after an
injected 5xx upload fault (GitHub leaves them at random), and the ``new`` state; secondary limits
other than on content creation (concurrent requests, points per minute, CPU time) — a
content-creating request is a POST/PATCH/PUT that needs push, except generating notes, and DELETE
does not count; separate search/GraphQL rate buckets; eventual consistency other than of deleted
tags; webhooks; upload speed; TLS and HTTP/2. ``Last-Modified`` is per repository (any change moves
it) in whole seconds. Error wording for rare cases (immutable tag refs, invalid ref names, the asset
limits, tag-object validation, invalid tree entries, a missing branch on a contents write, reopening
a merged pull request) is approximate: GitHub documents the rule, not the answer."""

from __future__ import annotations

from .faults import Fault, FaultKind
from .models import (
    Access,
    Asset,
    CheckRun,
    Commit,
    CommitStatus,
    GitRef,
    Issue,
    IssueComment,
    Label,
    PullRequest,
    RecordedRequest,
    Release,
    TagObject,
)
from .ratelimit import SecondaryLimits
from .simulator import GitHubSimulator

__all__ = [
    "Access",
    "Asset",
    "CheckRun",
    "Commit",
    "CommitStatus",
    "Fault",
    "FaultKind",
    "GitHubSimulator",
    "GitRef",
    "Issue",
    "IssueComment",
    "Label",
    "PullRequest",
    "RecordedRequest",
    "Release",
    "SecondaryLimits",
    "TagObject",
]
