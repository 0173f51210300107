"""The module-manifests layout: Kyma's paths and branches by default, patterns checked, and the
manifests-* settings in load_config."""

from __future__ import annotations

from pathlib import Path

import pytest

from btp_release.config import ConfigError, load_config
from btp_release.errors import InvalidInput
from btp_release.manifests.layout import LayoutError, ManifestsLayout, ManifestsModule, pattern_problem
from btp_release.manifests.settings import layout_of

BTP_OPERATOR = ManifestsModule("kyma-project.io/module/btp-operator", "kyma-project/btp-manager")


def test_the_default_layout_is_the_catalog_of_kyma() -> None:
    layout = ManifestsLayout()
    assert layout.config_file(BTP_OPERATOR, "1.3.20") == "modules/btp-operator/1.3.20/module-config.yaml"
    assert layout.version_dir(BTP_OPERATOR, "1.3.20") == "modules/btp-operator/1.3.20"
    assert layout.mapping_file(BTP_OPERATOR) == "modules/btp-operator/module-releases.yaml"
    assert layout.branch("submit", BTP_OPERATOR, "1.3.20") == "btp-operator-1.3.20"
    assert layout.branch("promote", BTP_OPERATOR, "1.3.20", "fast") == "btp-operator-1.3.20-fast"
    assert layout.branch("withdraw", BTP_OPERATOR, "1.3.20") == "btp-operator-module-removal-1.3.20"


def test_btp_manager_keeps_its_branch_names_with_the_repo_placeholder() -> None:
    layout = ManifestsLayout(
        submit_branch="{repo}-{version}",
        promote_branch="{repo}-{version}-{channel}",
        withdraw_branch="{repo}-module-removal-{version}",
    )
    assert layout.branch("submit", BTP_OPERATOR, "1.3.20") == "btp-manager-1.3.20"
    assert layout.branch("promote", BTP_OPERATOR, "1.3.20", "regular") == "btp-manager-1.3.20-regular"
    assert layout.branch("withdraw", BTP_OPERATOR, "1.3.20") == "btp-manager-module-removal-1.3.20"


def test_only_promote_takes_a_channel() -> None:
    with pytest.raises(InvalidInput, match="promote branch needs channel"):
        ManifestsLayout().branch("promote", BTP_OPERATOR, "1.3.20")
    with pytest.raises(InvalidInput, match="submit branch takes no channel"):
        ManifestsLayout().branch("submit", BTP_OPERATOR, "1.3.20", "fast")


@pytest.mark.parametrize(
    ("setting", "pattern", "problem"),
    [
        ("manifests_config_path", "/modules/{short}/{version}/c.yaml", "is absolute"),
        ("manifests_config_path", "C:/modules/{version}/c.yaml", "is absolute"),
        ("manifests_config_path", "modules/../{version}/c.yaml", "'..' element"),
        ("manifests_config_path", "modules//{version}/c.yaml", "empty, '.' or '..' element"),
        ("manifests_config_path", "modules\\{version}\\c.yaml", "use '/'"),
        ("manifests_config_path", "modules/{short}/c.yaml", "lacks {version}: one path per version"),
        ("manifests_config_path", "modules/{short}/{version}.yaml", "must be part of the directory"),
        ("manifests_config_path", "modules/{name}/{version}/c.yaml", "unknown placeholder {name}"),
        ("manifests_config_path", "modules/{version!r}/c.yaml", "takes no conversion or format spec"),
        ("manifests_config_path", "modules/{version}}/c.yaml", "not a pattern"),
        (
            "manifests-mapping-path",
            "modules/{short}/{version}/releases.yaml",
            "unknown placeholder {version}",
        ),
        ("manifests_mapping_path", "modules/{short}/{channel}.yaml", "unknown placeholder {channel}"),
        ("manifests_submit_branch", "{short}", "lacks {version}: one branch per version"),
        ("manifests_promote_branch", "{short}-{version}", "lacks {channel}"),
        ("manifests_withdraw_branch", "remove {version}", "contains ' '"),
        ("manifests_submit_branch", "{short}..{version}", "'..'"),
        ("manifests_submit_branch", "-{version}", "starts with '-'"),
        ("manifests_submit_branch", "{version}.lock", "ending with '.lock'"),
        ("manifests_submit_branch", "{version}:x", "contains ':'"),
        ("manifests_submit_branch", "submit/{version}/", "ends with '/'"),
    ],
)
def test_unusable_patterns_are_named_with_the_reason(setting: str, pattern: str, problem: str) -> None:
    found = pattern_problem(setting, pattern)
    assert found is not None and problem in found
    field = setting.replace("-", "_").removeprefix("manifests_")
    with pytest.raises(LayoutError) as info:
        ManifestsLayout(**{field: pattern})
    assert info.value.problems == (f"{setting.replace('_', '-')}: {found}",)
    assert repr(pattern) in found  # the message names the pattern as written
    assert isinstance(info.value, InvalidInput) and info.value.exit_code == 2


def test_usable_patterns_pass() -> None:
    assert (
        pattern_problem("manifests_config_path", "catalog/{repo}/{short}/v{version}/module-config.yaml")
        is None
    )
    assert pattern_problem("manifests_promote_branch", "release/{short}/{channel}/{version}") is None
    assert pattern_problem("manifests_mapping_path", "module-releases.yaml") is None


def test_two_actions_on_one_branch_are_refused() -> None:
    with pytest.raises(LayoutError) as info:
        ManifestsLayout(submit_branch="mod-{version}", withdraw_branch="mod-{version}")
    (problem,) = info.value.problems
    assert problem.startswith("manifests-submit-branch and manifests-withdraw-branch give the same branch")


def test_a_branch_name_from_a_real_value_is_checked_too() -> None:
    repo_with_lock = ManifestsModule("kyma-project.io/module/btp-operator", "kyma-project/x.lock")
    layout = ManifestsLayout(submit_branch="{version}/{repo}")
    with pytest.raises(LayoutError, match=r"submit branch of btp-operator 1.3.20: .*\.lock"):
        layout.branch("submit", repo_with_lock, "1.3.20")


# -- the settings ----------------------------------------------------------------------------------------


@pytest.fixture
def module(tmp_path: Path) -> Path:
    for name in (
        "manifests/btp-manager.yaml",
        "examples/btp-operator.yaml",
        "sec-scanners-config.yaml",
        "Dockerfile",
    ):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("# test\n")
    return tmp_path


def test_the_settings_make_the_layout(module: Path) -> None:
    (module / "btp-release.yaml").write_text(
        "manifests-repo: kyma/module-manifests\n"
        "manifests-api-url: https://github.tools.example/api/v3\n"
        "manifests-submit-branch: '{repo}-{version}'\n"
        "manifests-reviewers: [octocat, kyma/gopher]\n"
        "manifests-labels: [kind/release]\n"
        "manifests-asset-links: name\n"
    )
    config = load_config(
        module, environ={"BTP_RELEASE_MANIFESTS_PROMOTE_BRANCH": "promote/{channel}/{version}"}
    )
    assert (config.manifests_repo, config.manifests_asset_links) == ("kyma/module-manifests", "name")
    assert config.manifests_reviewers == ("octocat", "kyma/gopher")
    layout = layout_of(config)
    assert layout.branch("submit", BTP_OPERATOR, "1.3.20") == "btp-manager-1.3.20"
    assert layout.branch("promote", BTP_OPERATOR, "1.3.20", "fast") == "promote/fast/1.3.20"
    assert layout.config_file(BTP_OPERATOR, "1.3.20") == "modules/btp-operator/1.3.20/module-config.yaml"


def test_the_manifests_token_is_a_secret_not_a_setting(module: Path) -> None:
    config = load_config(module, environ={"BTP_RELEASE_MANIFESTS_TOKEN": "ghp_secret"})
    assert config.manifests_repo is None


def test_bad_manifests_settings_are_listed_with_their_source(module: Path) -> None:
    (module / "btp-release.yaml").write_text(
        "manifests-repo: module-manifests\n"
        "manifests-config-path: '/modules/{short}/{version}/module-config.yaml'\n"
        "manifests-reviewers: ['not a login']\n"
        "manifests-labels: ['" + "x" * 51 + "']\n"
        "manifests-asset-links: path\n"
    )
    environ = {
        "BTP_RELEASE_MANIFESTS_BASE_BRANCH": "main..x",
        "BTP_RELEASE_MANIFESTS_API_URL": "api.github.com",
    }
    with pytest.raises(ConfigError) as info:
        load_config(module, environ=environ)
    problems = "\n".join(info.value.problems)
    for expected in (
        "key 'manifests-repo': 'module-manifests' is not OWNER/NAME",
        "key 'manifests-config-path': '/modules/{short}/{version}/module-config.yaml' is absolute",
        "key 'manifests-reviewers': 'not a login': not a GitHub login or ORG/team",
        "at most 50 characters",
        "key 'manifests-asset-links': 'path' is not one of url, name",
        "environment BTP_RELEASE_MANIFESTS_BASE_BRANCH: branch 'main..x' contains '..'",
        "environment BTP_RELEASE_MANIFESTS_API_URL: 'api.github.com' is not an http(s) URL",
    ):
        assert expected in problems
    assert len(info.value.problems) == 7


def test_colliding_branch_settings_are_a_config_problem(module: Path) -> None:
    environ = {
        "BTP_RELEASE_MANIFESTS_SUBMIT_BRANCH": "m-{version}",
        "BTP_RELEASE_MANIFESTS_WITHDRAW_BRANCH": "m-{version}",
    }
    with pytest.raises(ConfigError) as info:
        load_config(module, environ=environ)
    (problem,) = info.value.problems
    assert "manifests-submit-branch and manifests-withdraw-branch give the same branch" in problem
