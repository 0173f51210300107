"""k3s versions: parsing ``v1.31.4+k3s1`` and picking the newest patch of recent minors from GitHub.

The E2E matrix tests against "the last N Kubernetes minors k3s ships"; the answer comes from the
releases of ``k3s-io/k3s`` through the project's authenticated :class:`GitHubClient` (unauthenticated
calls hit 60 requests/hour on shared CI runners) and is cached in a small JSON file so a job
matrix asks GitHub once, not once per job.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from btp_release.errors import InvalidInput, NotFound
from btp_release.redaction import get_logger
from btp_release.wait import Clock

if TYPE_CHECKING:
    from btp_release.github import GitHubClient

__all__ = ["CACHE_FILE", "K3sVersion", "k3s_versions", "newest_patches"]

log = get_logger("btp_release.cluster")

CACHE_FILE = "k3s-releases.json"
_CACHE_FORMAT = 1
# Stable releases only: a pre-release looks like v1.32.0-rc1+k3s1 and does not match.
_TAG = re.compile(
    r"v(?P<major>0|[1-9]\d*)\.(?P<minor>0|[1-9]\d*)\.(?P<patch>0|[1-9]\d*)\+k3s(?P<build>[1-9]\d*)"
)


@attrs.frozen(order=True)
class K3sVersion:
    """A stable k3s release ``v<major>.<minor>.<patch>+k3s<build>``; orders by SemVer, then build."""

    major: int
    minor: int
    patch: int
    build: int

    @classmethod
    def parse(cls, text: str) -> K3sVersion:
        found = cls.try_parse(text)
        if found is None:
            raise InvalidInput(
                f"invalid k3s version {text!r}",
                hint="use a stable k3s release tag such as v1.31.4+k3s1 (see k3s_versions())",
            )
        return found

    @classmethod
    def try_parse(cls, text: str) -> K3sVersion | None:
        match = _TAG.fullmatch(text)
        if match is None:
            return None
        return cls(*(int(match[part]) for part in ("major", "minor", "patch", "build")))

    @property
    def minor_line(self) -> tuple[int, int]:
        return (self.major, self.minor)

    @property
    def image_tag(self) -> str:
        """The tag of the ``rancher/k3s`` image: OCI tags cannot hold ``+``, k3s uses ``-``."""
        return str(self).replace("+", "-")

    def __str__(self) -> str:
        return f"v{self.major}.{self.minor}.{self.patch}+k3s{self.build}"


def newest_patches(tags: Iterable[str], minors: int = 3) -> list[str]:
    """The newest release of each of the ``minors`` newest minor lines, newest first.

    Tags that are not stable k3s versions (rc, alpha, anything else) are ignored.
    """
    if minors < 1:
        raise InvalidInput(f"minors must be at least 1, got {minors}")
    newest: dict[tuple[int, int], K3sVersion] = {}
    for tag in tags:
        version = K3sVersion.try_parse(tag)
        if version is None:
            continue
        current = newest.get(version.minor_line)
        if current is None or version > current:
            newest[version.minor_line] = version
    lines = sorted(newest, reverse=True)[:minors]
    return [str(newest[line]) for line in lines]


def _read_cache(path: Path, repo: str, now: float, max_age: float) -> list[str] | None:
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        log.warning("ignoring unreadable k3s release cache %s: %s", path, exc)
        return None
    if not isinstance(data, dict) or data.get("format") != _CACHE_FORMAT or data.get("repo") != repo:
        return None
    fetched_at, tags = data.get("fetched_at"), data.get("tags")
    if not isinstance(fetched_at, int | float) or not isinstance(tags, list):
        return None
    age = now - fetched_at
    if not 0 <= age <= max_age:  # a cache from the future (clock change) is stale too
        return None
    return [str(tag) for tag in tags]


def _write_cache(path: Path, repo: str, now: float, tags: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = json.dumps({"format": _CACHE_FORMAT, "repo": repo, "fetched_at": now, "tags": tags}, indent=1)
    # write then rename: jobs of a matrix sharing the cache never read half a file
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(payload)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def k3s_versions(
    github: GitHubClient,
    minors: int = 3,
    *,
    cache_dir: Path | None = None,
    max_age: float = 6 * 3600.0,
    wall_clock: Clock = time.time,
) -> list[str]:
    """The newest stable patch of each of the last ``minors`` k3s minor versions, newest first.

    ``github`` is a client for ``k3s-io/k3s`` (or a mirror of it); every page of releases is read,
    drafts and pre-releases are skipped. With ``cache_dir`` the stable tags are kept in
    ``cache_dir/k3s-releases.json`` and reused for ``max_age`` seconds of ``wall_clock`` (a wall
    clock: the cache outlives the process). Raises the client's errors (e.g.
    :class:`~btp_release.errors.RateLimited`) when GitHub must be asked and does not answer.
    """
    if minors < 1:
        raise InvalidInput(f"minors must be at least 1, got {minors}")
    cache = cache_dir / CACHE_FILE if cache_dir is not None else None
    now = wall_clock()
    tags = _read_cache(cache, github.repo, now, max_age) if cache is not None else None
    if tags is None:
        tags = [
            release.tag_name
            for release in github.iter_releases()
            if not release.draft and not release.prerelease and K3sVersion.try_parse(release.tag_name)
        ]
        log.info("read %d stable k3s releases from %s", len(tags), github.repo)
        if cache is not None:
            _write_cache(cache, github.repo, now, tags)
    else:
        log.debug("k3s releases from cache %s", cache)
    found = newest_patches(tags, minors)
    if not found:
        raise NotFound(
            f"no stable k3s release found in {github.repo}",
            hint="check that the client points at k3s-io/k3s",
        )
    return found
