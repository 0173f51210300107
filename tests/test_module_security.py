"""sec-scanners-config.yaml: parsing, image rules, deterministic and idempotent writing."""

from __future__ import annotations

from pathlib import Path

import pytest

from btp_release.errors import InvalidInput
from btp_release.module import SecurityConfig, WhiteSource, image_name_and_tag
from btp_release.version import Version
from tests.test_module_artifact import EXAMPLE

IMAGE = "europe-docker.pkg.dev/kyma-project/prod/btp-manager:1.2.0"


def test_parse_the_example() -> None:
    config = SecurityConfig.load(EXAMPLE / "sec-scanners-config.yaml")
    assert config == SecurityConfig(
        module_name="btp-operator",
        rc_tag="1.2.0",
        protecode=(IMAGE,),
        whitesource=WhiteSource(language="golang-mod", subprojects=False, exclude=("**/*_test.go",)),
    )
    assert config.to_yaml() == (EXAMPLE / "sec-scanners-config.yaml").read_text()


def test_round_trip_keeps_unknown_keys_in_order() -> None:
    text = (
        "module-name: m\ndev-branch: main\nprotecode:\n- a.io/m:1\n"
        "whitesource:\n  language: golang-mod\n  subprojects: 'false'\n  exclude: []\n"
        "checkmarx-one:\n  preset: go\n"
    )
    config = SecurityConfig.parse(text)
    assert config.dev_branch == "main"
    assert config.whitesource.subprojects is False  # the Kyma CLI wrote it as a string
    assert config.extra == {"checkmarx-one": {"preset": "go"}}
    again = SecurityConfig.parse(config.to_yaml())
    assert again == config
    assert config.to_yaml().splitlines()[-2:] == ["checkmarx-one:", "  preset: go"]


def test_write_is_idempotent(tmp_path: Path) -> None:
    path = tmp_path / "sec-scanners-config.yaml"
    config = SecurityConfig(module_name="btp-operator", protecode=(IMAGE,))
    assert config.write(path) is True
    assert config.write(path) is False
    bumped = config.for_release(
        Version.parse("1.3.0"), ["europe-docker.pkg.dev/kyma-project/prod/btp-manager:1.3.0"]
    )
    assert bumped.rc_tag == "1.3.0"
    assert bumped.write(path) is True
    assert SecurityConfig.load(path) == bumped
    assert config.for_release(Version.parse("1.3.0")).protecode == (IMAGE,)


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
def test_images_must_be_name_colon_tag(image: str) -> None:
    with pytest.raises(InvalidInput, match="must be <repository>:<tag>"):
        image_name_and_tag(image)
    with pytest.raises(InvalidInput):
        SecurityConfig(module_name="m", protecode=(image,))


def test_every_problem_is_reported_at_once() -> None:
    text = "rc-tag: 1.2\nprotecode: [a.io/x]\nwhitesource:\n  subprojects: maybe\n  exclude: '**'\n"
    with pytest.raises(InvalidInput) as raised:
        SecurityConfig.parse(text, source="repo/sec-scanners-config.yaml")
    message = str(raised.value)
    assert "repo/sec-scanners-config.yaml: 5 problem(s)" in message
    for part in ("module-name is missing", "rc-tag must be a string", "protecode:", "subprojects", "exclude"):
        assert part in message


@pytest.mark.parametrize("text", ["", "- a\n- b\n", "module-name: [unclosed\n"])
def test_not_a_config(text: str) -> None:
    with pytest.raises(InvalidInput, match=r"sec-scanners-config\.yaml"):
        SecurityConfig.parse(text)


def test_load_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="cannot read"):
        SecurityConfig.load(tmp_path / "missing.yaml")
