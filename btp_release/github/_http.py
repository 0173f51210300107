"""The I/O plumbing under :class:`~btp_release.github.GitHubClient`: one request path for all calls.

It adds GitHub's recommended headers, maps failures to typed errors, retries idempotent calls with
the one :class:`~btp_release.retry.RetryPolicy`, follows ``Link`` pagination, and answers polls
with conditional requests (``If-None-Match`` → 304, which costs no rate limit).
"""

from __future__ import annotations

import collections
import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, TypeVar

import httpx

from btp_release.errors import BtpReleaseError, InvalidInput, NotFound, Transient
from btp_release.github.protocol import (
    API_VERSION,
    GITHUB_API_URL,
    ApiUrls,
    RateLimitInfo,
    error_for_response,
    next_link,
)
from btp_release.http_core import USER_AGENT, HttpSession, TransportWording, read_error_body
from btp_release.neterrors import Cause, request_origin
from btp_release.redaction import get_logger
from btp_release.retry import RetryPolicy
from btp_release.secret import Secret, credential
from btp_release.wait import Clock, Sleeper

T = TypeVar("T")
log = get_logger("btp_release.github")

DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
_ETAG_CACHE_SIZE = 256
_WORDING = TransportWording(
    timed_out="{what} timed out ({kind})",
    timeout_hint="the call may have taken effect; it is checked before being repeated",
    unreachable="{what}: network error ({kind}: {exc})",
    unreachable_hint="check connectivity to GitHub; the call is retried",
    network_error="{what}: network error ({kind}: {exc})",
    network_hint="check connectivity to GitHub; the call is retried",
    lasting_hints={
        Cause.UNTRUSTED_CERTIFICATE: "add the server's CA certificate to SSL_CERT_FILE (or the "
        "system store); never disable verification",
        Cause.PLAIN_HTTP: "check the scheme and port of the GitHub API URL (github-api-url): "
        "this server does not speak HTTPS there",
        Cause.UNKNOWN_HOST: "check the host name of the GitHub API URL (github-api-url)",
    },
)


def _token_from(token: Secret | str | None, environ: Mapping[str, str] | None) -> Secret | None:
    """The token, checked where it is read: a stray CR or space would otherwise reach the header,
    where httpx rejects it with a message quoting the whole value."""
    if isinstance(token, Secret):
        return credential(token.reveal(), source="the token given") if token else None
    if token:
        return credential(token, source="the token given")
    env = os.environ if environ is None else environ
    for name in ("GITHUB_TOKEN", "GH_TOKEN"):
        if env.get(name):
            return credential(env[name], source=f"environment {name}")
    return None


class GitHubSession(HttpSession):
    """Connection, credentials and request policy for one repository ``owner/name``.

    ``http`` (an ``httpx.Client``) or ``transport`` is injected for tests and proxies; ``clock``
    (monotonic seconds), ``wall_clock`` (epoch seconds, for ``x-ratelimit-reset``) and ``sleeper``
    are injected so retries and waits run instantly in tests.
    """

    service = "GitHub"
    _wording = _WORDING

    def __init__(
        self,
        repo: str,
        *,
        token: Secret | str | None = None,
        api_url: str = GITHUB_API_URL,
        http: httpx.Client | None = None,
        transport: httpx.BaseTransport | None = None,
        retry: RetryPolicy | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        clock: Clock = time.monotonic,
        wall_clock: Clock = time.time,
        sleeper: Sleeper = time.sleep,
        user_agent: str = USER_AGENT,
        environ: Mapping[str, str] | None = None,
        mutation_spacing: float | None = None,
    ) -> None:
        owner, _, name = repo.partition("/")
        if not owner or not name or "/" in name or any(c.isspace() for c in repo):
            raise InvalidInput(f"invalid GitHub repository {repo!r}", hint="use OWNER/NAME")
        self.repo = repo
        self.urls = ApiUrls.for_api_url(api_url)
        self._token = _token_from(token, environ)
        super().__init__(
            http,
            lambda: httpx.Client(transport=transport, timeout=timeout),
            retry=retry or RetryPolicy(),
            clock=clock,
            sleeper=sleeper,
        )
        self.wall_clock = wall_clock
        self._headers = {
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": API_VERSION,
            "User-Agent": user_agent,
        }
        self._etags: collections.OrderedDict[str, tuple[str, Any]] = collections.OrderedDict()
        self.rate_limit: RateLimitInfo | None = None
        # GitHub asks for about a second between content-creating requests to stay clear of
        # secondary rate limits; other hosts (GHES, the simulator) default to no spacing.
        if mutation_spacing is None:
            mutation_spacing = 1.0 if self.urls.api == GITHUB_API_URL else 0.0
        self.mutation_spacing = mutation_spacing
        self._last_mutation: float | None = None

    def __repr__(self) -> str:
        auth = "token" if self._token else "anonymous"
        return f"{type(self).__name__}({self.repo!r}, api_url={self.urls.api!r}, {auth})"

    @property
    def authenticated(self) -> bool:
        return self._token is not None

    # -- one request -------------------------------------------------------------------------

    def repo_url(self, path: str = "") -> str:
        return f"{self.urls.api}/repos/{self.repo}{path}"

    def _auth_headers(self, url: str, hypermedia: bool) -> dict[str, str]:
        # The token goes only to the configured API/uploads roots, or to a URL GitHub itself gave
        # us (``upload_url``); redirects to other origins (asset storage) never get it (httpx).
        trusted = hypermedia or url.startswith(self.urls.api) or url.startswith(self.urls.uploads)
        if self._token is None or not trusted:
            return {}
        return {"Authorization": f"Bearer {self._token.reveal()}"}

    def send(
        self,
        method: str,
        url: str,
        *,
        operation: str,
        subject: str,
        expect: Iterable[int] = (200,),
        params: Mapping[str, str | int] | None = None,
        json: Any = None,
        content: Iterable[bytes] | bytes | None = None,
        headers: Mapping[str, str] | None = None,
        stream: bool = False,
        follow_redirects: bool = False,
        hypermedia: bool = False,
    ) -> httpx.Response:
        """One HTTP exchange, no retry: the response if its status is expected, else a typed error.

        ``hypermedia`` marks a URL taken from a GitHub response (e.g. ``upload_url``), which gets
        the token even when its origin differs from the configured API root.
        """
        if method != "GET" and self.mutation_spacing > 0:
            now = self.clock()
            if self._last_mutation is not None and now - self._last_mutation < self.mutation_spacing:
                self.sleeper(self.mutation_spacing - (now - self._last_mutation))
            self._last_mutation = self.clock()
        request = self._http.build_request(
            method,
            url,
            params=params,
            json=json,
            content=content,
            headers={**self._headers, **self._auth_headers(url, hypermedia), **(headers or {})},
        )
        return self.exchange(
            request,
            operation=operation,
            subject=subject,
            expect=expect,
            stream=stream,
            follow_redirects=follow_redirects,
        )

    def _where(self, exc: httpx.TransportError) -> str:
        return request_origin(exc) or self.urls.api

    def _received(self, response: httpx.Response) -> None:
        if "x-ratelimit-remaining" in response.headers:
            self.rate_limit = RateLimitInfo.from_headers(response.headers)

    def _error(
        self, response: httpx.Response, *, operation: str, subject: str, stream: bool
    ) -> BtpReleaseError:
        return error_for_response(
            response.status_code,
            response.headers,
            read_error_body(response, keep_text=not stream),
            operation=operation,
            subject=subject,
            now=self.wall_clock(),
        )

    def request_json(
        self,
        method: str,
        url: str,
        *,
        operation: str,
        subject: str,
        expect: Iterable[int] = (200,),
        params: Mapping[str, str | int] | None = None,
        json: Any = None,
        idempotent: bool = True,
    ) -> Any:
        """JSON body of an expected response; retried only when ``idempotent``."""

        def attempt() -> Any:
            response = self.send(
                method, url, operation=operation, subject=subject, expect=expect, params=params, json=json
            )
            return response.json() if response.content else None

        return self.retrying(attempt, what=f"{operation} ({subject})") if idempotent else attempt()

    def delete(self, url: str, *, operation: str, subject: str) -> bool:
        """DELETE with retries; ``False`` when the object was already gone (404), so a retried
        or repeated delete is harmless."""
        try:
            self.request_json("DELETE", url, operation=operation, subject=subject, expect=(204,))
        except NotFound:
            return False
        return True

    def get_json(
        self,
        url: str,
        *,
        operation: str,
        subject: str,
        params: Mapping[str, str | int] | None = None,
        conditional: bool = False,
    ) -> tuple[Any, httpx.Headers]:
        """GET with retries; with ``conditional`` a repeated GET sends ``If-None-Match`` and a 304
        returns the cached body (no rate-limit cost), which is what every poll uses."""
        key = str(httpx.URL(url, params=params)) if params else url

        def attempt() -> tuple[Any, httpx.Headers]:
            cached = self._etags.get(key) if conditional else None
            extra = {"If-None-Match": cached[0]} if cached else None
            response = self.send(
                "GET",
                url,
                operation=operation,
                subject=subject,
                expect=(200, 304),
                params=params,
                headers=extra,
            )
            if response.status_code == 304:
                if cached is None:  # a 304 we did not ask for: refetch unconditionally
                    raise Transient(f"GitHub {operation} for {subject}: unexpected 304 Not Modified")
                self._etags.move_to_end(key)
                return cached[1], response.headers
            body = response.json()
            etag = response.headers.get("etag")
            if conditional and etag:
                self._etags[key] = (etag, body)
                self._etags.move_to_end(key)
                while len(self._etags) > _ETAG_CACHE_SIZE:
                    self._etags.popitem(last=False)
            return body, response.headers

        return self.retrying(attempt, what=f"{operation} ({subject})")

    def create_idempotently(self, *, find: Callable[[], T | None], create: Callable[[], T], what: str) -> T:
        """Look first, then create; after a failed create look again before repeating it.

        A POST that timed out or got a 5xx may still have taken effect on GitHub, so it is never
        repeated blindly: ``find`` decides whether the object is there now.
        """
        attempts = self.retry.attempts
        for attempt in range(1, attempts + 1):
            existing = find()
            if existing is not None:
                if attempt > 1:
                    log.info("%s: found after an uncertain attempt, not creating again", what)
                return existing
            try:
                return create()
            except Transient as exc:
                if attempt == attempts or not self.retry.should_retry(exc):
                    raise
                delay = self.retry.backoff(attempt, exc)
                log.warning(
                    "%s failed (attempt %d/%d): %s; checking again in %.1fs",
                    what,
                    attempt,
                    attempts,
                    exc,
                    delay,
                )
                self.sleeper(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def paginate(
        self,
        url: str,
        *,
        operation: str,
        subject: str,
        params: Mapping[str, str | int] | None = None,
        item_key: str | None = None,
        conditional: bool = False,
        max_pages: int = 1000,
    ) -> Iterator[Any]:
        """Yield every item of every page, following ``Link: rel="next"`` verbatim (bounded)."""
        next_url: str | None = url
        page_params: Mapping[str, str | int] | None = {"per_page": 100, **(params or {})}
        for _ in range(max_pages):
            if next_url is None:
                return
            body, headers = self.get_json(
                next_url, operation=operation, subject=subject, params=page_params, conditional=conditional
            )
            items = body.get(item_key, []) if item_key else body
            yield from items
            next_url, page_params = next_link(headers), None
        raise BtpReleaseError(f"GitHub {operation} for {subject}: more than {max_pages} pages, giving up")
