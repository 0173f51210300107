"""The current ModuleTemplate, field by field equal to what modulectl writes.

Each expected document below is what modulectl's template generator (kyma-project/modulectl
``internal/service/templategenerator`` at 902c4f8) renders for the same module-config: its text
template fills ``name: <short>-<version>``, ``namespace: ""``, the labels and annotations (quoted,
sorted), ``moduleName``, ``version``, ``requiresDowntime`` (always), ``info`` with the icons sorted by
name, ``associatedResources``, ``data`` (the default CR re-serialised), ``manager`` (namespace only when
set), ``descriptor: {}`` and ``resources`` (``rawManifest`` = the manifest URL, overridden or extended by
the config's entries, sorted by name). The inputs are fixtures of this project.
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from btp_release.module import GroupVersionKind, ManagerRef, ModuleInputs, ModuleSpec, build_module
from btp_release.module.template import render_template, template_files, to_yaml
from btp_release.module.validate import validate_template

CRD = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: samples.operator.kyma-project.io}
spec:
  group: operator.kyma-project.io
  names: {kind: Sample, plural: samples, singular: sample, listKind: SampleList}
  scope: SCOPE
  versions:
  - name: v1alpha1
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
            properties:
              resourceFilePath: {type: string}
"""
DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: template-operator-controller-manager, namespace: template-operator-system}
spec:
  selector: {matchLabels: {app: t}}
  template:
    metadata: {labels: {app: t}}
    spec:
      containers:
      - name: manager
        image: europe-docker.pkg.dev/kyma-project/prod/template-operator:1.0.1
"""
DEFAULT_CR = b"""\
apiVersion: operator.kyma-project.io/v1alpha1
kind: Sample
metadata:
  name: sample-yaml
spec:
  resourceFilePath: "./module-data.yaml"
"""
MANIFEST_URL = (
    "https://github.com/kyma-project/template-operator/releases/download/1.0.1/template-operator.yaml"
)


def spec(**fields: Any) -> ModuleSpec:
    values: dict[str, Any] = {
        "component_name": "kyma-project.io/module/template-operator",
        "version": "1.0.1",
        "registry_base_url": "europe-docker.pkg.dev/kyma-project/prod/unsigned",
        "source_repo_url": "github.com/kyma-project/template-operator",
        "source_commit": "0" * 40,
        "manifest_path": "template-operator.yaml",
        "shape": "modulectl",
        "doc_url": "https://kyma-project.io/#/template-operator/user/README",
        "repository_url": "https://github.com/kyma-project/template-operator.git",
    }
    values.update(fields)
    return ModuleSpec(**values)


def render(module: ModuleSpec, *, scope: str = "Namespaced", default_cr: bytes | None = DEFAULT_CR) -> Any:
    manifest = (CRD.replace("SCOPE", scope) + "---\n" + DEPLOYMENT).encode()
    inputs = ModuleInputs(manifest=manifest, default_cr=default_cr, manifest_name="template-operator.yaml")
    template = render_template(module, build_module(module, inputs))
    assert validate_template(template, crd_set="current") == []
    return yaml.safe_load(to_yaml(template))  # compare what a file holds, not Python objects


def test_a_full_module_config_renders_as_modulectl_does() -> None:
    module = spec(
        labels={"operator.kyma-project.io/team": "jellyfish"},
        annotations={"operator.kyma-project.io/doc": "yes"},
        beta=True,
        internal=True,
        requires_downtime=True,
        icons={"module-icon": "https://example.com/icon.svg", "another": "https://example.com/b.svg"},
        associated_resources=[GroupVersionKind("operator.kyma-project.io", "v1alpha1", "Sample")],
        manager=ManagerRef(name="template-operator-controller-manager", namespace="template-operator-system"),
    )
    expected = yaml.safe_load(
        """
apiVersion: operator.kyma-project.io/v1beta2
kind: ModuleTemplate
metadata:
  name: template-operator-1.0.1
  namespace: ""
  labels:
    "operator.kyma-project.io/beta": "true"
    "operator.kyma-project.io/internal": "true"
    "operator.kyma-project.io/module-name": "template-operator"
    "operator.kyma-project.io/team": "jellyfish"
  annotations:
    "operator.kyma-project.io/doc": "yes"
    "operator.kyma-project.io/is-cluster-scoped": "false"
spec:
  moduleName: template-operator
  version: 1.0.1
  requiresDowntime: true
  info:
    repository: https://github.com/kyma-project/template-operator.git
    documentation: https://kyma-project.io/#/template-operator/user/README
    icons:
    - name: another
      link: https://example.com/b.svg
    - name: module-icon
      link: https://example.com/icon.svg
  associatedResources:
  - group: operator.kyma-project.io
    version: v1alpha1
    kind: Sample
  data:
    apiVersion: operator.kyma-project.io/v1alpha1
    kind: Sample
    metadata:
      name: sample-yaml
    spec:
      resourceFilePath: ./module-data.yaml
  manager:
    name: template-operator-controller-manager
    namespace: template-operator-system
    group: apps
    version: v1
    kind: Deployment
  descriptor: {}
"""
    )
    assert render(module) == expected


def test_a_manifest_url_becomes_the_raw_manifest_resource_and_config_resources_extend_it() -> None:
    module = spec(manifest_url=MANIFEST_URL, resources={"someResource": "https://some.other/location/x.yaml"})
    assert render(module)["spec"]["resources"] == [
        {"name": "rawManifest", "link": MANIFEST_URL},
        {"name": "someResource", "link": "https://some.other/location/x.yaml"},
    ]


def test_a_config_resource_named_raw_manifest_overrides_the_manifest_url() -> None:
    module = spec(manifest_url=MANIFEST_URL, resources={"rawManifest": "https://some.other/location/x.yaml"})
    assert render(module)["spec"]["resources"] == [
        {"name": "rawManifest", "link": "https://some.other/location/x.yaml"}
    ]


def test_a_local_manifest_gives_no_resources() -> None:
    assert "resources" not in render(spec())["spec"]


def test_a_manager_without_namespace_has_no_namespace_key() -> None:
    module = spec(manager=ManagerRef(name="manager-name"))
    assert render(module)["spec"]["manager"] == {
        "name": "manager-name",
        "group": "apps",
        "version": "v1",
        "kind": "Deployment",
    }


def test_without_a_default_cr_there_is_no_data() -> None:
    assert "data" not in render(spec(), default_cr=None)["spec"]


@pytest.mark.parametrize(("scope", "value"), [("Cluster", "true"), ("Namespaced", "false")])
def test_is_cluster_scoped_follows_the_default_crs_crd(scope: str, value: str) -> None:
    annotations = render(spec(), scope=scope)["metadata"]["annotations"]
    assert annotations["operator.kyma-project.io/is-cluster-scoped"] == value


def test_requires_downtime_is_always_written_and_nothing_of_2023_is() -> None:
    body = render(spec())["spec"]
    assert body["requiresDowntime"] is False
    for key in ("channel", "target", "mandatory", "customStateCheck"):
        assert key not in body
    assert render(spec())["metadata"]["namespace"] == ""


def test_one_template_file_only() -> None:
    module = spec()
    inputs = ModuleInputs(manifest=(CRD.replace("SCOPE", "Namespaced") + "---\n" + DEPLOYMENT).encode())
    assert list(template_files(module, build_module(module, inputs))) == ["template.yaml"]
