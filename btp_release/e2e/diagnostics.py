"""The diagnostics bundle of a failed E2E run: what a release engineer needs to see why, in one place.

Events, pod logs, describe-like dumps of the module's custom resources and deployments, and the
manifests that were applied, written into a directory and packed as ``diagnostics.tar.gz``.
Secrets are dumped without their data (keys only). Collection never raises: a part that cannot be
read is noted in ``errors.txt`` instead, so a broken cluster still yields a bundle.
"""

from __future__ import annotations

import json
import tarfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import attrs

from btp_release.errors import BtpReleaseError
from btp_release.kube import KubeClient, KubeObject

__all__ = ["Diagnostics", "collect_diagnostics"]


@attrs.frozen
class Diagnostics:
    directory: Path
    tarball: Path
    files: tuple[str, ...]


def _redacted(obj: KubeObject) -> dict[str, Any]:
    body = dict(obj.body)
    if obj.kind == "Secret":
        body["data"] = {key: "<redacted>" for key in (body.get("data") or {})}
        body.pop("stringData", None)
        annotations = dict((body.get("metadata") or {}).get("annotations") or {})
        annotations.pop("kubectl.kubernetes.io/last-applied-configuration", None)
        body["metadata"] = {**(body.get("metadata") or {}), "annotations": annotations}
    return body


def _describe(objects: Iterable[KubeObject]) -> str:
    lines = []
    for obj in objects:
        lines.append(obj.describe())
        for condition in obj.conditions:
            lines.append(f"  {condition}: {condition.message}")
    return "\n".join(lines) + "\n"


def collect_diagnostics(
    kube: KubeClient,
    directory: Path,
    *,
    namespaces: Iterable[str] = ("kyma-system", "default"),
    kinds: Iterable[tuple[str, str]] = (),
    manifests: Mapping[str, bytes] | None = None,
) -> Diagnostics:
    """Write the bundle into ``directory`` (created) and ``<directory>.tar.gz``.

    ``kinds`` are extra ``(apiVersion, kind)`` pairs to dump in every namespace (the module's CRs);
    ``manifests`` are file name → content of what was applied.
    """
    directory.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []

    def write(name: str, text: str) -> None:
        (directory / name).write_text(text, encoding="utf-8")

    def attempt(what: str, fn: Any) -> Any:
        try:
            return fn()
        except BtpReleaseError as exc:
            errors.append(f"{what}: {exc}")
            return None

    wanted = [("apps/v1", "Deployment"), ("v1", "Pod"), ("v1", "Secret"), ("v1", "ConfigMap"), *kinds]
    for namespace in namespaces:
        events = attempt(f"events in {namespace}", lambda ns=namespace: kube.events(ns)) or []
        write(
            f"events-{namespace}.txt",
            "".join(
                f"{e.body.get('lastTimestamp') or ''} {e.body.get('type', '')} {e.body.get('reason', '')} "
                f"{(e.body.get('involvedObject') or {}).get('kind', '')}/"
                f"{(e.body.get('involvedObject') or {}).get('name', '')}: {e.body.get('message', '')}\n"
                for e in events
            ),
        )
        for api_version, kind in wanted:
            found = attempt(
                f"{kind} in {namespace}",
                lambda a=api_version, k=kind, ns=namespace: kube.list_objects(a, k, ns),
            )
            if not found:
                continue
            stem = f"{kind.lower()}s-{namespace}"
            write(f"{stem}.json", json.dumps([_redacted(o) for o in found], indent=2, default=str))
            write(f"{stem}.txt", _describe(found))
            if kind == "Pod":
                for pod in found:
                    logs = attempt(
                        f"logs of {pod.ref}", lambda p=pod, ns=namespace: kube.pod_logs(p.name, ns)
                    )
                    if logs is not None:
                        write(f"logs-{namespace}-{pod.name}.txt", logs)
    for name, data in (manifests or {}).items():
        (directory / f"applied-{Path(name).name}").write_bytes(data)
    if errors:
        write("errors.txt", "\n".join(errors) + "\n")
    files = tuple(sorted(p.name for p in directory.iterdir()))
    tarball = directory.with_name(directory.name + ".tar.gz")
    with tarfile.open(tarball, "w:gz") as archive:
        archive.add(directory, arcname=directory.name)
    return Diagnostics(directory, tarball, files)
