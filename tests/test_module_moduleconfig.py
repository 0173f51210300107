"""modulectl's module-config.yaml: the shapes real repositories use, and every rule modulectl applies."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from btp_release.errors import InvalidInput
from btp_release.module import GroupVersionKind, ManagerRef, ModuleConfig, ModuleConfigError, UrlOrPath
from btp_release.module.moduleconfig import REMOVED_KEYS, strict_semver_problem
from btp_release.version import Version

# The shape btp-manager's "submit module version" workflow writes: bare file names for the assets, which
# are local files next to the config, a stale repositoryTag.
BTP_MANAGER = """\
name: kyma-project.io/module/btp-operator
version: 1.4.2
repositoryTag: 1.4.2
team: kyma/Gopher
repository: https://github.com/example-org/btp-manager
documentation: https://example.org/docs/btp-operator
manifest: btp-manager.yaml
defaultCR: btp-operator.yaml
security: sec-scanners-config.yaml
icons:
  - name: module-icon
    link: https://example.org/assets/btp-operator.svg
manager:
  name: btp-manager-controller-manager
  namespace: kyma-system
  group: apps
  version: v1
  kind: Deployment
associatedResources:
  - group: services.cloud.sap.com
    version: v1
    kind: ServiceInstance
  - group: services.cloud.sap.com
    version: v1
    kind: ServiceBinding
"""

# template-operator's shape: release-asset URLs for the manifest and the default CR, the manifest listed
# again as a resource, and a channel key modulectl dropped in 2024.
TEMPLATE_OPERATOR = """\
name: kyma-project.io/module/sample-operator
channel: regular
version: 2.0.1-rc.1
manifest: https://github.com/example-org/sample-operator/releases/download/2.0.1-rc.1/sample-operator.yaml
security: sec-scanners-config.yaml
repository: https://github.com/example-org/sample-operator
documentation: https://github.com/example-org/sample-operator/blob/main/README.md
defaultCR: https://github.com/example-org/sample-operator/releases/download/2.0.1-rc.1/default-sample-cr.yaml
icons:
  - name: module-icon
    link: https://github.com/example-org/sample-operator/blob/main/docs/logo.png
resources:
  - name: rawManifest
    link: https://github.com/example-org/sample-operator/releases/download/2.0.1-rc.1/sample-operator.yaml
manager:
  name: sample-operator-controller-manager
  namespace: sample-operator-system
  group: apps
  version: v1
  kind: Deployment
team: kyma/Jellyfish
"""

# The smallest file modulectl accepts; the invalid cases below each break one key of it.
MINIMAL: dict[str, Any] = {
    "name": "example.com/modules/demo",
    "version": "0.3.0",
    "manifest": "https://example.com/releases/0.3.0/demo.yaml",
    "repository": "https://example.com/demo",
    "team": "kyma/demo-team",
    "documentation": "https://example.com/demo/docs",
    "icons": [{"name": "module-icon", "link": "https://example.com/demo/icon.svg"}],
}

BASE = Path("/srv/modules/demo")


def render(**changes: Any) -> str:
    """MINIMAL with keys replaced; a value of ``...`` removes the key."""
    data = {**MINIMAL, **changes}
    return yaml.safe_dump({k: v for k, v in data.items() if v is not ...}, sort_keys=False)


def parse(text: str, source: str = "module-config.yaml") -> ModuleConfig:
    return ModuleConfig.parse(text, source=source, base_dir=BASE)


def problems_of(text: str) -> tuple[str, ...]:
    with pytest.raises(ModuleConfigError) as caught:
        parse(text)
    return caught.value.problems


# --- valid files ---------------------------------------------------------------------------------------


def test_btp_manager_shape(tmp_path: Path) -> None:
    path = tmp_path / "module-config.yaml"
    path.write_text(BTP_MANAGER)
    config = ModuleConfig.load(path)
    assert config.name == "kyma-project.io/module/btp-operator"
    assert config.short_name == "btp-operator"
    assert config.version == Version(1, 4, 2)
    assert config.team == "kyma/Gopher"
    assert config.repository == "https://github.com/example-org/btp-manager"
    assert config.documentation == "https://example.org/docs/btp-operator"
    assert config.manifest == UrlOrPath("btp-manager.yaml", is_url=False)
    assert config.manifest.url is None
    assert config.manifest_path == tmp_path / "btp-manager.yaml"
    assert config.default_cr == UrlOrPath("btp-operator.yaml", is_url=False)
    assert config.default_cr_path == tmp_path / "btp-operator.yaml"
    assert config.security == "sec-scanners-config.yaml"
    assert config.security_path == tmp_path / "sec-scanners-config.yaml"
    assert config.icons == {"module-icon": "https://example.org/assets/btp-operator.svg"}
    assert config.manager == ManagerRef(
        name="btp-manager-controller-manager",
        namespace="kyma-system",
        group="apps",
        version="v1",
        kind="Deployment",
    )
    assert config.associated_resources == (
        GroupVersionKind("services.cloud.sap.com", "v1", "ServiceInstance"),
        GroupVersionKind("services.cloud.sap.com", "v1", "ServiceBinding"),
    )
    assert config.resources == {}
    assert config.labels == {} and config.annotations == {}
    assert config.security_scan_enabled is True
    assert (config.requires_downtime, config.internal, config.beta) == (False, False, False)
    assert config.ignored == ("repositoryTag",)
    assert config.unknown == ()
    assert config.source == str(path)
    assert config.base_dir == tmp_path


def test_template_operator_shape() -> None:
    config = parse(TEMPLATE_OPERATOR)
    release = "https://github.com/example-org/sample-operator/releases/download/2.0.1-rc.1"
    assert config.version == Version(2, 0, 1, ("rc", "1"))
    assert config.manifest == UrlOrPath(f"{release}/sample-operator.yaml", is_url=True)
    assert config.manifest.url == f"{release}/sample-operator.yaml"
    assert config.manifest_path is None
    assert config.default_cr is not None and config.default_cr.url == f"{release}/default-sample-cr.yaml"
    assert config.default_cr_path is None
    assert config.resources == {"rawManifest": f"{release}/sample-operator.yaml"}
    assert config.manager is not None and config.manager.namespace == "sample-operator-system"
    assert config.team == "kyma/Jellyfish"
    assert config.ignored == ("channel",)


def test_a_url_has_no_local_path() -> None:
    with pytest.raises(InvalidInput, match="is a URL"):
        UrlOrPath("https://example.com/m.yaml", is_url=True).local_path(BASE)
    assert UrlOrPath("../m.yaml", is_url=False).local_path(BASE) == BASE / "../m.yaml"


def test_minimal_file_and_defaults() -> None:
    config = parse(render())
    assert config.default_cr is None and config.security is None and config.manager is None
    assert config.associated_resources == () and config.resources == {}
    assert config.security_scan_enabled is True
    assert config.ignored == () and config.unknown == ()


def test_icons_as_a_list_and_as_a_mapping_are_the_same_sorted_by_name() -> None:
    as_list = parse(
        render(
            icons=[
                {"name": "wide", "link": "https://example.com/wide.png"},
                {"name": "module-icon", "link": "https://example.com/icon.svg"},
            ]
        )
    )
    as_map = parse(
        render(icons={"wide": "https://example.com/wide.png", "module-icon": "https://example.com/icon.svg"})
    )
    assert as_list.icons == as_map.icons
    assert list(as_list.icons.items()) == [
        ("module-icon", "https://example.com/icon.svg"),
        ("wide", "https://example.com/wide.png"),
    ]
    assert list(as_map.icons) == ["module-icon", "wide"]


def test_resources_as_a_mapping() -> None:
    config = parse(render(resources={"rawManifest": "https://example.com/m.yaml", "crds": "https://e.io/c"}))
    assert list(config.resources.items()) == [
        ("crds", "https://e.io/c"),
        ("rawManifest", "https://example.com/m.yaml"),
    ]


def test_removed_keys_are_reported_as_ignored_and_unknown_keys_apart() -> None:
    text = render(
        mandatory=False,
        channel="fast",
        namespace="kcp-system",
        customStateCheck=[{"jsonPath": "status.state", "value": "Ready", "mappedState": "Ready"}],
        repositoryTag="0.3.0",
        defaultCr="typo.yaml",
    )
    config = parse(text)
    assert config.ignored == ("mandatory", "channel", "namespace", "customStateCheck", "repositoryTag")
    assert set(config.ignored) == set(REMOVED_KEYS)
    assert config.unknown == ("defaultCr",)
    assert config.default_cr is None  # the misspelt key is ignored, as modulectl ignores it


def test_optional_fields() -> None:
    config = parse(
        render(
            defaultCR="config/samples/default.yaml",
            labels={"team.example.com/owner": "demo", "count": 3},
            annotations={"operator.kyma-project.io/doc-url": "https://example.com"},
            requiresDowntime=True,
            internal=True,
            beta=True,
            manager={"name": "demo-manager", "group": "apps", "version": "v1", "kind": "StatefulSet"},
        )
    )
    assert config.default_cr_path == BASE / "config/samples/default.yaml"
    assert config.labels == {"count": "3", "team.example.com/owner": "demo"}
    assert config.annotations == {"operator.kyma-project.io/doc-url": "https://example.com"}
    assert (config.requires_downtime, config.internal, config.beta) == (True, True, True)
    assert config.manager == ManagerRef(name="demo-manager", group="apps", version="v1", kind="StatefulSet")
    assert config.manager.namespace is None


def test_an_empty_default_cr_means_none() -> None:
    assert parse(render(defaultCR="")).default_cr is None
    assert parse(render(defaultCR=None)).default_cr is None


def test_team_is_needed_only_while_the_scan_is_enabled() -> None:
    config = parse(render(team=..., securityScanEnabled=False))
    assert config.team is None and config.security_scan_enabled is False
    # modulectl checks only that it is not empty; kyma/<team> is the documented convention.
    assert parse(render(team="jellyfish")).team == "jellyfish"


def test_scalars_are_taken_as_written_like_yaml_v3() -> None:
    text = (
        render(labels=...)
        + "labels:\n  replicas: 010\n  enabled: yes\n  ratio: 1.50\n  empty:\n"
        + "beta: yes\ninternal: 'off'\nrequiresDowntime: True\n"
    )
    config = parse(text)
    assert config.labels == {"empty": "", "enabled": "yes", "ratio": "1.50", "replicas": "010"}
    assert (config.beta, config.internal, config.requires_downtime) == (True, False, True)


def test_null_values_are_empty_values() -> None:
    config = parse(render() + "securityScanEnabled: ~\nmanager: null\nassociatedResources:\nlabels:\n")
    assert config.security_scan_enabled is True
    assert config.manager is None and config.associated_resources == () and config.labels == {}


def test_merge_keys_and_anchors() -> None:
    text = (
        render(manager=...)
        + "base: &gvk {group: apps, version: v1, kind: Deployment}\n"
        + "manager:\n  <<: *gvk\n  name: demo-manager\n  kind: StatefulSet\n"
    )
    config = parse(text)
    assert config.manager == ManagerRef(name="demo-manager", group="apps", version="v1", kind="StatefulSet")
    assert config.unknown == ("base",)


def test_only_the_first_document_is_read_like_yaml_v3() -> None:
    assert parse(render() + "---\nname: other.io/x\n").name == "example.com/modules/demo"


def test_a_version_is_trimmed_like_modulectl() -> None:
    assert parse(render(version=" 1.2.3 ")).version == Version(1, 2, 3)


def test_repository_needs_the_https_scheme_but_not_a_host_like_modulectl() -> None:
    # modulectl's ValidateIsValidHTTPSURL checks the scheme only; manifest and defaultCR need a host too.
    assert parse(render(repository="https:example-org/demo")).repository == "https:example-org/demo"


@pytest.mark.parametrize(
    "link",
    ["https://[::1]:8443/icon.svg", "https://user:pw@example.com/i.svg", "https://example.com/a%20b#x"],
)
def test_urls_go_accepts(link: str) -> None:
    assert parse(render(icons={"i": link})).icons == {"i": link}


@pytest.mark.parametrize(
    "version",
    ["0.0.1", "1.2.3-alpha.-1", "1.2.3-0abc123", "1.2.3-rc1-with-hyphen", "18446744073709551615.0.0"],
)
def test_versions_strict_semver_accepts(version: str) -> None:
    assert str(parse(render(version=version)).version) == version


# --- invalid files: one case per rule modulectl applies, each a single problem naming the key ----------

ICON = {"name": "module-icon", "link": "https://example.com/icon.svg"}
LINK = "https://example.com/r.yaml"
GVK = {"group": "example.com", "version": "v1", "kind": "Demo"}
MANAGER = {"name": "demo-manager", "group": "apps", "version": "v1", "kind": "Deployment"}
MANAGER_NO_KIND = {"name": "demo-manager", "group": "apps", "version": "v1"}

INVALID = {
    "name-missing": (render(name=...), "name: required"),
    "name-empty": (render(name=""), "name: must not be empty"),
    "name-null": (render(name=None), "name: must not be empty"),
    "name-too-long": (render(name="example.com/" + "m" * 244), "name: must not be longer than 255"),
    "name-uppercase": (render(name="example.com/modules/Demo"), "name: must not contain uppercase letters"),
    "name-space": (render(name="invalid name"), "name: 'invalid name' is not an OCM component name"),
    "name-no-path": (render(name="kyma-project.io"), "is not an OCM component name"),
    "name-no-domain": (render(name="module/demo"), "is not an OCM component name"),
    "name-trailing-newline": (render(name="example.com/modules/demo\n"), "is not an OCM component name"),
    "name-mapping": (render(name={"a": "b"}), "name: must be text, got a mapping"),
    "version-missing": (render(version=...), "version: required"),
    "version-empty": (render(version=""), "version: must not be empty"),
    "version-v": (render(version="v0.0.1"), "version: 'v0.0.1' is not a strict SemVer version"),
    "version-two-numbers": (render(version="0.0"), "expected three numbers"),
    "version-four-numbers": (render(version="1.2.3.4"), "digits only"),
    "version-word": (render(version="main"), "expected three numbers"),
    "version-leading-zero": (render(version="01.1.1"), "leading zero"),
    "version-pre-leading-zero": (render(version="1.2.3-beta.01"), "leading zero"),
    "version-pre-empty": (render(version="1.0.0-alpha..1"), "pre-release"),
    "version-pre-underscore": (render(version="1.0.0-alpha_beta"), "pre-release"),
    "version-metadata-twice": (render(version="9.8.7+meta+meta"), "build metadata"),
    "version-too-large": (render(version="18446744073709551616.0.0"), "is larger than"),
    "version-build-metadata": (render(version="1.2.3+build.5"), "not supported by btp_release"),
    "version-longer-than-a-tag": (render(version="1.0.0-" + "a" * 123), "longer than 128"),
    "manifest-missing": (render(manifest=...), "manifest: required: an https URL or a path"),
    "manifest-empty": (render(manifest=""), "manifest: must not be empty"),
    "manifest-absolute": (render(manifest="/some/path/m.yaml"), "manifest: must not be an absolute path"),
    "manifest-http": (render(manifest="http://example.com/m.yaml"), "manifest: must be an https URL"),
    "manifest-file-url": (render(manifest="file://path/to/manifest"), "manifest: must be an https URL"),
    "manifest-no-host": (
        render(manifest="https:///m.yaml"),
        "manifest: 'https:///m.yaml' is not a valid URL",
    ),
    "manifest-bad-escape": (render(manifest="m%zz.yaml"), "manifest: 'm%zz.yaml' is neither a valid URL"),
    "manifest-colon": (render(manifest="https://example.com:80:80/m.yaml"), "invalid port"),
    "default-cr-absolute": (render(defaultCR="/cr.yaml"), "defaultCR: must not be an absolute path"),
    "default-cr-http": (render(defaultCR="http://example.com/cr.yaml"), "defaultCR: must be an https URL"),
    "default-cr-list": (render(defaultCR=["a"]), "defaultCR: must be text, got a list"),
    "repository-missing": (render(repository=...), "repository: required: an https URL"),
    "repository-empty": (render(repository=""), "repository: must not be empty"),
    "repository-http": (render(repository="http://example.com/demo"), "repository: must be an https URL"),
    "repository-no-scheme": (render(repository="some repository"), "repository: must be an https URL"),
    "repository-bad-host": (render(repository="https://exa mple.com/"), "invalid character ' ' in host"),
    "repository-ipv4-literal": (render(repository="https://[10.0.0.1]/"), "invalid IP-literal"),
    "team-missing": (render(team=...), "team: required while securityScanEnabled is true"),
    "team-empty-scan-on": (render(team="", securityScanEnabled=True), "team: required"),
    "documentation-missing": (render(documentation=...), "documentation: required"),
    "documentation-http": (render(documentation="http://example.com/d"), "documentation: must be an https"),
    "icons-missing": (render(icons=...), "icons: at least one entry is required"),
    "icons-empty-list": (render(icons=[]), "icons: at least one entry is required"),
    "icons-empty-map": (render(icons={}), "icons: at least one entry is required"),
    "icons-text": (render(icons="logo.png"), "icons: must be a list of {name, link} or a mapping"),
    "icons-entry-text": (render(icons=[ICON, "logo.png"]), "icons[1]: must be a mapping with name and link"),
    "icons-without-link": (render(icons=[{"name": "module-icon"}]), "icons[0]: link must not be empty"),
    "icons-without-name": (render(icons=[{"link": LINK}]), "icons[0]: name must not be empty"),
    "icons-link-http": (
        render(icons=[ICON, {"name": "x", "link": "http://e.io"}]),
        "icons[1]: link must be an",
    ),
    "icons-link-not-url": (render(icons={"i": "not a URL"}), "icons.i: link must be an https URL"),
    "icons-link-bad-escape": (
        render(icons={"i": "%% not a URL"}),
        "icons.i: link '%% not a URL' is not a valid",
    ),
    "icons-map-empty-link": (render(icons={"i": ""}), "icons.i: link must not be empty"),
    "icons-duplicate": (
        render(icons=[ICON, ICON]),
        "icons[1]: the name 'module-icon' is already used by icons[0]",
    ),
    "resources-without-link": (render(resources=[{"name": "r"}]), "resources[0]: link must not be empty"),
    "resources-without-name": (render(resources=[{"link": LINK}]), "resources[0]: name must not be empty"),
    "resources-http": (
        render(resources=[{"name": "r", "link": "http://e.io/r"}]),
        "resources[0]: link must be",
    ),
    "resources-duplicate": (
        render(resources=[{"name": "r", "link": LINK}, {"name": "r", "link": LINK}]),
        "resources[1]: the name 'r' is already used by resources[0]",
    ),
    "resources-map-not-url": (render(resources={"r": "%zz"}), "resources.r: link '%zz' is not a valid URL"),
    "associated-without-kind": (
        render(associatedResources=[{**GVK, "kind": ""}]),
        "[0]: kind must not be empty",
    ),
    "associated-without-group": (
        render(associatedResources=[{"version": "v1", "kind": "K"}]),
        "[0]: group must",
    ),
    "associated-without-version": (
        render(associatedResources=[GVK, {**GVK, "version": None}]),
        "[1]: version",
    ),
    "associated-null-entry": (
        render(associatedResources=[None]),
        "associatedResources[0]: must be a mapping",
    ),
    "associated-mapping": (render(associatedResources=GVK), "associatedResources: must be a list"),
    "manager-without-name": (render(manager={**MANAGER, "name": ""}), "manager: name must not be empty"),
    "manager-without-kind": (render(manager=MANAGER_NO_KIND), "manager: kind must not be empty"),
    "manager-without-group": (render(manager={**MANAGER, "group": ""}), "manager: group must not be empty"),
    "manager-without-version": (
        render(manager={**MANAGER, "version": ""}),
        "manager: version must not be empty",
    ),
    "manager-namespace-uppercase": (
        render(manager={**MANAGER, "namespace": "Kyma-System"}),
        "manager.namespace",
    ),
    "manager-namespace-spaces": (
        render(manager={**MANAGER, "namespace": " kyma-system "}),
        "manager.namespace:",
    ),
    "manager-text": (render(manager="demo-manager"), "manager: must be a mapping"),
    "beta-word": (render(beta="maybe"), "beta: must be true or false, got 'maybe'"),
    "internal-number": (render() + "internal: 1\n", "internal: must be true or false, got '1'"),
    "requires-downtime-quoted-true": (
        render() + 'requiresDowntime: "true"\n',
        "requiresDowntime: must be true",
    ),
    "scan-list": (render(securityScanEnabled=[True], team="t"), "securityScanEnabled: must be true or false"),
    "labels-list": (render(labels=["a=b"]), "labels: must be a mapping"),
    "labels-value-mapping": (render(labels={"a": {"b": "c"}}), "labels.a: must be text, got a mapping"),
    "key-twice": (render() + "name: other.io/module/x\n", "name: defined twice (first at line 1)"),
}


@pytest.mark.parametrize(("text", "expected"), INVALID.values(), ids=INVALID.keys())
def test_invalid(text: str, expected: str) -> None:
    problems = problems_of(text)
    assert len(problems) == 1, problems
    assert expected in problems[0]


def test_render_removes_keys_given_as_ellipsis() -> None:
    # The helper the invalid cases rely on: a key set to ... is absent, not null.
    assert "name" not in yaml.safe_load(render(name=...))
    assert yaml.safe_load(render(name=None))["name"] is None


def test_problems_carry_their_line() -> None:
    (problem,) = problems_of(render(repository="http://example.com/demo"))
    line = render().splitlines().index("repository: https://example.com/demo") + 1
    assert problem.endswith(f"(line {line})")


def test_every_problem_at_once_in_order_each_line_prefixed_by_the_file() -> None:
    text = render(
        name="Example.com/demo",
        version="v1.0.0",
        manifest="/abs/manifest.yaml",
        icons=[{"name": "module-icon", "link": "http://example.com/i.png"}, {"name": "", "link": LINK}],
        manager={"name": "m", "group": "apps", "version": "v1"},
        beta="sometimes",
    )
    with pytest.raises(ModuleConfigError) as caught:
        ModuleConfig.parse(text, source="modules/demo/module-config.yaml", base_dir=BASE)
    error = caught.value
    keys = [problem.split(":", 1)[0] for problem in error.problems]
    assert keys == ["name", "version", "manifest", "icons[0]", "icons[1]", "manager", "beta"]
    lines = str(error).splitlines()
    assert len(lines) == len(error.problems)
    assert all(line.startswith("modules/demo/module-config.yaml: ") for line in lines)
    assert isinstance(error, InvalidInput) and error.exit_code == 2


def test_a_wrongly_typed_key_is_not_also_reported_missing() -> None:
    assert problems_of(render(team=["a"], icons=[["x"]])) == (
        "team: must be text, got a list (line 5)",
        "icons[0]: must be a mapping with name and link, got a list (line 9)",
    )


# --- files that are not a module config at all -------------------------------------------------------


def test_invalid_yaml_names_the_file_and_line() -> None:
    with pytest.raises(ModuleConfigError, match=r"^cfg.yaml: invalid YAML at line 3, column 8: ") as caught:
        parse("name: a.io/b\nversion: 1.0.0\n  icons: x\n", source="cfg.yaml")
    assert len(caught.value.problems) == 1
    with pytest.raises(ModuleConfigError, match=r"invalid YAML at line 4.*flow sequence at line 3"):
        parse("name: a.io/b\nversion: 1.0.0\nicons: [unclosed\n", source="cfg.yaml")


def test_a_document_that_is_not_a_mapping() -> None:
    with pytest.raises(
        ModuleConfigError, match=r"^cfg.yaml: expected a mapping of module-config keys, got a list"
    ):
        parse("- name: a.io/b\n", source="cfg.yaml")


@pytest.mark.parametrize("text", ["", "# nothing yet\n", "~\n", "---\n"])
def test_an_empty_file(text: str) -> None:
    with pytest.raises(ModuleConfigError, match=r"^cfg.yaml: the file is empty"):
        parse(text, source="cfg.yaml")


def test_a_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "module-config.yaml"
    with pytest.raises(ModuleConfigError, match="no such file") as caught:
        ModuleConfig.load(path)
    assert str(path) in str(caught.value)
    assert isinstance(caught.value, InvalidInput)


def test_a_directory(tmp_path: Path) -> None:
    with pytest.raises(ModuleConfigError, match="is a directory") as caught:
        ModuleConfig.load(tmp_path)
    assert str(tmp_path) in str(caught.value)


def test_a_file_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "module-config.yaml"
    path.write_bytes(b"name: \xff\n")
    with pytest.raises(ModuleConfigError, match="is not UTF-8"):
        ModuleConfig.load(path)


# --- the version rule: Masterminds' StrictNewVersion, and where btp_release's Version differs ----------

VERSION_TEXT = st.text(alphabet="0123456789.-+avZ_", min_size=1, max_size=16)


@settings(max_examples=3000, deadline=None)
@given(VERSION_TEXT)
def test_version_refuses_everything_strict_semver_refuses(text: str) -> None:
    if strict_semver_problem(text) is not None:
        assert Version.try_parse(text) is None


@settings(max_examples=3000, deadline=None)
@given(VERSION_TEXT)
def test_strict_semver_accepts_what_version_accepts_and_build_metadata(text: str) -> None:
    if strict_semver_problem(text) is None:
        assert Version.try_parse(text) is not None or "+" in text


def test_strict_semver_limits_numbers_to_uint64_and_takes_build_metadata() -> None:
    # Where it differs from Version: numbers above uint64 are refused (Version takes any size), build
    # metadata is taken (Version refuses it; the config check refuses it too, see the invalid cases).
    assert strict_semver_problem("18446744073709551615.0.0") is None
    assert strict_semver_problem("18446744073709551616.0.0") is not None
    assert strict_semver_problem("0.0.18446744073709551616") is not None
    assert strict_semver_problem("1.0.0+build.1-x") is None
