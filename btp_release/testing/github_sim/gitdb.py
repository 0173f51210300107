"""The git side of the simulated repository: a linear ``main``, refs and annotated tag objects.

Pure in-memory model (no HTTP), the base of :class:`~.state.RepoState`. A ref points at a commit
or at an annotated tag object (``POST /git/tags`` then ``POST /git/refs``, as GitHub documents:
creating the tag object alone makes no tag). Everything that needs a commit peels tag objects.
Deleting a tag ref is eventually consistent (``delete_ref_lag``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable

from .errors import ApiError, not_found
from .models import Commit, GitRef, TagObject

DEFAULT_BRANCH = "main"
_SHA_RE = re.compile(r"^[0-9a-f]{7,40}$")
_BAD_REF_RE = re.compile(r"(\.\.|[\x00-\x20~^:?*\[\\]|@\{|//|/\.|\.lock$|^/|/$|\.$|^-)")


def valid_ref_name(name: str) -> bool:
    """A conservative subset of git's check-ref-format rules."""
    return bool(name) and not _BAD_REF_RE.search(name)


class GitDatabase:
    """Commits on ``main``, refs and tag objects; shas are deterministic given the clock."""

    def __init__(self, owner: str, repo: str, *, clock: Callable[[], float]) -> None:
        self.owner = owner
        self.repo = repo
        self.delete_ref_lag = 0
        self._clock = clock
        self._commits: dict[str, Commit] = {}
        self._tag_objects: dict[str, TagObject] = {}
        self._refs: dict[str, str] = {}
        # Deleted tag refs that GET still answers for this many more times.
        self._ghost_refs: dict[str, tuple[str, int]] = {}
        self.modified_at = clock()
        self.add_commit("Initial commit")

    def _touch(self) -> float:
        now = self._clock()
        self.modified_at = max(self.modified_at, now)
        return now

    # -- hooks for the release rules (immutable releases protect their tags) ----------------

    def _guard_ref_change(self, full: str, action: str) -> None:
        """Raise if ``full`` may not be updated or deleted."""

    def _guard_ref_creation(self, full: str) -> None:
        """Raise if ``full`` may not be created."""

    # -- commits -----------------------------------------------------------------------

    @property
    def head_sha(self) -> str:
        return self._refs[f"refs/heads/{DEFAULT_BRANCH}"]

    def add_commit(self, message: str = "", sha: str | None = None) -> str:
        """Append a commit to the default branch and return its sha (``sha``: one made elsewhere)."""
        parent = self._refs.get(f"refs/heads/{DEFAULT_BRANCH}")
        number = len(self._commits) + 1
        message = message or f"Commit {number}"
        seed = f"{self.owner}/{self.repo}#{number}:{parent}:{message}"
        sha = sha or hashlib.sha1(seed.encode(), usedforsecurity=False).hexdigest()
        self._commits[sha] = Commit(sha, message, parent, self._touch())
        self._refs[f"refs/heads/{DEFAULT_BRANCH}"] = sha
        return sha

    def commit(self, sha: str) -> Commit:
        return self._commits[sha]

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

    def _is_ancestor(self, ancestor: str, sha: str | None) -> bool:
        for _ in range(len(self._commits) + 1):
            if sha is None:
                return False
            if sha == ancestor:
                return True
            sha = self._commits[sha].parent
        return False

    def commits_between(self, base: str | None, head: str) -> list[Commit]:
        """Commits reachable from ``head`` but not from ``base``, newest first."""
        out: list[Commit] = []
        sha: str | None = head
        for _ in range(len(self._commits)):
            if sha is None or sha == base:
                break
            out.append(self._commits[sha])
            sha = self._commits[sha].parent
        return out

    # -- tag objects -------------------------------------------------------------------

    def create_tag_object(
        self, tag: str, message: str, object_sha: str, object_type: str, tagger: tuple[str, str] | None
    ) -> TagObject:
        """``POST /git/tags``: an annotated tag object of a commit; no ref is created."""
        if object_type != "commit" or object_sha not in self._commits:
            # Trees and blobs are not modelled: only commits exist to be tagged.
            raise ApiError(422, "Object does not exist")
        name, email = tagger or ("Kyma Bot", "bot@example.com")
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
