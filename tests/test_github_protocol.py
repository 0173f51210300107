"""Sans-I/O GitHub rules: URLs, Link pagination, upload URL templates, rate limits, error mapping."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from btp_release.errors import (
    AlreadyExists,
    AuthenticationFailed,
    BtpReleaseError,
    Conflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
    RateLimited,
    Transient,
)
from btp_release.github.protocol import (
    ApiUrls,
    RateLimitInfo,
    error_for_response,
    expand_upload_url,
    next_link,
    parse_link_header,
    rate_limit_wait,
)

NOW = 1_700_000_000.0
DOCS = "https://docs.github.com/rest/releases/releases#create-a-release"

# --- URLs -------------------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["https://api.github.com", "https://api.github.com/"])
def test_api_urls_for_github_com(url: str) -> None:
    urls = ApiUrls.for_api_url(url)
    assert urls == ApiUrls("https://api.github.com", "https://uploads.github.com")


@pytest.mark.parametrize(
    ("url", "api", "uploads"),
    [
        (
            "https://ghe.example.com/api/v3",
            "https://ghe.example.com/api/v3",
            "https://ghe.example.com/api/uploads",
        ),
        (
            "https://ghe.example.com:8443/api/v3/",
            "https://ghe.example.com:8443/api/v3",
            "https://ghe.example.com:8443/api/uploads",
        ),
        # a local simulator serving REST at the root: uploads on the same root
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080", "http://127.0.0.1:8080"),
    ],
)
def test_api_urls_for_enterprise_and_others(url: str, api: str, uploads: str) -> None:
    assert ApiUrls.for_api_url(url) == ApiUrls(api, uploads)


def test_api_urls_for_enterprise_host() -> None:
    assert ApiUrls.for_enterprise_host("ghe.example.com") == ApiUrls.for_api_url(
        "https://ghe.example.com/api/v3"
    )


@pytest.mark.parametrize(
    "url", ["", "api.github.com", "ftp://api.github.com", "https://", "not a url", "file:///x"]
)
def test_api_urls_invalid(url: str) -> None:
    with pytest.raises(InvalidInput) as info:
        ApiUrls.for_api_url(url)
    assert repr(url) in str(info.value)
    assert "api/v3" in (info.value.hint or "")


# --- Link header ------------------------------------------------------------------------------

# Verbatim shape of GitHub's Link header (https://docs.github.com/rest/using-the-rest-api/using-pagination).
GITHUB_LINK = (
    '<https://api.github.com/repositories/1300192/issues?page=2>; rel="prev", '
    '<https://api.github.com/repositories/1300192/issues?page=4>; rel="next", '
    '<https://api.github.com/repositories/1300192/issues?page=515>; rel="last", '
    '<https://api.github.com/repositories/1300192/issues?page=1>; rel="first"'
)


def test_parse_link_header_github_format() -> None:
    assert parse_link_header(GITHUB_LINK) == {
        "prev": "https://api.github.com/repositories/1300192/issues?page=2",
        "next": "https://api.github.com/repositories/1300192/issues?page=4",
        "last": "https://api.github.com/repositories/1300192/issues?page=515",
        "first": "https://api.github.com/repositories/1300192/issues?page=1",
    }


def test_parse_link_header_keeps_urls_verbatim() -> None:
    url = "https://api.github.com/repos/o/r/releases?per_page=100&page=2&after=Y3Vyc29y%3D%3D"
    assert parse_link_header(f'<{url}>; rel="next"') == {"next": url}


def test_parse_link_header_multiple_rels_in_one_entry() -> None:
    value = '<https://api.github.com/x?page=3>; rel="next last"'
    assert parse_link_header(value) == {
        "next": "https://api.github.com/x?page=3",
        "last": "https://api.github.com/x?page=3",
    }


@pytest.mark.parametrize("value", [None, "", "garbage"])
def test_parse_link_header_empty(value: str | None) -> None:
    assert parse_link_header(value) == {}


def test_next_link() -> None:
    assert next_link({"link": GITHUB_LINK}) == "https://api.github.com/repositories/1300192/issues?page=4"
    last_page = (
        '<https://api.github.com/x?page=1>; rel="first", <https://api.github.com/x?page=2>; rel="prev"'
    )
    assert next_link({"link": last_page}) is None
    assert next_link({}) is None
    assert (
        next_link(httpx.Headers({"Link": GITHUB_LINK}))
        == "https://api.github.com/repositories/1300192/issues?page=4"
    )


# --- upload URL template ----------------------------------------------------------------------

UPLOAD_TEMPLATE = (
    "https://uploads.github.com/repos/kyma-project/btp-manager/releases/1234/assets{?name,label}"
)
UPLOAD_BASE = "https://uploads.github.com/repos/kyma-project/btp-manager/releases/1234/assets"


def test_expand_upload_url_name_only() -> None:
    assert expand_upload_url(UPLOAD_TEMPLATE, "btp-manager.yaml") == f"{UPLOAD_BASE}?name=btp-manager.yaml"


def test_expand_upload_url_with_label() -> None:
    url = expand_upload_url(UPLOAD_TEMPLATE, "manifest.yaml", label="Kyma manifest")
    assert url == f"{UPLOAD_BASE}?name=manifest.yaml&label=Kyma%20manifest"


@pytest.mark.parametrize(
    ("name", "encoded"),
    [
        ("my file.tar.gz", "my%20file.tar.gz"),
        ("c++.tgz", "c%2B%2B.tgz"),
        ("a&b=c#d?.txt", "a%26b%3Dc%23d%3F.txt"),
        ("dir/x.yaml", "dir%2Fx.yaml"),
        ("über.txt", "%C3%BCber.txt"),
    ],
)
def test_expand_upload_url_quotes_names(name: str, encoded: str) -> None:
    url = expand_upload_url(UPLOAD_TEMPLATE, name)
    assert url == f"{UPLOAD_BASE}?name={encoded}"
    # what a server decodes is the original name (a "+" must not turn into a space)
    assert httpx.URL(url).params["name"] == name


def test_expand_upload_url_empty_label_is_omitted() -> None:
    assert expand_upload_url(UPLOAD_TEMPLATE, "a.yaml", label="") == f"{UPLOAD_BASE}?name=a.yaml"


def test_expand_upload_url_ghes_template() -> None:
    template = "https://ghe.example.com/api/uploads/repos/o/r/releases/7/assets{?name,label}"
    assert (
        expand_upload_url(template, "x")
        == "https://ghe.example.com/api/uploads/repos/o/r/releases/7/assets?name=x"
    )


# --- rate limits ------------------------------------------------------------------------------


def test_rate_limit_info_from_headers() -> None:
    info = RateLimitInfo.from_headers(
        {
            "x-ratelimit-limit": "5000",
            "x-ratelimit-remaining": "4987",
            "x-ratelimit-used": "13",
            "x-ratelimit-reset": "1700000123",
            "x-ratelimit-resource": "core",
        }
    )
    assert info == RateLimitInfo(limit=5000, remaining=4987, used=13, reset=1700000123.0, resource="core")


def test_rate_limit_info_missing_and_garbled_headers() -> None:
    info = RateLimitInfo.from_headers({"x-ratelimit-remaining": "n/a"})
    assert info == RateLimitInfo(limit=None, remaining=None, used=None, reset=None, resource=None)


def test_rate_limit_info_is_case_insensitive_with_httpx_headers() -> None:
    headers = httpx.Headers({"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "1700000060"})
    info = RateLimitInfo.from_headers(headers)
    assert info.remaining == 0
    assert info.reset == 1700000060.0


@pytest.mark.parametrize("status", [403, 429])
def test_rate_limit_wait_uses_retry_after(status: int) -> None:
    body = {"message": "You have exceeded a secondary rate limit."}
    assert rate_limit_wait(status, {"retry-after": "42"}, body, NOW) == 42.0


@pytest.mark.parametrize("status", [403, 429])
def test_rate_limit_wait_primary_exhausted_waits_until_reset(status: int) -> None:
    headers = {
        "x-ratelimit-remaining": "0",
        "x-ratelimit-reset": str(int(NOW) + 125),
        "x-ratelimit-limit": "5000",
    }
    body = {"message": "API rate limit exceeded for installation ID 1234."}
    assert rate_limit_wait(status, headers, body, NOW) == pytest.approx(125.0)
    assert rate_limit_wait(status, headers, body, NOW + 100) == pytest.approx(25.0)


def test_rate_limit_wait_reset_in_the_past_still_waits_a_little() -> None:
    headers = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(NOW) - 10)}
    assert rate_limit_wait(403, headers, {"message": "API rate limit exceeded"}, NOW) == 1.0


def test_rate_limit_wait_secondary_without_header_is_a_minute() -> None:
    body = {
        "message": "You have exceeded a secondary rate limit. "
        "Please wait a few minutes before you try again.",
        "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api",
    }
    headers = {"x-ratelimit-remaining": "4000", "x-ratelimit-reset": str(int(NOW) + 3000)}
    assert rate_limit_wait(403, headers, body, NOW) == 60.0


def test_rate_limit_wait_bare_429_is_a_minute() -> None:
    assert rate_limit_wait(429, {}, None, NOW) == 60.0


@pytest.mark.parametrize(
    "body",
    [
        {"message": "Resource not accessible by integration", "documentation_url": DOCS},
        {"message": "Must have admin rights to Repository."},
        None,
    ],
)
def test_rate_limit_wait_plain_403_is_not_a_rate_limit(body: Any) -> None:
    headers = {"x-ratelimit-remaining": "4999", "x-ratelimit-reset": str(int(NOW) + 3600)}
    assert rate_limit_wait(403, headers, body, NOW) is None


@pytest.mark.parametrize("status", [200, 401, 404, 422, 500, 503])
def test_rate_limit_wait_other_statuses(status: int) -> None:
    assert rate_limit_wait(status, {"retry-after": "5", "x-ratelimit-remaining": "0"}, None, NOW) is None


# --- error mapping ----------------------------------------------------------------------------


def error(status: int, body: Any, headers: dict[str, str] | None = None) -> BtpReleaseError:
    return error_for_response(
        status,
        headers or {},
        body,
        operation="create draft release",
        subject="release 1.2.0 of kyma-project/btp-manager",
        now=NOW,
    )


def assert_names_context(err: BtpReleaseError, status: int, github_says: str) -> None:
    message = str(err)
    assert "create draft release" in message
    assert "release 1.2.0 of kyma-project/btp-manager" in message
    assert f"HTTP {status}" in message
    assert github_says in message


def test_401_is_authentication_failed() -> None:
    err = error(401, {"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"})
    assert type(err) is AuthenticationFailed
    assert_names_context(err, 401, "Bad credentials")
    assert "GITHUB_TOKEN" in (err.hint or "")


def test_403_permission_denied_says_which_permission() -> None:
    err = error(403, {"message": "Resource not accessible by integration", "documentation_url": DOCS})
    assert type(err) is PermissionDenied
    assert_names_context(err, 403, "Resource not accessible by integration")
    assert "contents: write" in (err.hint or "")
    assert "contents: write" in str(err)


@pytest.mark.parametrize(
    ("status", "headers", "body", "wait"),
    [
        (403, {"retry-after": "30"}, {"message": "You have exceeded a secondary rate limit."}, 30.0),
        (429, {"retry-after": "7"}, {"message": "You have exceeded a secondary rate limit."}, 7.0),
        (
            403,
            {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(NOW) + 300)},
            {"message": "API rate limit exceeded for installation ID 1."},
            300.0,
        ),
        (429, {}, {"message": "You have exceeded a secondary rate limit."}, 60.0),
    ],
)
def test_rate_limits_are_rate_limited(status: int, headers: dict[str, str], body: Any, wait: float) -> None:
    err = error(status, body, headers)
    assert type(err) is RateLimited
    assert isinstance(err, Transient)
    assert err.retry_after == pytest.approx(wait)
    assert_names_context(err, status, "rate limit")
    assert f"{wait:.0f}s" in (err.hint or "")


def test_404_is_not_found() -> None:
    err = error(404, {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"})
    assert type(err) is NotFound
    assert_names_context(err, 404, "Not Found")


def test_409_is_conflict_not_already_exists() -> None:
    err = error(409, {"message": "Git Repository is empty."})
    assert type(err) is Conflict
    assert_names_context(err, 409, "Git Repository is empty.")


@pytest.mark.parametrize(
    ("body", "github_says"),
    [
        (  # create release with the tag of a published release
            {
                "message": "Validation Failed",
                "errors": [{"resource": "Release", "code": "already_exists", "field": "tag_name"}],
                "documentation_url": DOCS,
                "status": "422",
            },
            "Release tag_name already_exists",
        ),
        (  # upload an asset whose name is taken
            {
                "message": "Validation Failed",
                "request_id": "CAFE:1234:5678",
                "documentation_url": "https://docs.github.com/rest/releases/assets#upload-a-release-asset",
                "errors": [{"resource": "ReleaseAsset", "code": "already_exists", "field": "name"}],
            },
            "ReleaseAsset name already_exists",
        ),
        (  # create a git ref that exists
            {
                "message": "Reference already exists",
                "documentation_url": "https://docs.github.com/rest/git/refs#create-a-reference",
            },
            "Reference already exists",
        ),
    ],
    ids=["release", "asset", "ref"],
)
def test_422_already_exists(body: Any, github_says: str) -> None:
    err = error(422, body)
    assert type(err) is AlreadyExists
    assert_names_context(err, 422, github_says)


@pytest.mark.parametrize(
    "body",
    [
        {"message": "Cannot upload assets to an immutable release."},
        {
            "message": "Validation Failed",
            "errors": [
                {
                    "resource": "Release",
                    "code": "custom",
                    "field": "tag_name",
                    "message": "tag_name was used by an immutable release",
                }
            ],
        },
    ],
)
def test_422_immutable_is_conflict(body: Any) -> None:
    err = error(422, body)
    assert type(err) is Conflict
    assert "immutable" in str(err)
    assert "new version" in (err.hint or "")


def test_other_422_is_invalid_input() -> None:
    body = {
        "message": "Validation Failed",
        "errors": [{"resource": "Release", "code": "invalid", "field": "target_commitish"}],
        "documentation_url": DOCS,
    }
    err = error(422, body)
    assert type(err) is InvalidInput
    assert_names_context(err, 422, "Validation Failed (Release target_commitish invalid)")


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_is_transient(status: int) -> None:
    err = error(status, "<html><body>Unicorn!</body></html>")
    assert type(err) is Transient
    assert_names_context(err, status, "Unicorn!")


def test_error_without_body_still_names_the_call() -> None:
    err = error(502, None)
    assert str(err).startswith(
        "GitHub create draft release for release 1.2.0 of kyma-project/btp-manager failed: HTTP 502"
    )


def test_long_non_json_body_is_shortened() -> None:
    err = error(500, "x" * 5000)
    assert len(err.message) < 400


def test_unexpected_status_is_invalid_input() -> None:
    err = error(400, {"message": "Problems parsing JSON"})
    assert type(err) is InvalidInput
    assert_names_context(err, 400, "Problems parsing JSON")


def test_plain_string_errors_in_body() -> None:
    err = error(422, {"message": "Validation Failed", "errors": ["name is too long"]})
    assert type(err) is InvalidInput
    assert "Validation Failed (name is too long)" in str(err)
