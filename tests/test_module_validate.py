"""Validation before pushing: manifest documents, default CR against its CRD, templates, scanned images."""

from __future__ import annotations

import logging
from typing import Any

import attrs
import pytest
import yaml

from btp_release.errors import InvalidInput
from btp_release.module import (
    SecurityConfig,
    ValidationFailed,
    build_module,
    validate_object,
    validate_template,
)
from btp_release.module.validate import (
    bundled_crd,
    crd_json_schema,
    manifest_images,
    parse_documents,
    validate_inputs,
)
from tests.test_module_artifact import MANIFEST, make_inputs, make_spec

BTP_CRD = next(d for d in yaml.safe_load_all(MANIFEST) if d and d["kind"] == "CustomResourceDefinition")

WIDGET_CRD = yaml.safe_load("""
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.io}
spec:
  group: example.io
  names: {kind: Widget, plural: widgets}
  scope: Cluster
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            apiVersion: {type: string}
            kind: {type: string}
            metadata: {type: object}
            spec:
              type: object
              required: [port]
              properties:
                port: {x-kubernetes-int-or-string: true}
                mode: {type: string, enum: [a, b], nullable: true}
                size: {type: integer, minimum: 1, exclusiveMinimum: true}
                extra:
                  type: object
                  x-kubernetes-preserve-unknown-fields: true
                labels:
                  type: object
                  additionalProperties: {type: string}
                  x-kubernetes-map-type: atomic
    - name: v0
      served: false
      storage: false
""")


def _widget(**spec: Any) -> dict[str, Any]:
    return {"apiVersion": "example.io/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": spec}


def test_parse_documents_reports_every_bad_document_with_its_index() -> None:
    text = (
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ok}\n---\n"
        "---\nkind: ConfigMap\nmetadata: {}\n---\n- a list\n---\n"
        "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\n"
    )
    documents, problems = parse_documents(text, file="m.yaml")
    assert [(d.index, d.kind, d.name) for d in documents] == [
        (0, "ConfigMap", "ok"),
        (2, "ConfigMap", ""),
        (4, "Secret", "s"),
    ]
    assert [str(p) for p in problems] == [
        "m.yaml (document 2): missing apiVersion, metadata.name",
        "m.yaml (document 3): expected a mapping, got list",
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [("a: [b\n", "not valid YAML"), ("", "no Kubernetes objects"), ("---\n", "no Kubernetes objects")],
)
def test_parse_documents_bad_files(text: str, message: str) -> None:
    _, problems = parse_documents(text, file="m.yaml")
    assert len(problems) == 1
    assert message in problems[0].message


def test_crd_schema_translation() -> None:
    schema = crd_json_schema(WIDGET_CRD, "v1")
    port = schema["properties"]["spec"]["properties"]["port"]
    assert port == {"anyOf": [{"type": "integer"}, {"type": "string"}]}
    assert schema["properties"]["spec"]["properties"]["mode"]["type"] == ["string", "null"]
    assert "x-kubernetes-map-type" not in schema["properties"]["spec"]["properties"]["labels"]
    assert schema["additionalProperties"] is False
    assert "additionalProperties" not in schema["properties"]["metadata"]
    assert "additionalProperties" not in schema["properties"]["spec"]["properties"]["extra"]
    assert crd_json_schema(WIDGET_CRD, "v1", strict=False).get("additionalProperties") is None
    with pytest.raises(InvalidInput, match="no version 'v9'"):
        crd_json_schema(WIDGET_CRD, "v9")


def test_valid_custom_resources() -> None:
    for spec in (
        {"port": 80},
        {"port": "http", "mode": None, "extra": {"any": {"thing": 1}}},
        {"port": 1, "labels": {"a": "b"}},
    ):
        assert validate_object(_widget(**spec), WIDGET_CRD, file="w.yaml") == []
    cr = {"apiVersion": "operator.kyma-project.io/v1alpha1", "kind": "BtpOperator", "metadata": {"name": "b"}}
    nullable_specs: tuple[dict[str, Any] | None, ...] = ({}, None)
    for nullable in nullable_specs:
        assert validate_object({**cr, "spec": nullable}, BTP_CRD, file="cr.yaml") == []  # spec is nullable


@pytest.mark.parametrize(
    ("obj", "path", "message"),
    [
        (_widget(), ".spec", "'port' is a required property"),
        (_widget(port=[1]), ".spec.port", "is not valid under any of the given schemas"),
        (_widget(port=1, mode="c"), ".spec.mode", "'c' is not one of"),
        (_widget(port=1, size=1), ".spec.size", "less than or equal to the minimum"),
        (_widget(port=1, labels={"a": 1}), ".spec.labels.a", "1 is not of type 'string'"),
        (_widget(port=1, colour="red"), ".spec", "unknown field(s) colour"),
        ({**_widget(port=1), "status": {}}, ".", "unknown field(s) status"),
    ],
)
def test_invalid_custom_resources(obj: dict[str, Any], path: str, message: str) -> None:
    (problem,) = validate_object(obj, WIDGET_CRD, file="w.yaml", document=3)
    assert (problem.file, problem.document, problem.path) == ("w.yaml", 3, path)
    assert message in problem.message


def test_unknown_or_unserved_versions() -> None:
    (problem,) = validate_object({**_widget(port=1), "apiVersion": "example.io/v0"}, WIDGET_CRD, file="w")
    assert "not served" in problem.message
    (problem,) = validate_object({**_widget(port=1), "apiVersion": "example.io/v2"}, WIDGET_CRD, file="w")
    assert "has no version 'v2'" in problem.message


def test_bad_default_cr_is_caught_before_building() -> None:
    bad = b"apiVersion: operator.kyma-project.io/v1alpha1\nkind: BtpOperator\nmetadata: {name: b}\nspec: 42\n"
    spec = make_spec()
    with pytest.raises(ValidationFailed) as raised:
        build_module(spec, make_inputs(default_cr=bad))
    (problem,) = raised.value.problems
    assert problem.path == ".spec"
    assert "42 is not of type 'object', 'null'" in problem.message
    assert "nothing was pushed" in str(raised.value)


def test_every_problem_is_listed_once() -> None:
    manifest = MANIFEST + b"---\nkind: ConfigMap\nmetadata: {name: x}\n"
    default_cr = b"apiVersion: operator.kyma-project.io/v1alpha1\nkind: BtpOperator\n"
    default_cr += b"metadata: {name: b}\nspec: []\nfoo: 1\n"
    inputs = make_inputs(manifest=manifest, default_cr=default_cr)
    inputs = type(inputs)(
        manifest=manifest,
        default_cr=default_cr,
        security=inputs.security,
        manifest_name="m.yaml",
        default_cr_name="cr.yaml",
    )
    with pytest.raises(ValidationFailed) as raised:
        validate_inputs(make_spec(), inputs)
    assert [str(p) for p in raised.value.problems] == [
        f"m.yaml (document {len(parse_documents(MANIFEST, file='m')[0])}): missing apiVersion",
        "cr.yaml (document 0) .: unknown field(s) foo: not in the CRD schema (the API server drops them)",
        "cr.yaml (document 0) .spec: [] is not of type 'object', 'null'",
    ]
    assert str(raised.value).count("\n  - ") == 3
    assert isinstance(raised.value, InvalidInput)


def test_default_cr_must_be_one_object() -> None:
    two = b"apiVersion: v1\nkind: A\nmetadata: {name: a}\n---\napiVersion: v1\nkind: B\nmetadata: {name: b}\n"
    with pytest.raises(ValidationFailed, match="expected one object, found 2"):
        validate_inputs(make_spec(), make_inputs(default_cr=two))


def test_a_default_cr_whose_kind_has_no_crd_in_the_manifest_is_refused() -> None:
    """A typo in the kind (BtpOperatr) ships a default CR that can never be applied."""
    cr = b"apiVersion: operator.kyma-project.io/v1alpha1\nkind: BtpOperatr\nmetadata: {name: btpoperator}\n"
    with pytest.raises(ValidationFailed) as caught:
        validate_inputs(make_spec(), make_inputs(default_cr=cr))
    (problem,) = caught.value.problems
    assert "kind BtpOperatr (operator.kyma-project.io/v1alpha1) has no CustomResourceDefinition" in str(
        problem
    )
    crds = [
        f"{d.body['spec']['names']['kind']} ({d.body['spec']['group']})"
        for d in parse_documents(MANIFEST, file="m")[0]
        if d.kind == "CustomResourceDefinition"
    ]
    assert crds and all(crd in str(problem) for crd in crds)  # it names the CRDs that are there
    assert "default-cr-crd-external" in str(problem)


def test_a_default_cr_whose_crd_is_installed_elsewhere_is_accepted_when_the_config_says_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cr = b"apiVersion: example.io/v1\nkind: Widget\nmetadata: {name: w}\nspec: {anything: 1}\n"
    spec = attrs.evolve(make_spec(), default_cr_crd_external=True)
    with caplog.at_level(logging.INFO, logger="btp_release.module.validate"):
        checked = validate_inputs(spec, make_inputs(default_cr=cr))
    assert checked.default_cr is not None
    assert "not validated" in caplog.text


def test_manifest_images() -> None:
    extra = """
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: c}
spec: {jobTemplate: {spec: {template: {spec: {containers: [{name: c, image: "a.io/cron:1"}]}}}}}
---
apiVersion: v1
kind: Pod
metadata: {name: p}
spec: {initContainers: [{name: i, image: "a.io/init:1"}], containers: [{name: c, image: "a.io/pod:1"}]}
"""
    documents, _ = parse_documents(MANIFEST + extra.encode(), file="m")
    assert manifest_images(documents) == [
        "a.io/cron:1",
        "a.io/init:1",
        "a.io/pod:1",
        "europe-docker.pkg.dev/kyma-project/prod/btp-manager:1.2.0",
    ]


def test_image_mismatch_warns_or_fails(caplog: pytest.LogCaptureFixture) -> None:
    security = SecurityConfig(
        module_name="btp-operator", protecode=("europe-docker.pkg.dev/kyma-project/prod/btp-manager:1.1.0",)
    )
    inputs = make_inputs(security=security)
    with caplog.at_level(logging.WARNING, logger="btp_release.module.validate"):
        build_module(make_spec(), inputs)  # default: warn
    assert "btp-manager:1.2.0 is not in the protecode list" in caplog.text
    assert "btp-manager:1.1.0 is not used by any workload" in caplog.text
    with pytest.raises(ValidationFailed) as raised:
        build_module(make_spec(), inputs, image_mismatch="error")
    assert len(raised.value.problems) == 2
    build_module(make_spec(), make_inputs(), image_mismatch="error")  # the example matches


def test_image_mismatch_names_the_bdba_list_and_counts_env_images() -> None:
    probe = "europe-docker.pkg.dev/kyma-project/prod/ca-bundle-probe:1.2.0"
    manifest = MANIFEST.replace(
        b'          args: ["--leader-elect"]\n',
        b'          args: ["--leader-elect"]\n          env: [{name: PROBE, value: "'
        + probe.encode()
        + b'"}]\n',
    )
    assert manifest != MANIFEST
    security = SecurityConfig(
        module_name="btp-operator", bdba=("europe-docker.pkg.dev/kyma-project/prod/btp-manager:1.2.0",)
    )
    inputs = make_inputs(manifest=manifest, security=security)
    with pytest.raises(ValidationFailed) as raised:
        build_module(make_spec(shape="modulectl"), inputs, image_mismatch="error")
    assert [p.message for p in raised.value.problems] == [
        f"image {probe} is not in the bdba list of sec-scanners-config.yaml"
    ]
    build_module(make_spec(), inputs, image_mismatch="error")  # the 2023 shape does not read env values
    checked = validate_inputs(make_spec(shape="modulectl"), make_inputs(manifest=manifest, security=None))
    assert checked.images == ("europe-docker.pkg.dev/kyma-project/prod/btp-manager:1.2.0", probe)


def test_template_validation_uses_the_declared_version() -> None:
    template: dict[str, Any] = {
        "apiVersion": "operator.kyma-project.io/v1beta2",
        "kind": "ModuleTemplate",
        "metadata": {"name": "t", "namespace": "kcp-system"},
        "spec": {"channel": "regular", "descriptor": {"any": "thing"}},
    }
    assert validate_template(template) == []
    with_target = {**template, "spec": {**template["spec"], "target": "remote"}}
    (problem,) = validate_template(with_target)
    assert (problem.path, problem.message) == (
        ".spec",
        "unknown field(s) target: not in the CRD schema (the API server drops them)",
    )
    v1beta1 = {**template, "apiVersion": "operator.kyma-project.io/v1beta1"}
    assert [p.message for p in validate_template(v1beta1)] == ["'target' is a required property"]
    assert validate_template({**with_target, "apiVersion": "operator.kyma-project.io/v1beta1"}) == []
    (problem,) = validate_template(v1beta1, crd_set="current")
    assert "not served" in problem.message


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"kind": "Module"}, "expected ModuleTemplate"),
        ({"apiVersion": "v1"}, "is not operator.kyma-project.io"),
        ({"metadata": {}}, "missing metadata.name"),
        ({"spec": {"channel": "Regular!", "descriptor": {}}}, "does not match"),
        ({"spec": {"channel": "regular"}}, "'descriptor' is a required property"),
        (
            {"spec": {"channel": "regular", "descriptor": {}, "data": {"kind": "X"}}},
            "'apiVersion' is a required property",
        ),
    ],
)
def test_bad_templates(change: dict[str, Any], message: str) -> None:
    template = {
        "apiVersion": "operator.kyma-project.io/v1beta2",
        "kind": "ModuleTemplate",
        "metadata": {"name": "t"},
        "spec": {"channel": "regular", "descriptor": {}},
        **change,
    }
    problems = validate_template(template, file="template.yaml")
    assert any(message in p.message for p in problems), problems
    assert all(p.file == "template.yaml" for p in problems)


def test_bundled_crds_are_the_lifecycle_manager_ones() -> None:
    for crd in (bundled_crd("2023"), bundled_crd("current")):
        assert crd["metadata"]["name"] == "moduletemplates.operator.kyma-project.io"
    versions = {v["name"]: v for v in bundled_crd("2023")["spec"]["versions"]}
    assert "target" in versions["v1beta1"]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]
    assert (
        "target" not in versions["v1beta2"]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]
    )
