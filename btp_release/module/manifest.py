"""Pointing the raw manifest's manager containers at the image of the release.

The original pipeline let ``kyma alpha create module --kubebuilder-project`` render the manifest with
``IMG=<image-repo>:<version>`` (kustomize ``images:``). btp_release builds the module from a rendered
manifest, so it sets the image itself: otherwise E2E would install the manifest with whatever image
it named — not the image that was just built and will be published.

Containers are found structurally (the workloads' pod templates); the file is then changed only on
those ``image:`` lines, so the rest of it (comments, order, quoting) stays byte for byte, and the result
is parsed again to prove that exactly the intended images changed.
"""

from __future__ import annotations

import copy as copy_module
import re
from collections.abc import Collection, Mapping
from typing import Any

from btp_release.errors import InvalidInput
from btp_release.module.validate import WORKLOAD_POD_SPEC, manifest_images, parse_documents

__all__ = ["image_repository", "set_manager_image"]


def image_repository(image: str) -> str:
    """``host/path/name`` of an image reference, without ``:tag`` and ``@digest``."""
    name = image.split("@", 1)[0]
    slash = name.rfind("/")
    colon = name.rfind(":")
    return name[:colon] if colon > slash else name


def _matches(image: str, repository: str, names: Collection[str]) -> bool:
    current = image_repository(image)
    return current == repository or current.rsplit("/", 1)[-1] in names


def set_manager_image(
    manifest: bytes, image: str, *, names: Collection[str] = (), file: str = "manifest"
) -> tuple[bytes, list[str]]:
    """Set every container image whose repository is ``image``'s, or whose last path element is in
    ``names`` (e.g. kubebuilder's ``controller``), to ``image``. Returns the new bytes and the images
    that were replaced (empty: nothing matched, the bytes are unchanged).

    Raises :class:`InvalidInput` when the manifest does not parse or an image line could not be
    rewritten in place (e.g. a YAML flow mapping); the message names the image.
    """
    documents, problems = parse_documents(manifest, file=file)
    if problems:
        raise InvalidInput(f"cannot set the manager image in {file}: " + "; ".join(map(str, problems)))
    repository = image_repository(image)
    last = repository.rsplit("/", 1)[-1]
    wanted = {last, *names}
    replaced = [i for i in manifest_images(documents) if i != image and _matches(i, repository, wanted)]
    if not replaced:
        return manifest, []
    text = manifest.decode("utf-8")
    for old in replaced:
        pattern = re.compile(
            r"^(?P<lead>\s*(?:-\s+)?image:\s*)(?P<q>[\"']?)"
            + re.escape(old)
            + r"(?P=q)(?P<tail>\s*(?:#.*)?)$",
            re.MULTILINE,
        )
        text, count = pattern.subn(lambda m: f"{m['lead']}{m['q']}{image}{m['q']}{m['tail']}", text)
        if count == 0:
            raise InvalidInput(
                f"{file}: the container image {old} is not on an 'image:' line of its own",
                hint="write it as 'image: <reference>' (block style), or set set-manager-image: false",
            )
    result = text.encode("utf-8")
    after, _ = parse_documents(result, file=file)
    expected = [_with_image(d.body, set(replaced), image) for d in documents]
    if [d.body for d in after] != expected:
        raise InvalidInput(
            f"{file}: an 'image:' line outside the containers also names {', '.join(replaced)}",
            hint="set set-manager-image: false and render the manifest with the release image yourself",
        )
    return result, replaced


def _with_image(body: Mapping[str, Any], old: set[str], image: str) -> Any:
    """``body`` with the container images in ``old`` set to ``image`` (a structural copy)."""
    copy: Any = copy_module.deepcopy(dict(body))
    path = WORKLOAD_POD_SPEC.get(str(copy.get("kind", "")))
    pod = copy
    for key in path or ():
        pod = pod.get(key) if isinstance(pod, dict) else None
    if path is None or not isinstance(pod, dict):
        return copy
    for container in [*(pod.get("containers") or ()), *(pod.get("initContainers") or ())]:
        if isinstance(container, dict) and container.get("image") in old:
            container["image"] = image
    return copy
