"""Module configuration and the OCM component descriptor (spec/kyma-module.md)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import yaml

from btp_release.errors import InvalidInput
from btp_release.module import SecurityConfig, WhiteSource, build_module, descriptor_yaml, local_blob_digest
from btp_release.module.descriptor import LocalBlob, build_descriptor, check_descriptor, local_resources
from btp_release.oci.model import sha256_digest
from tests.test_module_artifact import COMMIT, DEFAULT_CR, MANIFEST, make_inputs, make_spec

# The descriptor part of lifecycle-manager's 2023 test template (tests/moduletemplates/
# moduletemplate_template_operator_regular.yaml @ 16dfd6d83): older OCM wrote localOciBlob + digest.
TEMPLATE_2023_DESCRIPTOR = """
component:
  componentReferences: []
  name: kyma-project.io/template-operator
  provider: internal
  repositoryContexts:
    - baseUrl: europe-west3-docker.pkg.dev/sap-kyma-jellyfish-dev/template-operator
      componentNameMapping: urlPath
      type: ociRegistry
  resources:
    - access:
        digest: sha256:903eda97406482c42b7aa34ae7da1dac68fdacaccd2a70158ef13a09c2230915
        type: localOciBlob
      name: raw-manifest
      relation: local
      type: yaml
      version: v1.1.0-smoke-test
  sources:
    - access:
        commit: d9ddb3ddd0e4579bba24b7f56027a939fb559e1f
        repoUrl: https://github.com/kyma-project/cli
        type: gitHub
      labels:
        - name: git.kyma-project.io/ref
          value: refs/heads/main
          version: v1
      name: module-sources
      type: git
      version: v1.1.0-smoke-test
  version: v1.1.0-smoke-test
meta:
  schemaVersion: v2
"""


def _labels(element: dict[str, Any]) -> dict[str, str]:
    assert all(label["version"] == "v1" for label in element.get("labels", []))
    return {label["name"]: label["value"] for label in element.get("labels", [])}


def test_spec_names_and_versions() -> None:
    spec = make_spec()
    assert spec.short_name == "btp-operator"
    assert spec.component_version == "v1.2.0"
    assert spec.version.image_tag == "1.2.0"
    assert spec.resolved_template_name == "btp-operator-regular"
    assert spec.resolved_git_ref == "refs/tags/1.2.0"
    assert spec.module_reference == (
        "europe-docker.pkg.dev/kyma-project/prod/unsigned/component-descriptors/"
        "kyma-project.io/module/btp-operator:v1.2.0"
    )
    assert spec.registry_host == "europe-docker.pkg.dev"
    assert spec.module_repository == (
        "kyma-project/prod/unsigned/component-descriptors/kyma-project.io/module/btp-operator"
    )
    assert make_spec(registry_base_url="localhost:5000").module_repository == (
        "component-descriptors/kyma-project.io/module/btp-operator"
    )
    assert make_spec(shape="modulectl").resolved_template_name == "btp-operator-1.2.0"
    assert make_spec(component_name="kyma.project.io/module/btp-operator").short_name == "btp-operator"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"component_name": "btp-operator"}, "component name"),
        ({"component_name": "Kyma-Project.io/module/x"}, "component name"),
        ({"version": "v1.2.0"}, "drop the leading 'v'"),
        ({"channel": "Fast"}, "channel"),
        ({"channel": "ab"}, "channel"),
        ({"source_commit": "main"}, "source commit"),
        ({"registry_base_url": "https://europe-docker.pkg.dev/x"}, "base URL"),
        ({"namespace": "KCP"}, "namespace"),
        ({"template_name": "Not_Valid"}, "ModuleTemplate name"),
        ({"manifest_path": None}, "exactly one of manifest_path and chart_path"),
        ({"chart_path": "chart.tgz"}, "exactly one of manifest_path and chart_path"),
        ({"labels": {"a": True}}, "string pair"),
    ],
)
def test_spec_refuses_bad_values(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInput, match=re.escape(message)):
        make_spec(**overrides)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"template_api_version": "v1beta2", "emit_target": True}, "v1beta2 has no spec.target"),
        ({"emit_target": False}, "v1beta1 requires spec.target"),
        ({"shape": "modulectl", "emit_target": True}, "modulectl ModuleTemplate shape has no spec.target"),
        ({"shape": "modulectl", "template_api_version": "v1beta1"}, "only as v1beta2"),
    ],
)
def test_target_configuration_errors_are_raised_up_front(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInput, match=re.escape(message)) as raised:
        make_spec(**overrides)
    assert raised.value.hint


def test_target_follows_the_api_version() -> None:
    assert make_spec().template_api_version == "v1beta1"  # the original pipeline's pair of templates
    assert make_spec().target_emitted
    assert make_spec(emit_target=True).target_emitted
    assert not make_spec(template_api_version="v1beta2").target_emitted
    assert not make_spec(template_api_version="v1beta2", emit_target=False).target_emitted
    assert make_spec(shape="modulectl").template_api_version == "v1beta2"


def test_descriptor_contents() -> None:
    descriptor = build_module(make_spec(), make_inputs()).descriptor
    assert descriptor["meta"] == {"schemaVersion": "v2"}
    component = descriptor["component"]
    assert component["name"] == "kyma-project.io/module/btp-operator"
    assert component["version"] == "v1.2.0"
    assert component["provider"] == "kyma-project.io"
    assert component["componentReferences"] == []
    assert component["repositoryContexts"] == [
        {
            "type": "ociRegistry",
            "baseUrl": "europe-docker.pkg.dev/kyma-project/prod/unsigned",
            "componentNameMapping": "urlPath",
        }
    ]
    assert _labels(component) == {"security.kyma-project.io/scan": "enabled"}

    (source,) = component["sources"]
    assert (source["name"], source["type"], source["version"]) == ("module-sources", "Github", "v1.2.0")
    assert source["access"] == {
        "type": "github",
        "repoUrl": "github.com/kyma-project/btp-manager",
        "commit": COMMIT,
    }
    assert [label["name"] for label in source["labels"]] == [
        "git.kyma-project.io/ref",
        "scan.security.kyma-project.io/dev-branch",
        "scan.security.kyma-project.io/rc-tag",
        "scan.security.kyma-project.io/language",
        "scan.security.kyma-project.io/exclude",
    ]
    assert _labels(source) == {
        "git.kyma-project.io/ref": "refs/tags/1.2.0",
        "scan.security.kyma-project.io/dev-branch": "",
        "scan.security.kyma-project.io/rc-tag": "1.2.0",
        "scan.security.kyma-project.io/language": "golang-mod",
        "scan.security.kyma-project.io/exclude": "**/*_test.go",
    }

    raw, cr, image = component["resources"]
    assert raw == {
        "name": "raw-manifest",
        "type": "yaml",
        "relation": "local",
        "version": "v1.2.0",
        "access": {
            "type": "localBlob",
            "localReference": sha256_digest(MANIFEST),
            "mediaType": "application/octet-stream",
        },
    }
    assert (cr["name"], cr["version"], cr["access"]["localReference"]) == (
        "default-cr",
        "v1.2.0",
        sha256_digest(DEFAULT_CR),
    )
    assert image == {
        "name": "btp-manager",
        "type": "ociImage",
        "relation": "external",
        "version": "1.2.0",
        "access": {
            "type": "ociRegistry",
            "imageReference": "europe-docker.pkg.dev/kyma-project/prod/btp-manager:1.2.0",
        },
        "labels": [
            {"name": "scan.security.kyma-project.io/type", "value": "third-party-image", "version": "v1"}
        ],
    }


def test_security_labels_follow_the_scanner_config() -> None:
    security = SecurityConfig(
        module_name="btp-operator",
        protecode=(
            "europe-docker.pkg.dev/kyma-project/prod/btp-manager:1.2.0",
            "registry.local/tools/kubectl:1.28",
        ),
        whitesource=WhiteSource(language="golang-mod", exclude=("**/test/**", "**/*_test.go")),
        dev_branch="main",
        rc_tag="1.2.0",
    )
    component = build_module(make_spec(), make_inputs(security=security)).descriptor["component"]
    labels = _labels(component["sources"][0])
    assert labels["scan.security.kyma-project.io/exclude"] == "**/test/**,**/*_test.go"
    assert labels["scan.security.kyma-project.io/dev-branch"] == "main"
    images = [r for r in component["resources"] if r["type"] == "ociImage"]
    assert [(r["name"], r["version"]) for r in images] == [("btp-manager", "1.2.0"), ("kubectl", "1.28")]


def test_without_security_config_there_are_no_scan_labels_or_images() -> None:
    spec = make_spec(security_config_path=None)
    component = build_module(spec, make_inputs(security=None)).descriptor["component"]
    assert "labels" not in component
    assert _labels(component["sources"][0]) == {"git.kyma-project.io/ref": "refs/tags/1.2.0"}
    assert [r["name"] for r in component["resources"]] == ["raw-manifest", "default-cr"]


def test_without_default_cr_there_is_no_default_cr_resource() -> None:
    artifact = build_module(make_spec(default_cr_path=None), make_inputs(default_cr=None))
    assert [r["name"] for r in artifact.descriptor["component"]["resources"]] == [
        "raw-manifest",
        "btp-manager",
    ]
    assert len(artifact.manifest.layers) == 2


def test_local_oci_blob_access_style() -> None:
    descriptor = build_module(make_spec(access_style="localOciBlob"), make_inputs()).descriptor
    raw = descriptor["component"]["resources"][0]
    assert raw["access"] == {"type": "localOciBlob", "digest": sha256_digest(MANIFEST)}


def test_both_access_styles_are_readable() -> None:
    old = yaml.safe_load(TEMPLATE_2023_DESCRIPTOR)
    expected = "sha256:903eda97406482c42b7aa34ae7da1dac68fdacaccd2a70158ef13a09c2230915"
    assert local_blob_digest(old["component"]["resources"][0]) == expected
    assert {name: digest for name, (_, digest) in local_resources(old).items()} == {"raw-manifest": expected}
    new = build_module(make_spec(), make_inputs()).descriptor
    assert local_resources(new)["raw-manifest"][1] == sha256_digest(MANIFEST)
    assert local_blob_digest({"access": {"type": "ociRegistry", "imageReference": "x:1"}}) is None
    assert local_blob_digest({"name": "no-access"}) is None
    check_descriptor(old)  # the old shape is a valid v2 descriptor too


def test_descriptor_yaml_is_deterministic_and_sorted() -> None:
    descriptor = build_module(make_spec(), make_inputs()).descriptor
    text = descriptor_yaml(descriptor)
    assert text == descriptor_yaml(yaml.safe_load(text))
    assert yaml.safe_load(text) == descriptor
    assert text.splitlines()[0] == b"component:"


def test_duplicate_resource_names_are_refused() -> None:
    security = SecurityConfig(module_name="m", protecode=("a.io/x/btp-manager:1", "b.io/y/btp-manager:2"))
    with pytest.raises(InvalidInput, match="btp-manager used twice"):
        build_descriptor(make_spec(), [], security)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d["component"].pop("provider"), "component.provider is required"),
        (lambda d: d["component"].update(version="latest"), "not a (relaxed) SemVer"),
        (lambda d: d["component"]["resources"][0].update(name="Raw Manifest"), "name must match"),
        (lambda d: d["component"]["resources"][0].pop("relation"), "relation is required"),
        (lambda d: d["component"]["sources"][0]["labels"][0].update(version="1"), "bad version"),
        (lambda d: d.update(meta={"schemaVersion": "v3"}), "schemaVersion must be v2"),
    ],
)
def test_check_descriptor_reports_schema_violations(mutate: Any, message: str) -> None:
    descriptor = build_descriptor(
        make_spec(), [LocalBlob("raw-manifest", "yaml", "application/octet-stream", "sha256:" + "a" * 64)]
    )
    mutate(descriptor)
    with pytest.raises(InvalidInput, match=re.escape(message)):
        check_descriptor(descriptor)


# --- the 2023 descriptor from a scanner config of today --------------------------------------------------


def test_legacy_descriptor_reads_bdba_and_mend_and_invents_no_labels() -> None:
    security = SecurityConfig.parse(
        "module-name: btp-operator\nkind: kyma\nrc-tag: 1.2.0\n"
        "bdba:\n  - europe-docker.pkg.dev/kyma-project/prod/btp-manager:1.2.0\n"
        "mend:\n  language: golang-mod\n  exclude: ['**/test/**']\n"
    )
    component = build_module(make_spec(), make_inputs(security=security)).descriptor["component"]
    assert _labels(component["sources"][0]) == {
        "git.kyma-project.io/ref": "refs/tags/1.2.0",
        "scan.security.kyma-project.io/dev-branch": "",
        "scan.security.kyma-project.io/rc-tag": "1.2.0",
        "scan.security.kyma-project.io/language": "golang-mod",
        "scan.security.kyma-project.io/exclude": "**/test/**",
    }
    assert [r["name"] for r in component["resources"] if r["type"] == "ociImage"] == ["btp-manager"]
    without_sources = SecurityConfig(
        module_name="btp-operator", bdba=("europe-docker.pkg.dev/kyma-project/prod/btp-manager:1.2.0",)
    )
    component = build_module(make_spec(), make_inputs(security=without_sources)).descriptor["component"]
    assert [label["name"] for label in component["sources"][0]["labels"]] == [
        "git.kyma-project.io/ref",
        "scan.security.kyma-project.io/dev-branch",
        "scan.security.kyma-project.io/rc-tag",
    ]


# --- the descriptor of today's shape (modulectl's component constructor) ---------------------------------

PROD = "europe-docker.pkg.dev/kyma-project/prod"
SAP_OPERATOR = f"{PROD}/external/ghcr.io/sap/sap-btp-service-operator/controller:v0.9.3"
PROBE = f"{PROD}/ca-bundle-probe:1.2.0"
# the example manifest with btp-manager's two other images named in the manager's environment
MANIFEST_WITH_ENV = MANIFEST.replace(
    b'          args: ["--leader-elect"]\n',
    b'          args: ["--leader-elect"]\n'
    b"          env:\n"
    b"            - name: SAP_BTP_SERVICE_OPERATOR\n"
    b"              value: " + SAP_OPERATOR.encode() + b"\n"
    b"            - name: CA_BUNDLE_PROBE\n"
    b'              value: "' + PROBE.encode() + b'"\n'
    b"            - name: LOG_FORMAT\n"
    b"              value: json\n",
)


def current_spec(**overrides: Any) -> Any:
    values: dict[str, Any] = {
        "shape": "modulectl",
        "repository_url": "https://github.com/kyma-project/btp-manager",
        "team": "kyma/gopher",
    }
    values.update(overrides)
    return make_spec(**values)


def test_current_descriptor_field_by_field() -> None:
    assert MANIFEST_WITH_ENV != MANIFEST
    artifact = build_module(current_spec(), make_inputs(manifest=MANIFEST_WITH_ENV))
    component = artifact.descriptor["component"]
    assert artifact.descriptor["meta"] == {"schemaVersion": "v2"}
    assert (component["name"], component["version"]) == ("kyma-project.io/module/btp-operator", "1.2.0")
    assert json.loads(component["provider"]) == {
        "name": "kyma-project.io",
        "labels": [{"name": "kyma-project.io/built-by", "value": "btp-release", "version": "v1"}],
    }
    assert component["labels"] == [
        {"name": "operator.kyma-project.io/beta", "value": "false", "version": "v1"},
        {"name": "operator.kyma-project.io/internal", "value": "false", "version": "v1"},
        {"name": "operator.kyma-project.io/requiresDowntime", "value": "false", "version": "v1"},
        {"name": "operator.kyma-project.io/is-cluster-scoped", "value": "false", "version": "v1"},
        {"name": "security.kyma-project.io/scan", "value": "enabled", "version": "v1"},
        {
            "name": "cloud.gardener.cnudie/responsibles",
            "value": [
                {"github_hostname": "github.tools.sap", "teamname": "kyma/gopher", "type": "githubTeam"}
            ],
            "version": "v1",
        },
    ]
    assert component["sources"] == [
        {
            "name": "module-sources",
            "type": "Github",
            "version": "1.2.0",
            "access": {
                "type": "gitHub",
                "repoUrl": "https://github.com/kyma-project/btp-manager",
                "commit": COMMIT,
            },
        }
    ]
    assert component["componentReferences"] == []
    scan_label = [
        {"name": "scan.security.kyma-project.io/type", "value": "third-party-image", "version": "v1"}
    ]

    def image(name: str, version: str, reference: str) -> dict[str, Any]:
        return {
            "name": name,
            "type": "ociArtifact",
            "relation": "external",
            "version": version,
            "access": {"type": "ociArtifact", "imageReference": reference},
            "labels": scan_label,
        }

    assert component["resources"] == [
        image("btp-manager", "1.2.0", f"{PROD}/btp-manager:1.2.0"),
        image("ca-bundle-probe", "1.2.0", PROBE),
        image("controller", "v0.9.3", SAP_OPERATOR),
        {
            "name": "raw-manifest",
            "type": "yaml",
            "relation": "local",
            "version": "1.2.0",
            "access": {
                "type": "localBlob",
                "localReference": sha256_digest(MANIFEST_WITH_ENV),
                "mediaType": "application/octet-stream",
            },
        },
        {
            "name": "default-cr",
            "type": "yaml",
            "relation": "local",
            "version": "1.2.0",
            "access": {
                "type": "localBlob",
                "localReference": sha256_digest(DEFAULT_CR),
                "mediaType": "application/octet-stream",
            },
        },
    ]
    check_descriptor(artifact.descriptor)
    assert yaml.safe_load(descriptor_yaml(artifact.descriptor)) == artifact.descriptor


def test_current_descriptor_images_come_from_the_manifest_not_the_scanner_config() -> None:
    stale = SecurityConfig(module_name="btp-operator", bdba=(f"{PROD}/btp-manager:1.1.0",))
    component = build_module(current_spec(), make_inputs(security=stale)).descriptor["component"]
    images = [r["access"]["imageReference"] for r in component["resources"] if r["relation"] == "external"]
    assert images == [f"{PROD}/btp-manager:1.2.0"]
    assert "labels" not in component["sources"][0]  # modulectl dropped the scanner-config source labels


def test_current_descriptor_component_labels_follow_the_spec() -> None:
    spec = current_spec(beta=True, internal=True, requires_downtime=True, security_scan_enabled=False)
    labels = _labels(build_module(spec, make_inputs()).descriptor["component"])
    assert labels == {
        "operator.kyma-project.io/beta": "true",
        "operator.kyma-project.io/internal": "true",
        "operator.kyma-project.io/requiresDowntime": "true",
        "operator.kyma-project.io/is-cluster-scoped": "false",
    }


def test_current_descriptor_cluster_scope_comes_from_the_default_crs_crd() -> None:
    cluster = MANIFEST.replace(b"scope: Namespaced", b"scope: Cluster")
    assert cluster != MANIFEST
    labels = _labels(build_module(current_spec(), make_inputs(manifest=cluster)).descriptor["component"])
    assert labels["operator.kyma-project.io/is-cluster-scoped"] == "true"
    overridden = current_spec(cluster_scoped=False)
    labels = _labels(build_module(overridden, make_inputs(manifest=cluster)).descriptor["component"])
    assert labels["operator.kyma-project.io/is-cluster-scoped"] == "false"
    no_cr = build_module(current_spec(default_cr_path=None), make_inputs(manifest=cluster, default_cr=None))
    assert _labels(no_cr.descriptor["component"])["operator.kyma-project.io/is-cluster-scoped"] == "false"


def test_current_descriptor_without_team_names_no_responsibles(caplog: pytest.LogCaptureFixture) -> None:
    labels = _labels(build_module(current_spec(team=None), make_inputs()).descriptor["component"])
    assert labels["security.kyma-project.io/scan"] == "enabled"
    assert "cloud.gardener.cnudie/responsibles" not in labels
    assert "no team is set" in caplog.text


def test_current_descriptor_digested_images_and_duplicates() -> None:
    digest = "c7742da01aa7ee169d59e58a91c35da9c13e67f555dcd8b2ada15887aa619e6c"
    spec = current_spec()
    descriptor = build_descriptor(
        spec, [], images=[f"gcr.io/distroless/static@sha256:{digest}", "postgres:15.3"]
    )
    static, postgres = descriptor["component"]["resources"]
    assert (static["name"], static["version"]) == ("static-c7742da0", "0.0.0+sha256.c7742da01aa7")
    assert (postgres["name"], postgres["version"]) == ("postgres", "0.0.0-15.3")
    with pytest.raises(
        InvalidInput, match=r"postgres used twice \(images postgres:15.3, a.io/postgres:16.1.0\)"
    ):
        build_descriptor(spec, [], images=["postgres:15.3", "a.io/postgres:16.1.0"])


def test_check_descriptor_wants_the_v2_provider_as_a_string() -> None:
    descriptor = build_descriptor(current_spec(), [])
    descriptor["component"]["provider"] = json.loads(descriptor["component"]["provider"])
    with pytest.raises(InvalidInput, match=re.escape("component.provider must be a string")):
        check_descriptor(descriptor)
