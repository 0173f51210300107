"""``release-manifest.json``: what a release is made of, recorded at build and checked before publishing.

The provenance asset is the pipeline's memory between stages that run in separate jobs: the build
records the commit, the image and module digests and the checksum of every other asset; E2E adds its
verdict for exactly those digests; publish refuses unless the registries and the release still hold
what was recorded and tested. It lives in the draft release, so it needs no storage of its own.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any, Literal

import attrs

from btp_release.errors import InvalidInput

__all__ = [
    "PROVENANCE_ASSET",
    "SCHEMA",
    "ArtifactRecord",
    "E2ERecord",
    "Provenance",
    "sha256_bytes",
]

PROVENANCE_ASSET = "release-manifest.json"
SCHEMA = "btp-release/release-manifest/v1"


def sha256_bytes(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@attrs.frozen
class ArtifactRecord:
    """An OCI artifact of the release: its tagged reference and the digest the tag must keep."""

    reference: str
    digest: str | None  # None: recorded but not built (a snapshot without a Docker daemon)

    def to_json(self) -> dict[str, Any]:
        return {"reference": self.reference, "digest": self.digest}

    @classmethod
    def from_json(cls, data: Any, where: str) -> ArtifactRecord:
        if not isinstance(data, Mapping) or not isinstance(data.get("reference"), str):
            raise InvalidInput(f"{PROVENANCE_ASSET}: {where} is not a {{reference, digest}} object")
        digest = data.get("digest")
        return cls(str(data["reference"]), str(digest) if digest else None)


@attrs.frozen
class E2ERecord:
    """One E2E runner's verdict on the exact digests it installed."""

    result: Literal["passed", "failed"]
    module_digest: str
    image_digest: str | None
    summary: str = ""
    at: str = ""

    def covers(self, module_digest: str, image_digest: str | None) -> bool:
        return self.module_digest == module_digest and self.image_digest == image_digest

    def to_json(self) -> dict[str, Any]:
        return attrs.asdict(self)

    @classmethod
    def from_json(cls, data: Any, where: str) -> E2ERecord:
        if not isinstance(data, Mapping) or data.get("result") not in ("passed", "failed"):
            raise InvalidInput(f"{PROVENANCE_ASSET}: {where} has no result passed/failed")
        return cls(
            result=data["result"],
            module_digest=str(data.get("module_digest") or ""),
            image_digest=str(data["image_digest"]) if data.get("image_digest") else None,
            summary=str(data.get("summary") or ""),
            at=str(data.get("at") or ""),
        )


def _str_tuple(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(values)


def _frozen_map(value: Mapping[str, Any]) -> dict[str, Any]:
    return dict(sorted(value.items()))


@attrs.frozen(kw_only=True)
class Provenance:
    """The content of ``release-manifest.json`` (see the module docstring)."""

    version: str
    commit: str
    github_repo: str
    module: ArtifactRecord
    image: ArtifactRecord
    assets: Mapping[str, str] = attrs.field(factory=dict, converter=_frozen_map, hash=False)
    tools: Mapping[str, str] = attrs.field(factory=dict, converter=_frozen_map, hash=False)
    e2e: Mapping[str, E2ERecord] = attrs.field(factory=dict, converter=_frozen_map, hash=False)
    snapshot: bool = False
    # Why the files built were not a clean checkout of ``commit`` (only a snapshot with --allow-dirty
    # gets this far); empty when they were.
    unverified_source: tuple[str, ...] = attrs.field(default=(), converter=_str_tuple)
    # Every image the release's manifest deploys (built here or elsewhere), as the descriptor lists them.
    images: tuple[str, ...] = attrs.field(default=(), converter=_str_tuple)

    def same_build(self, other: Provenance) -> bool:
        """Whether ``other`` records the same release content (tools and E2E verdicts aside)."""
        return (
            self.version == other.version
            and self.commit == other.commit
            and self.module == other.module
            and self.image == other.image
            and dict(self.assets) == dict(other.assets)
        )

    def e2e_passed(self) -> list[str]:
        """Names of the runners that passed on exactly this build's digests."""
        digest = self.module.digest or ""
        return [
            name
            for name, record in self.e2e.items()
            if record.result == "passed" and record.covers(digest, self.image.digest)
        ]

    def with_e2e(self, name: str, record: E2ERecord) -> Provenance:
        return attrs.evolve(self, e2e={**self.e2e, name: record})

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "version": self.version,
            "commit": self.commit,
            "github_repo": self.github_repo,
            "snapshot": self.snapshot,
            "source": {
                "verified": not self.unverified_source,
                "allow_dirty": bool(self.unverified_source),
                "problems": list(self.unverified_source),
            },
            "module": self.module.to_json(),
            "image": self.image.to_json(),
            "images": list(self.images),
            "assets": dict(self.assets),
            "tools": dict(self.tools),
            "e2e": {name: record.to_json() for name, record in self.e2e.items()},
        }

    def to_bytes(self) -> bytes:
        return (json.dumps(self.to_json(), indent=2, sort_keys=True) + "\n").encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> Provenance:
        """Parse ``release-manifest.json``; anything malformed is an :class:`InvalidInput`."""
        try:
            body = json.loads(data)
        except (ValueError, UnicodeDecodeError) as exc:
            raise InvalidInput(f"{PROVENANCE_ASSET} is not JSON: {exc}") from exc
        if not isinstance(body, Mapping) or body.get("schema") != SCHEMA:
            raise InvalidInput(
                f"{PROVENANCE_ASSET} is not a btp-release release manifest (schema {SCHEMA})",
                hint="was the asset uploaded by hand? delete it and re-run the build stage",
            )
        for key in ("version", "commit", "github_repo"):
            if not isinstance(body.get(key), str):
                raise InvalidInput(f"{PROVENANCE_ASSET}: {key!r} is missing")
        assets, tools, e2e = (body.get(k) or {} for k in ("assets", "tools", "e2e"))
        if not all(isinstance(m, Mapping) for m in (assets, tools, e2e)):
            raise InvalidInput(f"{PROVENANCE_ASSET}: assets, tools and e2e must be objects")
        return cls(
            version=body["version"],
            commit=body["commit"],
            github_repo=body["github_repo"],
            snapshot=bool(body.get("snapshot")),
            unverified_source=tuple(str(p) for p in (body.get("source") or {}).get("problems") or ()),
            images=tuple(str(i) for i in body.get("images") or ()),
            module=ArtifactRecord.from_json(body.get("module"), "module"),
            image=ArtifactRecord.from_json(body.get("image"), "image"),
            assets={str(k): str(v) for k, v in assets.items()},
            tools={str(k): str(v) for k, v in tools.items()},
            e2e={str(k): E2ERecord.from_json(v, f"e2e.{k}") for k, v in e2e.items()},
        )
