"""Git objects as git stores them: blobs, trees and commits with their real SHA-1 names.

Pure values and encoding, no HTTP: a blob's sha is ``sha1(b"blob %d\\0" + data)``, a tree's the
SHA-1 of git's binary tree format (entries in git's order, a directory sorting as if its name
ended in ``/``), a commit's that of its text (``tree``, ``parent`` lines, author and committer
with their epoch seconds). So a checkout made with real git of the same files, dates and message
has the same shas. :class:`ObjectStore` keeps them and builds trees from path changes the way
``POST /git/trees`` does (``base_tree``, nested paths, ``sha: null`` deletes).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Literal

import attrs

from .errors import ApiError

EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
FILE_MODE = "100644"
TREE_MODE = "040000"
# The modes GitHub's trees API accepts: file, executable, directory, submodule (commit), symlink.
ENTRY_TYPES: Mapping[str, str] = {
    "100644": "blob",
    "100755": "blob",
    "120000": "blob",
    "040000": "tree",
    "160000": "commit",
}
ObjectType = Literal["blob", "tree", "commit"]


def git_sha(kind: str, content: bytes) -> str:
    """The name git gives an object: SHA-1 of ``"<kind> <size>\\0"`` and the content."""
    header = f"{kind} {len(content)}\0".encode()
    return hashlib.sha1(header + content, usedforsecurity=False).hexdigest()


def blob_sha(data: bytes) -> str:
    return git_sha("blob", data)


@attrs.frozen
class TreeEntry:
    """One entry of a tree object: ``mode`` as GitHub shows it (``040000`` for a directory)."""

    name: str
    mode: str
    type: ObjectType
    sha: str


@attrs.frozen
class Signature:
    """Author or committer of a commit; ``date`` in epoch seconds (UTC)."""

    name: str
    email: str
    date: float

    def line(self) -> str:
        return f"{self.name} <{self.email}> {int(self.date)} +0000"


def _sort_key(entry: TreeEntry) -> bytes:
    name = entry.name.encode()
    return name + b"/" if entry.type == "tree" else name


def tree_sha(entries: Iterable[TreeEntry]) -> str:
    """Git's binary tree format: ``<mode> <name>\\0<20-byte sha>`` per entry, in git's order."""
    parts = []
    for entry in sorted(entries, key=_sort_key):
        mode = entry.mode.lstrip("0") or "0"  # git writes directories as "40000"
        parts.append(f"{mode} {entry.name}".encode() + b"\0" + bytes.fromhex(entry.sha))
    return git_sha("tree", b"".join(parts))


def commit_sha(
    tree: str, parents: Iterable[str], author: Signature, committer: Signature, message: str
) -> str:
    lines = [f"tree {tree}", *(f"parent {p}" for p in parents)]
    lines += [f"author {author.line()}", f"committer {committer.line()}"]
    return git_sha("commit", ("\n".join(lines) + "\n\n" + message).encode())


@attrs.frozen
class Leaf:
    """A file (or submodule) at a path of a flattened tree."""

    mode: str
    type: ObjectType
    sha: str


@attrs.frozen
class Change:
    """One entry of ``POST /git/trees``: put ``sha`` (a blob, tree or commit) at ``path``, or
    delete the path when ``sha`` is None."""

    path: str
    mode: str
    type: ObjectType
    sha: str | None


def _invalid(message: str) -> ApiError:
    return ApiError(422, message)


class ObjectStore:
    """Blobs and trees by sha (commits and tag objects live in the git database)."""

    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}
        self.trees: dict[str, tuple[TreeEntry, ...]] = {EMPTY_TREE: ()}

    def put_blob(self, data: bytes) -> str:
        sha = blob_sha(data)
        self.blobs[sha] = data
        return sha

    def put_tree(self, entries: Iterable[TreeEntry]) -> str:
        ordered = tuple(sorted(entries, key=_sort_key))
        sha = tree_sha(ordered)
        self.trees[sha] = ordered
        return sha

    def entries(self, tree: str) -> tuple[TreeEntry, ...]:
        return self.trees[tree]

    def walk(self, tree: str, *, recursive: bool, prefix: str = "") -> list[tuple[str, TreeEntry]]:
        """``(path, entry)`` pairs in git's order (a directory before its contents)."""
        out: list[tuple[str, TreeEntry]] = []
        for entry in self.trees[tree]:
            path = prefix + entry.name
            out.append((path, entry))
            if recursive and entry.type == "tree":
                out.extend(self.walk(entry.sha, recursive=True, prefix=path + "/"))
        return out

    def leaves(self, tree: str) -> dict[str, Leaf]:
        """Every file and submodule of a tree by its full path."""
        return {
            path: Leaf(e.mode, e.type, e.sha)
            for path, e in self.walk(tree, recursive=True)
            if e.type != "tree"
        }

    def lookup(self, tree: str, path: str) -> TreeEntry | None:
        """The entry at ``path`` (``""``: the tree itself, as a directory entry)."""
        entry = TreeEntry("", TREE_MODE, "tree", tree)
        for name in [p for p in path.split("/") if p]:
            if entry.type != "tree":
                return None
            entry_or_none = next((e for e in self.trees[entry.sha] if e.name == name), None)
            if entry_or_none is None:
                return None
            entry = entry_or_none
        return entry

    def build(self, leaves: Mapping[str, Leaf]) -> str:
        """The tree of these paths (directories made as needed, empty ones vanish)."""
        children: dict[str, dict[str, Leaf]] = {}
        entries: list[TreeEntry] = []
        for path, leaf in leaves.items():
            head, sep, rest = path.partition("/")
            if sep:
                children.setdefault(head, {})[rest] = leaf
            else:
                entries.append(TreeEntry(head, leaf.mode, leaf.type, leaf.sha))
        for name, below in children.items():
            entries.append(TreeEntry(name, TREE_MODE, "tree", self.build(below)))
        return self.put_tree(entries)

    def apply(self, base_tree: str | None, changes: Iterable[Change]) -> str:
        """``POST /git/trees``: the base's files with each change applied in order.

        A change to a directory path with a tree replaces everything under it; ``sha: null``
        deletes a file or a whole directory, and one that matches nothing is refused.
        """
        leaves = self.leaves(base_tree) if base_tree is not None else {}
        for change in changes:
            path = change.path.strip("/")
            if not path or any(part in ("", ".", "..") for part in path.split("/")):
                raise _invalid(f"tree.path contains a malformed path component: {change.path!r}")
            under = [p for p in leaves if p == path or p.startswith(path + "/")]
            if change.sha is None:
                if not under:
                    raise _invalid(
                        f"tree.path {path!r} does not exist in the base tree and cannot be deleted"
                    )
                for p in under:
                    del leaves[p]
                continue
            for p in under:
                del leaves[p]
            # A file where a directory of the path was: the file goes (git would refuse both).
            parts = path.split("/")
            for depth in range(1, len(parts)):
                leaves.pop("/".join(parts[:depth]), None)
            if change.type == "tree":
                for sub, leaf in self.leaves(change.sha).items():
                    leaves[f"{path}/{sub}"] = leaf
            else:
                leaves[path] = Leaf(change.mode, change.type, change.sha)
        return self.build(leaves)

    def diff(self, old: str | None, new: str) -> list[tuple[str, Leaf | None, Leaf | None]]:
        """``(path, before, after)`` of every file that differs between two trees, by path."""
        before = self.leaves(old) if old is not None else {}
        after = self.leaves(new)
        changed = sorted(p for p in before.keys() | after.keys() if before.get(p) != after.get(p))
        return [(p, before.get(p), after.get(p)) for p in changed]

    def merge(self, base: str | None, ours: str, theirs: str) -> str | None:
        """Three-way merge of trees, file by file: a file changed on one side only takes that
        side; changed on both sides differently is a conflict (None). No line-level merging."""
        common = self.leaves(base) if base is not None else {}
        mine, other = self.leaves(ours), self.leaves(theirs)
        result: dict[str, Leaf] = {}
        for path in common.keys() | mine.keys() | other.keys():
            was, one, two = common.get(path), mine.get(path), other.get(path)
            if one == two or two == was:
                chosen = one
            elif one == was:
                chosen = two
            else:
                return None
            if chosen is not None:
                result[path] = chosen
        return self.build(result)
