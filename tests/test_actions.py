"""GitHub Actions workflow commands: inert outside Actions, injection-safe inside."""

from __future__ import annotations

import io
import logging
import secrets
from pathlib import Path

import pytest

from btp_release.actions import Actions
from btp_release.errors import InvalidInput
from btp_release.secret import Secret


def parse_command_file(text: str) -> dict[str, str]:
    """Read $GITHUB_OUTPUT / $GITHUB_ENV as the runner does (``k=v`` lines and ``k<<DELIM`` heredocs)."""
    values: dict[str, str] = {}
    lines = text.split("\n")
    assert lines[-1] == "", "command files must end with a newline"
    lines = lines[:-1]
    i = 0
    while i < len(lines):
        line = lines[i]
        eq, heredoc = line.find("="), line.find("<<")
        if eq >= 0 and (heredoc < 0 or eq < heredoc):
            values[line[:eq]] = line[eq + 1 :]
            i += 1
            continue
        assert heredoc > 0, f"unparseable line {line!r}"
        name, delimiter = line[:heredoc], line[heredoc + 2 :]
        end = lines.index(delimiter, i + 1)  # ValueError if the heredoc is never closed
        values[name] = "\n".join(lines[i + 1 : end])
        i = end + 1
    return values


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    return {
        "GITHUB_OUTPUT": tmp_path / "output",
        "GITHUB_STEP_SUMMARY": tmp_path / "summary.md",
        "GITHUB_ENV": tmp_path / "env",
    }


@pytest.fixture
def stream() -> io.StringIO:
    return io.StringIO()


@pytest.fixture
def actions(files: dict[str, Path], stream: io.StringIO) -> Actions:
    environ = {"GITHUB_ACTIONS": "true", **{k: str(v) for k, v in files.items()}}
    return Actions.from_environ(environ, stream=stream)


def lines_of(stream: io.StringIO) -> list[str]:
    return stream.getvalue().splitlines()


# --- outside GitHub Actions -------------------------------------------------------------------


@pytest.mark.parametrize("flag", [None, "false", "TRUE", "1", ""])
def test_inactive_outside_actions_writes_nothing(
    flag: str | None, files: dict[str, Path], stream: io.StringIO, caplog: pytest.LogCaptureFixture
) -> None:
    environ = {k: str(v) for k, v in files.items()}
    if flag is not None:
        environ["GITHUB_ACTIONS"] = flag
    actions = Actions.from_environ(environ, stream=stream)
    assert not actions.enabled

    with caplog.at_level(logging.DEBUG, logger="btp_release.actions"):
        actions.error("upload failed", title="Assets", file="a.yaml", line=3)
        actions.warning("draft exists")
        actions.notice("published")
        with actions.group("Build"):
            pass
        actions.mask("ghp_token")
        actions.mask(Secret("ghp_secret"))
        assert actions.set_output("version", "1.2.0") is False
        assert actions.set_env("VERSION", "1.2.0") is False
        assert actions.summary("# Release") is False

    assert stream.getvalue() == ""
    assert not any(path.exists() for path in files.values())
    levels = [(r.levelno, r.getMessage()) for r in caplog.records]
    assert levels == [
        (logging.ERROR, "Assets: upload failed"),
        (logging.WARNING, "draft exists"),
        (logging.INFO, "published"),
    ]
    assert "ghp_" not in caplog.text


def test_inactive_group_still_propagates_errors(stream: io.StringIO) -> None:
    actions = Actions.from_environ({}, stream=stream)
    with pytest.raises(RuntimeError, match="boom"), actions.group("Build"):
        raise RuntimeError("boom")
    assert stream.getvalue() == ""


def test_from_environ_picks_up_the_command_files(actions: Actions, files: dict[str, Path]) -> None:
    assert actions.enabled
    assert actions.output_path == files["GITHUB_OUTPUT"]
    assert actions.summary_path == files["GITHUB_STEP_SUMMARY"]
    assert actions.env_path == files["GITHUB_ENV"]


# --- annotations ------------------------------------------------------------------------------


def test_error_annotation_format(actions: Actions, stream: io.StringIO) -> None:
    actions.error("msg", title="T", file="F", line=3)
    assert stream.getvalue() == "::error title=T,file=F,line=3::msg\n"


def test_warning_and_notice_without_properties(actions: Actions, stream: io.StringIO) -> None:
    actions.warning("careful")
    actions.notice("fyi", title="Release")
    assert lines_of(stream) == ["::warning::careful", "::notice title=Release::fyi"]


def test_data_escaping(actions: Actions, stream: io.StringIO) -> None:
    actions.error("100% done\r\nnext line")
    assert stream.getvalue() == "::error::100%25 done%0D%0Anext line\n"


def test_property_escaping(actions: Actions, stream: io.StringIO) -> None:
    actions.warning("m", title="a: b, c %d\nx", file="C:\\dir,1\\f.yaml")
    assert stream.getvalue() == "::warning title=a%3A b%2C c %25d%0Ax,file=C%3A\\dir%2C1\\f.yaml::m\n"


def test_escaping_is_not_applied_twice(actions: Actions, stream: io.StringIO) -> None:
    actions.notice("%0A")
    assert stream.getvalue() == "::notice::%250A\n"


@pytest.mark.parametrize(
    "message",
    ["x\n::add-mask::x", "x\r::add-mask::x", "x\r\n::set-output name=a::b", "::endgroup::\n::error::forged"],
)
def test_message_cannot_forge_another_command(actions: Actions, stream: io.StringIO, message: str) -> None:
    actions.error(message, title="title\n::warning::forged")
    output = stream.getvalue()
    assert output.count("\n") == 1
    assert output.endswith("\n")
    assert "\r" not in output
    assert len(lines_of(stream)) == 1
    assert lines_of(stream)[0].startswith("::error title=")


# --- groups -----------------------------------------------------------------------------------


def test_group_and_endgroup(actions: Actions, stream: io.StringIO) -> None:
    with actions.group("Upload assets"):
        stream.write("inside\n")
    assert lines_of(stream) == ["::group::Upload assets", "inside", "::endgroup::"]


def test_group_is_closed_when_the_body_raises(actions: Actions, stream: io.StringIO) -> None:
    with pytest.raises(RuntimeError, match="boom"), actions.group("Build"):
        raise RuntimeError("boom")
    assert lines_of(stream) == ["::group::Build", "::endgroup::"]


def test_group_title_is_escaped(actions: Actions, stream: io.StringIO) -> None:
    with actions.group("a\n::add-mask::b"):
        pass
    assert lines_of(stream) == ["::group::a%0A::add-mask::b", "::endgroup::"]


# --- masking ----------------------------------------------------------------------------------


def test_mask_secret(actions: Actions, stream: io.StringIO) -> None:
    actions.mask(Secret("ghp_abc123"))
    assert stream.getvalue() == "::add-mask::ghp_abc123\n"


def test_mask_plain_string_is_escaped(actions: Actions, stream: io.StringIO) -> None:
    actions.mask("p%ss")
    assert stream.getvalue() == "::add-mask::p%25ss\n"


def test_mask_multi_line_value_masks_each_line(actions: Actions, stream: io.StringIO) -> None:
    key = "-----BEGIN KEY-----\r\nAAAA\n\n   \nBBBB\n-----END KEY-----\n"
    actions.mask(Secret(key))
    assert lines_of(stream) == [
        "::add-mask::-----BEGIN KEY-----",
        "::add-mask::AAAA",
        "::add-mask::BBBB",
        "::add-mask::-----END KEY-----",
    ]


@pytest.mark.parametrize("value", ["", Secret("")])
def test_mask_empty_value_writes_nothing(actions: Actions, stream: io.StringIO, value: str | Secret) -> None:
    actions.mask(value)
    assert stream.getvalue() == ""


# --- outputs, env, summary --------------------------------------------------------------------


def test_set_output_single_line(actions: Actions, files: dict[str, Path]) -> None:
    assert actions.set_output("version", "1.2.0") is True
    assert actions.set_output("module_tag", "v1.2.0") is True
    text = files["GITHUB_OUTPUT"].read_text(encoding="utf-8")
    assert text == "version=1.2.0\nmodule_tag=v1.2.0\n"


def test_set_output_appends_to_existing_content(actions: Actions, files: dict[str, Path]) -> None:
    files["GITHUB_OUTPUT"].write_text("earlier=1\n", encoding="utf-8")
    actions.set_output("later", "2")
    assert parse_command_file(files["GITHUB_OUTPUT"].read_text(encoding="utf-8")) == {
        "earlier": "1",
        "later": "2",
    }


def test_set_output_multi_line_uses_a_heredoc(actions: Actions, files: dict[str, Path]) -> None:
    notes = "## What's changed\n- fix: a\nEOF\nversion=9.9.9\n"
    actions.set_output("notes", notes)
    actions.set_output("after", "x")
    text = files["GITHUB_OUTPUT"].read_text(encoding="utf-8")
    first = text.split("\n", 1)[0]
    assert first.startswith("notes<<")
    delimiter = first.removeprefix("notes<<")
    assert delimiter
    assert delimiter not in notes
    assert parse_command_file(text) == {"notes": notes, "after": "x"}


def test_set_output_carriage_return_uses_a_heredoc(actions: Actions, files: dict[str, Path]) -> None:
    actions.set_output("value", "a\rb")
    assert files["GITHUB_OUTPUT"].read_text(encoding="utf-8").startswith("value<<")


def test_heredoc_delimiter_is_never_part_of_the_value(
    actions: Actions, files: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    tokens = iter(["1111111111111111", "2222222222222222"])
    monkeypatch.setattr(secrets, "token_hex", lambda n=None: next(tokens))
    value = "line\nghadelimiter_1111111111111111\nversion=6.6.6"
    actions.set_output("notes", value)
    text = files["GITHUB_OUTPUT"].read_text(encoding="utf-8")
    assert text.startswith("notes<<ghadelimiter_2222222222222222\n")
    assert parse_command_file(text) == {"notes": value}


def test_set_env(actions: Actions, files: dict[str, Path]) -> None:
    assert actions.set_env("VERSION", "1.2.0") is True
    actions.set_env("NOTES", "a\nb")
    assert parse_command_file(files["GITHUB_ENV"].read_text(encoding="utf-8")) == {
        "VERSION": "1.2.0",
        "NOTES": "a\nb",
    }
    assert not files["GITHUB_OUTPUT"].exists()


def test_summary_appends_markdown_with_a_final_newline(actions: Actions, files: dict[str, Path]) -> None:
    assert actions.summary("# Release 1.2.0") is True
    assert actions.summary("| asset | size |\n|---|---|\n") is True
    assert files["GITHUB_STEP_SUMMARY"].read_text(encoding="utf-8") == (
        "# Release 1.2.0\n| asset | size |\n|---|---|\n"
    )


def test_active_without_command_files_is_a_no_op(stream: io.StringIO) -> None:
    actions = Actions.from_environ({"GITHUB_ACTIONS": "true"}, stream=stream)
    assert actions.set_output("version", "1.2.0") is False
    assert actions.set_env("VERSION", "1.2.0") is False
    assert actions.summary("x") is False


@pytest.mark.parametrize("name", ["", "a=b", "a\nb", "a\rb", "notes<<EOF", "x<<"])
def test_invalid_output_name_raises(actions: Actions, files: dict[str, Path], name: str) -> None:
    with pytest.raises(InvalidInput, match="invalid output/env name"):
        actions.set_output(name, "value")
    with pytest.raises(InvalidInput, match="invalid output/env name"):
        actions.set_env(name, "value")
    assert not files["GITHUB_OUTPUT"].exists()
    assert not files["GITHUB_ENV"].exists()
