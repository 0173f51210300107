"""Setting the manager image in a rendered manifest: only the container image lines change."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from btp_release.errors import InvalidInput
from btp_release.module.manifest import image_repository, set_manager_image

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "btp-operator" / "manifests" / "btp-manager.yaml"
NEW = "127.0.0.1:5000/kyma-project/prod/btp-manager:1.3.0"

DEPLOYMENT = """\
# rendered by kustomize
apiVersion: apps/v1
kind: Deployment
metadata:
  name: manager
spec:
  template:
    spec:
      initContainers:
        - name: init
          image: "busybox:1.36"
      containers:
        - name: manager
          image: {manager}   # the operator
        - image: 'ghcr.io/other/sidecar:2.0'
          name: sidecar
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: notes
data:
  note: nothing to see
"""


def containers(data: bytes) -> list[str]:
    docs = [d for d in yaml.safe_load_all(data) if d and d["kind"] == "Deployment"]
    pod = docs[0]["spec"]["template"]["spec"]
    return [c["image"] for c in pod["initContainers"] + pod["containers"]]


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        (
            "europe-docker.pkg.dev/kyma-project/prod/btp-manager:1.2.0",
            "europe-docker.pkg.dev/kyma-project/prod/btp-manager",
        ),
        ("127.0.0.1:5000/btp-manager", "127.0.0.1:5000/btp-manager"),
        ("127.0.0.1:5000/btp-manager@sha256:" + "a" * 64, "127.0.0.1:5000/btp-manager"),
        ("controller:latest", "controller"),
    ],
)
def test_image_repository_drops_tag_and_digest_but_not_the_port(image: str, expected: str) -> None:
    assert image_repository(image) == expected


def test_the_example_manifest_gets_the_release_image_and_nothing_else_changes() -> None:
    original = EXAMPLE.read_bytes()
    changed, replaced = set_manager_image(original, NEW)
    assert replaced == ["europe-docker.pkg.dev/kyma-project/prod/btp-manager:1.2.0"]
    old_lines, new_lines = original.decode().splitlines(), changed.decode().splitlines()
    assert len(old_lines) == len(new_lines)
    differing = [(a, b) for a, b in zip(old_lines, new_lines, strict=True) if a != b]
    assert differing == [(f"          image: {replaced[0]}", f"          image: {NEW}")]


@pytest.mark.parametrize(
    "manager",
    ["controller:latest", "europe-docker.pkg.dev/kyma-project/prod/btp-manager:1.2.0", "'btp-manager:dev'"],
)
def test_kubebuilder_placeholder_same_repository_or_same_name_are_replaced(manager: str) -> None:
    data = DEPLOYMENT.format(manager=manager).encode()
    changed, replaced = set_manager_image(data, NEW, names=("controller",))
    assert replaced == [manager.strip("'")]
    assert containers(changed) == ["busybox:1.36", NEW, "ghcr.io/other/sidecar:2.0"]
    assert b"# the operator" in changed and b"# rendered by kustomize" in changed


def test_nothing_matching_leaves_the_bytes_alone() -> None:
    data = DEPLOYMENT.format(manager="ghcr.io/someone/else:1.0").encode()
    assert set_manager_image(data, NEW, names=("controller",)) == (data, [])


def test_already_the_release_image_is_not_a_change() -> None:
    data = DEPLOYMENT.format(manager=NEW).encode()
    assert set_manager_image(data, NEW) == (data, [])


def test_an_image_line_outside_the_containers_is_refused() -> None:
    data = (
        DEPLOYMENT.format(manager="controller:latest") + "---\nkind: ConfigMap\napiVersion: v1\n"
        "metadata: {name: x}\ndata:\n  image: controller:latest\n"
    ).encode()
    with pytest.raises(InvalidInput, match="outside the containers also names controller:latest"):
        set_manager_image(data, NEW, names=("controller",))


def test_a_flow_style_container_is_refused_with_a_hint() -> None:
    data = (
        b"apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n"
        b"spec: {containers: [{name: m, image: 'controller:latest'}]}\n"
    )
    with pytest.raises(InvalidInput, match="not on an 'image:' line of its own") as info:
        set_manager_image(data, NEW, names=("controller",))
    assert "set-manager-image: false" in str(info.value)


def test_a_manifest_that_does_not_parse_is_invalid_input() -> None:
    with pytest.raises(InvalidInput, match="cannot set the manager image"):
        set_manager_image(b"kind: [unclosed\n", NEW)
