"""ModuleReleaseMeta: the channel mapping (``module-releases.yaml``), the rendered and validated
ModuleReleaseMeta, the ``btp-release release-meta`` command, the docs' example."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from btp_release.cli import main
from btp_release.errors import InvalidInput
from btp_release.module import (
    ChannelMapping,
    ValidationFailed,
    release_meta_yaml,
    render_release_meta,
    validate_object,
    validate_release_meta,
)
from btp_release.module.releasemeta import (
    CRD_FILE,
    EXACTLY_ONE,
    ChannelVersion,
    release_meta_crd,
    short_name,
)
from btp_release.version import Version

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
SHARED_CRD = SHARED / "schemas" / CRD_FILE
SPEC_NOTE = SHARED / "spec" / "kyma-today.md"
BUNDLED_CRD = ROOT / "btp_release" / "module" / "crds" / CRD_FILE
needs_shared = pytest.mark.skipif(
    not SHARED_CRD.is_file(), reason=f"{SHARED_CRD} is absent (the shared reference data is not checked out)"
)

COMPONENT = "kyma-project.io/module/btp-operator"
MAPPING_TEXT = """\
channels:
  - channel: regular
    version: 1.3.19
  - channel: fast
    version: 1.3.20
"""
# kyma-today.md section 4's example, transcribed field by field.
EXPECTED: dict[str, Any] = {
    "apiVersion": "operator.kyma-project.io/v1beta2",
    "kind": "ModuleReleaseMeta",
    "metadata": {"name": "btp-operator", "namespace": "kcp-system"},
    "spec": {
        "moduleName": "btp-operator",
        "ocmComponentName": "kyma-project.io/module/btp-operator",
        "channels": [{"channel": "regular", "version": "1.3.19"}, {"channel": "fast", "version": "1.3.20"}],
    },
}


def _problems(exc: pytest.ExceptionInfo[ValidationFailed]) -> list[str]:
    return [str(p) for p in exc.value.problems]


# -- the channel mapping ------------------------------------------------------------------------------------


def test_mapping_parses_the_catalog_format_and_writes_it_back_unchanged() -> None:
    mapping = ChannelMapping.parse(MAPPING_TEXT)
    assert mapping.channels == (
        ChannelVersion("regular", Version.parse("1.3.19")),
        ChannelVersion("fast", Version.parse("1.3.20")),
    )
    assert mapping.version("fast") == Version.parse("1.3.20")
    assert mapping.version("experimental") is None
    assert mapping.to_yaml() == MAPPING_TEXT
    assert mapping.to_json() == EXPECTED["spec"]["channels"]
    # the file's order is kept, whatever it is
    reordered = ChannelMapping.parse(
        "channels:\n- {version: 2.0.0, channel: fast}\n- {channel: regular, version: 1.0.0}"
    )
    assert [e.channel for e in reordered.channels] == ["fast", "regular"]
    assert reordered.to_yaml().splitlines()[1] == "  - channel: fast"


def test_mapping_load_reads_a_file_and_names_it(tmp_path: Path) -> None:
    path = tmp_path / "module-releases.yaml"
    path.write_text(MAPPING_TEXT)
    assert ChannelMapping.load(path) == ChannelMapping.parse(MAPPING_TEXT)
    path.write_text("channels:\n  - channel: fast\n    version: v1.0.0\n")
    with pytest.raises(ValidationFailed) as exc:
        ChannelMapping.load(path)
    assert _problems(exc) == [
        f"{path} .channels[0].version: invalid release version 'v1.0.0': drop the leading 'v': the release "
        "version is '1.0.0'; 'v' is added for the module tag"
    ]
    with pytest.raises(InvalidInput, match=r"cannot read the channel mapping .*missing\.yaml"):
        ChannelMapping.load(tmp_path / "missing.yaml")


def test_names_that_yaml_would_read_as_booleans_are_quoted() -> None:
    mapping = ChannelMapping.of({"yes": "1.0.0", "null": "1.0.0-rc1"})
    assert '  - channel: "yes"' in mapping.to_yaml()
    assert ChannelMapping.parse(mapping.to_yaml()) == mapping


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ["m.yaml: expected a mapping with the key channels, got an empty file"]),
        ("- a\n", ["m.yaml: expected a mapping with the key channels, got list ['a']"]),
        ("channels: [\n", ["m.yaml: not valid YAML"]),
        (
            "channels: []\n",
            ["m.yaml .channels: expected a list of {channel, version} entries, got an empty list"],
        ),
        ("other: 1\n", ["m.yaml: unknown key(s) other", "m.yaml .channels: expected a list"]),
        (
            "channels: fast\n",
            ["m.yaml .channels: expected a list of {channel, version} entries, got str 'fast'"],
        ),
        ("channels: [fast]\n", ["m.yaml .channels[0]: expected {channel, version}, got str 'fast'"]),
        ("channels: [{channel: fast}]\n", ["m.yaml .channels[0]: missing version"]),
        ("channels: [{version: 1.0.0}]\n", ["m.yaml .channels[0]: missing channel"]),
        (
            "channels: [{channel: fast, version: 1.0.0, mandatory: true}]\n",
            ["m.yaml .channels[0]: unknown key(s) mandatory: an entry has channel and version"],
        ),
        (
            "channels: [{channel: Fast, version: 1.0.0}]\n",
            ["m.yaml .channels[0].channel: channel 'Fast' is not"],
        ),
        ("channels: [{channel: ab, version: 1.0.0}]\n", ["m.yaml .channels[0].channel: channel 'ab' is not"]),
        (
            f"channels: [{{channel: {'a' * 33}, version: 1.0.0}}]\n",
            ["m.yaml .channels[0].channel: channel 'aaa"],
        ),
        ("channels: [{channel: fast-lane, version: 1.0.0}]\n", [".channels[0].channel: channel 'fast-lane'"]),
        (
            "channels: [{channel: 7, version: 1.0.0}]\n",
            [".channels[0].channel: channel must be a string, got int"],
        ),
        (
            "channels: [{channel: fast, version: 1.0}]\n",
            [".channels[0].version: version 1.0 is a number to YAML"],
        ),
        ("channels: [{channel: fast, version: 1.2}]\n", [".channels[0].version: version 1.2 is a number"]),
        ("channels: [{channel: fast, version: v1.2.3}]\n", [".channels[0].version: invalid release version"]),
        (
            "channels: [{channel: fast, version: 1.2.3+b1}]\n",
            [".channels[0].version: invalid release version"],
        ),
        ("channels: [{channel: fast, version: 01.2.3}]\n", [".channels[0].version: invalid release version"]),
        ("channels: [{channel: fast, version: ''}]\n", [".channels[0].version: invalid release version"]),
        (
            "channels: [{channel: fast, version: 1.3.0-rc.1}]\n",
            [".channels[0].version: version '1.3.0-rc.1' is SemVer, but a ModuleReleaseMeta channel takes"],
        ),
        (
            f"channels: [{{channel: fast, version: 1.2.3-{'a' * 30}}}]\n",
            [
                ".channels[0].version: version '1.2.3-aaa",
                "is 36 characters long; lifecycle-manager allows 32",
            ],
        ),
        (
            "channels: [{channel: fast, version: 1.0.0}, {channel: fast, version: 1.0.1}]\n",
            ["m.yaml .channels[1].channel: channel 'fast' is listed twice (entries 0 and 1)"],
        ),
    ],
)
def test_each_invalid_mapping_is_refused_naming_file_and_entry(text: str, expected: list[str]) -> None:
    with pytest.raises(ValidationFailed) as exc:
        ChannelMapping.parse(text, file="m.yaml")
    assert exc.value.exit_code == 2
    message = str(exc.value)
    assert message.startswith("channel mapping m.yaml: ")
    for part in expected:
        assert part in message, message


def test_every_problem_of_a_mapping_is_listed_at_once() -> None:
    text = """\
channels:
  - channel: regular
    version: 1.3.19
  - channel: Fast
    version: 1.0
  - 3
  - channel: regular
    version: 1.3.0-rc.1
unknown: true
"""
    with pytest.raises(ValidationFailed) as exc:
        ChannelMapping.parse(text, file="modules/btp-operator/module-releases.yaml")
    assert [p.path for p in exc.value.problems] == [
        "",
        ".channels[1].channel",
        ".channels[1].version",
        ".channels[2]",
        ".channels[3].channel",
        ".channels[3].version",
    ]
    assert all(p.file == "modules/btp-operator/module-releases.yaml" for p in exc.value.problems)


def test_constructing_a_mapping_directly_validates_it_too() -> None:
    with pytest.raises(ValidationFailed, match="lists no channels"):
        ChannelMapping(())
    entry = ChannelVersion("fast", Version.parse("1.0.0"))
    with pytest.raises(ValidationFailed, match="listed twice"):
        ChannelMapping((entry, entry))
    with pytest.raises(ValidationFailed, match="is SemVer, but"):
        ChannelMapping((ChannelVersion("fast", Version.parse("1.0.0-rc.1")),))
    with pytest.raises(ValidationFailed) as exc:
        ChannelMapping.of(
            [("Fast", "1"), ("fast", Version.parse("1.0.0")), ("fast", "1.0.0")], file="--channel"
        )
    assert [p.path for p in exc.value.problems] == [
        ".channels[0].channel",
        ".channels[0].version",
        ".channels[2].channel",
    ]


# -- with_channel: what btp-manager's update_channel_mapping.sh does ---------------------------------------


def test_with_channel_updates_the_matching_entry_in_place() -> None:
    mapping = ChannelMapping.parse(MAPPING_TEXT, file="m.yaml")
    promoted = mapping.with_channel("regular", "1.3.20")
    assert promoted.to_yaml() == MAPPING_TEXT.replace("1.3.19", "1.3.20")
    assert promoted.file == "m.yaml"
    assert mapping.version("regular") == Version.parse("1.3.19"), "the mapping is immutable"
    assert mapping.with_channel("fast", Version.parse("1.3.20")) == mapping


def test_with_channel_appends_a_new_channel() -> None:
    mapping = ChannelMapping.parse(MAPPING_TEXT).with_channel("experimental", "1.4.0-beta")
    assert [(e.channel, str(e.version)) for e in mapping.channels] == [
        ("regular", "1.3.19"),
        ("fast", "1.3.20"),
        ("experimental", "1.4.0-beta"),
    ]


def test_with_channel_refuses_bad_values_naming_the_file() -> None:
    mapping = ChannelMapping.parse(MAPPING_TEXT, file="m.yaml")
    with pytest.raises(ValidationFailed) as exc:
        mapping.with_channel("Fast", "1.4")
    assert _problems(exc)[0].startswith("m.yaml .channels[2].channel: channel 'Fast' is not valid")
    assert len(exc.value.problems) == 2


def test_a_missing_file_starts_with_both_channels_at_the_version() -> None:
    # update_channel_mapping.sh: no file → regular and fast both get the tag, whichever channel was asked
    initial = ChannelMapping.initial("1.0.0")
    assert (
        initial.to_yaml()
        == "channels:\n  - channel: regular\n    version: 1.0.0\n  - channel: fast\n    version: 1.0.0\n"
    )
    assert initial.with_channel("fast", "1.0.0") == initial
    # then the script's own test sequence (scripts/update_channel_mapping_test.sh, with SemVer versions)
    step = initial.with_channel("fast", "1.1.0")
    assert (
        step.to_yaml()
        == "channels:\n  - channel: regular\n    version: 1.0.0\n  - channel: fast\n    version: 1.1.0\n"
    )
    step = step.with_channel("regular", "1.1.0")
    assert (
        step.to_yaml()
        == "channels:\n  - channel: regular\n    version: 1.1.0\n  - channel: fast\n    version: 1.1.0\n"
    )
    assert ChannelMapping.initial("2.0.0", channels=["fast"]).to_json() == [
        {"channel": "fast", "version": "2.0.0"}
    ]
    with pytest.raises(ValidationFailed, match=r"invalid release version 'v1\.0\.0'"):
        ChannelMapping.initial("v1.0.0")


# -- the rendered ModuleReleaseMeta -------------------------------------------------------------------------


def test_rendered_release_meta_equals_the_spec_example_field_by_field() -> None:
    rendered = render_release_meta("btp-operator", COMPONENT, ChannelMapping.parse(MAPPING_TEXT))
    assert rendered == EXPECTED
    assert list(rendered) == ["apiVersion", "kind", "metadata", "spec"]
    assert list(rendered["spec"]) == ["moduleName", "ocmComponentName", "channels"]
    assert validate_release_meta(rendered) == []
    assert yaml.safe_load(release_meta_yaml(rendered)) == rendered
    assert release_meta_yaml(rendered) == release_meta_yaml(copy.deepcopy(rendered)), "deterministic"


@pytest.mark.skipif(not SPEC_NOTE.is_file(), reason=f"{SPEC_NOTE} is absent")
def test_the_transcribed_example_is_the_spec_notes() -> None:
    section = SPEC_NOTE.read_text().split("## 4. ModuleReleaseMeta", 1)[1]
    (block,) = re.findall(r"```yaml\n(.*?)```", section.split("\n## ", 1)[0], flags=re.DOTALL)
    assert yaml.safe_load(block) == EXPECTED


@needs_shared
def test_rendered_release_meta_validates_against_the_shared_crd() -> None:
    crd = yaml.safe_load(SHARED_CRD.read_text())
    rendered = render_release_meta("btp-operator", COMPONENT, ChannelMapping.parse(MAPPING_TEXT))
    assert validate_object(rendered, crd, file="mrm.yaml") == []
    mandatory = render_release_meta("btp-operator", COMPONENT, mandatory="1.2.0")
    assert validate_object(mandatory, crd, file="mrm.yaml") == []


@needs_shared
def test_the_bundled_crd_is_the_shared_copy() -> None:
    assert BUNDLED_CRD.read_bytes() == SHARED_CRD.read_bytes()


def test_the_bundled_crd_is_read_from_the_package_and_has_the_rule_checked_here() -> None:
    crd = release_meta_crd()
    assert crd["spec"]["names"]["kind"] == "ModuleReleaseMeta"
    assert [(v["name"], v["served"], v["storage"]) for v in crd["spec"]["versions"]] == [
        ("v1beta2", True, True)
    ]
    spec_schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    # The only CEL rule; JSON Schema cannot say it, validate_release_meta checks it. A new rule in an updated
    # CRD must be implemented there before this test is changed.
    assert spec_schema["x-kubernetes-validations"] == [
        {
            "message": EXACTLY_ONE,
            "rule": "(has(self.mandatory) && !has(self.channels)) || "
            "(!has(self.mandatory) && has(self.channels))",
        }
    ]
    assert spec_schema["properties"]["moduleName"]["pattern"] == "^([a-z]{3,}(-[a-z]{3,})*)?$"


def test_beta_internal_and_namespace_options() -> None:
    mapping = ChannelMapping.parse(MAPPING_TEXT)
    rendered = render_release_meta(
        "btp-operator", COMPONENT, mapping, namespace="kyma-system", beta=True, internal=True
    )
    assert rendered["metadata"] == {"name": "btp-operator", "namespace": "kyma-system"}
    assert rendered["spec"]["beta"] is True and rendered["spec"]["internal"] is True
    assert validate_release_meta(rendered) == []


def test_mandatory_variant() -> None:
    rendered = render_release_meta("btp-operator", COMPONENT, mandatory=Version.parse("1.2.0"))
    assert rendered["spec"] == {
        "moduleName": "btp-operator",
        "ocmComponentName": COMPONENT,
        "mandatory": {"version": "1.2.0"},
    }
    assert "channels" not in rendered["spec"]
    assert validate_release_meta(rendered) == []
    with pytest.raises(ValidationFailed) as exc:
        render_release_meta("btp-operator", COMPONENT, mandatory="v1.2")
    assert _problems(exc) == [
        "ModuleReleaseMeta btp-operator .spec.mandatory.version: invalid release version 'v1.2': "
        "expected MAJOR.MINOR.PATCH (three numbers), got 2 part(s)"
    ]


@pytest.mark.parametrize(
    ("mapping", "mandatory", "which"),
    [(None, None, "neither is"), (ChannelMapping.parse(MAPPING_TEXT), "1.2.0", "both are")],
)
def test_exactly_one_of_channels_and_mandatory(
    mapping: ChannelMapping | None, mandatory: str | None, which: str
) -> None:
    with pytest.raises(ValidationFailed) as exc:
        render_release_meta("btp-operator", COMPONENT, mapping, mandatory=mandatory)
    assert _problems(exc) == [f"ModuleReleaseMeta btp-operator .spec: {EXACTLY_ONE} ({which})"]


@pytest.mark.parametrize(
    ("module_name", "component", "message"),
    [
        ("btp_operator", "kyma-project.io/module/btp_operator", "module name 'btp_operator' is not valid"),
        ("ab", "kyma-project.io/module/ab", "module name 'ab' is not valid"),
        ("btp-op", "kyma-project.io/module/btp-op", "module name 'btp-op' is not valid"),
        ("Keda", "kyma-project.io/module/keda", "module name 'Keda' is not valid"),
        ("nats2", "kyma-project.io/module/nats2", "module name 'nats2' is not valid"),
        ("-".join(["abc"] * 17), "kyma-project.io/module/" + "-".join(["abc"] * 17), "at most 64 characters"),
        ("", "kyma-project.io/module/btp-operator", "missing the module name"),
        (
            "btp-operator",
            "kyma-project.io/module/btp-manager",
            "is not the last element of the OCM component",
        ),
        ("btp-operator", "btp-operator", "OCM component name 'btp-operator' is not valid"),
        ("btp-operator", "Kyma-Project.io/module/btp-operator", "OCM component name 'Kyma-Project.io/"),
        ("btp-operator", "kyma-project.io/" + "a" * 250 + "/btp-operator", "at most 255 characters"),
    ],
)
def test_bad_module_names_are_refused(module_name: str, component: str, message: str) -> None:
    with pytest.raises(ValidationFailed) as exc:
        render_release_meta(module_name, component, ChannelMapping.parse(MAPPING_TEXT))
    assert exc.value.exit_code == 2
    assert message in str(exc.value)
    # one problem per field: the CRD's own pattern error is not repeated
    assert len({p.path for p in exc.value.problems}) == len(exc.value.problems)


def test_all_problems_of_a_release_meta_are_listed_at_once() -> None:
    with pytest.raises(ValidationFailed) as exc:
        render_release_meta("ab", "Kyma/x", None, namespace="Bad_NS")
    assert [p.path for p in exc.value.problems] == [
        ".spec.moduleName",
        ".metadata.namespace",
        ".spec.ocmComponentName",
        ".spec",
    ]


def test_validate_release_meta_checks_an_existing_object() -> None:
    good = copy.deepcopy(EXPECTED)
    assert validate_release_meta(good, file="mrm.yaml") == []
    bad = copy.deepcopy(EXPECTED)
    bad["kind"] = "ModuleTemplate"
    bad["metadata"]["name"] = "btp-manager"
    bad["spec"]["channel"] = "fast"  # not a field: the API server would drop it
    bad["spec"]["channels"].append({"channel": "fast", "version": "1.3.21"})
    assert [str(p) for p in validate_release_meta(bad, file="mrm.yaml")] == [
        "mrm.yaml .kind: kind is 'ModuleTemplate', expected ModuleReleaseMeta",
        "mrm.yaml .metadata.name: metadata.name 'btp-manager' differs from spec.moduleName 'btp-operator': "
        "lifecycle-manager looks the ModuleReleaseMeta up by the module's name",
        "mrm.yaml .spec.channels[2].channel: channel 'fast' is listed twice (entries 1 and 2)",
        "mrm.yaml .spec: unknown field(s) channel: not in the CRD schema (the API server drops them)",
    ]
    old = copy.deepcopy(EXPECTED)
    old["apiVersion"] = "operator.kyma-project.io/v1beta1"
    assert [p.message for p in validate_release_meta(old)] == [
        "modulereleasemetas.operator.kyma-project.io has no version 'v1beta1' (has ['v1beta2'])"
    ]
    malformed = copy.deepcopy(EXPECTED)
    malformed["spec"]["channels"] = [{"channel": "fast"}]
    assert [(p.path, p.message) for p in validate_release_meta(malformed)] == [
        (".spec.channels[0]", "'version' is a required property")
    ]


def test_short_name_is_the_last_path_element() -> None:
    assert short_name(COMPONENT) == "btp-operator"
    assert short_name("kyma-project.io/module/template-operator/") == "template-operator"
    assert short_name("keda") == "keda"


# -- the command line ---------------------------------------------------------------------------------------


@pytest.fixture
def mapping_file(tmp_path: Path) -> Path:
    path = tmp_path / "modules" / "btp-operator" / "module-releases.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(MAPPING_TEXT)
    return path


def test_cli_writes_the_file(mapping_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "module-release-meta.yaml"
    code = main(
        ["release-meta", "--module-name", COMPONENT, "--mapping", str(mapping_file), "--out", str(out)]
    )
    assert code == 0
    assert out.read_text() == release_meta_yaml(EXPECTED)
    assert yaml.safe_load(out.read_text()) == EXPECTED
    captured = capsys.readouterr()
    assert captured.out == f"wrote ModuleReleaseMeta btp-operator (regular=1.3.19, fast=1.3.20) to {out}\n"
    assert captured.err == ""


def test_cli_prints_yaml_on_stdout_by_default(mapping_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["release-meta", "--module-name", COMPONENT, "--mapping", str(mapping_file)]) == 0
    assert yaml.safe_load(capsys.readouterr().out) == EXPECTED


def test_cli_json(mapping_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["release-meta", "--module-name", COMPONENT, "--mapping", str(mapping_file), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == EXPECTED
    out = tmp_path / "mrm.json"
    args = [
        "release-meta",
        "--module-name",
        COMPONENT,
        "--mapping",
        str(mapping_file),
        "--json",
        "--out",
        str(out),
    ]
    assert main(args) == 0
    assert json.loads(out.read_text()) == EXPECTED


def test_cli_channels_alone_on_top_of_a_mapping_and_mandatory(
    mapping_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["release-meta", "--module-name", COMPONENT, "--json"]
    assert main([*args, "--channel", "regular=1.3.19", "--channel", "fast=1.3.20"]) == 0
    assert json.loads(capsys.readouterr().out) == EXPECTED
    assert (
        main(
            [*args, "--mapping", str(mapping_file), "--channel", "fast=1.4.0", "--channel", "dev=2.0.0-alpha"]
        )
        == 0
    )
    assert json.loads(capsys.readouterr().out)["spec"]["channels"] == [
        {"channel": "regular", "version": "1.3.19"},
        {"channel": "fast", "version": "1.4.0"},
        {"channel": "dev", "version": "2.0.0-alpha"},
    ]
    assert mapping_file.read_text() == MAPPING_TEXT, "the mapping file is only read"
    assert main([*args, "--mandatory", "1.2.0", "--namespace", "kyma-system"]) == 0
    rendered = json.loads(capsys.readouterr().out)
    assert rendered["metadata"]["namespace"] == "kyma-system"
    assert rendered["spec"]["mandatory"] == {"version": "1.2.0"}


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--channel", "Fast=1.0"], "error: channel mapping --channel: 2 problem(s)"),
        (["--channel", "fast"], "error: invalid --channel 'fast' — NAME=VERSION"),
        (["--channel", "fast=1.0.0", "--channel", "fast=1.0.1"], "channel 'fast' is listed twice"),
        (
            ["--mapping", "/nonexistent/module-releases.yaml"],
            "error: cannot read /nonexistent/module-releases.yaml",
        ),
        ([], "error: no channels given"),
        (["--mandatory", "1.0.0", "--channel", "fast=1.0.0"], "error: --mandatory cannot be combined"),
        (["--channel", "fast=1.0.0", "--namespace", "Kcp_System"], "namespace 'Kcp_System' is not a valid"),
        (
            ["--channel", "fast=1.0.0", "--out", "/nonexistent/dir/mrm.yaml"],
            "error: cannot write /nonexistent/dir",
        ),
    ],
)
def test_cli_bad_input_exits_2_without_traceback(
    extra: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["release-meta", "--module-name", COMPONENT, *extra]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("error: ")
    assert message in captured.err
    assert "Traceback" not in captured.err + captured.out
    assert captured.out == ""


def test_cli_bad_module_name_and_bad_mapping_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(
            [
                "release-meta",
                "--module-name",
                "kyma-project.io/module/btp_operator",
                "--channel",
                "fast=1.0.0",
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert "module name 'btp_operator' is not valid" in err and "Traceback" not in err
    bad = tmp_path / "module-releases.yaml"
    bad.write_text("channels:\n  - channel: fast\n    version: 1.0\n")
    assert main(["release-meta", "--module-name", COMPONENT, "--mapping", str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"{bad} .channels[0].version: version 1.0 is a number to YAML" in err and "Traceback" not in err


# -- the docs -----------------------------------------------------------------------------------------------


def test_docs_section_example_runs(capsys: pytest.CaptureFixture[str]) -> None:
    text = (ROOT / "docs" / "module.md").read_text()
    assert "\n## ModuleReleaseMeta\n" in text, "docs/module.md lost its ModuleReleaseMeta section"
    section = text.split("\n## ModuleReleaseMeta\n", 1)[1].split("\n## ", 1)[0]
    (block,) = re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)
    exec(compile(block, "docs/module.md", "exec"), {})  # noqa: S102 - our own documentation
    out = capsys.readouterr().out
    mapping_text, release_meta_text = out.split("\n\n", 1)
    assert mapping_text + "\n" == MAPPING_TEXT
    assert yaml.safe_load(release_meta_text) == EXPECTED
    (command,) = re.findall(r"```sh\n(.*?)```", section, flags=re.DOTALL)
    assert "btp-release release-meta --module-name kyma-project.io/module/btp-operator" in command
