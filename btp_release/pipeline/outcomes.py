"""What a stage reports and the errors that are about stages, not about any one system.

Stages report through :class:`StageLog` (its :meth:`~StageLog.act` describes a step instead of doing it
in a dry run) and return a :class:`StageResult`; progress goes out as :class:`Event` values for whoever
renders it. Kept apart from :class:`~btp_release.pipeline.context.ReleaseContext`, which only emits the
events, so that the stages' vocabulary is one small module.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import attrs

from btp_release.errors import BtpReleaseError, NotFound

if TYPE_CHECKING:
    from btp_release.pipeline.context import ReleaseContext

__all__ = ["EarlierStageMissing", "Event", "PreflightFailed", "StageLog", "StageResult", "StageStatus"]

T = TypeVar("T")
StageStatus = Literal["changed", "unchanged", "planned", "skipped"]


class EarlierStageMissing(NotFound):
    """A stage needs what an earlier one makes (the draft, the build record) and it is not there yet.

    A plan lists such a stage as waiting; a run names the stage to run first.
    """


class PreflightFailed(BtpReleaseError):
    """The preflight found several problems before changing anything; ``problems`` holds each typed
    error and the message lists them all. (A single problem is raised as itself, with its own code.)"""

    exit_code = 12

    def __init__(self, problems: list[BtpReleaseError]) -> None:
        self.problems = tuple(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(
            f"the preflight found {len(self.problems)} problems; nothing was changed:\n{lines}",
            hint="fix them all and run again",
        )


@attrs.frozen
class Event:
    """Progress for whoever renders it (terminal, GitHub Actions, JSON lines): one line each."""

    kind: Literal["stage", "step", "note", "warning", "wait"]
    stage: str
    message: str


@attrs.frozen(kw_only=True)
class StageResult:
    """What a stage did (or, in a plan, would do). ``outputs`` are strings for ``$GITHUB_OUTPUT``."""

    stage: str
    status: StageStatus
    actions: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    outputs: dict[str, str] = attrs.field(factory=dict)

    def to_json(self) -> dict[str, Any]:
        return attrs.asdict(self)


class StageLog:
    """Collects a stage's steps; in a dry run ``act`` describes the step instead of doing it."""

    def __init__(self, ctx: ReleaseContext, stage: str, *, dry_run: bool) -> None:
        self.ctx = ctx
        self.stage = stage
        self.dry_run = dry_run
        self.actions: list[str] = []
        self.warnings: list[str] = []
        self.outputs: dict[str, str] = {}
        self.changed = False

    def act(self, text: str, do: Callable[[], T]) -> T | None:
        if self.dry_run:
            self.actions.append(f"would {text}")
            self.ctx.emit("step", self.stage, f"would {text}")
            return None
        self.ctx.emit("step", self.stage, text)
        result = do()
        self.actions.append(text)
        self.changed = True
        return result

    def note(self, text: str) -> None:
        self.actions.append(text)
        self.ctx.emit("note", self.stage, text)

    def warn(self, text: str) -> None:
        self.warnings.append(text)
        self.ctx.emit("warning", self.stage, text)

    def result(self, *, skipped: bool = False) -> StageResult:
        status: StageStatus = (
            "skipped"
            if skipped
            else "planned"
            if self.dry_run
            else "changed"
            if self.changed
            else "unchanged"
        )
        return StageResult(
            stage=self.stage,
            status=status,
            actions=tuple(self.actions),
            warnings=tuple(self.warnings),
            outputs=dict(self.outputs),
        )
