"""Every image a manifest deploys, as modulectl finds them, and how the descriptor names them.

The expectations follow kyma-project/modulectl @ 902c4f8: its manifest content provider (Deployments and
StatefulSets; containers, init containers and image-like environment variable values; ``latest``/``main``
refused), its image parser (distribution/reference) and its component constructor (resource names and
versions), with its tests and ``tests/e2e/create/testdata/manifest/images`` as the model. The manifests
here are our own.
"""

from __future__ import annotations

import logging
import re

import pytest

from btp_release.errors import InvalidInput
from btp_release.module import ValidationFailed, build_module
from btp_release.module.descriptor import image_resource_name_and_version
from btp_release.module.security import is_image_candidate, parse_image_reference
from btp_release.module.validate import collect_manifest_images, manifest_images, parse_documents
from tests.test_module_artifact import make_inputs, make_spec

PROD = "europe-docker.pkg.dev/kyma-project/prod"
DIGEST = "fff07cc3a741c20b2b1e4bbc3bbd6d3c84859e5116fce7858d3d176542800c10"

# btp-manager's shape: the manager's own image in the container, the two images it deploys itself
# named in environment variables (kustomize's set_external_images), beside values that are no images.
BTP_MANAGER = f"""
apiVersion: apps/v1
kind: Deployment
metadata: {{name: btp-manager-controller-manager, namespace: kyma-system}}
spec:
  template:
    spec:
      containers:
        - name: manager
          image: {PROD}/btp-manager:1.3.19
          env:
            - name: SAP_BTP_SERVICE_OPERATOR
              value: {PROD}/external/ghcr.io/sap/sap-btp-service-operator/controller:v0.9.3
            - name: CA_BUNDLE_PROBE
              value: "{PROD}/ca-bundle-probe:1.3.19"
            - name: METRICS_ADDRESS
              value: "8080"
            - name: SECRET_NAME
              value: "${{SAP_BTP_SECRET}}"
            - name: POD_NAMESPACE
              valueFrom: {{fieldRef: {{fieldPath: metadata.namespace}}}}
"""


def images_of(text: str, shape: str = "modulectl") -> tuple[list[str], list[str]]:
    documents, problems = parse_documents(text, file="manifest.yaml")
    assert problems == []
    images, found = collect_manifest_images(documents, file="manifest.yaml", shape=shape)  # type: ignore[arg-type]
    return images, [str(p) for p in found]


def test_env_values_that_are_images_count() -> None:
    assert images_of(BTP_MANAGER) == (
        [
            f"{PROD}/btp-manager:1.3.19",
            f"{PROD}/ca-bundle-probe:1.3.19",
            f"{PROD}/external/ghcr.io/sap/sap-btp-service-operator/controller:v0.9.3",
        ],
        [],
    )


def test_containers_init_containers_and_their_env() -> None:
    text = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: operator}
spec:
  template:
    spec:
      initContainers:
        - name: migrate
          image: migrate/migrate:v4.16.0
          env: [{name: HELPER_IMAGE, value: "alpine:3.18.0"}]
        - {name: busybox, image: "busybox:1.35.0"}
      containers:
        - {name: manager, image: "europe-docker.pkg.dev/kyma-project/prod/template-operator:1.0.3"}
        - {name: webhook, image: "europe-docker.pkg.dev/kyma-project/prod/webhook:v1.2.0"}
        - {name: nginx, image: "nginx:1.25.0"}
"""
    assert images_of(text)[0] == [
        "alpine:3.18.0",
        "busybox:1.35.0",
        "europe-docker.pkg.dev/kyma-project/prod/template-operator:1.0.3",
        "europe-docker.pkg.dev/kyma-project/prod/webhook:v1.2.0",
        "migrate/migrate:v4.16.0",
        "nginx:1.25.0",
    ]


def test_deployment_and_statefulset_share_an_image_once_and_digests_are_kept() -> None:
    text = f"""
apiVersion: apps/v1
kind: Deployment
metadata: {{name: mixed}}
spec:
  template:
    spec:
      initContainers: [{{name: init, image: "postgres:15.3"}}]
      containers:
        - name: manager
          image: {PROD}/template-operator:1.0.3
          env: [{{name: WEBHOOK_IMAGE, value: "{PROD}/webhook:v1.2.0"}}]
        - {{name: static, image: "gcr.io/distroless/static@sha256:{DIGEST}"}}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {{name: postgres}}
spec:
  template:
    spec:
      containers: [{{name: postgres, image: "postgres:15.3"}}]
"""
    assert images_of(text)[0] == [
        f"{PROD}/template-operator:1.0.3",
        f"{PROD}/webhook:v1.2.0",
        f"gcr.io/distroless/static@sha256:{DIGEST}",
        "postgres:15.3",
    ]


def test_a_manifest_without_deployment_or_statefulset_has_no_images() -> None:
    text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: config}\ndata: {image: 'nginx:1.25.0'}\n"
    assert images_of(text) == ([], [])


def test_other_workload_kinds_are_left_out_as_modulectl_does_and_that_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    text = """
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec: {template: {spec: {containers: [{name: agent, image: "fluent/fluent-bit:3.0.4"}]}}}
"""
    with caplog.at_level(logging.WARNING, logger="btp_release.module.validate"):
        assert images_of(text) == ([], [])
    assert "DaemonSet agent are not listed" in caplog.text
    assert "fluent/fluent-bit:3.0.4" in caplog.text


def test_latest_main_and_untagged_images_are_refused_each_named() -> None:
    text = f"""
apiVersion: apps/v1
kind: Deployment
metadata: {{name: tags}}
spec:
  template:
    spec:
      containers:
        - name: manager
          image: {PROD}/template-operator:latest
          env: [{{name: TOOL_IMAGE, value: "alpine:MAIN"}}]
        - {{name: helper, image: "alpine:main"}}
        - {{name: bare, image: "nginx"}}
        - {{name: valid, image: "alpine:3.18.0"}}
"""
    images, problems = images_of(text)
    assert images == ["alpine:3.18.0"]
    assert problems == [
        "manifest.yaml (document 0) .spec.template.spec.containers[0].image: Deployment tags, container "
        f"manager: image {PROD}/template-operator:latest: the tag 'latest' is not allowed (latest and main "
        "move); name a version",
        "manifest.yaml (document 0) .spec.template.spec.containers[0].env[0].value: Deployment tags, "
        "container manager, env TOOL_IMAGE: image alpine:MAIN: the tag 'MAIN' is not allowed (latest and "
        "main move); name a version",
        "manifest.yaml (document 0) .spec.template.spec.containers[1].image: Deployment tags, container "
        "helper: image alpine:main: the tag 'main' is not allowed (latest and main move); name a version",
        "manifest.yaml (document 0) .spec.template.spec.containers[2].image: Deployment tags, container "
        "bare: image nginx has no tag (it would run as :latest); name a version",
    ]


def test_an_env_value_that_looks_like_an_image_but_is_none_is_refused() -> None:
    text = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: d}
spec:
  template:
    spec:
      containers:
        - name: c
          image: "alpine:3.18.0"
          env: [{name: UPSTREAM, value: "https://example.com/api"}]
"""
    (problem,) = images_of(text)[1]
    assert "env UPSTREAM" in problem
    assert "'https://example.com/api' is not a valid image reference" in problem
    assert "modulectl takes it for an image" in problem


def test_the_2023_shape_keeps_its_rule() -> None:
    documents, _ = parse_documents(BTP_MANAGER, file="m")
    # containers and init containers of every workload kind, no env values, nothing refused
    assert manifest_images(documents) == [f"{PROD}/btp-manager:1.3.19"]
    latest = (
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, image: 'x:latest'}]}\n"
    )
    assert images_of(latest, shape="legacy-2023") == (["x:latest"], [])
    assert images_of(latest)[0] == []  # a Pod is not a Deployment or StatefulSet


def test_validate_inputs_lists_every_image_problem_at_once() -> None:
    from tests.test_module_artifact import MANIFEST

    manifest = MANIFEST.replace(b"btp-manager:1.2.0", b"btp-manager:latest") + (
        b"---\napiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: s}\n"
        b"spec: {template: {spec: {containers: [{name: s, image: 'redis:main'}]}}}\n"
    )
    spec = make_spec(shape="modulectl", security_config_path=None)
    with pytest.raises(ValidationFailed) as raised:
        build_module(spec, make_inputs(manifest=manifest, security=None))
    messages = [p.message for p in raised.value.problems]
    assert len(messages) == 2
    assert "btp-manager:latest" in messages[0] and "redis:main" in messages[1]
    # the 2023 shape builds the same manifest (its images come from the scanner config)
    build_module(make_spec(security_config_path=None), make_inputs(manifest=manifest, security=None))


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        ("ghcr.io/example/test-image:v2.1.3", ("test-image", "v2.1.3")),
        ("registry.io/myimage:1.0.0-rc.1", ("myimage", "1.0.0-rc.1")),
        ("docker.io/library/nginx:1.21.0", ("nginx", "1.21.0")),
        ("postgres:13", ("postgres", "0.0.0-13")),
        ("nginx:1.20", ("nginx", "0.0.0-1.20")),
        ("registry.io/myimage:feat_my_branch", ("myimage", "0.0.0-feat-my-branch")),
        ("registry.io/myimage:_x_", ("myimage", "0.0.0-x")),
        (f"registry.io/myimage:2.3.4@sha256:{DIGEST}", ("myimage-fff07cc3", "2.3.4+sha256.fff07cc3a741")),
        (
            f"registry.io/myimage:stable@sha256:{DIGEST}",
            ("myimage-fff07cc3", "0.0.0-stable+sha256.fff07cc3a741"),
        ),
        (f"gcr.io/distroless/static@sha256:{DIGEST}", ("static-fff07cc3", "0.0.0+sha256.fff07cc3a741")),
        ("localhost:5000/team/tool:0.1.0", ("tool", "0.1.0")),
    ],
)
def test_resource_names_and_versions_as_modulectl_gives_them(image: str, expected: tuple[str, str]) -> None:
    assert image_resource_name_and_version(image) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("nginx:1.20", True),
        ("nginx@sha256:abc123", True),
        ("registry.io/nginx:1.20", True),
        ("a:b", True),
        ("a@b", True),
        ("ab", False),
        ("a" * 254 + ":1", True),
        ("a" * 255 + ":1", False),
        ("nginx", False),
        ("nginx :1.20", False),
        ("nginx\t:1.20", False),
        ("nginx\n:1.20", False),
        ("nginx\r:1.20", False),
        ("${SECRET}", False),
    ],
)
def test_which_env_values_are_image_candidates(value: str, expected: bool) -> None:
    assert is_image_candidate(value) is expected


@pytest.mark.parametrize(
    ("value", "repository", "tag", "digest"),
    [
        ("nginx:1.20", "nginx", "1.20", None),
        ("registry.io/team/nginx:1.20", "registry.io/team/nginx", "1.20", None),
        ("localhost:5000/nginx", "localhost:5000/nginx", None, None),
        (f"nginx@sha256:{DIGEST}", "nginx", None, f"sha256:{DIGEST}"),
        (f"nginx:1.20@sha256:{DIGEST}", "nginx", "1.20", f"sha256:{DIGEST}"),
        ("Registry.IO/nginx:1", "Registry.IO/nginx", "1", None),
    ],
)
def test_parse_image_reference(value: str, repository: str, tag: str | None, digest: str | None) -> None:
    reference = parse_image_reference(value)
    assert (reference.repository, reference.tag, reference.digest) == (repository, tag, digest)
    assert reference.name == repository.rsplit("/", 1)[-1]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "empty"),
        ("invalid:::reference", "not a valid image reference"),
        ("Nginx:1.20", "not a valid image reference"),
        ("https://example.com", "not a valid image reference"),
        (f"sha256:{DIGEST}", "a digest without an image name"),
        (DIGEST, "a digest without an image name"),
        ("nginx@sha256:abc123", "not a valid image reference"),
        ("nginx@sha512:" + "a" * 128, "only sha256 digests"),
        ("a/" * 128 + "b:1", "longer than 255"),
    ],
)
def test_parse_image_reference_refuses(value: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=re.escape(message)):
        parse_image_reference(value)


@pytest.mark.parametrize(
    ("image", "message"),
    [
        ("nginx:latest", "the tag 'latest' is not allowed"),
        (f"nginx:Main@sha256:{DIGEST}", "the tag 'Main' is not allowed"),
        ("nginx", "neither a tag nor a digest"),
        ("Nginx:1", "not a valid image reference"),
    ],
)
def test_the_descriptor_refuses_what_modulectl_refuses(image: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=re.escape(message)):
        image_resource_name_and_version(image)
