"""Frozen values parsed from GitHub's JSON at the edge; no raw dicts leave ``btp_release.github``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

__all__ = [
    "CheckRun",
    "CombinedStatus",
    "CommitStatus",
    "GitRef",
    "Release",
    "ReleaseAsset",
    "Repository",
]

# Written into the body of drafts btp_release creates, so a re-run recognises its own draft
# among duplicates (GitHub allows several drafts with one tag_name). Invisible when rendered.
DRAFT_MARKER = "<!-- created-by: btp-release -->"


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


@attrs.frozen
class Repository:
    """A repository; ``can_push`` is ``None`` when the token type does not report permissions."""

    full_name: str
    default_branch: str
    private: bool
    can_push: bool | None
    html_url: str

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Repository:
        permissions = data.get("permissions")
        can_push = None
        if isinstance(permissions, Mapping) and "push" in permissions:
            can_push = bool(permissions.get("push") or permissions.get("admin"))
        return cls(
            full_name=str(data["full_name"]),
            default_branch=str(data.get("default_branch") or "main"),
            private=bool(data.get("private")),
            can_push=can_push,
            html_url=str(data.get("html_url") or ""),
        )


@attrs.frozen
class ReleaseAsset:
    """A release asset; only ``state == "uploaded"`` is complete (a broken upload stays ``open``,
    one answered 5xx may leave an empty ``starter``; both hold the name until deleted)."""

    id: int
    name: str
    label: str | None
    size: int
    state: str
    content_type: str
    digest: str | None
    browser_download_url: str
    url: str

    @property
    def complete(self) -> bool:
        return self.state == "uploaded"

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ReleaseAsset:
        return cls(
            id=int(data["id"]),
            name=str(data["name"]),
            label=_opt_str(data.get("label")),
            size=int(data.get("size") or 0),
            state=str(data.get("state") or ""),
            content_type=str(data.get("content_type") or ""),
            digest=_opt_str(data.get("digest")),
            browser_download_url=str(data.get("browser_download_url") or ""),
            url=str(data.get("url") or ""),
        )


@attrs.frozen
class Release:
    """A GitHub release; for a draft, ``tag_name`` is only the intended tag (no git tag yet)."""

    id: int
    tag_name: str
    name: str | None
    body: str | None
    draft: bool
    prerelease: bool
    immutable: bool
    target_commitish: str
    html_url: str
    upload_url: str
    created_at: str
    published_at: str | None
    assets: tuple[ReleaseAsset, ...] = ()

    @property
    def created_by_btp_release(self) -> bool:
        return DRAFT_MARKER in (self.body or "")

    def asset(self, name: str) -> ReleaseAsset | None:
        return next((a for a in self.assets if a.name == name), None)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Release:
        return cls(
            id=int(data["id"]),
            tag_name=str(data["tag_name"]),
            name=_opt_str(data.get("name")),
            body=_opt_str(data.get("body")),
            draft=bool(data.get("draft")),
            prerelease=bool(data.get("prerelease")),
            immutable=bool(data.get("immutable")),
            target_commitish=str(data.get("target_commitish") or ""),
            html_url=str(data.get("html_url") or ""),
            upload_url=str(data["upload_url"]),
            created_at=str(data.get("created_at") or ""),
            published_at=_opt_str(data.get("published_at")),
            assets=tuple(ReleaseAsset.from_json(a) for a in data.get("assets") or ()),
        )


@attrs.frozen
class GitRef:
    """A git reference such as ``refs/tags/1.2.0`` and the object it points at."""

    ref: str
    sha: str
    object_type: str

    @property
    def short_name(self) -> str:
        return self.ref.split("/", 2)[-1]

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> GitRef:
        obj = data.get("object") or {}
        return cls(
            ref=str(data["ref"]), sha=str(obj.get("sha") or ""), object_type=str(obj.get("type") or "")
        )


@attrs.frozen
class CommitStatus:
    """One commit status context (``pending``/``success``/``failure``/``error``)."""

    context: str
    state: str
    description: str | None
    target_url: str | None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CommitStatus:
        return cls(
            context=str(data.get("context") or "default"),
            state=str(data["state"]),
            description=_opt_str(data.get("description")),
            target_url=_opt_str(data.get("target_url")),
        )


@attrs.frozen
class CombinedStatus:
    """The combined status of a ref: overall state and the latest status per context."""

    sha: str
    state: str
    statuses: tuple[CommitStatus, ...]

    def get(self, context: str) -> CommitStatus | None:
        return next((s for s in self.statuses if s.context == context), None)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CombinedStatus:
        return cls(
            sha=str(data.get("sha") or ""),
            state=str(data.get("state") or "pending"),
            statuses=tuple(CommitStatus.from_json(s) for s in data.get("statuses") or ()),
        )


@attrs.frozen
class CheckRun:
    """A check run (GitHub Actions jobs report here, not in statuses)."""

    id: int
    name: str
    status: str
    conclusion: str | None
    html_url: str | None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CheckRun:
        return cls(
            id=int(data["id"]),
            name=str(data["name"]),
            status=str(data.get("status") or ""),
            conclusion=_opt_str(data.get("conclusion")),
            html_url=_opt_str(data.get("html_url")),
        )
