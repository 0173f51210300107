"""A canary secret through every error path: client operations x fault kinds, config errors, the CLI in
and out of GitHub Actions. Its value must never appear in an exception, a log line or any output.

The faults include a proxy that echoes the request headers in its error page (as misconfigured
proxies and some API gateways do): the client then quotes a body that carries the token, which only
redaction at the sinks can catch.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import httpx
import pytest

from btp_release.cli import main
from btp_release.errors import AuthenticationFailed, BtpReleaseError, InvalidInput
from btp_release.github import GitHubClient
from btp_release.localservices.registry import registry_binary
from btp_release.oci import Credentials, Reference, RegistryClient
from btp_release.redaction import MASK, Redactor, redact
from btp_release.retry import RetryPolicy
from btp_release.secret import Secret, credential
from btp_release.testing import FakeClock, GitHubSimulator, LocalRegistry

from .test_github_faults import FAULTS, OPS, REPO, Ctx, Op

CANARY = "ghp_CanaryValue0123456789abcdefCANARY"


class EchoingProxy(httpx.BaseTransport):
    """A broken proxy in front of the server: answers ``status`` with the request's headers in the
    body (JSON ``message`` and plain text alike) instead of forwarding the request."""

    def __init__(self, status: int = 502) -> None:
        self.status = status
        self.requests = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        request.read()
        echoed = "; ".join(f"{k}: {v}" for k, v in request.headers.items())
        return httpx.Response(
            self.status,
            json={"message": f"upstream refused request with headers {echoed}", "errors": [echoed]},
            headers={"x-echo": echoed[:2000]},
            request=request,
        )


@contextlib.contextmanager
def echo_server(status: int = 400) -> Iterator[str]:
    """A real HTTP server on 127.0.0.1 that answers every request with its headers in the body."""

    class Echo(http.server.BaseHTTPRequestHandler):
        def _echo(self) -> None:
            echoed = "; ".join(f"{k}: {v}" for k, v in self.headers.items())
            body = json.dumps({"message": f"upstream refused request with headers {echoed}"}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PATCH = do_DELETE = do_HEAD = _echo

        def log_message(self, *_: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def _leaks(texts: list[str], value: str) -> list[str]:
    forms = {value, repr(value)[1:-1]}
    return [t for t in texts if any(f in t for f in forms)]


@pytest.fixture
def log_text(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    return caplog


def _texts(error: BaseException | None, caplog: pytest.LogCaptureFixture) -> list[str]:
    texts = [record.getMessage() for record in caplog.records] + [caplog.text]
    if error is not None:
        texts += [str(error), repr(error)]
        if isinstance(error, BtpReleaseError):
            texts += [error.message, error.hint or ""]
    return texts


# -- the register and the filter --------------------------------------------------------------------


def test_the_redactor_hides_a_value_and_the_forms_libraries_quote_it_in() -> None:
    redactor = Redactor()
    redactor.add("tok_abcdef\r")
    assert (
        redactor.redact("Illegal header value b'Bearer tok_abcdef\\r'")
        == f"Illegal header value b'Bearer {MASK}'"
    )
    assert redactor.redact("token tok_abcdef was refused") == f"token {MASK} was refused"
    redactor.add("nope")  # too short to mean anything: not registered, text stays readable
    assert redactor.redact("nope.yaml is missing") == "nope.yaml is missing"


def test_every_secret_is_redacted_from_error_messages_and_log_records(log_text: Any) -> None:
    value = "s3cret-" + CANARY
    Secret(value)
    error = InvalidInput(f"server said: bad token {value}", hint=f"not {value!r}")
    assert value not in str(error) and MASK in error.message and MASK in (error.hint or "")
    logging.getLogger("btp_release.github").warning("retrying after %s", f"echo {value}")
    assert value not in log_text.text and MASK in log_text.text


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("ghs_x\r", "line break"),
        ("ghs_x\r\n", "line break"),
        ("ghs_x\n", "line break"),
        (" ghs_xyz", "whitespace"),
        ("ghs xyz", "whitespace"),
        ("ghs_\x00xyz", "control character"),
        ("", "empty"),
    ],
)
def test_a_token_is_checked_where_it_is_read_and_never_quoted(value: str, problem: str) -> None:
    if value:  # an empty variable is an unset one (an Actions secret that does not exist)
        with pytest.raises(InvalidInput, match=problem) as caught:
            GitHubClient(REPO, api_url="http://127.0.0.1:9", environ={"GITHUB_TOKEN": value})
        assert "environment GITHUB_TOKEN" in str(caught.value)
        assert not _leaks([str(caught.value)], value.strip())
    with pytest.raises(InvalidInput, match=f"environment GH_TOKEN {problem}|{problem}"):
        credential(value, source="environment GH_TOKEN")


def test_a_password_may_hold_inner_spaces_but_no_line_break() -> None:
    assert credential("pass word", source="x", kind="password").reveal() == "pass word"
    with pytest.raises(InvalidInput, match="line break"):
        credential("password\n", source="environment BTP_RELEASE_REGISTRY_PASSWORD", kind="password")


# -- the GitHub client: every operation x every fault kind ------------------------------------------

FINAL_FAULTS = ("echo-502", "echo-422", "wrong-token")


def _github(sim: GitHubSimulator, token: str, transport: httpx.BaseTransport | None = None) -> GitHubClient:
    clock = FakeClock()
    return GitHubClient(
        REPO,
        token=token,
        api_url=sim.api_url,
        transport=transport,
        retry=RetryPolicy(jitter=0, attempts=3),
        clock=clock,
        sleeper=clock.sleep,
        environ={},
    )


# "slow" is left out: latency changes no message (the fault matrix covers it).
@pytest.mark.parametrize("fault_name", [*(f for f in FAULTS if f != "slow"), *FINAL_FAULTS])
@pytest.mark.parametrize("op", OPS, ids=[op.name for op in OPS])
def test_no_github_operation_leaks_the_token_under_any_fault(
    op: Op, fault_name: str, tmp_path: Path, log_text: Any
) -> None:
    with GitHubSimulator(owner="kyma-project", repo="btp-manager") as sim:
        ctx: Ctx = {"tmp": tmp_path}
        with _github(sim, sim.token) as setup:
            op.setup(setup, sim, ctx)
        canary = sim.token  # the secret of this case: the token in every request
        transport: httpx.BaseTransport | None = None
        if fault_name.startswith("echo"):
            transport = EchoingProxy(int(fault_name.removeprefix("echo-")))
        elif fault_name == "wrong-token":
            canary = CANARY
        else:
            sim.add_fault(attrs.evolve(FAULTS[fault_name], method=op.method, path=op.path))
        log_text.clear()
        error: BaseException | None = None
        with _github(sim, canary, transport) as client:
            try:
                op.action(client, sim, ctx)
            except BtpReleaseError as exc:
                error = exc
    if fault_name in FINAL_FAULTS:
        assert error is not None, f"{op.name} under {fault_name} did not fail"
    if fault_name == "wrong-token":
        assert isinstance(error, AuthenticationFailed)
    assert not _leaks(_texts(error, log_text), canary)


# -- the registry client ----------------------------------------------------------------------------

needs_registry = pytest.mark.skipif(registry_binary() is None, reason="docker-registry is not installed")
PASSWORD = "registry-" + CANARY
REGISTRY_OPS = {
    "head_manifest": lambda c, h: c.head_manifest(Reference.parse(f"{h}/mod/x:v1")),
    "check_push_access": lambda c, h: c.check_push_access("mod/x"),
    "list_tags": lambda c, h: c.list_tags("mod/x"),
    "push_blob": lambda c, h: c.push_blob("mod/x", b"some content", "application/octet-stream"),
    "image_labels": lambda c, h: c.image_labels(Reference.parse(f"{h}/mod/x:v1")),
}


@needs_registry
@pytest.mark.parametrize("fault", ["wrong-password", "echo-502", "echo-400"])
@pytest.mark.parametrize("operation", list(REGISTRY_OPS))
def test_no_registry_operation_leaks_the_password(operation: str, fault: str, log_text: Any) -> None:
    with LocalRegistry(basic_auth=("user", "right-password")) as registry:
        transport = EchoingProxy(int(fault.removeprefix("echo-"))) if fault.startswith("echo") else None
        clock = FakeClock()
        client = RegistryClient(
            registry.host,
            credentials=Credentials.basic("user", PASSWORD),
            transport=transport,
            retry=RetryPolicy(jitter=0, attempts=2),
            clock=clock,
            sleeper=clock.sleep,
        )
        with client, pytest.raises(BtpReleaseError) as caught:
            REGISTRY_OPS[operation](client, registry.host)
    assert not _leaks(_texts(caught.value, log_text), PASSWORD)


# -- configuration and the CLI ----------------------------------------------------------------------


def test_config_errors_never_show_a_secret_variable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    environ = {"BTP_RELEASE_AWAIT_TIMEOUT": CANARY, "BTP_RELEASE_SOME_TOKEN": CANARY, "GITHUB_TOKEN": CANARY}
    code = main(["validate", "--version", "1.2.0", "--module-dir", str(tmp_path)], environ=environ)
    out = capsys.readouterr()
    assert code == 2
    assert not _leaks([out.out, out.err], CANARY)
    assert "BTP_RELEASE_SOME_TOKEN" in out.err


@pytest.mark.parametrize("in_actions", [False, True], ids=["terminal", "github-actions"])
@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
def test_the_cli_never_prints_the_token(
    in_actions: bool, as_json: bool, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The audit's case (a token with a CR) and a server that echoes the token back."""
    files = {name: tmp_path / name for name in ("out", "summary")}
    for path in files.values():
        path.touch()
    actions_env = {"GITHUB_ACTIONS": "true", "GITHUB_OUTPUT": str(files["out"])}
    actions_env["GITHUB_STEP_SUMMARY"] = str(files["summary"])
    base = {**(actions_env if in_actions else {}), "BTP_RELEASE_E2E_REQUIRED": "false"}
    args = ["validate", "--version", "1.2.0", *(["--json"] if as_json else [])]
    started = time.monotonic()
    code = main(args, environ={**base, "GITHUB_TOKEN": "ghs_x" + CANARY + "\r"})
    out = capsys.readouterr()
    assert code == InvalidInput.exit_code, out.err
    assert time.monotonic() - started < 10, "a bad token is refused at once, not retried"
    assert "line break" in out.out + out.err
    texts = [out.out, out.err, *(p.read_text() for p in files.values())]
    assert not _leaks(_without_masks(texts, in_actions), "ghs_x" + CANARY)

    token = "ghs_" + CANARY
    with echo_server() as url:  # a proxy in front of GitHub that echoes the request headers
        code = main([*args, "--github-api-url", url], environ={**base, "GITHUB_TOKEN": token})
        out = capsys.readouterr()
    assert code != 0
    assert "upstream refused" in out.out + out.err  # the echoed page did reach the message
    texts = [out.out, out.err, *(p.read_text() for p in files.values())]
    if in_actions:
        assert f"::add-mask::{token}" in out.out + out.err  # the one place it must appear
    assert not _leaks(_without_masks(texts, in_actions), token)
    if as_json:
        assert json.loads(out.out)["error"]["type"]


def _without_masks(texts: list[str], in_actions: bool) -> list[str]:
    """The texts less their ``::add-mask::`` lines, the one command that must carry the secret."""
    if not in_actions:
        return texts
    kept = (
        "".join(line for line in t.splitlines(True) if not line.startswith("::add-mask::")) for t in texts
    )
    return list(kept)


def test_an_unexpected_error_is_reported_with_a_redacted_traceback(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    Secret(CANARY)

    def broken(*_: Any, **__: Any) -> int:
        raise RuntimeError(f"bug while holding {CANARY}")

    monkeypatch.setattr("btp_release.cli_e2e._k3s_versions", broken)
    assert main(["k3s-versions"], environ={}) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and "internal error" in err
    assert CANARY not in err and redact(CANARY) in err


def test_a_request_httpx_refuses_to_send_is_an_input_error_not_retried() -> None:
    """httpx's LocalProtocolError (here: a header with a line break) quotes the header; retrying it
    cannot help, so it is an InvalidInput at once, redacted like any other message."""
    slept: list[float] = []
    with (
        GitHubSimulator() as sim,
        GitHubClient(
            REPO,
            token=sim.token,
            api_url=sim.api_url,
            user_agent="btp\r\nX-Injected: 1",
            sleeper=slept.append,
            environ={},
        ) as client,
        pytest.raises(InvalidInput, match="the request is invalid"),
    ):
        client.get_repository()
    assert slept == []
