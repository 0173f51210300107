"""A faithful, stateful GitHub REST simulator for release workflows, over real HTTP.

What it models (see docs/github-simulator.md): one repository with a linear ``main`` branch;
releases (drafts, publishing that creates the tag, get by id/tag, latest, list, update, delete,
generated notes), immutable releases, git refs (with eventually consistent deletion), release
assets (streamed uploads on a separate upload host, ``open`` assets after a broken upload,
rename, delete, download redirected to a third "storage" host that rejects credentials), commit
statuses and check runs; tokens with and without push, anonymous access, the primary rate limit,
ETag/304, ``Link`` pagination, GitHub's error shapes, absolute-form requests through
``HTTP_PROXY`` for the real ``gh`` CLI, and injectable faults (5xx, rate limits, resets,
latency).

What it does NOT model: more than one repository; branches other than a linear ``main`` (no
merges, no compare endpoint); pull requests, issues and labels; GraphQL beyond the two queries
``gh release`` sends (``release(tagName:)`` and the release list, matched by operation name);
GitHub Enterprise Server's URL layout (``/api/v3``); OAuth scopes and fine-grained permissions
beyond push/no push, and admin rights; rulesets and protected tags other than those of immutable
releases; ``make_latest`` as a stored pointer (``"false"`` only excludes a release from
"latest"); release discussions and reactions; tarball/zipball downloads; ``If-Modified-Since``;
secondary rate limits other than injected ones; separate search/GraphQL rate buckets; webhooks;
git objects (trees, blobs, annotated tags); asset size limits; TLS. Error wording for rare cases
(immutable tag refs, invalid ref names) is approximate.
"""

from __future__ import annotations

from .faults import Fault, FaultKind
from .models import (
    Access,
    Asset,
    CheckRun,
    Commit,
    CommitStatus,
    GitRef,
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
    "RecordedRequest",
    "Release",
    "SecondaryLimits",
    "TagObject",
]
