"""A faithful, stateful GitHub REST simulator for release workflows, over real HTTP.

Modelled on GitHub's REST API version 2022-11-28 (``X-GitHub-Api-Version``; 2026-03-10 is
accepted too) and its documentation; see docs/github-simulator.md.

What it models: one repository with a linear ``main`` branch; releases (drafts, publishing that
creates the tag, get by id/tag, list, update, delete, generated notes), ``created_at`` as the date
of the release's commit, "latest" as a pointer set by ``make_latest`` (``true``/``false``/
``legacy``, the legacy rule by commit date then SemVer), immutable releases; git refs (with
eventually consistent deletion of tags) and annotated tag objects (``POST``/``GET /git/tags``);
release assets (streamed uploads, an ``open`` asset after a broken upload and an empty ``starter``
one after an upload answered 5xx, rename, delete, download redirected to storage, GitHub's limits
of 1000 assets per release and under 2 GiB each); commit statuses and check runs; tokens with and
without push, anonymous access; the primary rate limit and, when enabled, the secondary limit on
content creation (80 per minute, 500 per hour, ``retry-after``); ``ETag``/``If-None-Match`` and
``Last-Modified``/``If-Modified-Since`` with 304; ``Link`` pagination with GitHub's
``/repositories/{id}/…`` links (served like ``/repos/{owner}/{repo}/…``); GitHub's error shapes.
Hosts: by default one loopback origin serves the API, the uploads (under ``/api/uploads``) and the
storage, which independent clients such as PyGithub need; ``separate_hosts=True`` puts each on its
own port as github.com does; absolute-form requests through ``HTTP_PROXY`` with gh's
``*.github.localhost`` names serve the real ``gh`` CLI. Injectable faults (5xx, rate limits,
resets, latency).

What it does NOT model: more than one repository (``/repositories/{id}`` only knows this one),
forks, users and organisations; branches other than a linear ``main`` (no merges, no branch,
compare, contents, trees, blobs or git-commits endpoints); pull requests, issues and labels; check
runs created through the API (``sim.set_check_run`` sets them up); GraphQL beyond the two queries
``gh release`` sends (``release(tagName:)`` and the release list, matched by operation name);
GitHub Enterprise Server's URL layout (``/api/v3``; only its ``/api/uploads`` path is borrowed for
the one-origin layout); OAuth scopes and fine-grained permissions beyond push/no push, and admin
rights (the immutable-releases setting answers any caller); rulesets and protected tags other than
those of immutable releases; release discussions (``discussion_category_name`` is accepted and
ignored) and reactions; tarball/zipball downloads (their URLs are rendered, not served); asset
downloads answered 200 directly (always a 302 to storage); tag objects of trees, blobs or other
tags, and signature verification (always "unsigned"); ``starter`` assets other than after an
injected 5xx upload fault (GitHub leaves them at random), and the ``new`` state; secondary limits
other than on content creation (concurrent requests, points per minute, CPU time) — a
content-creating request is a POST/PATCH/PUT that needs push, except generating notes, and DELETE
does not count; separate search/GraphQL rate buckets; eventual consistency other than of deleted
tags; webhooks; upload speed; TLS and HTTP/2. ``Last-Modified`` is repository-wide (any change
moves it) in whole seconds. Error wording for rare cases (immutable tag refs, invalid ref names,
the asset limits, tag-object validation) is approximate: GitHub documents the rule, not the
answer.
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
