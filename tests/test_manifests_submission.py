"""The module-config.yaml a submission writes: modulectl-valid, the release's links, deterministic bytes,
and the same facts btp-manager's submit workflow writes for btp-operator."""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest
import yaml

from btp_release.errors import InvalidInput
from btp_release.manifests.submission import (
    PublishedRelease,
    build_submission,
    module_config_from_settings,
    web_url_of,
)
from btp_release.module.moduleconfig import ModuleConfig, ModuleConfigError, UrlOrPath
from btp_release.module.spec import GroupVersionKind, ManagerRef
from btp_release.version import Version

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "examples" / "sample-operator" / "module-config.yaml"

# A module repository's own module-config, as btp-manager would keep it: local files, keys in a
# hand-written order, a key modulectl dropped (channel), labels out of order.
SOURCE = """\
name: kyma-project.io/module/btp-operator
version: 0.0.0-dev
channel: regular
repository: https://github.com/kyma-project/btp-manager.git
documentation: https://kyma-project.io/docs/btp-operator
team: kyma/Gopher
manifest: manifests/btp-manager.yaml
defaultCR: examples/btp-operator.yaml
security: sec-scanners-config.yaml
labels:
  zeta: "on"
  alpha: "1.10"
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
icons:
  - name: module-icon
    link: https://example.org/icons/btp-operator.svg
"""

RELEASE = PublishedRelease(
    repo="kyma-project/btp-manager",
    version="1.3.20",
    manifest_asset="btp-manager.yaml",
    default_cr_asset="btp-operator.yaml",
)
DOWNLOAD = "https://github.com/kyma-project/btp-manager/releases/download/1.3.20"


def source(text: str = SOURCE) -> ModuleConfig:
    return ModuleConfig.parse(text, source="module-config.yaml", base_dir=Path("/repo"))


def reparse(data: bytes) -> ModuleConfig:
    return ModuleConfig.parse(data.decode(), source="submitted", base_dir=Path("."))


def test_the_submitted_config_is_the_source_with_the_release_version_and_asset_urls() -> None:
    original = source()
    submission = build_submission(original, RELEASE)
    parsed = reparse(submission.data)
    assert parsed.version == Version.parse("1.3.20")
    assert parsed.manifest == UrlOrPath(f"{DOWNLOAD}/btp-manager.yaml", is_url=True)
    assert parsed.default_cr == UrlOrPath(f"{DOWNLOAD}/btp-operator.yaml", is_url=True)
    assert parsed.security == "sec-scanners-config.yaml"  # as in the source
    assert parsed.ignored == ("repositoryTag",)  # modulectl ignores it; "channel" is not carried over
    unchanged = ("name", "repository", "documentation", "team", "icons", "labels", "annotations", "manager")
    for field in (*unchanged, "associated_resources", "resources", "security_scan_enabled", "beta"):
        assert getattr(parsed, field) == getattr(original, field), field
    assert submission.config == attrs.evolve(parsed, source=submission.config.source)
    assert yaml.safe_load(submission.data)["repositoryTag"] == "1.3.20"


def test_keys_are_written_in_modulectl_order_with_values_that_read_back_as_text() -> None:
    text = build_submission(source(), RELEASE).text
    keys = [line.split(":", 1)[0] for line in text.splitlines() if line and not line.startswith(" ")]
    assert keys == [
        "name",
        "version",
        "manifest",
        "repository",
        "repositoryTag",
        "team",
        "documentation",
        "icons",
        "defaultCR",
        "security",
        "labels",
        "manager",
        "associatedResources",
    ]
    assert "  alpha: '1.10'\n  zeta: 'on'\n" in text  # sorted, and quoted so YAML 1.1 keeps them text
    assert "icons:\n  - name: module-icon\n    link: https://example.org/icons/btp-operator.svg\n" in text


def test_the_bytes_are_the_same_for_the_same_release_whatever_the_source_order() -> None:
    first = build_submission(source(), RELEASE).data
    assert build_submission(source(), RELEASE).data == first
    reordered = SOURCE.replace('  zeta: "on"\n  alpha: "1.10"\n', '  alpha: "1.10"\n  zeta: "on"\n')
    assert reordered != SOURCE
    assert build_submission(source(reordered), RELEASE).data == first
    assert build_submission(source(), attrs.evolve(RELEASE, version="1.3.21")).data != first


def test_bare_asset_names_are_an_option() -> None:
    submission = build_submission(source(), RELEASE, asset_links="name")
    assert submission.config.manifest == UrlOrPath("btp-manager.yaml", is_url=False)
    assert submission.config.default_cr == UrlOrPath("btp-operator.yaml", is_url=False)
    with pytest.raises(InvalidInput, match="'url' or 'name'"):
        build_submission(source(), RELEASE, asset_links="path")  # type: ignore[arg-type]


def test_a_release_without_a_default_cr_submits_none() -> None:
    submission = build_submission(source(), attrs.evolve(RELEASE, default_cr_asset=None))
    assert submission.config.default_cr is None
    assert b"defaultCR" not in submission.data


def test_flags_and_optional_keys_are_written_only_when_they_say_something() -> None:
    config = source(SOURCE + "requiresDowntime: true\nbeta: yes\nsecurityScanEnabled: false\n")
    data = build_submission(config, RELEASE).data
    assert yaml.safe_load(data)["requiresDowntime"] is True
    assert yaml.safe_load(data)["securityScanEnabled"] is False
    parsed = reparse(data)
    assert (parsed.requires_downtime, parsed.beta, parsed.internal, parsed.security_scan_enabled) == (
        True,
        True,
        False,
        False,
    )
    assert b"internal" not in build_submission(source(), RELEASE).data


def test_the_example_module_config_submits_every_field_it_has() -> None:
    original = ModuleConfig.load(SAMPLE)
    release = PublishedRelease(
        repo="kyma-project/sample-operator",
        version="0.3.0",
        manifest_asset="sample-operator.yaml",
        default_cr_asset="default-sample-cr.yaml",
    )
    parsed = reparse(build_submission(original, release).data)
    assert parsed.labels == {"operator.kyma-project.io/team": "gopher"}
    assert parsed.associated_resources == original.associated_resources
    assert parsed.manager == original.manager


def test_github_enterprise_links_use_the_web_host() -> None:
    assert web_url_of("https://api.github.com") == "https://github.com"
    assert web_url_of("https://github.tools.example/api/v3/") == "https://github.tools.example"
    with pytest.raises(InvalidInput, match="web address"):
        web_url_of("https://example.org/github")
    release = attrs.evolve(RELEASE, web_url="https://github.tools.example")
    assert build_submission(source(), release).config.manifest.value == (
        "https://github.tools.example/kyma-project/btp-manager/releases/download/1.3.20/btp-manager.yaml"
    )
    assert release.url == "https://github.tools.example/kyma-project/btp-manager/releases/tag/1.3.20"


def test_a_file_modulectl_would_refuse_is_never_proposed() -> None:
    plain_http = attrs.evolve(RELEASE, web_url="http://127.0.0.1:8080")
    with pytest.raises(ModuleConfigError) as info:
        build_submission(source(), plain_http)
    assert any("manifest: must be an https URL" in p for p in info.value.problems)
    assert "submitted for btp-operator 1.3.20" in str(info.value)
    assert info.value.hint and "modulectl" in info.value.hint


def test_a_module_without_module_config_submits_the_release_settings() -> None:
    settings = module_config_from_settings(
        name="kyma-project.io/module/btp-operator",
        repository="https://github.com/kyma-project/btp-manager",
        documentation="https://github.com/kyma-project/btp-manager",
        icons={"module-icon": "https://example.org/icon.svg"},
        team="kyma/Gopher",
        security="sec-scanners-config.yaml",
        manager=ManagerRef(name="btp-manager-controller-manager", namespace="kyma-system"),
        associated_resources=(GroupVersionKind("services.cloud.sap.com", "v1", "ServiceInstance"),),
    )
    parsed = build_submission(settings, RELEASE).config
    assert (parsed.name, parsed.version, parsed.team) == (settings.name, RELEASE.version, "kyma/Gopher")
    assert parsed.manifest.value == f"{DOWNLOAD}/btp-manager.yaml"
    assert parsed.manager == settings.manager


def test_the_release_settings_without_an_icon_say_what_modulectl_needs() -> None:
    settings = module_config_from_settings(
        name="kyma-project.io/module/btp-operator",
        repository="https://github.com/kyma-project/btp-manager",
        documentation="https://github.com/kyma-project/btp-manager",
        icons={},
    )
    with pytest.raises(ModuleConfigError) as info:
        build_submission(settings, RELEASE)
    assert any(p.startswith("icons: at least one entry is required") for p in info.value.problems)
    assert any(p.startswith("team: required while securityScanEnabled") for p in info.value.problems)


# What btp-manager's module-version-submit.yaml (kyma-project/btp-manager c70cd18) writes into
# modules/btp-operator/<tag>/module-config.yaml: its keys and fixed values, here for tag 1.3.20, with
# our own values for what comes from repository variables (DOC_URL) and for the icon.
BTP_MANAGER_SUBMITS = """\
name: kyma-project.io/module/btp-operator
version: 1.3.20
team: kyma/Gopher
repository: https://github.com/kyma-project/btp-manager.git
repositoryTag: 1.3.20
manifest: btp-manager.yaml
defaultCR: btp-operator.yaml
documentation: https://kyma-project.io/docs/btp-operator
manager:
  name: btp-manager-controller-manager
  namespace: kyma-system
  group: apps
  version: v1
  kind: Deployment
security: sec-scanners-config.yaml
associatedResources:
  - group: services.cloud.sap.com
    kind: ServiceInstance
    version: v1
  - group: services.cloud.sap.com
    kind: ServiceBinding
    version: v1
icons:
  - name: module-icon
    link: https://example.org/icons/btp-operator.svg
"""


def test_golden_what_btp_manager_submits_for_btp_operator() -> None:
    # The same module-config without the labels btp-manager does not have.
    own = source(SOURCE.replace('labels:\n  zeta: "on"\n  alpha: "1.10"\n', ""))
    submission = build_submission(own, RELEASE, asset_links="name")  # btp-manager writes bare names
    expected = ModuleConfig.parse(BTP_MANAGER_SUBMITS, source="btp-manager", base_dir=Path("."))
    assert submission.config == attrs.evolve(expected, source=submission.config.source)
    assert sorted(yaml.safe_load(submission.data)) == sorted(yaml.safe_load(BTP_MANAGER_SUBMITS))
    # With the default, only the two links differ: URLs of the same release assets.
    with_urls = build_submission(own, RELEASE).config
    assert attrs.evolve(
        with_urls, manifest=expected.manifest, default_cr=expected.default_cr
    ) == attrs.evolve(expected, source=with_urls.source)
