"""Files and branches of a repository over REST, without a git binary or a checkout.

What proposing a change to another repository needs: read a file or list a directory at a ref,
write a set of changes as one commit (blobs → tree on the parent's tree → commit), point a branch
at it, delete the branch. Every write is safe to repeat: blobs and trees are content-addressed, a
duplicate commit nobody points at is harmless, and a branch is set by looking first and forcing
it to the wanted commit, so a retry after any failure ends in the same state.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import urllib.parse
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import attrs

from btp_release.errors import AlreadyExists, DigestMismatch, InvalidInput, NotFound
from btp_release.github._http import GitHubSession
from btp_release.github.protocol import error_for_response
from btp_release.redaction import get_logger

__all__ = ["RepoFile", "RepoFileOperations", "git_blob_sha", "quote_path"]

log = get_logger("btp_release.github")

FILE_MODE = "100644"
_FILE_MODES = frozenset({"100644", "100755"})
_SHA = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")
_BAD_REF_CHARS = frozenset("~^:?*[\\")


@attrs.frozen
class RepoFile:
    """A file as the contents API returns it: its path, blob SHA and content."""

    path: str
    sha: str
    content: bytes

    @property
    def text(self) -> str:
        """The content as UTF-8 (``InvalidInput`` if it is not)."""
        try:
            return self.content.decode()
        except UnicodeDecodeError as exc:
            raise InvalidInput(f"{self.path} is not UTF-8 text") from exc


@attrs.frozen
class _Entry:
    path: str
    type: str  # blob, tree or commit (a submodule)
    mode: str
    sha: str


def git_blob_sha(content: bytes) -> str:
    """The name git (and GitHub) gives a blob of ``content``: SHA-1 of ``blob <size>\\0<content>``."""
    return hashlib.sha1(b"blob %d\0" % len(content) + content, usedforsecurity=False).hexdigest()


def check_path(path: str, *, what: str = "path") -> str:
    """A repository path: relative, ``/``-separated, no empty, ``.`` or ``..`` element."""
    parts = path.split("/")
    if not path or any(part in ("", ".", "..") for part in parts) or "\0" in path:
        raise InvalidInput(
            f"invalid {what} {path!r}",
            hint="use a relative path in the repository, e.g. modules/btp-operator/1.0.0/module-config.yaml",
        )
    return path


def check_branch(branch: str) -> str:
    """A branch name git accepts (``refs/heads/<branch>``); ``feature/x`` is fine."""
    bad = (
        not branch
        or branch.startswith(("/", "-", "refs/"))
        or branch.endswith(("/", ".", ".lock"))
        or ".." in branch
        or "//" in branch
        or "@{" in branch
        or branch == "@"
        or any(c.isspace() or ord(c) < 32 or c in _BAD_REF_CHARS for c in branch)
    )
    if bad:
        raise InvalidInput(
            f"invalid branch name {branch!r}", hint="use a git branch name, e.g. btp-manager-1.2.0"
        )
    return branch


def _check_sha(sha: str, what: str) -> str:
    if not _SHA.match(sha):
        raise InvalidInput(f"invalid {what} {sha!r}", hint="give a full commit SHA (40 hex digits)")
    return sha


def quote_path(path: str) -> str:
    """Percent-quote each element of a path for a URL, keeping the ``/`` between them."""
    return urllib.parse.quote(path, safe="/")


def _decode(data: Mapping[str, Any], what: str) -> bytes:
    try:
        return base64.b64decode("".join(str(data.get("content") or "").split()), validate=True)
    except binascii.Error as exc:
        raise InvalidInput(f"GitHub sent {what} in invalid Base64") from exc


class RepoFileOperations(GitHubSession):
    """File and branch operations of :class:`~btp_release.github.GitHubClient`."""

    # -- reading ---------------------------------------------------------------------------

    def get_file(self, path: str, *, ref: str) -> RepoFile | None:
        """The file at ``path`` on ``ref`` (a branch, tag or commit SHA); ``None`` if there is none.

        Files over 1 MB, which the contents API answers without content, are read as blobs.
        Raises :class:`InvalidInput` when ``path`` is a directory (or a submodule or symlink),
        :class:`NotFound` when ``ref`` does not exist, :class:`DigestMismatch` when the content
        does not match its blob SHA.
        """
        check_path(path)
        if not ref:
            raise InvalidInput(
                f"no ref to read {path} of {self.repo} at", hint="give a branch, tag or commit SHA"
            )
        subject = f"{path} at {ref} of {self.repo}"
        try:
            body, _ = self.get_json(
                self.repo_url(f"/contents/{quote_path(path)}"),
                operation="get file",
                subject=subject,
                params={"ref": ref},
            )
        except NotFound as exc:
            if "no commit found" in str(exc).lower():  # the ref is unknown, not the path
                raise NotFound(f"{self.repo} has no branch, tag or commit {ref!r}", hint=exc.hint) from exc
            return None
        if not isinstance(body, Mapping) or body.get("type") != "file":
            kind = "a directory" if isinstance(body, list) else f"a {body.get('type', 'non-file')}"
            raise InvalidInput(f"{subject} is {kind}, not a file", hint="give the path of a file")
        sha = str(body["sha"])
        # Over 1 MB the contents API answers "encoding": "none" and no content: read the blob.
        inline = body.get("encoding") == "base64"
        content = _decode(body, subject) if inline else self._blob(sha, subject)
        if git_blob_sha(content) != sha:
            raise DigestMismatch(f"{subject}: content does not match its blob {sha}", hint="read it again")
        return RepoFile(path=str(body.get("path") or path), sha=sha, content=content)

    def _blob(self, sha: str, subject: str) -> bytes:
        body, _ = self.get_json(
            self.repo_url(f"/git/blobs/{sha}"), operation="get blob", subject=f"blob {sha[:12]} of {subject}"
        )
        if body.get("encoding") not in (None, "base64"):
            raise InvalidInput(f"GitHub sent blob {sha[:12]} of {subject} as {body.get('encoding')}")
        return _decode(body, f"blob {sha[:12]} of {subject}")

    def list_files(self, directory: str, *, ref: str) -> list[str]:
        """Every file path under ``directory`` (recursively; ``""`` is the whole repository) on
        ``ref``, sorted; ``[]`` when there is no such directory.

        One request for the recursive tree; when GitHub truncates it (over 100,000 entries or
        7 MB) the trees are walked one by one. Raises :class:`NotFound` for an unknown ``ref``,
        :class:`InvalidInput` when ``directory`` is a file.
        """
        directory = directory.rstrip("/")
        if directory:
            check_path(directory, what="directory")
        root = self._root_tree(ref)
        subject = f"{directory or '/'} at {ref} of {self.repo}"
        entries, truncated = self._tree(root, recursive=True, subject=subject)
        if not truncated:
            prefix = f"{directory}/" if directory else ""
            if directory and any(e.path == directory and e.type != "tree" for e in entries):
                raise InvalidInput(f"{subject} is a file, not a directory")
            return sorted(e.path for e in entries if e.type == "blob" and e.path.startswith(prefix))
        top = self._lookup(root, directory, subject) if directory else _Entry("", "tree", "040000", root)
        if top is None:
            return []
        if top.type != "tree":
            raise InvalidInput(f"{subject} is a file, not a directory")
        prefix = f"{directory}/" if directory else ""
        return sorted(prefix + path for path in self._walk_blobs(top.sha, subject))

    def _root_tree(self, ref: str) -> str:
        """The tree of the commit ``ref`` names. A branch with a ``/`` is resolved first, since
        the trees endpoint takes a name only as one path element."""
        if not ref:
            raise InvalidInput("an empty ref", hint="give a branch, tag or commit SHA")
        if "/" in ref:
            body, _ = self.get_json(
                self.repo_url(f"/commits/{quote_path(ref)}"),
                operation="resolve commit",
                subject=f"{ref!r} in {self.repo}",
            )
            ref = str(body["sha"])
        try:
            body, _ = self.get_json(
                self.repo_url(f"/git/trees/{urllib.parse.quote(ref, safe='')}"),
                operation="get tree",
                subject=f"{ref} of {self.repo}",
            )
        except NotFound as exc:
            raise NotFound(f"{self.repo} has no branch, tag or commit {ref!r}", hint=exc.hint) from exc
        return str(body["sha"])

    def _tree(self, sha: str, *, recursive: bool, subject: str) -> tuple[list[_Entry], bool]:
        body, _ = self.get_json(
            self.repo_url(f"/git/trees/{sha}"),
            operation="get tree",
            subject=f"tree {sha[:12]} of {subject}",
            params={"recursive": "1"} if recursive else None,
        )
        entries = [
            _Entry(str(e["path"]), str(e["type"]), str(e.get("mode") or ""), str(e["sha"]))
            for e in body.get("tree") or []
        ]
        return entries, bool(body.get("truncated"))

    def _walk_blobs(self, tree: str, subject: str) -> Iterator[str]:
        """Blob paths under ``tree`` (relative to it), recursing one tree at a time when GitHub
        truncates a recursive listing."""
        entries, truncated = self._tree(tree, recursive=True, subject=subject)
        if not truncated:
            yield from (e.path for e in entries if e.type == "blob")
            return
        entries, _ = self._tree(tree, recursive=False, subject=subject)
        for entry in entries:
            if entry.type == "blob":
                yield entry.path
            elif entry.type == "tree":
                yield from (f"{entry.path}/{p}" for p in self._walk_blobs(entry.sha, subject))

    def _lookup(self, tree: str, path: str, subject: str) -> _Entry | None:
        """The entry at ``path`` below ``tree``, one tree per path element."""
        found: _Entry | None = None
        for name in path.split("/"):
            if found is not None:
                if found.type != "tree":
                    return None
                tree = found.sha
            entries, _ = self._tree(tree, recursive=False, subject=subject)
            found = next((e for e in entries if e.path == name), None)
            if found is None:
                return None
        return found

    def branch_head(self, branch: str) -> str | None:
        """The commit ``refs/heads/<branch>`` points at; ``None`` if there is no such branch."""
        check_branch(branch)
        try:
            body, _ = self.get_json(
                self.repo_url(f"/git/ref/heads/{quote_path(branch)}"),
                operation="get branch",
                subject=f"branch {branch} of {self.repo}",
            )
        except NotFound:
            return None
        # GitHub once answered a prefix match with a list; only an exact ref counts.
        if not isinstance(body, Mapping) or body.get("ref") != f"refs/heads/{branch}":
            return None
        return str(body["object"]["sha"])

    # -- writing ---------------------------------------------------------------------------

    def create_commit(self, parent: str, changes: Iterable[tuple[str, bytes | None]], *, message: str) -> str:
        """One commit on top of the commit ``parent`` applying ``changes``: ``(path, content)``
        adds or updates a file (mode 100644; an executable keeps 100755), ``(path, None)``
        deletes one. Moves no branch (see :meth:`set_branch`). Returns the new commit's SHA, or
        ``parent`` itself when the changes leave its files as they are (no empty commit).

        Deleting a path the parent does not have is skipped. Retry-safe: blobs and trees are
        content-addressed and a duplicate commit no ref points at is harmless, so every request
        is retried. Raises :class:`InvalidInput` for no changes, a bad or repeated path, or a
        path that is a directory; :class:`NotFound` when ``parent`` is not a commit here.
        """
        _check_sha(parent, "parent commit")
        wanted: dict[str, bytes | None] = {}
        for path, content in changes:
            check_path(path)
            if path in wanted:
                raise InvalidInput(f"{path} is changed twice in one commit", hint="give each path once")
            wanted[path] = content
        if not wanted:
            raise InvalidInput(f"no changes for a commit on {parent[:12]} of {self.repo}")
        subject = f"commit on {parent[:12]} of {self.repo}"
        try:
            body, _ = self.get_json(
                self.repo_url(f"/git/commits/{parent}"),
                operation="get commit",
                subject=f"{parent} of {self.repo}",
            )
        except NotFound as exc:
            raise NotFound(
                f"{self.repo} has no commit {parent}", hint="give a commit of this repository"
            ) from exc
        base_tree = str(body["tree"]["sha"])
        existing = self._entries_at(base_tree, wanted, subject)
        tree: list[dict[str, Any]] = []
        for path, content in wanted.items():
            entry = existing.get(path)
            if entry is not None and entry.type != "blob":
                raise InvalidInput(f"{path} is a {entry.type} in {parent[:12]} of {self.repo}, not a file")
            if content is None:
                if entry is None:
                    log.info("%s is not in %s of %s: nothing to delete", path, parent[:12], self.repo)
                else:
                    tree.append({"path": path, "mode": entry.mode, "type": "blob", "sha": None})
                continue
            mode = entry.mode if entry is not None and entry.mode in _FILE_MODES else FILE_MODE
            sha = git_blob_sha(content)
            if entry is not None and (entry.sha, entry.mode) == (sha, mode):
                continue  # unchanged
            tree.append({"path": path, "mode": mode, "type": "blob", "sha": self._create_blob(content, path)})
        if not tree:
            log.info("%s: the changes leave %s as it is; no commit", subject, parent[:12])
            return parent
        made = self.request_json(
            "POST",
            self.repo_url("/git/trees"),
            operation="create tree",
            subject=subject,
            expect=(201,),
            json={"base_tree": base_tree, "tree": tree},
            idempotent=True,
        )
        if made["sha"] == base_tree:
            return parent
        commit = self.request_json(
            "POST",
            self.repo_url("/git/commits"),
            operation="create commit",
            subject=subject,
            expect=(201,),
            json={"message": message, "tree": made["sha"], "parents": [parent]},
            idempotent=True,
        )
        sha = str(commit["sha"])
        log.info("created commit %s on %s of %s (%d changes)", sha[:12], parent[:12], self.repo, len(tree))
        return sha

    def _entries_at(self, tree: str, paths: Iterable[str], subject: str) -> dict[str, _Entry]:
        """What each of ``paths`` is in ``tree`` (absent ones left out): one recursive listing, or
        a walk per path when GitHub truncates it."""
        entries, truncated = self._tree(tree, recursive=True, subject=subject)
        if not truncated:
            wanted = set(paths)
            return {e.path: e for e in entries if e.path in wanted}
        found = {path: self._lookup(tree, path, subject) for path in paths}
        return {path: entry for path, entry in found.items() if entry is not None}

    def _create_blob(self, content: bytes, path: str) -> str:
        sha = git_blob_sha(content)
        made = self.request_json(
            "POST",
            self.repo_url("/git/blobs"),
            operation="create blob",
            subject=f"{path} in {self.repo}",
            expect=(201,),
            json={"content": base64.b64encode(content).decode("ascii"), "encoding": "base64"},
            idempotent=True,
        )
        if made.get("sha") != sha:
            raise DigestMismatch(f"GitHub stored {path} as blob {made.get('sha')}, expected {sha}")
        return sha

    def set_branch(self, branch: str, sha: str) -> None:
        """Point ``refs/heads/<branch>`` at the commit ``sha``: create it, or move it there (forced:
        whatever the branch held is replaced). Idempotent: looks first, and after an uncertain
        create (timeout, 5xx, "Reference already exists") looks again and moves it if needed."""
        check_branch(branch)
        _check_sha(sha, "commit")
        subject = f"branch {branch} of {self.repo}"

        def create() -> str:
            try:
                self.request_json(
                    "POST",
                    self.repo_url("/git/refs"),
                    operation="create branch",
                    subject=subject,
                    expect=(201,),
                    json={"ref": f"refs/heads/{branch}", "sha": sha},
                    idempotent=False,
                )
            except AlreadyExists:
                current = self.branch_head(branch)
                if current is None:
                    raise
                return current
            log.info("created %s at %s", subject, sha[:12])
            return sha

        current = self.create_idempotently(find=lambda: self.branch_head(branch), create=create, what=subject)
        if current == sha:
            return
        self.request_json(
            "PATCH",
            self.repo_url(f"/git/refs/heads/{quote_path(branch)}"),
            operation="move branch",
            subject=subject,
            json={"sha": sha, "force": True},
        )
        log.info("moved %s from %s to %s", subject, current[:12], sha[:12])

    def delete_branch(self, branch: str) -> bool:
        """Delete ``refs/heads/<branch>``; ``False`` if it was already gone (GitHub then closes
        the open pull requests from or to it)."""
        check_branch(branch)
        return self.delete_ref(
            f"heads/{quote_path(branch)}",
            operation="delete branch",
            subject=f"branch {branch} of {self.repo}",
        )

    def delete_ref(self, ref: str, *, operation: str, subject: str) -> bool:
        """``DELETE /git/refs/<ref>`` (``ref`` quoted, e.g. ``heads/x`` or ``tags/1.2.0``), retried; ``False``
        when it did not exist (GitHub answers that with a 422, not a 404)."""

        def attempt() -> bool:
            response = self.send(
                "DELETE",
                self.repo_url(f"/git/refs/{ref}"),
                operation=operation,
                subject=subject,
                expect=(204, 422),
            )
            if response.status_code == 204:
                return True
            body = response.json() if response.content else {}
            if "does not exist" in str(body.get("message", "")).lower():
                return False
            raise error_for_response(
                422, response.headers, body, operation=operation, subject=subject, now=self.wall_clock()
            )

        return self.retrying(attempt, what=f"{operation} ({subject})")
