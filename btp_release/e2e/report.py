"""The record of an E2E run: named steps with timings and outcomes, written as JUnit XML.

A scenario runs each check inside ``steps.step("…")``; a failing step records the error's message
(never a traceback with secrets in it) and stops the scenario. CI systems read the JUnit file.
"""

from __future__ import annotations

import contextlib
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import attrs

from btp_release.wait import Clock

__all__ = ["Step", "Steps"]

Outcome = Literal["passed", "failed", "skipped"]


@attrs.frozen
class Step:
    scenario: str
    name: str
    outcome: Outcome
    seconds: float
    message: str = ""


class Steps:
    """Steps of one or more scenarios, in order. ``clock`` (monotonic seconds) times them."""

    def __init__(self, clock: Clock = time.monotonic) -> None:
        self.clock = clock
        self.items: list[Step] = []

    @contextlib.contextmanager
    def step(self, scenario: str, name: str) -> Iterator[None]:
        start = self.clock()
        try:
            yield
        except Exception as exc:
            self.items.append(Step(scenario, name, "failed", self.clock() - start, str(exc)))
            raise
        self.items.append(Step(scenario, name, "passed", self.clock() - start))

    def skip(self, scenario: str, name: str, reason: str) -> None:
        self.items.append(Step(scenario, name, "skipped", 0.0, reason))

    @property
    def failed(self) -> list[Step]:
        return [s for s in self.items if s.outcome == "failed"]

    def write_junit(self, path: Path, *, suite: str = "btp-release e2e") -> Path:
        """One ``<testsuite>`` per scenario, one ``<testcase>`` per step."""
        root = ET.Element("testsuites", name=suite)
        for scenario in dict.fromkeys(s.scenario for s in self.items):
            steps = [s for s in self.items if s.scenario == scenario]
            element = ET.SubElement(
                root,
                "testsuite",
                name=scenario,
                tests=str(len(steps)),
                failures=str(sum(s.outcome == "failed" for s in steps)),
                skipped=str(sum(s.outcome == "skipped" for s in steps)),
                time=f"{sum(s.seconds for s in steps):.3f}",
            )
            for step in steps:
                case = ET.SubElement(
                    element, "testcase", classname=scenario, name=step.name, time=f"{step.seconds:.3f}"
                )
                if step.outcome == "failed":
                    ET.SubElement(
                        case, "failure", message=step.message.splitlines()[0] if step.message else ""
                    )
                    case[-1].text = step.message
                elif step.outcome == "skipped":
                    ET.SubElement(case, "skipped", message=step.message)
        path.parent.mkdir(parents=True, exist_ok=True)
        ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)
        return path
