"""The register of secret values one process knows, and :func:`redact` to hide them in any text.

:class:`~btp_release.secret.Secret` registers every value it holds; the sinks — exception messages
(:class:`~btp_release.errors.BtpReleaseError`), log handlers (:class:`RedactingFilter`), GitHub Actions
commands and the CLI's output — pass their text through :func:`redact`, whatever library wrote it. The
register is per process on purpose: a secret must be hidden wherever it surfaces, also in text made far
from the code that read it (httpx quoting a rejected header, a proxy echoing request headers), exactly
as the Actions runner's ``add-mask`` works for a whole job. This module imports nothing of the project,
so that every other module can use it.
"""

from __future__ import annotations

import logging
import threading

__all__ = ["MASK", "RedactingFilter", "Redactor", "get_logger", "redact", "register"]

MASK = "***"
# Shorter values are not registered: hiding every "nope" or "secret" in all output would garble it
# (values are hidden wherever they occur, also inside words), and no issued token is that short.
MIN_REDACTED_LENGTH = 8


class Redactor:
    """The secret values one process knows, and :meth:`redact` to hide them in any text.

    Besides each value it hides the forms in which libraries quote one: stripped of surrounding
    whitespace, and escaped as ``repr`` shows it (``ghs_x\\r`` in httpx's "Illegal header value").
    Thread-safe; values are only ever added.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: frozenset[str] = frozenset()
        self._ordered: tuple[str, ...] = ()

    def add(self, value: str) -> None:
        forms = {value, value.strip(), repr(value)[1:-1], repr(value.strip())[1:-1]}
        forms = {f for f in forms if len(f) >= MIN_REDACTED_LENGTH}
        if forms <= self._values:
            return
        with self._lock:
            self._values = self._values | forms
            # Longest first, so a value is replaced whole before a shorter form of it is looked for.
            self._ordered = tuple(sorted(self._values, key=len, reverse=True))

    def redact(self, text: str) -> str:
        for value in self._ordered:
            if value in text:
                text = text.replace(value, MASK)
        return text

    def __contains__(self, value: str) -> bool:
        return value in self._values


# The process's register (see the module docstring for why it is process-wide).
_REDACTOR = Redactor()


def register(value: str) -> None:
    """Hide ``value`` (and the forms libraries quote it in) in all later :func:`redact` calls."""
    _REDACTOR.add(value)


def redact(text: str) -> str:
    """``text`` with every secret this process has seen replaced by ``***``."""
    return _REDACTOR.redact(text)


class RedactingFilter(logging.Filter):
    """A logging filter for handlers: formats the record's message and redacts every known secret.

    Attach it to a *handler* (handler filters see records of every logger, logger filters only their
    own); the CLI does this for its handlers. Exception text in ``exc_info`` is redacted too.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact(message)
        if redacted != message or record.args:
            record.msg, record.args = redacted, None
        if record.exc_info and record.exc_info[1] is not None and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


def get_logger(name: str) -> logging.Logger:
    """``logging.getLogger(name)`` with a :class:`RedactingFilter` on it: what the library logs is
    redacted before any handler sees it, in a notebook as much as in the CLI."""
    logger = logging.getLogger(name)
    if not any(isinstance(f, RedactingFilter) for f in logger.filters):
        logger.addFilter(RedactingFilter())
    return logger
