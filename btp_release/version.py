"""Release versions: strict SemVer, the image tag ``X.Y.Z`` and the module tag ``vX.Y.Z``.

The version ends up in git refs, registry tags, file names and shell-adjacent places (workflow
inputs), so anything that is not a SemVer 2.0 version is refused up front with a message that says
what is wrong. Build metadata (``+build``) is refused too: OCI tags cannot carry ``+``.
"""

from __future__ import annotations

import functools
import re

import attrs

from btp_release.errors import InvalidInput

__all__ = ["Version", "latest"]

_NUM = r"0|[1-9]\d*"
_PRE_ID = r"(?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*)"
_SEMVER = re.compile(
    rf"^(?P<major>{_NUM})\.(?P<minor>{_NUM})\.(?P<patch>{_NUM})"
    rf"(?:-(?P<pre>{_PRE_ID}(?:\.{_PRE_ID})*))?",
    re.ASCII,  # \d must not match non-ASCII digits, which int() would accept
)
_MAX_LENGTH = 128  # OCI tags are limited to 128 characters


def _explain(text: str) -> str:
    """Say why ``text`` is not a release version, as specifically as we can."""
    if not text:
        return "the version is empty"
    if len(text) > _MAX_LENGTH:
        return f"it is {len(text)} characters long; at most {_MAX_LENGTH} fit in an OCI tag"
    if text != text.strip():
        return "the version has leading or trailing whitespace"
    if text[0] in "vV" and _SEMVER.fullmatch(text[1:]):
        return f"drop the leading 'v': the release version is {text[1:]!r}; 'v' is added for the module tag"
    if "+" in text:
        return "build metadata ('+…') is not allowed: OCI image tags cannot contain '+'"
    if re.search(r"[^0-9A-Za-z.\-]", text):
        return "only digits, letters, '.' and '-' are allowed"
    core = text.split("-", 1)[0]
    parts = core.split(".")
    if len(parts) != 3:
        return f"expected MAJOR.MINOR.PATCH (three numbers), got {len(parts)} part(s)"
    if any(p.startswith("0") and p != "0" for p in parts if p.isdigit()):
        return "numbers must not have leading zeros"
    if "-" in text:
        identifiers = text.split("-", 1)[1].split(".")
        if not all(identifiers):
            return "the pre-release part after '-' has an empty identifier"
        if any(i.isdigit() and i.startswith("0") and i != "0" for i in identifiers):
            return "numeric pre-release identifiers must not have leading zeros"
    return "it is not a SemVer 2.0 version (MAJOR.MINOR.PATCH[-PRERELEASE])"


@functools.total_ordering
@attrs.frozen(order=False)
class Version:
    """A validated release version; ordered by SemVer precedence (pre-releases before releases)."""

    major: int
    minor: int
    patch: int
    prerelease: tuple[str, ...] = ()

    @classmethod
    def parse(cls, text: str) -> Version:
        """Parse ``X.Y.Z`` or ``X.Y.Z-pre``; raise :class:`InvalidInput` saying what is wrong."""
        if not isinstance(text, str):
            raise InvalidInput(f"release version must be a string, got {type(text).__name__}")
        # fullmatch, not match with "$": "$" also matches before a trailing newline.
        match = _SEMVER.fullmatch(text) if len(text) <= _MAX_LENGTH else None
        if match is None:
            shown = text if len(text) <= 40 else text[:40] + "…"
            raise InvalidInput(
                f"invalid release version {shown!r}: {_explain(text)}",
                hint="use a SemVer version such as 1.2.0 or 1.3.0-rc.1",
            )
        pre = match.group("pre")
        return cls(
            int(match.group("major")),
            int(match.group("minor")),
            int(match.group("patch")),
            tuple(pre.split(".")) if pre else (),
        )

    @classmethod
    def try_parse(cls, text: str) -> Version | None:
        """Like :meth:`parse` but return ``None`` for anything that is not a version."""
        try:
            return cls.parse(text)
        except InvalidInput:
            return None

    @property
    def is_prerelease(self) -> bool:
        return bool(self.prerelease)

    @property
    def image_tag(self) -> str:
        """Tag of the manager image and of the git tag/release: ``X.Y.Z``."""
        return str(self)

    @property
    def module_tag(self) -> str:
        """Tag of the module OCI artifact: ``vX.Y.Z``."""
        return f"v{self}"

    def __str__(self) -> str:
        core = f"{self.major}.{self.minor}.{self.patch}"
        return f"{core}-{'.'.join(self.prerelease)}" if self.prerelease else core

    def _key(self) -> tuple[int, int, int, int, tuple[tuple[int, int, str], ...]]:
        # SemVer §11: a release ranks above its pre-releases; numeric identifiers rank below
        # alphanumeric ones and compare numerically.
        pre = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in self.prerelease)
        return (self.major, self.minor, self.patch, 0 if self.prerelease else 1, pre)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self._key() < other._key()


def latest(versions: list[Version], *, include_prereleases: bool = False) -> Version | None:
    """The highest version by SemVer precedence, skipping pre-releases unless asked."""
    candidates = [v for v in versions if include_prereleases or not v.is_prerelease]
    return max(candidates, default=None)
