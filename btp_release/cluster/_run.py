"""Running external programs (k3s installer, k3d, kubectl, docker) behind one injectable seam.

Every program a cluster needs runs through a :class:`Runner`, so tests record the exact argv and
environment of each step with a fake instead of patching :mod:`subprocess`. The default
:class:`SubprocessRunner` never uses a shell and always has a timeout.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from typing import Protocol

import attrs

from btp_release.errors import BtpReleaseError, NotFound, Timeout
from btp_release.redaction import get_logger

__all__ = ["CommandFailed", "Completed", "Runner", "SubprocessRunner", "check", "tail"]

log = get_logger("btp_release.cluster")

DEFAULT_TIMEOUT = 600.0
TAIL_LINES = 15


@attrs.frozen
class Completed:
    """What a finished program left behind (output decoded as UTF-8, undecodable bytes replaced)."""

    returncode: int
    stdout: str = ""
    stderr: str = ""

    @property
    def ok(self) -> bool:
        return self.returncode == 0


class Runner(Protocol):
    """Runs one program and waits for it.

    ``env`` holds only the variables a step sets; they are layered over the runner's base
    environment (so ``PATH`` and ``HOME`` still reach the program). ``input`` is fed to stdin.
    Implementations raise :class:`NotFound` when the program is missing and :class:`Timeout` when
    it outlives ``timeout`` seconds; a non-zero exit is *returned*, the caller decides what it means.
    """

    def run(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        input: bytes | None = None,  # the name subprocess.run uses
        timeout: float = DEFAULT_TIMEOUT,
    ) -> Completed: ...


class SubprocessRunner:
    """:class:`Runner` on :func:`subprocess.run`: argv only (never a shell), output captured.

    ``base_env`` is the environment every program starts from; ``None`` inherits this process's
    environment at call time.
    """

    def __init__(self, base_env: Mapping[str, str] | None = None) -> None:
        self.base_env = dict(base_env) if base_env is not None else None

    def run(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        input: bytes | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> Completed:
        args = list(argv)
        if not args:
            raise ValueError("empty argv")
        full_env: dict[str, str] | None = None
        if env or self.base_env is not None:
            full_env = {**(self.base_env if self.base_env is not None else os.environ), **(env or {})}
        # values are not logged: a step may pass credentials through the environment
        log.info("running %s%s", _shown(args), f" (env: {', '.join(sorted(env))})" if env else "")
        try:
            done = subprocess.run(
                args,
                env=full_env,
                input=input,
                capture_output=True,
                timeout=timeout,
                check=False,
            )
        except FileNotFoundError as exc:
            raise NotFound(
                f"cannot run {args[0]!r}: not installed or not on PATH",
                hint=f"install {os.path.basename(args[0])} or put it on PATH",
            ) from exc
        except subprocess.TimeoutExpired as exc:
            partial = exc.stderr.decode("utf-8", "replace") if isinstance(exc.stderr, bytes) else ""
            raise Timeout(
                f"{_shown(args)} did not finish within {timeout:g}s{_tail_suffix(partial)}",
                hint="check what the program waits for, or raise its timeout",
            ) from exc
        return Completed(
            returncode=done.returncode,
            stdout=done.stdout.decode("utf-8", "replace"),
            stderr=done.stderr.decode("utf-8", "replace"),
        )


class CommandFailed(BtpReleaseError):
    """An external program a cluster step needs exited non-zero; the message ends with its output.

    ``argv``, ``returncode`` and ``output_tail`` keep the details for callers and logs.
    """

    def __init__(
        self, message: str, *, argv: Sequence[str], returncode: int, output_tail: str, hint: str | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.argv = tuple(argv)
        self.returncode = returncode
        self.output_tail = output_tail


def tail(text: str, lines: int = TAIL_LINES) -> str:
    """The last ``lines`` non-blank lines of ``text``: where programs print why they failed."""
    kept = [line.rstrip() for line in text.splitlines() if line.strip()]
    return "\n".join(kept[-lines:])


def _tail_suffix(text: str) -> str:
    last = tail(text)
    return f":\n{last}" if last else ""


def _shown(argv: Sequence[str]) -> str:
    return " ".join(argv)


def check(done: Completed, *, what: str, argv: Sequence[str], hint: str | None = None) -> Completed:
    """Return ``done`` if it succeeded, else raise :class:`CommandFailed` quoting the output's tail.

    ``what`` names the step ("install k3s v1.31.4+k3s1"); stderr is preferred, stdout is the
    fallback for programs that report errors there.
    """
    if done.ok:
        return done
    output = tail(done.stderr) or tail(done.stdout)
    message = f"{what} failed: `{_shown(argv)}` exited with {done.returncode}"
    raise CommandFailed(
        message + (f":\n{output}" if output else " and printed nothing"),
        argv=argv,
        returncode=done.returncode,
        output_tail=output,
        hint=hint,
    )
