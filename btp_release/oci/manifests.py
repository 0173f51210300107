"""Manifest and tag operations: one ``HEAD`` to check, verified reads, digest-checked writes, paged tags.

Split from :class:`~btp_release.oci.RegistryClient` (which documents the API) as
:class:`~btp_release.oci.blobs.BlobTransfer` is: the client checks references and composes whole
artifacts; this module speaks the distribution API's ``/manifests`` and ``/tags`` endpoints. Every
manifest read is checked against its digest (the reference's and the registry's), every write against
the digest the registry reports, so a registry or proxy that alters a manifest is caught where it does.
"""

from __future__ import annotations

import json

from btp_release.errors import BtpReleaseError, DigestMismatch, InvalidInput
from btp_release.oci.model import MANIFEST_ACCEPT, Descriptor, Reference, check_digest, sha256_digest
from btp_release.oci.protocol import next_page
from btp_release.oci.session import RegistrySession
from btp_release.redaction import get_logger

__all__ = ["Manifests"]

log = get_logger("btp_release.oci")


class Manifests:
    """Manifest and tag operations of one registry (see :class:`~btp_release.oci.RegistryClient` for
    the API); references are checked by the client."""

    def __init__(self, session: RegistrySession) -> None:
        self.session = session

    def _url(self, ref: Reference) -> str:
        return self.session.url(ref.repository, f"manifests/{ref.reference}")

    # -- reads -------------------------------------------------------------------------------------

    def probe(self, ref: Reference) -> Descriptor | None:
        """The manifest's descriptor by one ``HEAD``, not retried (a poll retries by itself)."""
        response = self.session.send(
            "HEAD",
            self._url(ref),
            operation="check manifest",
            subject=str(ref),
            expect=(200, 404),
            headers={"Accept": MANIFEST_ACCEPT},
        )
        response.close()
        if response.status_code == 404:
            return None
        digest = response.headers.get("docker-content-digest")
        media_type = response.headers.get("content-type", "").split(";")[0].strip()
        length = response.headers.get("content-length")
        if digest and length is not None and media_type:
            return Descriptor(media_type, check_digest(digest), int(length))
        # Some registries omit Docker-Content-Digest on HEAD: ask for the manifest itself.
        found = self._fetch(ref)
        return found[1] if found else None

    def head(self, ref: Reference) -> Descriptor | None:
        """:meth:`probe`, retried."""
        return self.session.retrying(lambda: self.probe(ref), what=f"check manifest {ref}")

    def _fetch(self, ref: Reference) -> tuple[bytes, Descriptor] | None:
        response = self.session.send(
            "GET",
            self._url(ref),
            operation="get manifest",
            subject=str(ref),
            expect=(200, 404),
            headers={"Accept": MANIFEST_ACCEPT},
        )
        if response.status_code == 404:
            response.close()
            return None
        raw = response.content
        digest = sha256_digest(raw)
        for claimed, source in (
            (ref.digest, "the reference"),
            (response.headers.get("docker-content-digest"), "the registry"),
        ):
            if claimed and claimed.startswith("sha256:") and claimed != digest:
                raise DigestMismatch(
                    f"manifest {ref} hashes to {digest}, but {source} says {claimed}",
                    hint="the registry's copy or a proxy altered it; re-run, push again if it repeats",
                )
        media_type = response.headers.get("content-type", "").split(";")[0].strip()
        try:
            media_type = str(json.loads(raw).get("mediaType") or media_type)
        except (ValueError, AttributeError):
            raise InvalidInput(f"manifest {ref} is not a JSON object") from None
        return raw, Descriptor(media_type, digest, len(raw))

    def get_raw(self, ref: Reference) -> tuple[bytes, Descriptor] | None:
        """The manifest's exact bytes and descriptor, or ``None``; digests verified; retried."""
        return self.session.retrying(lambda: self._fetch(ref), what=f"get manifest {ref}")

    # -- writes ------------------------------------------------------------------------------------

    def push_raw(self, ref: Reference, raw: bytes, media_type: str) -> Descriptor:
        """PUT exact manifest bytes under the reference's tag or digest (by digest without either)."""
        descriptor = Descriptor(media_type, sha256_digest(raw), len(raw))
        if ref.digest and ref.digest != descriptor.digest:
            raise InvalidInput(f"manifest bytes hash to {descriptor.digest}, not to the digest of {ref}")
        target = ref if ref.tag or ref.digest else ref.with_digest(descriptor.digest)
        url = self.session.url(ref.repository, f"manifests/{target.tag or target.digest}")

        def attempt() -> Descriptor:
            response = self.session.send(
                "PUT",
                url,
                operation="push manifest",
                subject=str(target),
                expect=(201,),
                content=raw,
                headers={"Content-Type": media_type},
            )
            response.close()
            said = response.headers.get("docker-content-digest")
            if said and said != descriptor.digest:
                raise DigestMismatch(
                    f"registry stored manifest {target} as {said}, but the bytes sent hash to "
                    f"{descriptor.digest}",
                    hint="the registry rewrote the manifest; it may not support this media type",
                )
            return descriptor

        result = self.session.retrying(attempt, what=f"push manifest {target}")
        log.info("pushed manifest %s (%s)", target, descriptor.digest)
        return result

    def delete(self, ref: Reference) -> bool:
        """Delete the manifest ``ref`` points at (a tag resolved to its digest first); ``False`` if none."""
        digest = ref.digest
        if digest is None:
            found = self.head(ref)
            if found is None:
                return False
            digest = found.digest
        target = ref.with_digest(digest)

        def attempt() -> bool:
            response = self.session.send(
                "DELETE",
                self.session.url(ref.repository, f"manifests/{digest}"),
                operation="delete manifest",
                subject=str(target),
                expect=(202, 404),
            )
            response.close()
            return response.status_code == 202

        return self.session.retrying(attempt, what=f"delete manifest {target}")

    # -- tags --------------------------------------------------------------------------------------

    def list_tags(self, repository: str, page_size: int | None, max_pages: int) -> list[str]:
        """Every tag of ``repository``, following ``Link: rel="next"`` verbatim, each page retried."""
        if page_size is not None and page_size < 1:
            raise InvalidInput(f"page_size must be positive, not {page_size}")
        subject = f"{self.session.host}/{repository}"
        url: str | None = self.session.url(repository, "tags/list")
        params: dict[str, str | int] | None = {"n": page_size} if page_size else None
        tags: list[str] = []
        for _ in range(max_pages):
            if url is None:
                return tags

            def page(
                page_url: str = url, page_params: dict[str, str | int] | None = params
            ) -> tuple[list[str], str | None]:
                response = self.session.send(
                    "GET",
                    page_url,
                    operation="list tags",
                    subject=subject,
                    params=page_params,
                    expect=(200, 404),
                )
                if response.status_code == 404:  # NAME_UNKNOWN: nothing was ever tagged there
                    response.close()
                    return [], None
                try:
                    body = response.json()
                except ValueError:
                    raise InvalidInput(f"registry list tags for {subject}: the answer is not JSON") from None
                found = body.get("tags") if isinstance(body, dict) else None
                return [str(t) for t in found or []], next_page(str(response.url), response.headers)

            found, url = self.session.retrying(page, what=f"list tags of {subject}")
            tags.extend(found)
            params = None  # the next link carries its own query
        if url is None:
            return tags
        raise BtpReleaseError(
            f"registry list tags for {subject}: more than {max_pages} pages", hint="raise max_pages"
        )
