"""The example module under examples/btp-operator, built end to end; and the docs' example runs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from btp_release.module import (
    ModuleInputs,
    ModuleSpec,
    build_module,
    push_module,
    read_module,
    select_install_layer,
    template_files,
    to_yaml,
    validate_template,
    verify_module,
    write_templates,
)
from btp_release.module.validate import manifest_images, parse_documents
from tests.test_module_artifact import COMMIT, EXAMPLE, MemoryStore

ROOT = Path(__file__).resolve().parents[1]


def example_spec(**overrides: object) -> ModuleSpec:
    values: dict[str, object] = {
        "component_name": "kyma-project.io/module/btp-operator",
        "version": "1.2.0",
        "registry_base_url": "europe-docker.pkg.dev/kyma-project/prod/unsigned",
        "source_repo_url": "github.com/kyma-project/btp-manager",
        "source_commit": COMMIT,
        "manifest_path": EXAMPLE / "manifests" / "btp-manager.yaml",
        "default_cr_path": EXAMPLE / "examples" / "btp-operator.yaml",
        "security_config_path": EXAMPLE / "sec-scanners-config.yaml",
        "doc_url": "https://kyma-project.io/#/btp-manager/user/README",
    }
    values.update(overrides)
    return ModuleSpec(**values)  # type: ignore[arg-type]


def test_example_manifest_is_what_the_e2e_expects() -> None:
    documents, problems = parse_documents((EXAMPLE / "manifests" / "btp-manager.yaml").read_bytes(), file="m")
    assert problems == []
    kinds = {(d.kind, d.name) for d in documents}
    assert ("CustomResourceDefinition", "btpoperators.operator.kyma-project.io") in kinds
    assert {"ServiceAccount", "ClusterRole", "ClusterRoleBinding"} <= {kind for kind, _ in kinds}
    assert "Namespace" not in {kind for kind, _ in kinds}
    (deployment,) = [d for d in documents if d.kind == "Deployment"]
    assert (deployment.name, deployment.body["metadata"]["namespace"]) == (
        "btp-manager-controller-manager",
        "kyma-system",
    )
    assert manifest_images(documents) == ["europe-docker.pkg.dev/kyma-project/prod/btp-manager:1.2.0"]


@pytest.mark.parametrize("api_version", ["v1beta1", "v1beta2"])
def test_example_module_end_to_end(api_version: str, tmp_path: Path) -> None:
    spec = example_spec(template_api_version=api_version)
    artifact = build_module(spec, image_mismatch="error")
    assert build_module(spec).digest == artifact.digest

    store = MemoryStore()
    repository, tag = spec.module_repository, spec.component_version
    assert push_module(store, repository, tag, artifact).digest == artifact.digest
    assert push_module(store, repository, tag, artifact).digest == artifact.digest
    assert verify_module(store, repository, tag, artifact).digest == artifact.digest

    content = read_module(store, repository, tag)
    inputs = ModuleInputs.load(spec)
    assert content.raw_manifest == inputs.manifest
    assert content.default_cr == inputs.default_cr
    picked = select_install_layer(content.manifest, lambda d: store.read_blob(repository, d))
    assert picked is not None
    assert store.read_blob(repository, picked[1]) == inputs.manifest

    files = template_files(spec, content)
    expected = (
        ["template.yaml", "template_control_plane.yaml"] if api_version == "v1beta1" else ["template.yaml"]
    )
    assert list(files) == expected
    written = write_templates(spec, content, tmp_path)
    for name, path in written.items():
        assert path.read_text() == to_yaml(files[name])
        template = yaml.safe_load(path.read_text())
        assert template["apiVersion"] == f"operator.kyma-project.io/{api_version}"
        assert validate_template(template, file=name) == []
        assert template["spec"]["descriptor"] == artifact.descriptor
        assert template["spec"]["data"]["metadata"]["name"] == "btpoperator"


def test_docs_example_runs(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "docs" / "module.md").read_text(), flags=re.DOTALL)
    assert blocks, "docs/module.md lost its example"
    monkeypatch.chdir(ROOT)
    exec(compile(blocks[-1], "docs/module.md", "exec"), {})  # noqa: S102 - our own documentation
    lines = capsys.readouterr().out.splitlines()
    documented = build_module(example_spec(template_api_version="v1beta1"))
    assert lines[0].endswith(":v1.2.0 " + documented.digest), "the docs build the same artifact as this test"
    assert [line.split()[:2] for line in lines[1:]] == [
        ["template.yaml", "remote"],
        ["template_control_plane.yaml", "control-plane"],
    ]
