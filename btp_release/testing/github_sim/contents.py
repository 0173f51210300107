"""The contents API's rules over a repository's git data: read a path, write or delete one file
in one commit on a branch.

GitHub's answers, as measured against github.com: writing an existing file needs its current
blob ``sha`` (none: 422 ``"sha" wasn't supplied.``; another one: 409 ``<path> does not match
<sha>``); for a new file a ``sha`` is ignored; the branch is checked first (404). Deleting needs
the sha too, and a missing path is 404. Pure in-memory model; the routes are in
:mod:`.git_routes`.
"""

from __future__ import annotations

import attrs

from .errors import ApiError, invalid_request, not_found
from .gitdb import GitDatabase
from .models import Commit
from .objects import Signature, TreeEntry


@attrs.frozen
class Found:
    """What a path names at a commit: a file (``entry.type == "blob"``), a directory or a
    submodule; ``ref`` is the ref it was read at, as GitHub echoes it in links."""

    path: str
    ref: str
    commit: str
    entry: TreeEntry


def read_path(db: GitDatabase, path: str, ref: str | None) -> Found:
    """``GET /contents/{path}?ref=``: 404 for an unknown ref or a missing path."""
    ref = ref or db.default_branch
    sha = db.resolve(ref)
    if sha is None:
        raise ApiError(404, f"No commit found for the ref {ref}")
    entry = db.objects.lookup(db.commit(sha).tree, path.strip("/"))
    if entry is None:
        raise not_found()
    return Found(path.strip("/"), ref, sha, entry)


def _branch_head(db: GitDatabase, branch: str | None) -> tuple[str, str]:
    name = branch or db.default_branch
    head = db.branch(name)
    if head is None:
        raise ApiError(404, f"Branch {name} not found")
    return name, head


def _check_sha(path: str, entry: TreeEntry | None, sha: str | None, *, deleting: bool) -> None:
    if entry is None or entry.type == "tree":
        if deleting:
            raise not_found()
        if entry is not None:
            raise ApiError(422, f"{path} is a directory")  # approximate: GitHub documents no answer
        return  # a new file: any sha is ignored
    if sha is None:
        raise invalid_request('"sha" wasn\'t supplied.')
    if sha != entry.sha:
        raise ApiError(409, f"{path} does not match {sha}")


def write_file(
    db: GitDatabase,
    path: str,
    data: bytes | None,
    *,
    message: str,
    sha: str | None,
    branch: str | None,
    author: Signature | None,
    committer: Signature | None,
) -> tuple[bool, Commit]:
    """Create, update (``data``) or delete (None) one file in a new commit on ``branch``; the
    branch moves to it. Returns ``(created, commit)``."""
    path = path.strip("/")
    name, head = _branch_head(db, branch)
    entry = db.objects.lookup(db.commit(head).tree, path)
    _check_sha(path, entry, sha, deleting=data is None)
    tree = db.change_files(db.commit(head).tree, {path: data})
    commit = db.write_commit(tree, (head,), message, author, committer)
    db.move_branch(name, commit.sha)
    return entry is None, commit
