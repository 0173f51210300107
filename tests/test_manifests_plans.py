"""The plans of submit, promote and withdraw: every verdict, the changes, and the refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from btp_release.errors import Conflict, InvalidInput, NotFound
from btp_release.manifests.layout import ManifestsLayout, ManifestsModule
from btp_release.manifests.plans import (
    FileChange,
    ManifestsConflict,
    VersionNotSubmitted,
    WithdrawRefused,
    plan_promote,
    plan_submit,
    plan_withdraw,
)
from btp_release.manifests.submission import PublishedRelease, Submission, build_submission
from btp_release.module.moduleconfig import ModuleConfig
from btp_release.module.releasemeta import ChannelMapping
from btp_release.module.validate import ValidationFailed
from btp_release.version import Version

LAYOUT = ManifestsLayout()
MODULE = ManifestsModule("kyma-project.io/module/btp-operator", "kyma-project/btp-manager")
CONFIG_PATH = "modules/btp-operator/1.3.20/module-config.yaml"
MAPPING_PATH = "modules/btp-operator/module-releases.yaml"
MAPPING = b"channels:\n  - channel: regular\n    version: 1.3.19\n  - channel: fast\n    version: 1.3.19\n"
SOURCE = """\
name: kyma-project.io/module/btp-operator
version: 0.0.1
repository: https://github.com/kyma-project/btp-manager
documentation: https://kyma-project.io/docs/btp-operator
team: kyma/Gopher
manifest: manifests/btp-manager.yaml
icons:
  - name: module-icon
    link: https://example.org/icon.svg
"""


def submission(version: str = "1.3.20") -> Submission:
    config = ModuleConfig.parse(SOURCE, source="module-config.yaml", base_dir=Path("."))
    release = PublishedRelease(repo=MODULE.repo, version=version, manifest_asset="btp-manager.yaml")
    return build_submission(config, release)


# -- submit ----------------------------------------------------------------------------------------------


def test_submit_adds_the_file_when_the_repository_has_none() -> None:
    wanted = submission()
    plan = plan_submit(LAYOUT, wanted, None)
    assert (plan.action, plan.verdict, plan.branch) == ("submit", "change", "btp-operator-1.3.20")
    assert plan.changes == (FileChange(CONFIG_PATH, "add", wanted.data),)
    assert plan.message == f"add {CONFIG_PATH}"
    plan.raise_for_conflict()  # not a conflict: nothing raised


def test_submit_is_unchanged_when_the_same_file_is_there() -> None:
    wanted = submission()
    plan = plan_submit(LAYOUT, wanted, wanted.data, where="main")
    assert (plan.verdict, plan.changes) == ("unchanged", ())
    assert plan.message == (
        f"btp-operator 1.3.20 is already submitted: {CONFIG_PATH} on main is what this release submits"
    )


def test_submit_is_unchanged_for_the_same_yaml_in_other_formatting() -> None:
    wanted = submission()
    reformatted = wanted.data.replace(
        b"  - name: module-icon\n    link:", b"- {name: module-icon, link:"
    ).replace(b".svg\n", b".svg}\n")
    assert reformatted != wanted.data
    plan = plan_submit(LAYOUT, wanted, reformatted)
    assert plan.verdict == "unchanged"
    assert plan.message.endswith("(the same YAML, formatted differently)")


def test_submit_conflicts_with_other_content_and_shows_the_diff() -> None:
    wanted = submission()
    merged = wanted.data.replace(b"team: kyma/Gopher", b"team: kyma/Jellyfish")
    plan = plan_submit(LAYOUT, wanted, merged, where="main")
    assert (plan.verdict, plan.changes) == ("conflict", ())
    assert plan.message.startswith(f"{CONFIG_PATH} on main differs from what release 1.3.20 submits:\n")
    assert f"--- {CONFIG_PATH} (main)\n+++ {CONFIG_PATH} (this release)\n" in plan.message
    assert "\n-team: kyma/Jellyfish\n+team: kyma/Gopher\n" in plan.message
    with pytest.raises(ManifestsConflict) as info:
        plan.raise_for_conflict()
    assert isinstance(info.value, Conflict) and info.value.exit_code == 4
    assert "btp-release withdraw --version 1.3.20" in (info.value.hint or "")


def test_submit_conflicts_with_a_file_that_is_not_yaml() -> None:
    plan = plan_submit(LAYOUT, submission(), b"name: [unclosed\n")
    assert plan.verdict == "conflict"
    assert "-name: [unclosed\n" in plan.message


# -- promote ---------------------------------------------------------------------------------------------


def test_promote_updates_the_channel_and_keeps_the_others() -> None:
    plan = plan_promote(LAYOUT, MODULE, "1.3.20", "fast", current=MAPPING, submitted=["1.3.19", "1.3.20"])
    assert (plan.verdict, plan.branch, plan.channel) == ("change", "btp-operator-1.3.20-fast", "fast")
    assert plan.previous == Version.parse("1.3.19")
    (change,) = plan.changes
    assert (change.path, change.kind) == (MAPPING_PATH, "update")
    assert ChannelMapping.parse(change.content or b"") == ChannelMapping.of(
        {"regular": "1.3.19", "fast": "1.3.20"}
    )
    assert plan.message == f"update {MAPPING_PATH}: fast 1.3.19 -> 1.3.20"
    assert plan.release_meta is not None
    assert plan.release_meta["spec"]["channels"] == [
        {"channel": "regular", "version": "1.3.19"},
        {"channel": "fast", "version": "1.3.20"},
    ]


def test_promote_creates_the_mapping_with_every_default_channel() -> None:
    plan = plan_promote(LAYOUT, MODULE, "1.3.20", "fast", current=None, submitted=["1.3.20"])
    (change,) = plan.changes
    assert (change.kind, change.content) == (
        "add",
        b"channels:\n  - channel: regular\n    version: 1.3.20\n  - channel: fast\n    version: 1.3.20\n",
    )
    assert plan.previous is None
    experimental = plan_promote(LAYOUT, MODULE, "1.3.20", "experimental", current=None, submitted=["1.3.20"])
    assert experimental.mapping is not None
    assert [e.channel for e in experimental.mapping.channels] == ["regular", "fast", "experimental"]


def test_promote_appends_a_channel_the_mapping_lacks() -> None:
    plan = plan_promote(LAYOUT, MODULE, "1.3.20", "experimental", current=MAPPING, submitted=["1.3.20"])
    assert plan.message == f"update {MAPPING_PATH}: experimental (not listed) -> 1.3.20"


def test_promote_is_unchanged_when_the_channel_has_the_version() -> None:
    plan = plan_promote(
        LAYOUT, MODULE, "1.3.19", "regular", current=MAPPING, submitted=["1.3.19"], where="main"
    )
    assert (plan.verdict, plan.changes) == ("unchanged", ())
    assert plan.message == f"regular already gets 1.3.19 in {MAPPING_PATH} on main"


def test_promote_to_a_lower_version_is_a_conflict_unless_allowed() -> None:
    plan = plan_promote(LAYOUT, MODULE, "1.3.18", "fast", current=MAPPING, submitted=["1.3.18"], where="main")
    assert (plan.verdict, plan.changes) == ("conflict", ())
    assert plan.message.startswith(
        f"{MAPPING_PATH} on main: fast has 1.3.19; promoting 1.3.18 would move it to a lower version:\n"
    )
    assert "-    version: 1.3.19\n+    version: 1.3.18\n" in plan.message
    with pytest.raises(ManifestsConflict, match="lower version"):
        plan.raise_for_conflict()
    allowed = plan_promote(
        LAYOUT, MODULE, "1.3.18", "fast", current=MAPPING, submitted=["1.3.18"], allow_downgrade=True
    )
    assert allowed.verdict == "change"


def test_a_release_after_its_pre_release_is_no_downgrade_and_back_is_none_either() -> None:
    # lifecycle-manager compares MAJOR.MINOR.PATCH only
    rc = b"channels:\n  - channel: fast\n    version: 1.3.20-rc1\n"
    assert (
        plan_promote(LAYOUT, MODULE, "1.3.20", "fast", current=rc, submitted=["1.3.20"]).verdict == "change"
    )
    final = b"channels:\n  - channel: fast\n    version: 1.3.20\n"
    back = plan_promote(LAYOUT, MODULE, "1.3.20-rc1", "fast", current=final, submitted=["1.3.20-rc1"])
    assert back.verdict == "change"


def test_promote_refuses_a_version_the_repository_does_not_hold() -> None:
    with pytest.raises(VersionNotSubmitted) as info:
        plan_promote(
            LAYOUT, MODULE, "1.3.21", "fast", current=MAPPING, submitted=["1.3.19", "1.3.20"], where="main"
        )
    assert isinstance(info.value, NotFound) and info.value.exit_code == 3
    assert info.value.message == (
        "cannot promote btp-operator 1.3.21 to fast: "
        "modules/btp-operator/1.3.21/module-config.yaml is not on main"
    )
    assert (
        info.value.hint == "submit it first (btp-release submit --version 1.3.21) and merge that pull request"
    )


@pytest.mark.parametrize(
    ("version", "channel", "problem"),
    [
        ("1.3.20", "Fast", "channel 'Fast' is not valid"),
        ("1.3.20", "ab", "channel 'ab' is not valid"),
        ("1.3.20-rc.1", "fast", "a ModuleReleaseMeta channel takes only X.Y.Z or X.Y.Z-<one pre-release"),
    ],
)
def test_promote_refuses_what_a_module_release_meta_cannot_hold(
    version: str, channel: str, problem: str
) -> None:
    with pytest.raises(ValidationFailed, match=problem):
        plan_promote(LAYOUT, MODULE, version, channel, current=MAPPING, submitted=[version])


def test_promote_refuses_an_invalid_mapping_file_naming_it() -> None:
    with pytest.raises(ValidationFailed) as info:
        plan_promote(
            LAYOUT, MODULE, "1.3.20", "fast", current=b"channels: []\n", submitted=["1.3.20"], where="main"
        )
    assert f"{MAPPING_PATH} (main)" in str(info.value)


def test_promote_validates_the_module_release_meta_name() -> None:
    short = ManifestsModule("kyma-project.io/module/ab", "kyma-project/ab")  # lifecycle-manager: >= 3 letters
    with pytest.raises(ValidationFailed, match="module name 'ab' is not valid"):
        plan_promote(LAYOUT, short, "1.3.20", "fast", current=None, submitted=["1.3.20"])


# -- withdraw --------------------------------------------------------------------------------------------


def test_withdraw_deletes_every_file_of_the_version_directory() -> None:
    files = [CONFIG_PATH, "modules/btp-operator/1.3.20/notes.md", CONFIG_PATH]
    plan = plan_withdraw(LAYOUT, MODULE, "1.3.20", files=files, mapping=MAPPING)
    assert (plan.verdict, plan.branch) == ("change", "btp-operator-module-removal-1.3.20")
    assert plan.changes == (
        FileChange(CONFIG_PATH, "delete"),
        FileChange("modules/btp-operator/1.3.20/notes.md", "delete"),
    )
    assert plan.message == "delete modules/btp-operator/1.3.20/ (2 files)"
    assert plan.mapping == ChannelMapping.parse(MAPPING)


def test_withdraw_is_unchanged_when_the_version_is_gone() -> None:
    plan = plan_withdraw(LAYOUT, MODULE, "1.3.20", files=[], mapping=None, where="main")
    assert (plan.verdict, plan.changes) == ("unchanged", ())
    assert (
        plan.message
        == "btp-operator 1.3.20 is not in the repository: no files in modules/btp-operator/1.3.20/ on main"
    )


def test_withdraw_is_refused_while_a_channel_points_at_the_version() -> None:
    mapping = (
        b"channels:\n  - channel: regular\n    version: 1.3.19\n  - channel: fast\n    version: 1.3.20\n"
    )
    with pytest.raises(WithdrawRefused) as info:
        plan_withdraw(
            LAYOUT,
            MODULE,
            "1.3.20",
            files=[CONFIG_PATH],
            mapping=mapping,
            submitted=["1.3.18", "1.3.19", "1.3.20"],
        )
    error = info.value
    assert isinstance(error, Conflict) and error.exit_code == 4
    assert error.channels == ("fast",)
    assert error.message == (
        f"cannot withdraw btp-operator 1.3.20: channel fast still points at it in {MAPPING_PATH} "
        "on the base branch"
    )
    assert error.hint == (
        "promote another version to fast first and merge that pull request: "
        "btp-release promote --version 1.3.19 --channel fast --allow-downgrade"
    )


def test_withdraw_refusal_names_every_channel_and_a_placeholder_without_another_version() -> None:
    both = b"channels:\n  - channel: regular\n    version: 1.3.20\n  - channel: fast\n    version: 1.3.20\n"
    with pytest.raises(WithdrawRefused) as info:
        plan_withdraw(LAYOUT, MODULE, "1.3.20", files=[CONFIG_PATH], mapping=both, submitted=["1.3.20"])
    assert info.value.channels == ("regular", "fast")
    assert "channels regular, fast still point at it" in info.value.message
    assert info.value.hint is not None and info.value.hint.endswith(
        "btp-release promote --version VERSION --channel regular; "
        "btp-release promote --version VERSION --channel fast"
    )


def test_withdraw_refuses_files_outside_the_version_directory() -> None:
    with pytest.raises(
        InvalidInput, match=r"modules/btp-operator/1\.3\.2/x not in modules/btp-operator/1\.3\.20/"
    ):
        plan_withdraw(LAYOUT, MODULE, "1.3.20", files=["modules/btp-operator/1.3.2/x"], mapping=None)


def test_a_file_change_carries_content_exactly_when_it_writes() -> None:
    with pytest.raises(InvalidInput):
        FileChange("a", "delete", b"x")
    with pytest.raises(InvalidInput):
        FileChange("a", "add")
