"""One exception hierarchy for everything btp_release can fail at.

Each class means one thing a caller may want to handle differently; the message always says what
failed, for which object, and what to do. ``exit_code`` lets the CLI map errors to documented exit
codes without a lookup table of its own. Every message and hint is redacted of known secrets.
"""

from __future__ import annotations

from btp_release.redaction import redact

__all__ = [
    "AlreadyExists",
    "AuthenticationFailed",
    "UntrustedCertificate",
    "BtpReleaseError",
    "BuildFailed",
    "CheckFailed",
    "Conflict",
    "DigestMismatch",
    "InvalidInput",
    "NotFound",
    "PermissionDenied",
    "RateLimited",
    "Timeout",
    "Transient",
]


class BtpReleaseError(Exception):
    """Root of every error btp_release raises on purpose."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        # Messages often quote what a library or server said; a secret in there is hidden here, once
        # for every error (see btp_release.redaction).
        message, hint = redact(message), (redact(hint) if hint else hint)
        self.message = message
        self.hint = hint
        super().__init__(f"{message} — {hint}" if hint else message)


class InvalidInput(BtpReleaseError):
    """The caller gave something unusable: a malformed version, a bad file, a rejected request body."""

    exit_code = 2


class NotFound(BtpReleaseError):
    """The object (release, tag, asset, repository…) does not exist or is not visible to the token."""

    exit_code = 3


class Conflict(BtpReleaseError):
    """The remote state forbids the operation (e.g. an immutable release, a published tag reuse)."""

    exit_code = 4


class AlreadyExists(Conflict):
    """The object to create is already there (release for a published tag, asset name, git ref)."""


class AuthenticationFailed(BtpReleaseError):
    """The credentials are missing, wrong or expired (HTTP 401)."""

    exit_code = 5


class PermissionDenied(BtpReleaseError):
    """The credentials are valid but lack a permission (HTTP 403 without rate-limit signals)."""

    exit_code = 5


class Transient(BtpReleaseError):
    """A network error or a 5xx: worth retrying an idempotent call later."""

    exit_code = 6


class RateLimited(Transient):
    """Primary or secondary rate limit hit; ``retry_after`` says how long the server asks to wait."""

    exit_code = 7

    def __init__(self, message: str, *, retry_after: float | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.retry_after = retry_after


class Timeout(BtpReleaseError):
    """A bounded wait ran out; the message names what was awaited and the last observed state."""

    exit_code = 8


class CheckFailed(BtpReleaseError):
    """A required commit status or check run finished unsuccessfully; waiting longer will not help."""

    exit_code = 9


class BuildFailed(BtpReleaseError):
    """An image build step failed (e.g. a ``RUN`` exited non-zero); the message ends with the build log."""

    exit_code = 10


class DigestMismatch(BtpReleaseError):
    """Content does not match its digest or size: corrupted in the registry or on the way, or a source
    file changed while it was uploaded. Re-running fetches or uploads it again; a repeat means the stored
    content is corrupt."""

    exit_code = 11


class UntrustedCertificate(AuthenticationFailed):
    """The server's TLS certificate is not trusted (self-signed, unknown CA, wrong host name).

    Not transient: waiting does not change whom the client trusts.
    """
