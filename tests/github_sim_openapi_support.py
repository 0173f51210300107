"""Shared machinery of the OpenAPI contract tests of the GitHub simulator: capture exchanges
under labels, then validate each against GitHub's OpenAPI description
(``shared/schemas/github/api.github.com.releases.json``) with openapi-core.

Each scenario module (releases, git data and contents, pull requests) drives the simulator
into every status an operation can answer; ``scenario`` runs each driver once per session, so
the coverage test (every routed operation validated) can look at all of them.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import attrs
import httpx
import pytest

from btp_release.testing import GitHubSimulator
from btp_release.testing.github_sim.protocol import Service
from btp_release.testing.github_sim.routes import ROUTES

SCHEMA = (
    Path(__file__).resolve().parents[1].parent
    / "shared"
    / "schemas"
    / "github"
    / "api.github.com.releases.json"
)
R = "/repos/{owner}/{repo}"
Driver = Callable[[GitHubSimulator, "Recorder"], None]


@attrs.frozen
class Exchange:
    """One captured response with the route it was served by."""

    method: str
    template: str
    service: Service
    path: str
    query: dict[str, str]
    params: dict[str, str]
    status: int
    headers: dict[str, str]
    body: bytes


class Recorder:
    """Captures responses under labels that must start with ``METHOD template status``."""

    def __init__(self, sim: GitHubSimulator) -> None:
        self.sim = sim
        self.exchanges: dict[str, Exchange] = {}

    def __call__(self, label: str, response: httpx.Response) -> httpx.Response:
        request = response.request
        service = Service.UPLOADS if str(request.url).startswith(self.sim.uploads_url) else Service.API
        method, path = request.method, request.url.path
        if service is Service.UPLOADS:  # the one-origin layout serves uploads under /api/uploads
            path = path.removeprefix(urlsplit(self.sim.uploads_url).path)
        matches = [(r, r.match(method, path)) for r in ROUTES if r.service is service]
        route, params = next((r, p) for r, p in matches if p is not None)
        prefix = f"{method} {route.template} {response.status_code}"
        assert label == prefix or label.startswith(prefix + " "), (label, prefix, response.text)
        assert label not in self.exchanges, label
        self.exchanges[label] = Exchange(
            method=method,
            template=route.template,
            service=service,
            path=path,
            query=dict(request.url.params),
            params=params,
            status=response.status_code,
            headers=dict(response.headers),
            body=response.content,
        )
        return response


@functools.cache
def scenario(drive: Driver) -> dict[str, Exchange]:
    """The exchanges one driver captures (run once per session)."""
    with GitHubSimulator() as sim:
        recorder = Recorder(sim)
        drive(sim, recorder)
        return recorder.exchanges


def load_description() -> dict[str, Any]:
    if not SCHEMA.is_file():
        pytest.skip(f"GitHub's OpenAPI description is not available at {SCHEMA}")
    loaded: dict[str, Any] = json.loads(SCHEMA.read_text())
    return loaded


def load_openapi() -> Any:
    core = pytest.importorskip("openapi_core", reason="openapi-core validates the responses")
    return core.OpenAPI.from_file_path(str(SCHEMA))


def _content_type(headers: dict[str, str]) -> str:
    return headers.get("content-type", "").split(";")[0].strip()


def _check_error_shape(exchange: Exchange, components: dict[str, Any]) -> None:
    """GitHub's errors: basic-error, or validation-error for 422; docs link always present."""
    from openapi_schema_validator import OAS30Validator

    if _content_type(exchange.headers) != "application/json":
        assert exchange.headers["content-type"].startswith("text/plain")
        assert exchange.body  # the User-Agent rejection is plain text, as on GitHub
        return
    body = json.loads(exchange.body)
    name = "validation-error" if exchange.status == 422 else "basic-error"
    OAS30Validator(components[name]).validate(body)
    assert isinstance(body.get("message"), str) and body["message"]
    assert body["documentation_url"].startswith("https://docs.github.com")


def _ambiguous_error(declared: dict[str, Any]) -> bool:
    schema = declared.get("content", {}).get("application/json", {}).get("schema", {})
    refs = [option.get("$ref", "") for option in schema.get("oneOf", [])]
    return any(ref.endswith("/repository-rule-violation-error") for ref in refs)


def check_exchange(label: str, exchange: Exchange, description: dict[str, Any], openapi: Any) -> None:
    """Validate one captured response against the description (and GitHub's error shapes)."""
    from openapi_core.testing import MockRequest, MockResponse

    operation = description["paths"][exchange.template][exchange.method.lower()]
    host = "https://uploads.github.com" if exchange.service is Service.UPLOADS else "https://api.github.com"
    # GitHub's edge answers a missing User-Agent in plain text before the API sees the request;
    # the description only documents the API's own (JSON) 403s. Edge answers (and 5xx from
    # the infrastructure) carry no rate-limit headers.
    edge_rejection = "no user agent" in label
    from_edge = edge_rejection or exchange.status == 411 or exchange.status >= 500
    body = exchange.body
    if label.endswith("in progress"):
        # GitHub sends "conclusion": null until a run completes; the description marks the
        # field nullable but its enum omits null, which openapi-core enforces. Check the rest.
        payload = json.loads(body)
        assert any(run["conclusion"] is None for run in payload["check_runs"])
        for run in payload["check_runs"]:
            run["conclusion"] = run["conclusion"] or "neutral"
        body = json.dumps(payload).encode()
    if exchange.template == f"{R}/pulls" and exchange.method == "GET" and exchange.status == 200:
        # GitHub sends "description": null for a label without one (pull-request's schema says
        # nullable); pull-request-simple's says a non-null string. Check the rest.
        items = json.loads(body)
        for item in items:
            for value in item["labels"]:
                value["description"] = value["description"] or ""
        body = json.dumps(items).encode()
    declared = operation["responses"].get(str(exchange.status))
    if declared is not None and _ambiguous_error(declared):
        # The description's oneOf of repository-rule-violation-error and basic-/validation-error:
        # any plain GitHub error matches both, which openapi-core rejects as "valid under each".
        # _check_error_shape below checks it against the plain error schema.
        declared = None
    if declared is not None and "directory" in label:
        # A directory is a JSON array, which the description's discriminator (on "type", for
        # objects) cannot select: check the array against content-directory itself.
        from openapi_schema_validator import OAS30Validator

        OAS30Validator(description["components"]["schemas"]["content-directory"]).validate(json.loads(body))
        declared = None
    if declared is not None and not edge_rejection:
        request = MockRequest(
            host,
            exchange.method.lower(),
            exchange.path,
            path_pattern=exchange.template,
            args=exchange.query,
            view_args=exchange.params,
        )
        response = MockResponse(
            body,
            status_code=exchange.status,
            headers=exchange.headers,
            content_type=_content_type(exchange.headers),
        )
        openapi.validate_response(request, response)
    if exchange.status >= 400:
        _check_error_shape(exchange, description["components"]["schemas"])
    if exchange.status in (204, 302, 304):
        assert exchange.body == b""
    if exchange.status == 302:
        assert urlsplit(exchange.headers["location"]).path.startswith("/github-production")
    if exchange.status == 304:
        assert exchange.headers["etag"].startswith('"')
    elif exchange.body and exchange.status < 400:
        assert exchange.headers["content-type"] == "application/json; charset=utf-8"
    assert ("x-ratelimit-limit" in exchange.headers) is not from_edge
