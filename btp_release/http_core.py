"""The HTTP plumbing the GitHub client and the registry client share: one request path, one way to fail.

Both clients send every call the same way: build the request, send it once, turn a transport failure
into a typed error (:mod:`btp_release.neterrors` decides which failures waiting cannot heal), keep an
expected status, read the body of any other response and let the client map it to its typed error, and
repeat idempotent calls under the one :class:`~btp_release.retry.RetryPolicy`. :class:`HttpSession` is
that path. What each service speaks stays with its client: GitHub's headers, token scoping, rate limits
and error bodies in ``github._http``; a registry's HTTPS rule, auth challenges and OCI error codes in
``oci.session``. Both word their failures in their own terms (:class:`TransportWording`), since users
act on those messages.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, ClassVar, TypeVar

import attrs
import httpx

from btp_release.errors import BtpReleaseError, InvalidInput, Transient
from btp_release.neterrors import Cause, lasting_error
from btp_release.retry import RetryPolicy
from btp_release.wait import Clock, Sleeper

__all__ = ["USER_AGENT", "HttpSession", "TransportWording", "read_error_body", "transport_errors"]

T = TypeVar("T")
S = TypeVar("S", bound="HttpSession")

USER_AGENT = "btp-release (+https://github.com/kyma-project)"


@attrs.frozen
class TransportWording:
    """How one client words a failed exchange: a message and a hint for each kind of failure that
    may heal, and its advice for each cause that does not (see :func:`~btp_release.neterrors.lasting_error`).

    Messages are ``str.format`` templates over ``what`` (``"GitHub get release for …"``), ``where``
    (the server the request went to), ``kind`` (the exception's class name) and ``exc`` (its text).
    """

    timed_out: str
    timeout_hint: str
    unreachable: str  # a connection that failed for a reason that may heal (refused, reset)
    unreachable_hint: str
    network_error: str  # any other transport failure
    network_hint: str
    lasting_hints: Mapping[Cause, str] = attrs.field(factory=dict)


def _say(template: str, what: str, where: str, exc: BaseException) -> str:
    return template.format(what=what, where=where, kind=type(exc).__name__, exc=exc)


@contextlib.contextmanager
def transport_errors(
    what: str, where: Callable[[httpx.TransportError], str], wording: TransportWording
) -> Iterator[None]:
    """Turn an httpx transport error raised inside (also while a body streams) into a typed error.

    A timeout and a failure that may heal are :class:`Transient` (retried); a connect failure that
    waiting does not heal is the lasting error :func:`~btp_release.neterrors.lasting_error` makes; a
    malformed request of ours is :class:`InvalidInput`. ``what`` names the operation, ``where(exc)`` the
    server the failed request went to.
    """
    try:
        yield
    except httpx.TimeoutException as exc:
        raise Transient(_say(wording.timed_out, what, where(exc), exc), hint=wording.timeout_hint) from exc
    except httpx.ConnectError as exc:
        # Not retried: an untrusted certificate, plain HTTP on the HTTPS port, an unknown host name.
        lasting = lasting_error(exc, what=what, where=where(exc), hints=wording.lasting_hints)
        if lasting is not None:
            raise lasting from exc
        raise Transient(
            _say(wording.unreachable, what, where(exc), exc), hint=wording.unreachable_hint
        ) from exc
    except httpx.LocalProtocolError as exc:  # our request is malformed: sending it again cannot help
        raise InvalidInput(f"{what}: the request is invalid ({exc})") from exc
    except httpx.TransportError as exc:
        raise Transient(
            _say(wording.network_error, what, where(exc), exc), hint=wording.network_hint
        ) from exc


def read_error_body(response: httpx.Response, *, keep_text: bool = True) -> Any:
    """The body of a response with an unexpected status, for its error message; the response is closed.

    Its JSON; else, with ``keep_text``, its first 200 characters; ``None`` for a ``HEAD``, an empty body
    or one that cannot be read (the status still tells what happened).
    """
    try:
        if response.request.method == "HEAD":
            return None
        response.read()
        return response.json() if response.content else None
    except ValueError:
        return response.text[:200] if keep_text else None
    except httpx.HTTPError:
        return None
    finally:
        response.close()


class HttpSession:
    """One server's connection and request policy: the part the GitHub and the registry session share.

    Holds the ``httpx.Client`` (closed with the session only when the session made it), the retry
    policy, the clock and the sleeper. :meth:`exchange` sends one request; :meth:`retrying` repeats an
    idempotent call. A subclass sets ``service`` (the first word of every message) and ``_wording``,
    and says where a failed request went (:meth:`_where`) and what an unexpected response means
    (:meth:`_error`); :meth:`_received` sees every response (GitHub's rate-limit headers).
    """

    service: ClassVar[str]
    _wording: TransportWording

    def __init__(
        self,
        http: httpx.Client | None,
        new_client: Callable[[], httpx.Client],
        *,
        retry: RetryPolicy,
        clock: Clock,
        sleeper: Sleeper,
    ) -> None:
        self.retry = retry
        self.clock = clock
        self.sleeper = sleeper
        self._owns_http = http is None
        self._http = http or new_client()

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self: S) -> S:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def network_errors(self, operation: str, subject: str) -> contextlib.AbstractContextManager[None]:
        """Turn httpx transport errors (also while streaming a body) into typed errors, worded for
        this service (see :func:`transport_errors`)."""
        return transport_errors(f"{self.service} {operation} for {subject}", self._where, self._wording)

    def exchange(
        self,
        request: httpx.Request,
        *,
        operation: str,
        subject: str,
        expect: Iterable[int],
        stream: bool = False,
        follow_redirects: bool = False,
        auth: httpx.Auth | None = None,
    ) -> httpx.Response:
        """Send ``request`` once, no retry: the response if its status is in ``expect``, else the typed
        error :meth:`_error` makes of it (after reading its body and closing it).

        With ``stream`` the caller must close the response. ``auth`` (an ``httpx.Auth``) replaces the
        client's own; ``None`` keeps it.
        """
        with self.network_errors(operation, subject):
            response = self._http.send(
                request,
                stream=stream,
                auth=httpx.USE_CLIENT_DEFAULT if auth is None else auth,
                follow_redirects=follow_redirects,
            )
        self._received(response)
        if response.status_code in set(expect):
            return response
        raise self._error(response, operation=operation, subject=subject, stream=stream)

    def retrying(self, fn: Callable[[], T], *, what: str) -> T:
        """Run an idempotent call under the retry policy."""
        return self.retry.call(fn, what=what, sleeper=self.sleeper)

    # -- what each service says for itself --------------------------------------------------------

    def _where(self, exc: httpx.TransportError) -> str:
        """The server a failed request went to, as its messages name it."""
        raise NotImplementedError

    def _received(self, response: httpx.Response) -> None:
        """Sees every response before its status is checked."""

    def _error(
        self, response: httpx.Response, *, operation: str, subject: str, stream: bool
    ) -> BtpReleaseError:
        """The typed error for a response with an unexpected status (its body read, the response closed)."""
        raise NotImplementedError
