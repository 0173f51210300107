"""ReleaseConfig and load_config: defaults, sources and their precedence, coercion, validation, errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs
import pytest

from btp_release.config import (
    CONFIG_FILE,
    RESERVED_ASSETS,
    ConfigError,
    ReleaseConfig,
    config_fields,
    load_config,
)
from btp_release.errors import BtpReleaseError, InvalidInput

MODULE_FILES = (
    "manifests/btp-manager.yaml",
    "examples/btp-operator.yaml",
    "sec-scanners-config.yaml",
    "Dockerfile",
)


@pytest.fixture
def module(tmp_path: Path) -> Path:
    """A module repository laid out like kyma-project/btp-manager, without a config file."""
    root = tmp_path / "btp-manager"
    for name in MODULE_FILES:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("# test\n")
    return root


def write_yaml(module: Path, text: str) -> Path:
    path = module / CONFIG_FILE
    path.write_text(text)
    return path


def problems_of(module: Path, **kwargs: Any) -> list[str]:
    kwargs.setdefault("environ", {})
    with pytest.raises(ConfigError) as info:
        load_config(module, **kwargs)
    return info.value.problems


def one_problem(module: Path, **kwargs: Any) -> str:
    problems = problems_of(module, **kwargs)
    assert len(problems) == 1, problems
    return problems[0]


# --- defaults and the error class -------------------------------------------------------------------


def test_defaults_are_the_btp_operator_release(module: Path) -> None:
    config = load_config(module, environ={})
    assert attrs.asdict(config, recurse=False) == {
        "module_dir": module,
        "github_repo": "kyma-project/btp-manager",
        "github_api_url": "https://api.github.com",
        "module_name": "kyma-project.io/module/btp-operator",  # as the real release registers it
        "channel": "regular",
        "module_registry": "europe-docker.pkg.dev/kyma-project/prod/unsigned",
        "image_repo": "europe-docker.pkg.dev/kyma-project/prod/btp-manager",
        "manifest": Path("manifests/btp-manager.yaml"),
        "default_cr": Path("examples/btp-operator.yaml"),
        "security_config": Path("sec-scanners-config.yaml"),
        "default_cr_crd_external": False,
        "template_api_version": "v1beta2",  # what current lifecycle-manager serves
        "template_shape": "modulectl",
        "doc_url": None,
        "image_mismatch": "warn",
        "set_manager_image": True,
        "manager_image_names": ("controller",),
        "dockerfile": Path("Dockerfile"),
        "build_context": Path("."),
        "build_args": {},
        "manifest_asset": "btp-manager.yaml",
        "default_cr_asset": "btp-operator.yaml",  # the current btp-manager release's asset names
        "required_checks": (),
        "await_timeout": 900.0,
        "poll_interval": 10.0,
        "credentials": "dummy",
        "e2e_runner": None,
        "e2e_required": True,
        "insecure_registries": (),
        "snapshot_dir": Path("dist"),
        "module_config_file": Path("module-config.yaml"),  # read when present; this module has none
        "build_image": True,
        "manifests_repo": None,  # no module-manifests repository until one is named
        "manifests_api_url": "https://api.github.com",
        "manifests_base_branch": "main",
        "manifests_config_path": "modules/{short}/{version}/module-config.yaml",  # Kyma's catalog layout
        "manifests_mapping_path": "modules/{short}/module-releases.yaml",
        "manifests_submit_branch": "{short}-{version}",
        "manifests_promote_branch": "{short}-{version}-{channel}",
        "manifests_withdraw_branch": "{short}-module-removal-{version}",
        "manifests_asset_links": "url",
        "manifests_reviewers": (),
        "manifests_labels": (),
        "module_config": None,
    }
    assert config == ReleaseConfig(module_dir=module)
    assert config.source_repo_url == "github.com/kyma-project/btp-manager"
    assert config.documentation_url == "https://github.com/kyma-project/btp-manager"


def test_config_error_is_invalid_input_with_exit_code_2() -> None:
    error = ConfigError(["a: one", "b: two"])
    assert isinstance(error, InvalidInput)
    assert isinstance(error, BtpReleaseError)
    assert error.exit_code == 2
    assert "  - a: one\n  - b: two" in str(error)


def test_config_fields_cover_every_setting_with_help() -> None:
    fields = config_fields()
    names = [name for name, _, _ in fields]
    # Not settings: where the config lives, and the module-config it read.
    not_settings = ("module_dir", "module_config")
    assert names == [a.name for a in attrs.fields(ReleaseConfig) if a.name not in not_settings]
    assert ("github_repo", "github-repo", "GitHub repository of the module, OWNER/NAME") in fields
    assert all(key == name.replace("_", "-") and help_text for name, key, help_text in fields)
    assert all(a.metadata["help"] for a in attrs.fields(ReleaseConfig))


def test_reserved_asset_names_agree_with_the_modules_that_upload_them() -> None:
    from btp_release.module.template import TEMPLATE_CONTROL_PLANE_FILE, TEMPLATE_FILE
    from btp_release.pipeline.provenance import PROVENANCE_ASSET

    assert set(RESERVED_ASSETS) == {TEMPLATE_FILE, TEMPLATE_CONTROL_PLANE_FILE, PROVENANCE_ASSET}


# --- each source alone ---------------------------------------------------------------------------------


def test_yaml_file_alone(module: Path) -> None:
    write_yaml(
        module,
        "github-repo: acme/widget\nchannel: fast\nrequired-checks: [build, lint]\n"
        "build-args:\n  GO_VERSION: '1.20'\nawait-timeout: 60\ne2e-required: false\ndefault-cr: null\n",
    )
    config = load_config(module, environ={})
    assert (config.github_repo, config.channel, config.required_checks) == (
        "acme/widget",
        "fast",
        ("build", "lint"),
    )
    assert config.build_args == {"GO_VERSION": "1.20"}
    assert (config.await_timeout, config.e2e_required, config.default_cr) == (60.0, False, None)


def test_snake_case_file_keys_are_accepted(module: Path) -> None:
    write_yaml(module, "github_repo: acme/widget\nmanifest_asset: widget.yaml\n")
    config = load_config(module, environ={})
    assert (config.github_repo, config.manifest_asset) == ("acme/widget", "widget.yaml")


def test_environment_alone(module: Path) -> None:
    config = load_config(
        module,
        environ={
            "BTP_RELEASE_GITHUB_REPO": "acme/widget",
            "BTP_RELEASE_REQUIRED_CHECKS": "a, b,,c",
            "BTP_RELEASE_E2E_REQUIRED": "false",
            "BTP_RELEASE_AWAIT_TIMEOUT": "600",
            "BTP_RELEASE_BUILD_ARGS": '{"A": "1"}',
            "BTP_RELEASE_SECURITY_CONFIG": "",
            "PATH": "/usr/bin",
        },
    )
    assert config.github_repo == "acme/widget"
    assert config.required_checks == ("a", "b", "c")
    assert (config.e2e_required, config.await_timeout) == (False, 600.0)
    assert config.build_args == {"A": "1"}
    assert config.security_config is None


def test_environ_defaults_to_os_environ(module: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in [n for n in os.environ if n.startswith("BTP_RELEASE_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("BTP_RELEASE_CHANNEL", "fast")
    assert load_config(module).channel == "fast"


def test_overrides_alone_and_none_means_not_given(module: Path) -> None:
    config = load_config(
        module,
        environ={},
        overrides={
            "channel": "fast",
            "await_timeout": 30,
            "poll_interval": "2.5",
            "e2e_required": "no",
            "required_checks": ("x",),
            "manifest": Path("manifests/btp-manager.yaml"),
            "github_repo": None,
        },
    )
    assert (config.channel, config.await_timeout, config.poll_interval) == ("fast", 30.0, 2.5)
    assert (config.e2e_required, config.required_checks) == (False, ("x",))
    assert config.github_repo == "kyma-project/btp-manager"


def test_pyproject_table_when_there_is_no_yaml_file(module: Path) -> None:
    (module / "pyproject.toml").write_text(
        '[project]\nname = "x"\n\n[tool.btp-release]\nchannel = "fast"\nrequired-checks = ["build"]\n'
    )
    config = load_config(module, environ={})
    assert (config.channel, config.required_checks) == ("fast", ("build",))


def test_yaml_file_wins_over_pyproject(module: Path) -> None:
    (module / "pyproject.toml").write_text('[tool.btp-release]\nchannel = "fast"\n')
    write_yaml(module, "channel: experimental\n")
    assert load_config(module, environ={}).channel == "experimental"


def test_pyproject_without_the_table_is_no_config(module: Path) -> None:
    (module / "pyproject.toml").write_text('[project]\nname = "x"\n')
    assert load_config(module, environ={}) == ReleaseConfig(module_dir=module)


@pytest.mark.parametrize("text", ["", "# nothing yet\n", "---\n"])
def test_an_empty_yaml_file_is_a_problem_not_all_defaults(module: Path, text: str) -> None:
    """An empty file is a wrong path or a lost edit far more often than a wish for every default."""
    write_yaml(module, text)
    problem = one_problem(module)
    assert problem.startswith(f"{module / 'btp-release.yaml'}: the file holds no settings")
    assert "delete it to use the defaults" in problem


def test_an_explicitly_empty_mapping_sets_nothing(module: Path) -> None:
    write_yaml(module, "{}\n")
    assert load_config(module, environ={}) == ReleaseConfig(module_dir=module)


@pytest.mark.parametrize("given", ["/dev/null", "DIR"])
def test_a_config_file_that_is_not_a_regular_file_is_refused(module: Path, given: str) -> None:
    """--config /dev/null used to mean "all defaults, paths relative to /dev"."""
    path = module if given == "DIR" else Path(given)
    problem = one_problem(module, config_file=path)
    kind = "a directory" if given == "DIR" else "not a regular file"
    assert problem == f"config file {path} is {kind}"


def test_explicit_config_file_sets_module_dir_and_relative_paths(
    module: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (module / "deploy").mkdir()
    (module / "deploy" / "release.yaml").write_text("manifest: ../manifests/btp-manager.yaml\n")
    (module / "deploy" / "Dockerfile").write_text("FROM scratch\n")
    (module / "deploy" / "examples").mkdir()
    (module / "deploy" / "examples" / "btp-operator.yaml").write_text("")
    (module / "deploy" / "sec-scanners-config.yaml").write_text("")
    monkeypatch.chdir(tmp_path)  # the paths must resolve against the file's directory, not the cwd
    config = load_config("elsewhere", config_file=module / "deploy" / "release.yaml", environ={})
    assert config.module_dir == module / "deploy"
    assert config.path(config.manifest).resolve() == (module / "manifests/btp-manager.yaml").resolve()


def test_explicit_config_file_missing(module: Path) -> None:
    missing = module / "nope.yaml"
    assert one_problem(module, config_file=missing) == f"config file {missing} does not exist"


def test_explicit_toml_file_without_the_table(module: Path) -> None:
    (module / "release.toml").write_text("[tool.other]\nx = 1\n")
    assert one_problem(module, config_file=module / "release.toml").endswith("no [tool.btp-release] table")


# --- precedence ------------------------------------------------------------------------------------------


def test_file_then_environment_then_overrides(module: Path) -> None:
    write_yaml(
        module,
        "channel: fast\nawait-timeout: 100\nrequired-checks: [file]\ne2e-required: true\n"
        "github-repo: file/repo\nimage-mismatch: error\n",
    )
    environ = {
        "BTP_RELEASE_AWAIT_TIMEOUT": "200",
        "BTP_RELEASE_REQUIRED_CHECKS": "env",
        "BTP_RELEASE_E2E_REQUIRED": "0",
        "BTP_RELEASE_GITHUB_REPO": "env/repo",
    }
    overrides = {"required_checks": "cli", "e2e_required": True, "github_repo": None}
    config = load_config(module, environ=environ, overrides=overrides)
    assert config.channel == "fast"  # file only
    assert config.image_mismatch == "error"  # file only
    assert config.await_timeout == 200.0  # env beats file
    assert config.github_repo == "env/repo"  # env beats file, the override is None
    assert config.required_checks == ("cli",)  # override beats env and file
    assert config.e2e_required is True  # override beats env "0"


def test_empty_environment_value_clears_an_optional_file_setting(module: Path) -> None:
    write_yaml(module, "e2e-runner: tests.e2e:runner\n")
    assert load_config(module, environ={"BTP_RELEASE_E2E_RUNNER": ""}).e2e_runner is None


def test_modulectl_shape_alone_implies_v1beta2(module: Path) -> None:
    write_yaml(module, "template-shape: modulectl\n")
    config = load_config(module, environ={})
    assert (config.template_shape, config.template_api_version) == ("modulectl", "v1beta2")


# --- coercion ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("variable", "text", "field", "expected"),
    [
        ("BTP_RELEASE_CHANNEL", "fast", "channel", "fast"),
        (
            "BTP_RELEASE_MANIFEST",
            "manifests/btp-manager.yaml",
            "manifest",
            Path("manifests/btp-manager.yaml"),
        ),
        ("BTP_RELEASE_DEFAULT_CR", "", "default_cr", None),
        ("BTP_RELEASE_SNAPSHOT_DIR", "out/snap", "snapshot_dir", Path("out/snap")),
        ("BTP_RELEASE_POLL_INTERVAL", "0.5", "poll_interval", 0.5),
        ("BTP_RELEASE_AWAIT_TIMEOUT", " 1e3 ", "await_timeout", 1000.0),
        ("BTP_RELEASE_E2E_REQUIRED", "TRUE", "e2e_required", True),
        ("BTP_RELEASE_E2E_REQUIRED", "Yes", "e2e_required", True),
        ("BTP_RELEASE_E2E_REQUIRED", "1", "e2e_required", True),
        ("BTP_RELEASE_E2E_REQUIRED", "False", "e2e_required", False),
        ("BTP_RELEASE_E2E_REQUIRED", "NO", "e2e_required", False),
        ("BTP_RELEASE_E2E_REQUIRED", "0", "e2e_required", False),
        (
            "BTP_RELEASE_INSECURE_REGISTRIES",
            "reg.local:5000, other.local",
            "insecure_registries",
            ("reg.local:5000", "other.local"),
        ),
        ("BTP_RELEASE_REQUIRED_CHECKS", "", "required_checks", ()),
        ("BTP_RELEASE_BUILD_ARGS", '{"B": "2", "A": "1"}', "build_args", {"A": "1", "B": "2"}),
        ("BTP_RELEASE_BUILD_ARGS", "", "build_args", {}),
        ("BTP_RELEASE_CREDENTIALS", "real", "credentials", "real"),
        ("BTP_RELEASE_TEMPLATE_API_VERSION", "v1beta2", "template_api_version", "v1beta2"),
        ("BTP_RELEASE_E2E_RUNNER", "my_tests.e2e:make_runner", "e2e_runner", "my_tests.e2e:make_runner"),
    ],
)
def test_environment_coercion(module: Path, variable: str, text: str, field: str, expected: object) -> None:
    assert getattr(load_config(module, environ={variable: text}), field) == expected


@pytest.mark.parametrize(
    ("variable", "text", "problem"),
    [
        ("BTP_RELEASE_AWAIT_TIMEOUT", "ten", "environment BTP_RELEASE_AWAIT_TIMEOUT: 'ten' is not a number"),
        (
            "BTP_RELEASE_AWAIT_TIMEOUT",
            "0",
            "environment BTP_RELEASE_AWAIT_TIMEOUT: '0' is not a number of seconds > 0",
        ),
        ("BTP_RELEASE_POLL_INTERVAL", "-1", "'-1' is not a number of seconds > 0"),
        ("BTP_RELEASE_POLL_INTERVAL", "nan", "'nan' is not a number of seconds > 0"),
        ("BTP_RELEASE_AWAIT_TIMEOUT", "inf", "'inf' is not a number of seconds > 0"),
        ("BTP_RELEASE_E2E_REQUIRED", "maybe", "'maybe' is not a boolean (true/false, yes/no, 1/0)"),
        ("BTP_RELEASE_CREDENTIALS", "fake", "'fake' is not one of dummy, real"),
        ("BTP_RELEASE_TEMPLATE_SHAPE", "kyma-cli", "'kyma-cli' is not one of legacy-2023, modulectl"),
        ("BTP_RELEASE_IMAGE_MISMATCH", "ignore", "'ignore' is not one of warn, error"),
        (
            "BTP_RELEASE_BUILD_ARGS",
            "A=1",
            "environment BTP_RELEASE_BUILD_ARGS: not a JSON object (Expecting value",
        ),
        ("BTP_RELEASE_BUILD_ARGS", '["A"]', "expected a mapping of NAME: value, got list"),
        ("BTP_RELEASE_BUILD_ARGS", '{"A": 1}', "names and values must be strings, see A"),
        ("BTP_RELEASE_MANIFEST", "", "environment BTP_RELEASE_MANIFEST: must not be empty"),
        ("BTP_RELEASE_CHANNEL", "", "environment BTP_RELEASE_CHANNEL: must not be empty"),
    ],
)
def test_bad_environment_values(module: Path, variable: str, text: str, problem: str) -> None:
    assert problem in one_problem(module, environ={variable: text})


@pytest.mark.parametrize(
    ("yaml_text", "problem"),
    [
        ("required-checks: build,lint\n", "key 'required-checks': expected a list, got str (YAML: [a, b])"),
        ("required-checks: [build, 3]\n", "key 'required-checks': items must be non-empty strings, not 3"),
        ("build-args: [A=1]\n", "key 'build-args': expected a mapping of NAME: value, got list"),
        (
            "build-args: {GO_VERSION: 1.20}\n",
            "key 'build-args': names and values must be strings, see GO_VERSION (quote values in YAML)",
        ),
        ("await-timeout: true\n", "key 'await-timeout': True is not a number of seconds > 0"),
        ("await-timeout: [1]\n", "key 'await-timeout': [1] is not a number of seconds > 0"),
        ("e2e-required: 2\n", "key 'e2e-required': 2 is not a boolean (true/false, yes/no, 1/0)"),
        ("channel: 7\n", "key 'channel': expected a string, got int"),
        ("manifest: null\n", "key 'manifest': must not be empty"),
        ("github-repo: {a: b}\n", "key 'github-repo': expected a string, got dict"),
    ],
)
def test_bad_file_values(module: Path, yaml_text: str, problem: str) -> None:
    write_yaml(module, yaml_text)
    assert one_problem(module) == f"{module / CONFIG_FILE}: {problem}"


def test_bad_override_values_name_the_flag(module: Path) -> None:
    problems = problems_of(
        module, overrides={"await_timeout": "soon", "credentials": "none", "e2e_required": 3}
    )
    assert problems == [
        "--await-timeout: 'soon' is not a number of seconds > 0",
        "--credentials: 'none' is not one of dummy, real",
        "--e2e-required: 3 is not a boolean (true/false, yes/no, 1/0)",
    ]


# --- invalid configurations -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("yaml_text", "problem"),
    [
        (
            "github-repo: btp-manager\n",
            "key 'github-repo': 'btp-manager' is not OWNER/NAME of a GitHub repository",
        ),
        ("github-repo: a/b/c\n", "'a/b/c' is not OWNER/NAME"),
        ("github-api-url: api.github.com\n", "'api.github.com' is not an http(s) URL"),
        ("github-api-url: ftp://github.example.com\n", "'ftp://github.example.com' is not an http(s) URL"),
        ("module-name: btp-operator\n", "'btp-operator' is not an OCM component name"),
        ("module-name: Kyma-Project.io/module/btp\n", "is not an OCM component name"),
        ("channel: Regular\n", "key 'channel': 'Regular' is not a channel (3 to 32 lowercase letters"),
        ("channel: ab\n", "'ab' is not a channel"),
        ("module-registry: https://europe-docker.pkg.dev/x\n", "has a scheme; expected host[:port][/path]"),
        ("module-registry: kyma-project/prod/unsigned\n", "does not start with a registry host"),
        ("image-repo: europe-docker.pkg.dev/kyma/btp-manager:1.0\n", "has a tag or digest"),
        ("image-repo: localhost:5000/btp@sha256:abc\n", "has a tag or digest"),
        ("image-repo: localhost:5000\n", "'localhost:5000' is not host[:port]/path without scheme or tag"),
        ("image-repo: reg.io/Upper/Case\n", "is not host[:port]/path"),
        ("manifest-asset: dist/btp-manager.yaml\n", "'dist/btp-manager.yaml' is not a plain file name"),
        ("default-cr-asset: template.yaml\n", "'template.yaml' is a name the release uses itself"),
        (
            "manifest-asset: release-manifest.json\n",
            "'release-manifest.json' is a name the release uses itself",
        ),
        ("manifest-asset: template_control_plane.yaml\n", "is a name the release uses itself"),
        ("default-cr-asset: btp-manager.yaml\n", "two release assets named 'btp-manager.yaml'"),
        ("e2e-runner: tests/e2e.py\n", "'tests/e2e.py' is not package.module:function"),
        ("e2e-runner: tests.e2e:run.me\n", "is not package.module:function"),
        ("insecure-registries: [http://reg.local]\n", "'http://reg.local': not host[:port]"),
        (
            "template-shape: modulectl\ntemplate-api-version: v1beta1\n",
            "the modulectl ModuleTemplate shape exists only as v1beta2",
        ),
        ("manifest: manifests/missing.yaml\n", "key 'manifest': file "),
        ("default-cr: examples/missing.yaml\n", "examples/missing.yaml does not exist"),
        ("security-config: missing.yaml\n", "missing.yaml does not exist"),
        ("build-context: operator\n", "key 'build-context': directory "),
        ("dockerfile: build/Dockerfile\n", "build/Dockerfile does not exist"),
        (
            "module-dir: elsewhere\n",
            "key 'module-dir': not a setting; it is the config file's directory (or the argument)",
        ),
        ("channel: fast\nchannel: regular\n", "invalid YAML at line 2: duplicate key 'channel'"),
        ("channel: fast\nchannel_: x\n", "key 'channel_': unknown setting; did you mean 'channel'?"),
        ("github-repo: a/b\ngithub_repo: c/d\n", "key 'github_repo': also given as"),
        ("- channel: fast\n", "expected a mapping of settings (key: value), got list"),
        ("channel: [fast\n", "invalid YAML at line 2"),
    ],
)
def test_invalid_config(module: Path, yaml_text: str, problem: str) -> None:
    write_yaml(module, yaml_text)
    found = one_problem(module)
    assert problem in found
    assert f"{module / CONFIG_FILE}" in found  # the problem names its source


def test_template_combination_names_both_sources(module: Path) -> None:
    write_yaml(module, "template-shape: modulectl\n")
    problem = one_problem(module, environ={"BTP_RELEASE_TEMPLATE_API_VERSION": "v1beta1"})
    assert problem.startswith(
        f"{module / CONFIG_FILE}: key 'template-shape' with environment BTP_RELEASE_TEMPLATE_API_VERSION:"
    )


def test_legacy_shape_with_v1beta2_is_allowed(module: Path) -> None:
    # ModuleSpec accepts it: the 2023 shape without spec.target.
    environ = {"BTP_RELEASE_TEMPLATE_API_VERSION": "v1beta2", "BTP_RELEASE_TEMPLATE_SHAPE": "legacy-2023"}
    config = load_config(module, environ=environ)
    assert (config.template_shape, config.template_api_version) == ("legacy-2023", "v1beta2")


def test_the_default_shape_is_todays_and_v1beta1_needs_the_2023_shape_asked_for(module: Path) -> None:
    """Current lifecycle-manager does not serve v1beta1: it is written only when the config asks for
    the 2023 shape explicitly (which then defaults to v1beta1, the version with spec.target)."""
    default = load_config(module, environ={})
    assert (default.template_shape, default.template_api_version) == ("modulectl", "v1beta2")
    problem = one_problem(module, environ={"BTP_RELEASE_TEMPLATE_API_VERSION": "v1beta1"})
    assert "exists only as v1beta2" in problem
    write_yaml(module, "template-shape: legacy-2023\n")
    assert load_config(module, environ={}).template_api_version == "v1beta1"


def test_missing_default_files_are_named_as_defaults(module: Path) -> None:
    (module / "Dockerfile").unlink()
    (module / "examples" / "btp-operator.yaml").unlink()
    assert problems_of(module) == [
        f"default-cr (default): file {module / 'examples/btp-operator.yaml'} does not exist",
        f"dockerfile (default): file {module / 'Dockerfile'} does not exist",
    ]


def test_dockerfile_is_relative_to_the_build_context(module: Path) -> None:
    (module / "operator").mkdir()
    (module / "operator" / "Dockerfile").write_text("FROM scratch\n")
    (module / "Dockerfile").unlink()
    config = load_config(module, environ={"BTP_RELEASE_BUILD_CONTEXT": "operator"})
    assert config.build_context == Path("operator")


def test_missing_module_dir(tmp_path: Path) -> None:
    assert one_problem(tmp_path / "nope") == f"module directory {tmp_path / 'nope'} does not exist"


def test_a_module_dir_that_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "module.yaml").write_text("kind: x\n")
    problem = one_problem(tmp_path / "module.yaml")
    assert problem == f"module directory {tmp_path / 'module.yaml'} is not a directory"


def test_invalid_toml_names_file_and_line(module: Path) -> None:
    (module / "pyproject.toml").write_text('[tool.btp-release]\nchannel = "fast"\nchannel "x"\n')
    problem = one_problem(module)
    assert problem.startswith(f"{module / 'pyproject.toml'}: invalid TOML: ")
    assert "line 3" in problem


def test_pyproject_problems_name_the_table(module: Path) -> None:
    (module / "pyproject.toml").write_text('[tool.btp-release]\nchanel = "fast"\n')
    assert one_problem(module) == (
        f"{module / 'pyproject.toml'} [tool.btp-release]: key 'chanel': "
        "unknown setting; did you mean 'channel'?"
    )


def test_unreadable_config_file_does_not_add_guesses_about_files(module: Path) -> None:
    write_yaml(module, "manifest: x.yaml\n: :\n")
    (module / "Dockerfile").unlink()
    problems = problems_of(module)
    assert len(problems) == 1 and "invalid YAML" in problems[0]


# --- errors: all at once, suggestions, secrets ----------------------------------------------------------


def test_one_error_lists_problems_from_every_source(module: Path) -> None:
    write_yaml(module, "chanel: fast\nchannel: Fast\n")
    (module / "Dockerfile").unlink()
    problems = problems_of(
        module,
        environ={"BTP_RELEASE_AWAIT_TIMEOUT": "soon", "BTP_RELEASE_GITHUB_REPOSITORY": "acme/x"},
        overrides={"poll_interval": 0, "e2e_runer": "x:y"},
    )
    config = module / CONFIG_FILE
    assert problems == [
        f"{config}: key 'chanel': unknown setting; did you mean 'channel'?",
        f"{config}: key 'channel': 'Fast' is not a channel (3 to 32 lowercase letters, e.g. regular)",
        "environment BTP_RELEASE_GITHUB_REPOSITORY: unknown setting; did you mean 'BTP_RELEASE_GITHUB_REPO'?",
        "environment BTP_RELEASE_AWAIT_TIMEOUT: 'soon' is not a number of seconds > 0",
        "--e2e-runer: unknown setting; did you mean '--e2e-runner'?",
        "--poll-interval: 0 is not a number of seconds > 0",
        f"dockerfile (default): file {module / 'Dockerfile'} does not exist",
    ]
    with pytest.raises(ConfigError) as info:
        load_config(module, environ={"BTP_RELEASE_AWAIT_TIMEOUT": "soon"})
    assert str(info.value).count("\n  - ") == 4


def test_unknown_environment_variable_suggests_the_credentials_too(module: Path) -> None:
    problem = one_problem(module, environ={"BTP_RELEASE_REGISTRY_PASSWD": "hunter22"})
    assert problem == (
        "environment BTP_RELEASE_REGISTRY_PASSWD: unknown setting; "
        "did you mean 'BTP_RELEASE_REGISTRY_PASSWORD'?"
    )


def test_credential_variables_are_not_settings(module: Path) -> None:
    environ = {"BTP_RELEASE_REGISTRY_USERNAME": "robot", "BTP_RELEASE_REGISTRY_PASSWORD": "hunter22"}
    assert load_config(module, environ=environ) == ReleaseConfig(module_dir=module)


def test_unknown_key_without_a_close_match_has_no_suggestion(module: Path) -> None:
    write_yaml(module, "zzz: 1\n")
    assert one_problem(module) == f"{module / CONFIG_FILE}: key 'zzz': unknown setting"


def test_secret_values_never_appear_in_errors(module: Path) -> None:
    token = "ghp_Sup3rSecretTokenValue"
    password = 'pa"ss\\word'
    environ = {
        "GITHUB_TOKEN": token,
        "BTP_RELEASE_GITHUB_TOKEN": token,  # unknown: named, never shown
        "BTP_RELEASE_REGISTRY_PASSWORD": password,
        "MY_SECRET": "regular-but-secret",
        "BTP_RELEASE_CHANNEL": "regular-but-secret",  # a secret pasted into a setting
        "BTP_RELEASE_MODULE_REGISTRY": password,
        "BTP_RELEASE_BUILD_ARGS": f'{{"TOKEN": "{token}"',  # broken JSON around a secret
    }
    with pytest.raises(ConfigError) as info:
        load_config(module, environ=environ, overrides={"token": token})
    text = str(info.value)
    for secret in (token, password, "regular-but-secret", repr(password)[1:-1]):
        assert secret not in text
    assert "environment BTP_RELEASE_GITHUB_TOKEN: unknown setting" in text
    assert "environment BTP_RELEASE_CHANNEL: '***' is not a channel" in text
    assert "environment BTP_RELEASE_MODULE_REGISTRY: '***' is not" in text
    assert "environment BTP_RELEASE_BUILD_ARGS: not a JSON object" in text
