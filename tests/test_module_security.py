"""sec-scanners-config.yaml: both formats, strict keys, nothing invented, the copy a release ships.

The current-format fixtures are our own, in the shape of btp-manager's and template-operator's current
files (kyma-today.md section 5: ``module-name``, ``kind: kyma``, ``rc-tag``, ``bdba``, ``mend``,
``checkmarx-one``); the old format is the example module's (the 2023 Kyma CLI's ``protecode`` and
``whitesource``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from btp_release.errors import InvalidInput
from btp_release.module import SecurityConfig, WhiteSource, image_name_and_tag
from btp_release.module.security import CheckmarxOne, SourceScan
from btp_release.version import Version
from tests.test_module_artifact import EXAMPLE

IMAGE = "europe-docker.pkg.dev/kyma-project/prod/btp-manager:1.2.0"
PROD = "europe-docker.pkg.dev/kyma-project/prod"

BTP_MANAGER = f"""\
module-name: btp-operator
kind: kyma
rc-tag: 1.3.19
bdba:
  - {PROD}/btp-manager:1.3.19
  - {PROD}/external/ghcr.io/sap/sap-btp-service-operator/controller:v0.9.3
  - {PROD}/ca-bundle-probe:1.3.19
mend:
  language: golang-mod
  exclude:
    - "**/test/**"
    - "**/*_test.go"
checkmarx-one:
  preset: go-default
  exclude:
    - "**/test/**"
    - "**/*_test.go"
"""

TEMPLATE_OPERATOR = f"""\
module-name: template-operator
kind: kyma
dev-branch: main
rc-tag: 1.0.4
bdba:
  - {PROD}/template-operator:1.0.4
mend:
  language: golang-mod
  subprojects: "false"
  exclude:
    - "**/test/**"
    - "**/*_test.go"
checkmarx-one:
  preset: go-default
  exclude:
    - "**/test/**"
"""

RELEASE_IMAGES = [
    f"{PROD}/btp-manager:1.3.20",
    f"{PROD}/ca-bundle-probe:1.3.20",
    f"{PROD}/external/ghcr.io/sap/sap-btp-service-operator/controller:v0.9.4",
]


def data(text: str) -> Any:
    return yaml.safe_load(text)


def test_parse_the_old_format_of_the_example() -> None:
    config = SecurityConfig.load(EXAMPLE / "sec-scanners-config.yaml")
    assert config == SecurityConfig(
        module_name="btp-operator",
        rc_tag="1.2.0",
        protecode=(IMAGE,),
        whitesource=WhiteSource(language="golang-mod", subprojects=False, exclude=("**/*_test.go",)),
    )
    assert (config.images_key, config.images, config.source_scan) == (
        "protecode",
        (IMAGE,),
        config.whitesource,
    )
    assert config.to_yaml() == (EXAMPLE / "sec-scanners-config.yaml").read_text()


def test_parse_the_current_format() -> None:
    config = SecurityConfig.parse(BTP_MANAGER)
    assert config == SecurityConfig(
        module_name="btp-operator",
        kind="kyma",
        rc_tag="1.3.19",
        bdba=(
            f"{PROD}/btp-manager:1.3.19",
            f"{PROD}/external/ghcr.io/sap/sap-btp-service-operator/controller:v0.9.3",
            f"{PROD}/ca-bundle-probe:1.3.19",
        ),
        mend=SourceScan(language="golang-mod", exclude=("**/test/**", "**/*_test.go")),
        checkmarx_one=CheckmarxOne(preset="go-default", exclude=("**/test/**", "**/*_test.go")),
    )
    assert config.images_key == "bdba"
    assert config.images == config.bdba
    assert config.source_scan == config.mend
    assert config.protecode is None and config.whitesource is None


@pytest.mark.parametrize(
    "text", [BTP_MANAGER, TEMPLATE_OPERATOR, (EXAMPLE / "sec-scanners-config.yaml").read_text()]
)
def test_an_unchanged_config_writes_the_same_data_in_the_same_order(text: str) -> None:
    written = SecurityConfig.parse(text).to_yaml()
    assert data(written) == data(text)
    assert list(data(written)) == list(data(text))
    assert [list(v) for v in data(written).values() if isinstance(v, dict)] == [
        list(v) for v in data(text).values() if isinstance(v, dict)
    ]
    assert SecurityConfig.parse(written).to_yaml() == written


def test_the_kyma_cli_string_subprojects_is_kept_as_written() -> None:
    config = SecurityConfig.parse(TEMPLATE_OPERATOR)
    assert config.mend is not None and config.mend.subprojects == "false"
    assert "subprojects: 'false'" in config.to_yaml()


def test_unknown_keys_are_an_error_listing_the_known_ones() -> None:
    with pytest.raises(InvalidInput) as raised:
        SecurityConfig.parse(
            BTP_MANAGER + "checkmarx:\n  preset: go\nbdba-images: []\n", source="repo/sec.yaml"
        )
    message = str(raised.value)
    assert "repo/sec.yaml: 1 problem(s)" in message
    assert "unknown key(s) checkmarx, bdba-images" in message
    for key in ("module-name", "kind", "rc-tag", "dev-branch", "bdba", "mend", "checkmarx-one", "protecode"):
        assert key in message.split("the known keys are", 1)[1]


def test_unknown_keys_inside_a_section_are_an_error_too() -> None:
    text = BTP_MANAGER.replace("  preset: go-default\n", "  preset: go-default\n  presets: [go]\n")
    with pytest.raises(
        InvalidInput,
        match=re.escape("checkmarx-one: unknown key(s) presets; the known keys are preset, exclude"),
    ):
        SecurityConfig.parse(text)
    with pytest.raises(
        InvalidInput, match=re.escape("mend: unknown key(s) lang; the known keys are language")
    ):
        SecurityConfig.parse(BTP_MANAGER.replace("  language: golang-mod", "  lang: golang-mod"))


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (f"protecode:\n  - {IMAGE}\n", "both protecode and bdba"),
        ("whitesource:\n  language: golang-mod\n", "both whitesource and mend"),
    ],
)
def test_old_and_new_names_of_one_setting_are_an_error(extra: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        SecurityConfig.parse(BTP_MANAGER + extra)
    with pytest.raises(InvalidInput, match="mixes the old and the current format"):
        SecurityConfig(module_name="m", bdba=(IMAGE,), protecode=(IMAGE,))


def test_old_images_with_the_new_checkmarx_section_is_no_mix() -> None:
    # a module in between the formats: protecode + whitesource + checkmarx-one
    text = f"module-name: m\nkind: kcp\nprotecode:\n  - {IMAGE}\ncheckmarx-one:\n  preset: python-default\n"
    config = SecurityConfig.parse(text)
    assert config.images_key == "protecode"
    assert data(config.to_yaml()) == data(text)


def test_for_release_names_the_release_and_exactly_its_images() -> None:
    config = SecurityConfig.parse(BTP_MANAGER)
    released = config.for_release(Version.parse("1.3.20"), RELEASE_IMAGES)
    written = data(released.to_yaml())
    expected = data(BTP_MANAGER)
    expected["rc-tag"] = "1.3.20"
    expected["bdba"] = RELEASE_IMAGES
    assert written == expected
    assert list(written) == list(expected)
    assert released.for_release(Version.parse("1.3.20"), []).bdba == ()


def test_for_release_of_the_old_format_sets_protecode() -> None:
    config = SecurityConfig.load(EXAMPLE / "sec-scanners-config.yaml")
    released = config.for_release(Version.parse("1.3.0"), [f"{PROD}/btp-manager:1.3.0", "busybox:1.36"])
    assert released.protecode == (f"{PROD}/btp-manager:1.3.0", "busybox:1.36")
    assert released.rc_tag == "1.3.0"
    assert released.whitesource == config.whitesource
    assert released.bdba is None
    with pytest.raises(InvalidInput, match="must be <repository>:<tag>"):
        config.for_release(Version.parse("1.3.0"), [f"{PROD}/btp-manager@sha256:" + "a" * 64])


def test_nothing_is_invented_when_sections_are_absent(caplog: pytest.LogCaptureFixture) -> None:
    text = "module-name: m\ndev-branch: main\n"
    config = SecurityConfig.parse(text)
    assert config.source_scan is None and config.images_key is None
    assert config.to_yaml() == text
    released = config.for_release(Version.parse("2.0.0"), [f"{PROD}/m:2.0.0"])
    assert data(released.to_yaml()) == {"module-name": "m", "rc-tag": "2.0.0", "dev-branch": "main"}
    assert "has no bdba list" in caplog.text
    built = SecurityConfig(module_name="m", protecode=(IMAGE,))
    assert built.to_yaml() == f"module-name: m\nprotecode:\n  - {IMAGE}\n"


def test_rc_tag_goes_after_kind_when_the_file_had_none() -> None:
    text = f"module-name: m\nkind: kyma\nbdba:\n  - {IMAGE}\n"
    released = SecurityConfig.parse(text).for_release(Version.parse("1.2.0"), [IMAGE])
    assert list(data(released.to_yaml())) == ["module-name", "kind", "rc-tag", "bdba"]


def test_write_is_idempotent(tmp_path: Path) -> None:
    path = tmp_path / "sec-scanners-config.yaml"
    config = SecurityConfig.parse(BTP_MANAGER)
    assert config.write(path) is True
    assert config.write(path) is False
    bumped = config.for_release(Version.parse("1.3.20"), RELEASE_IMAGES)
    assert bumped.write(path) is True
    assert SecurityConfig.load(path) == bumped
    assert bumped.write(path) is False


def test_digested_images_are_accepted_in_bdba_not_in_protecode() -> None:
    digested = f"{PROD}/btp-manager@sha256:" + "a" * 64
    assert SecurityConfig(module_name="m", bdba=(digested,)).images == (digested,)
    with pytest.raises(InvalidInput, match="must be <repository>:<tag>"):
        SecurityConfig(module_name="m", protecode=(digested,))
    with pytest.raises(InvalidInput, match="neither a tag nor a digest"):
        SecurityConfig(module_name="m", bdba=(f"{PROD}/btp-manager",))


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        (IMAGE, ("btp-manager", "1.2.0")),
        ("localhost:5000/btp-manager:dev", ("btp-manager", "dev")),
        ("busybox:1.36", ("busybox", "1.36")),
    ],
)
def test_image_name_and_tag(image: str, expected: tuple[str, str]) -> None:
    assert image_name_and_tag(image) == expected


@pytest.mark.parametrize(
    "image",
    [
        "europe-docker.pkg.dev/kyma-project/prod/btp-manager",
        "europe-docker.pkg.dev/kyma-project/prod/btp-manager@sha256:" + "a" * 64,
        "europe-docker.pkg.dev/kyma-project/prod/btp-manager:1.2.0@sha256:" + "a" * 64,
        "localhost:5000/btp-manager",
        "btp-manager:",
        "",
        "a.io/x:1 2",
    ],
)
def test_protecode_images_must_be_name_colon_tag(image: str) -> None:
    with pytest.raises(InvalidInput, match="must be <repository>:<tag>"):
        image_name_and_tag(image)
    with pytest.raises(InvalidInput):
        SecurityConfig(module_name="m", protecode=(image,))


def test_every_problem_is_reported_at_once() -> None:
    text = (
        "rc-tag: 1.2\nprotecode: [a.io/x]\nwhitesource:\n  subprojects: maybe\n  exclude: '**'\n"
        "bdba: [a.io/x:latest, 'Not An Image']\nkind: 3\n"
    )
    with pytest.raises(InvalidInput) as raised:
        SecurityConfig.parse(text, source="repo/sec-scanners-config.yaml")
    message = str(raised.value)
    assert "repo/sec-scanners-config.yaml: 8 problem(s)" in message
    for part in (
        "both protecode and bdba",
        "module-name is missing",
        "kind must be a string",
        "rc-tag must be a string",
        "bdba: 'Not An Image' is not a valid image reference",
        "protecode: image reference 'a.io/x' must be",
        "whitesource.subprojects must be true or false",
        "whitesource.exclude must be a list",
    ):
        assert part in message


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "expected a mapping"),
        ("- a\n- b\n", "expected a mapping"),
        ("module-name: [unclosed\n", "not valid YAML"),
        ("module-name: ''\n", "module-name must not be empty"),
        ("module-name: m\nbdba: a.io/x:1\n", "bdba must be a list of image references"),
        ("module-name: m\nmend: golang\n", "mend must be a mapping"),
        ("module-name: m\ncheckmarx-one: [go]\n", "checkmarx-one must be a mapping"),
    ],
)
def test_not_a_config(text: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=re.escape(message)) as raised:
        SecurityConfig.parse(text)
    assert "sec-scanners-config.yaml" in str(raised.value)


def test_load_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="cannot read"):
        SecurityConfig.load(tmp_path / "missing.yaml")
