"""ModuleTemplate rendering: 2023 shape (v1beta2 without target, v1beta1 with target) and modulectl shape."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from btp_release.errors import InvalidInput
from btp_release.module import (
    CustomStateCheck,
    ManagerRef,
    ValidationFailed,
    build_module,
    for_target,
    render_template,
    template_files,
    to_yaml,
    validate_template,
    write_templates,
)
from btp_release.module.template import (
    ANNOTATION_CLUSTER_SCOPED,
    ANNOTATION_DOC_URL,
    ANNOTATION_MODULE_VERSION,
    LABEL_BETA,
    LABEL_INTERNAL,
    LABEL_MODULE_NAME,
)
from tests.test_module_artifact import MANIFEST, MemoryStore, make_inputs, make_spec

DOC_URL = "https://kyma-project.io/#/btp-manager/user/README"
CR = {
    "apiVersion": "operator.kyma-project.io/v1alpha1",
    "kind": "BtpOperator",
    "metadata": {"name": "btpoperator"},
    "spec": {},
}


def test_v1beta2_has_no_target() -> None:
    spec = make_spec(doc_url=DOC_URL, template_api_version="v1beta2")
    artifact = build_module(spec, make_inputs())
    template = render_template(spec, artifact)
    assert template["apiVersion"] == "operator.kyma-project.io/v1beta2"
    assert template["kind"] == "ModuleTemplate"
    assert template["metadata"] == {
        "name": "btp-operator-regular",
        "namespace": "kcp-system",
        "labels": {LABEL_MODULE_NAME: "btp-operator"},
        "annotations": {
            ANNOTATION_DOC_URL: DOC_URL,
            ANNOTATION_CLUSTER_SCOPED: "false",
            ANNOTATION_MODULE_VERSION: "v1.2.0",
        },
    }
    assert list(template["spec"]) == ["channel", "data", "descriptor"]
    assert template["spec"]["channel"] == "regular"
    assert template["spec"]["data"] == CR
    assert template["spec"]["descriptor"] == artifact.descriptor
    assert list(template_files(spec, artifact)) == ["template.yaml"]
    with pytest.raises(InvalidInput, match=r"control-plane ModuleTemplate needs spec\.target") as raised:
        render_template(spec, artifact, target="control-plane")
    assert "v1beta1" in (raised.value.hint or "")


def test_v1beta1_templates_for_both_targets_differ_only_in_target() -> None:
    spec = make_spec(template_api_version="v1beta1")
    artifact = build_module(spec, make_inputs())
    files = template_files(spec, artifact)
    assert list(files) == ["template.yaml", "template_control_plane.yaml"]
    remote, control_plane = files["template.yaml"], files["template_control_plane.yaml"]
    assert remote["apiVersion"] == "operator.kyma-project.io/v1beta1"
    assert (remote["spec"]["target"], control_plane["spec"]["target"]) == ("remote", "control-plane")
    assert list(remote["spec"]) == list(control_plane["spec"])
    stripped = [copy.deepcopy(t) for t in (remote, control_plane)]
    for template in stripped:
        del template["spec"]["target"]
    assert stripped[0] == stripped[1]
    remote_lines, control_lines = to_yaml(remote).splitlines(), to_yaml(control_plane).splitlines()
    assert [(a, b) for a, b in zip(remote_lines, control_lines, strict=True) if a != b] == [
        ("  target: remote", "  target: control-plane")
    ]
    assert render_template(spec, artifact, target="control-plane") == control_plane
    for name, template in files.items():
        assert validate_template(template, file=name) == []


def test_for_target_is_structural() -> None:
    spec = make_spec(template_api_version="v1beta1")
    remote = render_template(spec, build_module(spec, make_inputs()))
    control_plane = for_target(remote, "control-plane")
    assert remote["spec"]["target"] == "remote", "the original is not modified"
    assert control_plane["spec"]["target"] == "control-plane"
    v1beta2 = make_spec(template_api_version="v1beta2")
    without = render_template(v1beta2, build_module(v1beta2, make_inputs()))
    with pytest.raises(InvalidInput, match=r"no spec\.target"):
        for_target(without, "control-plane")


def test_labels_and_annotations() -> None:
    spec = make_spec(
        labels={"team": "sap-btp", LABEL_MODULE_NAME: "ignored"},
        annotations={"note": "x", ANNOTATION_MODULE_VERSION: "ignored"},
        beta=True,
        internal=True,
        namespace="kyma-system",
        template_name="btp-operator-fast-custom",
        channel="fast",
    )
    metadata = render_template(spec, build_module(spec, make_inputs()))["metadata"]
    assert metadata["name"] == "btp-operator-fast-custom"
    assert metadata["namespace"] == "kyma-system"
    assert metadata["labels"] == {
        LABEL_BETA: "true",
        LABEL_INTERNAL: "true",
        LABEL_MODULE_NAME: "btp-operator",
        "team": "sap-btp",
    }
    assert metadata["annotations"] == {
        "note": "x",
        ANNOTATION_CLUSTER_SCOPED: "false",
        ANNOTATION_MODULE_VERSION: "v1.2.0",
    }


def test_cluster_scope_comes_from_the_default_crs_crd() -> None:
    cluster_manifest = MANIFEST.replace(b"scope: Namespaced", b"scope: Cluster")
    spec = make_spec()
    artifact = build_module(spec, make_inputs(manifest=cluster_manifest))
    assert render_template(spec, artifact)["metadata"]["annotations"][ANNOTATION_CLUSTER_SCOPED] == "true"
    overridden = make_spec(cluster_scoped=False)
    assert (
        render_template(overridden, artifact)["metadata"]["annotations"][ANNOTATION_CLUSTER_SCOPED] == "false"
    )


def test_default_cr_argument_forms() -> None:
    spec = make_spec()
    artifact = build_module(spec, make_inputs())
    other = {**CR, "metadata": {"name": "custom"}}
    assert render_template(spec, artifact, other)["spec"]["data"] == other
    assert render_template(spec, artifact, yaml.safe_dump(other).encode())["spec"]["data"] == other
    no_cr = build_module(make_spec(default_cr_path=None), make_inputs(default_cr=None))
    assert "data" not in render_template(make_spec(default_cr_path=None), no_cr)["spec"]


def test_an_invalid_default_cr_is_refused() -> None:
    spec = make_spec()
    artifact = build_module(spec, make_inputs())
    with pytest.raises(ValidationFailed, match="is not of type 'object', 'null'"):
        render_template(spec, artifact, {**CR, "spec": "bad"})
    with pytest.raises(ValidationFailed, match=r"missing metadata\.name"):
        render_template(spec, artifact, b"apiVersion: v1\nkind: X\n")


def test_a_bad_template_is_refused() -> None:
    bogus: Any = "Bogus"
    spec = make_spec(
        custom_state_checks=[CustomStateCheck(json_path="status.state", value="Ok", mapped_state=bogus)]
    )
    with pytest.raises(ValidationFailed) as raised:
        render_template(spec, build_module(spec, make_inputs()))
    (problem,) = raised.value.problems
    assert (problem.file, problem.path) == ("template.yaml", ".spec.customStateCheck[0].mappedState")


def test_custom_state_checks_are_rendered() -> None:
    check = CustomStateCheck(json_path="status.state", value="Ready", mapped_state="Ready")
    spec = make_spec(custom_state_checks=[check])
    template = render_template(spec, build_module(spec, make_inputs()))
    assert template["spec"]["customStateCheck"] == [
        {"jsonPath": "status.state", "value": "Ready", "mappedState": "Ready"}
    ]


def test_modulectl_shape() -> None:
    spec = make_spec(
        shape="modulectl",
        doc_url=DOC_URL,
        source_repo_url="github.com/kyma-project/btp-manager",
        manager=ManagerRef(name="btp-manager-controller-manager", namespace="kyma-system"),
    )
    artifact = build_module(spec, make_inputs())
    files = template_files(spec, artifact)
    assert list(files) == ["template.yaml"]
    template = files["template.yaml"]
    assert template["apiVersion"] == "operator.kyma-project.io/v1beta2"
    assert template["metadata"] == {
        "name": "btp-operator-1.2.0",
        "namespace": "",
        "labels": {LABEL_MODULE_NAME: "btp-operator"},
        "annotations": {ANNOTATION_CLUSTER_SCOPED: "false"},
    }
    body: dict[str, Any] = template["spec"]
    for absent in ("target", "channel", "mandatory", "customStateCheck", "resources"):
        assert absent not in body
    assert body["moduleName"] == "btp-operator"
    assert body["version"] == "1.2.0"
    assert body["requiresDowntime"] is False
    assert body["info"] == {
        "repository": "https://github.com/kyma-project/btp-manager",
        "documentation": DOC_URL,
    }
    assert body["manager"] == {
        "name": "btp-manager-controller-manager",
        "namespace": "kyma-system",
        "group": "apps",
        "version": "v1",
        "kind": "Deployment",
    }
    assert body["data"] == CR
    assert body["descriptor"] == {}  # lifecycle-manager reads the descriptor from the registry
    assert validate_template(template, crd_set="current") == []
    with pytest.raises(InvalidInput, match="control-plane"):
        render_template(spec, artifact, target="control-plane")


def test_modulectl_shape_has_no_mandatory_flag() -> None:
    with pytest.raises(InvalidInput, match="ModuleReleaseMeta"):
        make_spec(shape="modulectl", doc_url=DOC_URL, mandatory=True)


def test_modulectl_shape_needs_documentation_and_a_plain_semver() -> None:
    spec = make_spec(shape="modulectl")
    with pytest.raises(InvalidInput, match="documentation URL"):
        render_template(spec, build_module(spec, make_inputs()))
    pre = make_spec(shape="modulectl", doc_url=DOC_URL, version="1.3.0-rc.1")
    with pytest.raises(ValidationFailed, match=r"\.spec\.version"):
        render_template(pre, build_module(pre, make_inputs()))


def test_yaml_is_deterministic_and_round_trips() -> None:
    spec = make_spec(template_api_version="v1beta1")
    template = render_template(spec, build_module(spec, make_inputs()))
    text = to_yaml(template)
    assert text == to_yaml(render_template(spec, build_module(spec, make_inputs())))
    assert yaml.safe_load(text) == template
    assert text.startswith("apiVersion: operator.kyma-project.io/v1beta1\nkind: ModuleTemplate\nmetadata:\n")


def test_render_from_what_was_read_back() -> None:
    from btp_release.module import push_module, read_module

    spec = make_spec(template_api_version="v1beta1")
    artifact = build_module(spec, make_inputs())
    store = MemoryStore()
    push_module(store, spec.module_repository, spec.component_version, artifact)
    content = read_module(store, spec.module_repository, spec.component_version)
    assert template_files(spec, content) == template_files(spec, artifact)


def test_write_templates(tmp_path: Path) -> None:
    spec = make_spec(template_api_version="v1beta1")
    written = write_templates(spec, build_module(spec, make_inputs()), tmp_path / "out")
    assert sorted(written) == ["template.yaml", "template_control_plane.yaml"]
    for name, path in written.items():
        assert path == tmp_path / "out" / name
        assert validate_template(yaml.safe_load(path.read_text()), file=name) == []


def test_default_cr_only_in_the_template() -> None:
    spec = make_spec(default_cr_layer=False)
    inputs = make_inputs()
    artifact = build_module(spec, inputs)
    assert [r["name"] for r in artifact.descriptor["component"]["resources"]] == [
        "raw-manifest",
        "btp-manager",
    ]
    assert artifact.default_cr is None
    assert "data" not in render_template(spec, artifact)["spec"]
    assert render_template(spec, artifact, inputs.default_cr)["spec"]["data"] == CR
