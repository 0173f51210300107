"""GitHub Actions workflow commands, step outputs and the job summary.

Active only when ``GITHUB_ACTIONS=true``: elsewhere annotations go to the ``logging`` logger and
outputs/summary are no-ops, so the same library code runs in a terminal, a notebook and CI.
Escaping follows actions/toolkit (``%``, CR, LF in data; plus ``:`` and ``,`` in properties), so a
message can never end a command early or forge another one; every known secret is redacted from
commands (``add-mask`` aside), outputs and the summary. :class:`Console` renders the pipeline's progress
on a terminal or as Actions groups and annotations.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, TextIO

import attrs

from btp_release.errors import InvalidInput
from btp_release.redaction import get_logger, redact
from btp_release.secret import Secret

__all__ = ["Actions", "Console", "WarningsToConsole"]

log = get_logger(__name__)


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _path(environ: Mapping[str, str], name: str) -> Path | None:
    value = environ.get(name)
    return Path(value) if value else None


@attrs.frozen
class Actions:
    """Writer of workflow commands; build it with :meth:`from_environ` (read the environment once)."""

    enabled: bool = False
    stream: TextIO = attrs.field(factory=lambda: sys.stdout, eq=False)
    output_path: Path | None = None
    summary_path: Path | None = None
    env_path: Path | None = None

    @classmethod
    def from_environ(cls, environ: Mapping[str, str], stream: TextIO | None = None) -> Actions:
        """Detect GitHub Actions from ``GITHUB_ACTIONS`` and pick up the command files."""
        return cls(
            enabled=environ.get("GITHUB_ACTIONS") == "true",
            stream=stream if stream is not None else sys.stdout,
            output_path=_path(environ, "GITHUB_OUTPUT"),
            summary_path=_path(environ, "GITHUB_STEP_SUMMARY"),
            env_path=_path(environ, "GITHUB_ENV"),
        )

    def _command(self, name: str, message: str, **properties: str | int | None) -> None:
        # add-mask is the one command that must carry the secret itself.
        clean = (lambda text: text) if name == "add-mask" else redact
        props = ",".join(
            f"{key}={_escape_property(clean(str(value)))}"
            for key, value in properties.items()
            if value is not None
        )
        self.stream.write(f"::{name}{' ' + props if props else ''}::{_escape_data(clean(message))}\n")
        self.stream.flush()

    def _annotate(
        self, level: str, message: str, title: str | None, file: str | None, line: int | None
    ) -> None:
        if self.enabled:
            self._command(level, message, title=title, file=file, line=line)
        else:
            log.log(
                {"error": logging.ERROR, "warning": logging.WARNING}.get(level, logging.INFO),
                "%s%s",
                f"{title}: " if title else "",
                message,
            )

    def error(
        self, message: str, *, title: str | None = None, file: str | None = None, line: int | None = None
    ) -> None:
        self._annotate("error", message, title, file, line)

    def warning(
        self, message: str, *, title: str | None = None, file: str | None = None, line: int | None = None
    ) -> None:
        self._annotate("warning", message, title, file, line)

    def notice(
        self, message: str, *, title: str | None = None, file: str | None = None, line: int | None = None
    ) -> None:
        self._annotate("notice", message, title, file, line)

    @contextlib.contextmanager
    def group(self, title: str) -> Iterator[None]:
        """A collapsible log section; always closed, also when the body raises."""
        if not self.enabled:
            yield
            return
        self._command("group", title)
        try:
            yield
        finally:
            self._command("endgroup", "")

    def start_group(self, title: str) -> None:
        """Open a log section that a later :meth:`end_group` closes (for event-driven output)."""
        if self.enabled:
            self._command("group", title)

    def end_group(self) -> None:
        if self.enabled:
            self._command("endgroup", "")

    def mask(self, value: str | Secret) -> None:
        """Hide ``value`` in all later log lines; call before anything could print it."""
        raw = value.reveal() if isinstance(value, Secret) else value
        if self.enabled and raw:
            for line in raw.splitlines() or [raw]:
                if line.strip():
                    self._command("add-mask", line)

    def _append(self, path: Path | None, text: str) -> bool:
        if not self.enabled or path is None:
            return False
        with path.open("a", encoding="utf-8") as handle:
            handle.write(text)
        return True

    @staticmethod
    def _key_value(name: str, value: str) -> str:
        # "<<" would make the runner read "name<<rest=value" as a heredoc that swallows later lines.
        if not name or "<<" in name or any(c in name for c in "=\r\n"):
            raise InvalidInput(f"invalid output/env name {name!r}", hint="use letters, digits, '-' and '_'")
        if "\n" not in value and "\r" not in value:
            return f"{name}={value}\n"
        delimiter = f"ghadelimiter_{secrets.token_hex(8)}"
        while delimiter in value:  # as actions/toolkit: the delimiter must not occur in the value
            delimiter = f"ghadelimiter_{secrets.token_hex(8)}"
        return f"{name}<<{delimiter}\n{value}\n{delimiter}\n"

    def set_output(self, name: str, value: str) -> bool:
        """Append a step output to ``$GITHUB_OUTPUT`` (multi-line safe); ``False`` when inactive."""
        return self._append(self.output_path, self._key_value(name, redact(value)))

    def set_env(self, name: str, value: str) -> bool:
        """Export ``name`` to later steps through ``$GITHUB_ENV``; ``False`` when inactive."""
        return self._append(self.env_path, self._key_value(name, value))

    def summary(self, markdown: str) -> bool:
        """Append Markdown to the job summary; ``False`` when inactive."""
        markdown = redact(markdown)
        return self._append(self.summary_path, markdown if markdown.endswith("\n") else markdown + "\n")


class Console:
    """Renders pipeline events: plain lines, GitHub Actions groups and annotations, or nothing but
    the final JSON (progress then goes to stderr)."""

    def __init__(self, actions: Actions, *, as_json: bool, out: TextIO, err: TextIO) -> None:
        self.actions = actions
        self.stream = err if as_json else out
        self._group: str | None = None

    def __call__(self, event: Any) -> None:
        """Render a pipeline ``Event`` (anything with ``kind``, ``stage`` and ``message``)."""
        self.show(event.kind, event.stage, event.message)

    def show(self, kind: str, stage: str, message: str) -> None:
        if kind == "stage":
            if message in ("start", "plan"):
                self._open(stage)
            else:
                self.write(f"[{stage}] {message}\n")
                self._close()
            return
        if kind == "warning" and self.actions.enabled:
            self.actions.warning(message, title=f"btp-release {stage}")
            return
        if kind == "warning":
            self.write(f"[{stage}] warning: {message}\n")
            return
        self.write(f"[{stage}] {message}\n")

    def write(self, text: str) -> None:
        """Every line the console prints goes through here: redacted of any known secret."""
        self.stream.write(redact(text))
        self.stream.flush()

    def end_group(self) -> None:
        """Close the open stage group, if any (before a failure is reported, so it is not hidden in it)."""
        self._close()

    def _open(self, stage: str) -> None:
        self._close()
        if self.actions.enabled:
            self.actions.start_group(f"btp-release {stage}")
            self._group = stage

    def _close(self) -> None:
        if self._group is not None:
            self.actions.end_group()
            self._group = None


class WarningsToConsole(logging.Handler):
    """Library warnings (e.g. a scanner-config mismatch) become console warnings / annotations."""

    def __init__(self, console: Console) -> None:
        super().__init__(logging.WARNING)
        self.console = console

    def emit(self, record: logging.LogRecord) -> None:
        self.console.show("warning", record.name.removeprefix("btp_release."), record.getMessage())
