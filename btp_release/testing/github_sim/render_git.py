"""JSON bodies of the git data and contents API (``git-commit``, ``git-tree``, ``blob``,
``content-file``, ``file-commit``, ``branch-with-protection``, ``tag``, ``diff-entry``), in the
shapes of GitHub's OpenAPI description. Links are built from a :class:`~.render.Renderer`.
"""

from __future__ import annotations

import base64
import difflib
from urllib.parse import quote

from .gitdb import GitDatabase
from .models import Commit
from .objects import Leaf, TreeEntry
from .render import Json, Renderer, node_id

# GitHub leaves ``content`` empty (encoding "none") for files over 1 MB; up to 100 MB they can
# still be read raw or as a blob.
MAX_INLINE_CONTENT = 1024 * 1024


def wrapped_base64(data: bytes) -> str:
    """Base64 in lines of 60 characters, each ending in a newline, as GitHub sends content."""
    encoded = base64.b64encode(data).decode()
    return "".join(encoded[i : i + 60] + "\n" for i in range(0, len(encoded), 60))


def git_commit(r: Renderer, commit: Commit) -> Json:
    url = f"{r.repo_api}/git/commits/{commit.sha}"
    return {
        "sha": commit.sha,
        "node_id": node_id("C", commit.sha),
        "url": url,
        "html_url": f"{r.repo_web}/commit/{commit.sha}",
        "author": r.git_user(commit.author),
        "committer": r.git_user(commit.committer),
        "tree": {"sha": commit.tree, "url": f"{r.repo_api}/git/trees/{commit.tree}"},
        "message": commit.message,
        "parents": [
            {
                "sha": p,
                "url": f"{r.repo_api}/git/commits/{p}",
                "html_url": f"{r.repo_web}/commit/{p}",
            }
            for p in commit.parents
        ],
        "verification": {
            "verified": False,
            "reason": "unsigned",
            "signature": None,
            "payload": None,
            "verified_at": None,
        },
    }


def blob(r: Renderer, sha: str, data: bytes) -> Json:
    return {
        "sha": sha,
        "node_id": node_id("B", sha),
        "size": len(data),
        "url": f"{r.repo_api}/git/blobs/{sha}",
        "content": wrapped_base64(data),
        "encoding": "base64",
    }


def tree(r: Renderer, db: GitDatabase, sha: str, entries: list[tuple[str, TreeEntry]]) -> Json:
    items: list[Json] = []
    for path, entry in entries:
        item: Json = {"path": path, "mode": entry.mode, "type": entry.type, "sha": entry.sha}
        if entry.type == "blob":
            item["size"] = len(db.objects.blobs[entry.sha])
            item["url"] = f"{r.repo_api}/git/blobs/{entry.sha}"
        elif entry.type == "tree":
            item["url"] = f"{r.repo_api}/git/trees/{entry.sha}"
        items.append(item)
    return {"sha": sha, "url": f"{r.repo_api}/git/trees/{sha}", "tree": items, "truncated": False}


def _content_type(entry: TreeEntry) -> str:
    if entry.type == "tree":
        return "dir"
    if entry.type == "commit":
        return "submodule"
    return "symlink" if entry.mode == "120000" else "file"


def content_entry(r: Renderer, db: GitDatabase, path: str, ref: str, entry: TreeEntry) -> Json:
    """One item of a directory listing (no content), or the head of a file's answer."""
    kind = _content_type(entry)
    quoted, at = quote(path), quote(ref, safe="")
    self_url = f"{r.repo_api}/contents/{quoted}?ref={at}"
    git_url = f"{r.repo_api}/git/{'trees' if kind == 'dir' else 'blobs'}/{entry.sha}"
    html_url: str | None = f"{r.repo_web}/{'tree' if kind == 'dir' else 'blob'}/{at}/{quoted}"
    download = f"{r.repo_web}/raw/{at}/{quoted}" if entry.type == "blob" else None
    git_link: str | None = git_url
    if kind == "submodule":
        git_link, html_url = None, None  # the commit lives in another repository
    size = len(db.objects.blobs[entry.sha]) if entry.type == "blob" else 0
    return {
        "type": kind,
        "size": size,
        "name": path.rsplit("/", 1)[-1],
        "path": path,
        "sha": entry.sha,
        "url": self_url,
        "git_url": git_link,
        "html_url": html_url,
        "download_url": download,
        "_links": {"self": self_url, "git": git_link, "html": html_url},
    }


def content_file(r: Renderer, db: GitDatabase, path: str, ref: str, entry: TreeEntry) -> Json:
    """A file with its content (empty with encoding ``none`` above 1 MB, as GitHub answers)."""
    data = db.objects.blobs[entry.sha]
    out = content_entry(r, db, path, ref, entry)
    if len(data) > MAX_INLINE_CONTENT:
        out.update(content="", encoding="none")
    else:
        out.update(content=wrapped_base64(data), encoding="base64")
    return out


def file_commit(r: Renderer, db: GitDatabase, path: str, branch: str, commit: Commit) -> Json:
    """``PUT``/``DELETE /contents/{path}``: the file as now (None once deleted) and the commit."""
    entry = db.objects.lookup(commit.tree, path)
    content = content_entry(r, db, path, branch, entry) if entry is not None else None
    return {"content": content, "commit": git_commit(r, commit)}


def branch(r: Renderer, name: str, commit: Json) -> Json:
    url = f"{r.repo_api}/branches/{quote(name)}"
    return {
        "name": name,
        "commit": commit,
        "_links": {"self": url, "html": f"{r.repo_web}/tree/{quote(name)}"},
        "protected": False,
        "protection": {
            "enabled": False,
            "required_status_checks": {"enforcement_level": "off", "contexts": [], "checks": []},
        },
        "protection_url": f"{url}/protection",
    }


def tag(r: Renderer, name: str, sha: str) -> Json:
    return {
        "name": name,
        "zipball_url": f"{r.repo_api}/zipball/refs/tags/{quote(name)}",
        "tarball_url": f"{r.repo_api}/tarball/refs/tags/{quote(name)}",
        "commit": {"sha": sha, "url": f"{r.repo_api}/commits/{sha}"},
        "node_id": node_id("REF", f"refs/tags/{name}"),
    }


def _lines(db: GitDatabase, leaf: Leaf | None) -> list[str] | None:
    """The text lines of a blob; None for a binary one or a submodule."""
    if leaf is None:
        return []
    if leaf.type != "blob":
        return None
    try:
        return db.objects.blobs[leaf.sha].decode().splitlines()
    except UnicodeDecodeError:
        return None


def _hunks(db: GitDatabase, before: Leaf | None, after: Leaf | None) -> list[str] | None:
    """The unified diff's hunk lines (no file headers); None when either side is not text."""
    old, new = _lines(db, before), _lines(db, after)
    if old is None or new is None:
        return None
    return list(difflib.unified_diff(old, new, lineterm="", n=3))[2:]


def _counts(hunks: list[str] | None) -> tuple[int, int]:
    if hunks is None:
        return 0, 0
    return sum(1 for line in hunks if line.startswith("+")), sum(1 for line in hunks if line.startswith("-"))


def line_changes(db: GitDatabase, before: Leaf | None, after: Leaf | None) -> tuple[int, int]:
    """``(additions, deletions)`` of one file's change (0, 0 for binary content)."""
    return _counts(_hunks(db, before, after))


def diff_entries(r: Renderer, db: GitDatabase, commit: Commit) -> list[Json]:
    """The files a commit changed against its first parent, with unified-diff patches."""
    parent = db.commit(commit.parent).tree if commit.parent else None
    return tree_changes(r, db, parent, commit.tree, commit.sha)


def tree_changes(r: Renderer, db: GitDatabase, old_tree: str | None, new_tree: str, at: str) -> list[Json]:
    """``diff-entry`` items from one tree to another; links name the commit ``at``."""
    commit_sha = at
    out: list[Json] = []
    for path, before, after in db.objects.diff(old_tree, new_tree):
        status = "added" if before is None else "removed" if after is None else "modified"
        leaf = after or before
        entry: Json = {"sha": leaf.sha if leaf is not None else None, "filename": path}
        hunks = _hunks(db, before, after)
        additions, deletions = _counts(hunks)
        if hunks is not None:
            entry["patch"] = "\n".join(hunks)
        quoted = quote(path)
        entry.update(
            status=status,
            additions=additions,
            deletions=deletions,
            changes=additions + deletions,
            blob_url=f"{r.repo_web}/blob/{commit_sha}/{quoted}",
            raw_url=f"{r.repo_web}/raw/{commit_sha}/{quoted}",
            contents_url=f"{r.repo_api}/contents/{quoted}?ref={commit_sha}",
        )
        out.append(entry)
    return out
