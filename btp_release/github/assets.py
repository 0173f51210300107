"""Release assets: streaming upload, safe replacement, download, and waiting for a set of names.

Uploads stream from the file (``Content-Length`` set, never read whole into memory). An upload is
not idempotent, so it is never repeated blindly: after a failure the asset list is read again, a
broken leftover (``open`` after a cut connection, or the empty ``starter`` GitHub may leave after
answering 5xx; either holds the name) is deleted first, and a complete asset with our size and
digest counts as done. Replacing an asset uploads under a temporary name first, so the old one is only deleted
once the new one is complete; a re-run after a crash at any point finishes the replacement.
"""

from __future__ import annotations

import hashlib
import mimetypes
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import attrs
import httpx

from btp_release.errors import AlreadyExists, Conflict, InvalidInput, Transient
from btp_release.github._http import GitHubSession
from btp_release.github.models import Release, ReleaseAsset
from btp_release.github.protocol import expand_upload_url
from btp_release.redaction import get_logger
from btp_release.wait import Poll, WaitPolicy, wait_until

__all__ = ["AssetOperations", "LocalFile"]

log = get_logger("btp_release.github")

CHUNK_SIZE = 256 * 1024
TEMP_SUFFIX = ".btp-release-tmp"
_CONTENT_TYPES = {".yaml": "application/yaml", ".yml": "application/yaml", ".json": "application/json"}


@attrs.frozen
class LocalFile:
    """A file to upload: path, size and SHA-256, read once in chunks."""

    path: Path
    size: int
    sha256: str

    @classmethod
    def inspect(cls, path: Path) -> LocalFile:
        try:
            digest = hashlib.sha256()
            with path.open("rb") as handle:
                while chunk := handle.read(CHUNK_SIZE):
                    digest.update(chunk)
            size = path.stat().st_size
        except FileNotFoundError as exc:
            raise InvalidInput(f"asset file {str(path)!r} does not exist", hint="build it first") from exc
        except IsADirectoryError as exc:
            raise InvalidInput(f"asset file {str(path)!r} is a directory", hint="give a file") from exc
        except OSError as exc:
            raise InvalidInput(f"asset file {str(path)!r} cannot be read: {exc.strerror}") from exc
        return cls(path, size, digest.hexdigest())

    def matches(self, asset: ReleaseAsset) -> bool:
        """Same content as a complete remote asset (size, and digest where GitHub reports one)."""
        if not asset.complete or asset.size != self.size:
            return False
        return asset.digest is None or asset.digest == f"sha256:{self.sha256}"

    def chunks(self) -> Iterator[bytes]:
        """The content in chunks, re-opened per attempt; fails if the file changed meanwhile."""
        sent = 0
        with self.path.open("rb") as handle:
            while chunk := handle.read(CHUNK_SIZE):
                sent += len(chunk)
                yield chunk
        if sent != self.size:
            raise InvalidInput(f"asset file {str(self.path)!r} changed while it was being uploaded")


def guess_content_type(name: str) -> str:
    suffix = os.path.splitext(name)[1].lower()
    return _CONTENT_TYPES.get(suffix) or mimetypes.guess_type(name)[0] or "application/octet-stream"


class AssetOperations(GitHubSession):
    """Asset operations of :class:`~btp_release.github.GitHubClient`."""

    def _release_subject(self, release: Release | int) -> str:
        if isinstance(release, Release):
            return f"release {release.tag_name} (id {release.id}) of {self.repo}"
        return f"release id {release} of {self.repo}"

    def list_assets(self, release: Release | int, *, conditional: bool = False) -> list[ReleaseAsset]:
        """All assets of a release (every page), including incomplete ones."""
        release_id = release.id if isinstance(release, Release) else release
        return [
            ReleaseAsset.from_json(item)
            for item in self.paginate(
                self.repo_url(f"/releases/{release_id}/assets"),
                operation="list release assets",
                subject=self._release_subject(release),
                conditional=conditional,
            )
        ]

    def get_asset(self, asset_id: int) -> ReleaseAsset:
        body, _ = self.get_json(
            self.repo_url(f"/releases/assets/{asset_id}"),
            operation="get release asset",
            subject=f"asset id {asset_id} of {self.repo}",
        )
        return ReleaseAsset.from_json(body)

    def delete_asset(self, asset_id: int) -> bool:
        """Delete an asset; ``False`` if it was already gone (so a retried delete is harmless)."""
        return self.delete(
            self.repo_url(f"/releases/assets/{asset_id}"),
            operation="delete release asset",
            subject=f"asset id {asset_id} of {self.repo}",
        )

    def rename_asset(self, asset_id: int, name: str, label: str | None = None) -> ReleaseAsset:
        """Rename (and relabel) an asset in place."""
        body = {"name": name} | ({"label": label} if label is not None else {})
        data = self.request_json(
            "PATCH",
            self.repo_url(f"/releases/assets/{asset_id}"),
            operation="rename release asset",
            subject=f"asset id {asset_id} of {self.repo} (to {name!r})",
            json=body,
        )
        return ReleaseAsset.from_json(data)

    def upload_asset(
        self,
        release: Release,
        path: Path | str,
        *,
        name: str | None = None,
        label: str | None = None,
        content_type: str | None = None,
        replace: bool = False,
        existing: Iterable[ReleaseAsset] | None = None,
    ) -> ReleaseAsset:
        """Upload ``path`` as asset ``name``; idempotent.

        Same content already there → returned as is. Different content → :class:`AlreadyExists`
        unless ``replace``, which swaps it safely (temporary name, verify, delete old, rename).
        A published immutable release accepts no assets → :class:`Conflict` before any upload.
        ``existing``: the release's assets as just listed, to save the listing when uploading several.
        """
        local = LocalFile.inspect(Path(path))
        name = name or local.path.name
        subject = f"asset {name!r} of {self._release_subject(release)}"
        if release.immutable and not release.draft:
            raise Conflict(
                f"cannot upload {subject}: the release is published and immutable",
                hint="assets can only be added while the release is a draft; release a new version",
            )
        ctype = content_type or guess_content_type(name)
        assets = {a.name: a for a in (self.list_assets(release) if existing is None else existing)}
        temp_name = name + TEMP_SUFFIX
        current, temp = assets.get(name), assets.get(temp_name)
        if current is not None and local.matches(current):
            if temp is not None:
                self.delete_asset(temp.id)
            log.info("%s is already uploaded with the same content", subject)
            return current
        if current is not None and current.complete:
            if not replace:
                raise AlreadyExists(
                    f"{subject} already exists with different content "
                    f"(remote {current.size} bytes {current.digest or ''}, local {local.size} bytes "
                    f"sha256:{local.sha256})",
                    hint="replace it explicitly (replace=True) or delete it first",
                )
            if temp is not None and local.matches(temp):
                staged = temp
            else:
                staged = self._put(release, local, temp_name, label, ctype, leftover=temp)
            self.delete_asset(current.id)
            log.info("replaced %s", subject)
            return self.rename_asset(staged.id, name, label)
        if temp is not None and local.matches(temp):
            # A replacement was cut short after the old asset was deleted: finish it.
            if current is not None:
                self.delete_asset(current.id)
            return self.rename_asset(temp.id, name, label)
        if temp is not None:
            self.delete_asset(temp.id)
        return self._put(release, local, name, label, ctype, leftover=current)

    def _put(
        self,
        release: Release,
        local: LocalFile,
        name: str,
        label: str | None,
        content_type: str,
        *,
        leftover: ReleaseAsset | None,
    ) -> ReleaseAsset:
        """Upload under ``name``, looking at the asset list again after every failed attempt."""
        subject = f"asset {name!r} of {self._release_subject(release)}"
        url = expand_upload_url(release.upload_url, name, label)
        attempts = self.retry.attempts
        for attempt in range(1, attempts + 1):
            if leftover is not None:
                if local.matches(leftover):
                    return leftover
                log.info("deleting incomplete %s (state %s) before uploading", subject, leftover.state)
                self.delete_asset(leftover.id)
            try:
                response = self.send(
                    "POST",
                    url,
                    operation="upload release asset",
                    subject=subject,
                    expect=(201,),
                    content=local.chunks(),
                    headers={"Content-Type": content_type, "Content-Length": str(local.size)},
                    hypermedia=True,
                )
                asset = ReleaseAsset.from_json(response.json())
                if local.matches(asset):
                    return asset
                error: Transient | AlreadyExists = Transient(
                    f"{subject} arrived damaged ({asset.size} of {local.size} bytes, {asset.digest})"
                )
            except (Transient, AlreadyExists) as exc:
                error = exc
            if attempt == attempts or not (
                isinstance(error, AlreadyExists) or self.retry.should_retry(error)
            ):
                raise error
            delay = self.retry.backoff(attempt, error if isinstance(error, Transient) else None)
            log.warning("upload of %s failed (%s); checking the release in %.1fs", subject, error, delay)
            self.sleeper(delay)
            leftover = next((a for a in self.list_assets(release) if a.name == name), None)
        raise AssertionError("unreachable")  # pragma: no cover

    def download_asset(self, asset: ReleaseAsset | int, dest: Path | str) -> Path:
        """Stream an asset to ``dest`` (written atomically); verify size and digest when known.

        GitHub answers with a redirect to storage on another host; the token is not sent there.
        """
        meta = asset if isinstance(asset, ReleaseAsset) else self.get_asset(asset)
        target = Path(dest)
        partial = target.with_name(target.name + ".part")
        subject = f"asset {meta.name!r} (id {meta.id}) of {self.repo}"

        def attempt() -> Path:
            digest = hashlib.sha256()
            size = 0
            response = self.send(
                "GET",
                self.repo_url(f"/releases/assets/{meta.id}"),
                operation="download release asset",
                subject=subject,
                headers={"Accept": "application/octet-stream"},
                stream=True,
                follow_redirects=True,
            )
            try:
                with partial.open("wb") as handle:
                    # chunks as they arrive: re-chunking to a fixed size costs a copy per chunk
                    for chunk in response.iter_bytes():
                        handle.write(chunk)
                        digest.update(chunk)
                        size += len(chunk)
            except httpx.HTTPError as exc:
                raise Transient(f"download of {subject} broke off after {size} bytes: {exc}") from exc
            except OSError as exc:
                raise InvalidInput(
                    f"cannot write the download of {subject} to {str(partial)!r}: {exc.strerror}",
                    hint="check the destination directory (exists, writable, space left)",
                ) from exc
            finally:
                response.close()
            if size != meta.size or (meta.digest and meta.digest != f"sha256:{digest.hexdigest()}"):
                raise Transient(f"download of {subject} is damaged ({size} of {meta.size} bytes)")
            os.replace(partial, target)
            return target

        try:
            return self.retrying(attempt, what=f"download {subject}")
        finally:
            partial.unlink(missing_ok=True)

    def wait_for_assets(
        self,
        release: Release | int,
        names: list[str] | tuple[str, ...],
        *,
        policy: WaitPolicy = WaitPolicy(timeout=300),
        on_progress: Callable[[Poll[dict[str, ReleaseAsset]], float], None] | None = None,
    ) -> dict[str, ReleaseAsset]:
        """Wait until every name is a complete asset of the release; polls with conditional GETs."""
        wanted = list(dict.fromkeys(names))

        def probe() -> Poll[dict[str, ReleaseAsset]]:
            assets = {a.name: a for a in self.list_assets(release, conditional=True)}
            done = {n: assets[n] for n in wanted if n in assets and assets[n].complete}
            missing = [n for n in wanted if n not in assets]
            incomplete = [n for n in wanted if n in assets and n not in done]
            state = f"{len(done)}/{len(wanted)} present"
            if missing:
                state += f"; missing: {', '.join(missing)}"
            if incomplete:
                state += f"; incomplete: {', '.join(incomplete)}"
            return Poll(len(done) == len(wanted), done, state)

        return wait_until(
            probe,
            what=f"assets {', '.join(wanted)} of {self._release_subject(release)}",
            policy=policy,
            clock=self.clock,
            sleeper=self.sleeper,
            on_progress=on_progress,
        )
