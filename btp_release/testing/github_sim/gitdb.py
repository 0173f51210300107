"""The git side of a simulated repository: objects, commits, branches, refs and tag objects.

Pure in-memory model (no HTTP), the base of :class:`~.state.RepoState`. Blobs, trees and commits
carry git's own SHA-1 names (:mod:`.objects`); history is a graph (merge commits have two
parents). A ref points at a commit or at an annotated tag object (``POST /git/tags`` then
``POST /git/refs``, as GitHub documents: creating the tag object alone makes no tag). Everything
that needs a commit peels tag objects. Deleting a tag ref is eventually consistent
(``delete_ref_lag``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Mapping

from .errors import ApiError, not_found
from .models import Commit, GitRef, TagObject
from .objects import EMPTY_TREE, FILE_MODE, Change, ObjectStore, Signature, commit_sha

DEFAULT_BRANCH = "main"
BOT = ("Kyma Bot", "bot@example.com")
_SHA_RE = re.compile(r"^[0-9a-f]{7,40}$")
_BAD_REF_RE = re.compile(r"(\.\.|[\x00-\x20~^:?*\[\\]|@\{|//|/\.|\.lock$|^/|/$|\.$|^-)")
FileChanges = Mapping[str, bytes | str | None]


def valid_ref_name(name: str) -> bool:
    """A conservative subset of git's check-ref-format rules."""
    return bool(name) and not _BAD_REF_RE.search(name)


def as_bytes(content: bytes | str) -> bytes:
    return content.encode() if isinstance(content, str) else content


class GitDatabase:
    """Objects, commits, refs and tag objects of one repository; deterministic given the clock."""

    def __init__(
        self,
        owner: str,
        repo: str,
        *,
        clock: Callable[[], float],
        default_branch: str = DEFAULT_BRANCH,
        files: FileChanges | None = None,
        repo_id: int = 1_296_269,
    ) -> None:
        self.owner = owner
        self.repo = repo
        self.repo_id = repo_id
        self.default_branch = default_branch
        self.delete_ref_lag = 0
        self._clock = clock
        self.objects = ObjectStore()
        self._commits: dict[str, Commit] = {}
        self._tag_objects: dict[str, TagObject] = {}
        self._refs: dict[str, str] = {}
        # Deleted tag refs that GET still answers for this many more times.
        self._ghost_refs: dict[str, tuple[str, int]] = {}
        self.modified_at = clock()
        self.add_commit("Initial commit", files=files)

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.repo}"

    def _touch(self) -> float:
        now = self._clock()
        self.modified_at = max(self.modified_at, now)
        return now

    def touch(self) -> float:
        """Record a change now (``Last-Modified``); returns the time."""
        return self._touch()

    # -- hooks for the release rules (immutable releases protect their tags) ----------------

    def _guard_ref_change(self, full: str, action: str) -> None:
        """Raise if ``full`` may not be updated or deleted."""

    def _guard_ref_creation(self, full: str) -> None:
        """Raise if ``full`` may not be created."""

    def _branch_deleted(self, name: str, sha: str) -> None:
        """Called after ``refs/heads/<name>`` (last at ``sha``) was deleted: pull requests close."""

    # -- commits -----------------------------------------------------------------------

    @property
    def head_sha(self) -> str:
        return self._refs[f"refs/heads/{self.default_branch}"]

    def signature(self, who: tuple[str, str] | None = None, date: float | None = None) -> Signature:
        name, email = who or BOT
        return Signature(name, email, self._clock() if date is None else date)

    def write_commit(
        self,
        tree: str,
        parents: Iterable[str],
        message: str,
        author: Signature | None = None,
        committer: Signature | None = None,
    ) -> Commit:
        """``POST /git/commits``: a commit object; no branch moves."""
        parents = tuple(parents)
        if tree not in self.objects.trees:
            raise ApiError(422, "Tree SHA does not exist")
        if any(p not in self._commits for p in parents):
            raise ApiError(422, "Parent SHA does not exist or is not a commit object")
        committer = committer or self.signature()
        author = author or committer
        sha = commit_sha(tree, parents, author, committer, message)
        self._touch()
        commit = Commit(sha, message, tree, parents, author, committer)
        self._commits.setdefault(sha, commit)
        return self._commits[sha]

    def add_commit(
        self,
        message: str = "",
        sha: str | None = None,
        *,
        branch: str | None = None,
        files: FileChanges | None = None,
    ) -> str:
        """Commit ``files`` (path → content, None deletes) on ``branch`` (the default one) and move
        it; returns the sha. ``sha``: a commit made elsewhere (its tree is its parent's)."""
        ref = f"refs/heads/{branch or self.default_branch}"
        parent = self._refs.get(ref)
        message = message or f"Commit {len(self._commits) + 1}"
        tree = self.commit(parent).tree if parent else EMPTY_TREE
        if files:
            tree = self.change_files(tree, files)
        if sha is None:
            sha = self.write_commit(tree, (parent,) if parent else (), message).sha
        else:
            who = self.signature(date=self._touch())
            self._commits[sha] = Commit(sha, message, tree, (parent,) if parent else (), who, who)
        self._refs[ref] = sha
        return sha

    def change_files(self, tree: str, files: FileChanges) -> str:
        """``tree`` with these files written (bytes or text) or deleted (None)."""
        changes = [
            Change(path, FILE_MODE, "blob", None if data is None else self.objects.put_blob(as_bytes(data)))
            for path, data in files.items()
        ]
        return self.objects.apply(tree, changes)

    def commit(self, sha: str) -> Commit:
        return self._commits[sha]

    def has_commit(self, sha: str) -> bool:
        return sha in self._commits

    def peel(self, sha: str) -> str:
        """The commit a sha stands for: itself, or the commit an annotated tag object tags."""
        tag = self._tag_objects.get(sha)
        return tag.object_sha if tag is not None else sha

    def resolve(self, ref: str) -> str | None:
        """A sha, ``refs/…``, ``heads/…``/``tags/…``, branch or tag name → commit sha."""
        if ref in self._commits or ref in self._tag_objects:
            return self.peel(ref)
        candidates = [ref, f"refs/{ref}", f"refs/heads/{ref}", f"refs/tags/{ref}"]
        for candidate in candidates:
            if candidate in self._refs:
                return self.peel(self._refs[candidate])
        if _SHA_RE.match(ref):
            matches = [sha for sha in self._commits if sha.startswith(ref)]
            if len(matches) == 1:
                return matches[0]
        return None

    def ancestry(self, sha: str | None) -> list[str]:
        """``sha`` and every commit reachable from it, breadth first (first parents first)."""
        if sha is None:
            return []
        seen = {sha}
        order = [sha]
        for current in order:  # grows while walked; bounded by the number of commits
            for parent in self._commits[current].parents:
                if parent not in seen and parent in self._commits:
                    seen.add(parent)
                    order.append(parent)
        return order

    def _is_ancestor(self, ancestor: str, sha: str | None) -> bool:
        return ancestor in set(self.ancestry(sha))

    def merge_base(self, one: str, other: str) -> str | None:
        """A best common ancestor: the first of ``other``'s history that ``one`` reaches."""
        reachable = set(self.ancestry(one))
        return next((sha for sha in self.ancestry(other) if sha in reachable), None)

    def commits_between(self, base: str | None, head: str) -> list[Commit]:
        """Commits reachable from ``head`` but not from ``base``, newest first."""
        excluded = set(self.ancestry(base))
        found = [self._commits[sha] for sha in self.ancestry(head) if sha not in excluded]
        return sorted(found, key=lambda c: -c.created_at)

    def files(self, ref: str) -> dict[str, bytes]:
        """Every file of the tree at ``ref`` (a branch, tag or sha) by path."""
        sha = self.resolve(ref)
        if sha is None:
            raise KeyError(f"no commit found for {ref!r}")
        leaves = self.objects.leaves(self.commit(sha).tree)
        return {path: self.objects.blobs[leaf.sha] for path, leaf in leaves.items() if leaf.type == "blob"}

    # -- tag objects -------------------------------------------------------------------

    def create_tag_object(
        self, tag: str, message: str, object_sha: str, object_type: str, tagger: tuple[str, str] | None
    ) -> TagObject:
        """``POST /git/tags``: an annotated tag object of a commit; no ref is created."""
        if object_type != "commit" or object_sha not in self._commits:
            # Tags of trees and blobs are not modelled: only commits are tagged.
            raise ApiError(422, "Object does not exist")
        name, email = tagger or BOT
        now = self._touch()
        header = f"object {object_sha}\ntype commit\ntag {tag}\ntagger {name} <{email}> {int(now)} +0000"
        content = f"{header}\n\n{message}".encode()
        sha = hashlib.sha1(b"tag %d\0" % len(content) + content, usedforsecurity=False).hexdigest()
        tag_object = TagObject(sha, tag, message, object_sha, name, email, now)
        self._tag_objects[sha] = tag_object
        return tag_object

    def tag_object(self, sha: str) -> TagObject:
        tag = self._tag_objects.get(sha)
        if tag is None:
            raise not_found()
        return tag

    # -- refs --------------------------------------------------------------------------

    def _ref(self, full: str, sha: str) -> GitRef:
        return GitRef(full, sha, "tag" if sha in self._tag_objects else "commit")

    def _exists(self, sha: str) -> bool:
        return sha in self._commits or sha in self._tag_objects

    def refs(self) -> list[GitRef]:
        return [self._ref(ref, sha) for ref, sha in sorted(self._refs.items())]

    def branch(self, name: str) -> str | None:
        """The commit a branch points at, None if there is no such branch."""
        return self._refs.get(f"refs/heads/{name}")

    def move_branch(self, name: str, sha: str) -> None:
        """Point ``refs/heads/<name>`` at ``sha`` (a push; no fast-forward check)."""
        self._refs[f"refs/heads/{name}"] = sha
        self._touch()

    def branches(self) -> list[tuple[str, str]]:
        """``(name, sha)`` of every branch, by name."""
        return [(ref[11:], sha) for ref, sha in sorted(self._refs.items()) if ref.startswith("refs/heads/")]

    def tags(self) -> list[tuple[str, str]]:
        """``(name, commit sha)`` of every tag (annotated ones peeled), by name."""
        return [
            (ref[10:], self.peel(sha))
            for ref, sha in sorted(self._refs.items())
            if ref.startswith("refs/tags/")
        ]

    def get_ref(self, ref: str) -> GitRef:
        """GET /git/ref/{ref}; a recently deleted tag may still answer (``delete_ref_lag``)."""
        full = f"refs/{ref}"
        if full in self._refs:
            return self._ref(full, self._refs[full])
        ghost = self._ghost_refs.get(full)
        if ghost is not None:
            sha, remaining = ghost
            if remaining > 1:
                self._ghost_refs[full] = (sha, remaining - 1)
            else:
                del self._ghost_refs[full]
            return self._ref(full, sha)
        raise not_found()

    def matching_refs(self, prefix: str) -> list[GitRef]:
        full = f"refs/{prefix}"
        return [r for r in self.refs() if r.ref.startswith(full)]

    def create_ref(self, ref: str, sha: str) -> GitRef:
        if not ref.startswith("refs/") or ref.count("/") < 2 or not valid_ref_name(ref[5:]):
            raise ApiError(422, "Reference name is invalid")
        if not self._exists(sha):
            raise ApiError(422, "Object does not exist")
        if ref in self._refs:
            raise ApiError(422, "Reference already exists")
        self._guard_ref_creation(ref)
        self._refs[ref] = sha
        self._ghost_refs.pop(ref, None)
        self._touch()
        return self._ref(ref, sha)

    def update_ref(self, ref: str, sha: str, *, force: bool) -> GitRef:
        full = f"refs/{ref}"
        if full not in self._refs:
            raise ApiError(422, "Reference does not exist")
        if not self._exists(sha):
            raise ApiError(422, "Object does not exist")
        self._guard_ref_change(full, "update")
        if not force and not self._is_ancestor(self.peel(self._refs[full]), self.peel(sha)):
            raise ApiError(422, "Update is not a fast forward")
        self._refs[full] = sha
        self._touch()
        return self._ref(full, sha)

    def delete_ref(self, ref: str) -> None:
        full = f"refs/{ref}"
        if full not in self._refs:
            raise ApiError(422, "Reference does not exist")
        self._guard_ref_change(full, "delete")
        sha = self._refs.pop(full)
        if full.startswith("refs/tags/") and self.delete_ref_lag > 0:
            self._ghost_refs[full] = (sha, self.delete_ref_lag)
        self._touch()
        if full.startswith("refs/heads/"):
            self._branch_deleted(full[11:], sha)
