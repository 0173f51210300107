"""E2E pieces that need no cluster: the step record and its JUnit XML, credentials, settings."""

from __future__ import annotations

import base64
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from btp_release.e2e import E2ESettings, ServiceCredentials, Steps
from btp_release.e2e.scenarios import DUMMY_CREDENTIALS, credentials_secret
from btp_release.errors import CheckFailed, InvalidInput
from btp_release.redaction import redact
from btp_release.testing import FakeClock


def test_steps_time_each_step_and_stop_at_the_first_failure(tmp_path: Path) -> None:
    clock = FakeClock()
    steps = Steps(clock)
    with steps.step("main", "install"):
        clock.sleep(2.5)
    steps.skip("upgrade", "upgrade from the latest release", "needs real credentials")

    def crds_missing() -> None:
        with steps.step("main", "CRDs present"):
            clock.sleep(1)
            raise CheckFailed("the manager did not install the CRDs x\nsecond line")

    with pytest.raises(CheckFailed):
        crds_missing()
    assert [(s.scenario, s.name, s.outcome, s.seconds) for s in steps.items] == [
        ("main", "install", "passed", 2.5),
        ("upgrade", "upgrade from the latest release", "skipped", 0.0),
        ("main", "CRDs present", "failed", 1.0),
    ]
    root = ET.parse(steps.write_junit(tmp_path / "out" / "junit.xml")).getroot()  # noqa: S314 - our own file
    suites = {s.get("name"): s for s in root.iter("testsuite")}
    assert suites["main"].get("tests") == "2" and suites["main"].get("failures") == "1"
    assert suites["upgrade"].get("skipped") == "1"
    failure = root.find(".//testcase[@name='CRDs present']/failure")
    assert failure is not None
    assert failure.get("message") == "the manager did not install the CRDs x"
    assert "second line" in (failure.text or "")
    assert root.find(".//testcase[@name='install']/failure") is None


def test_real_credentials_name_every_missing_variable_and_never_a_value() -> None:
    environ = {"SM_CLIENT_ID": "id-123", "SM_URL": "https://sm.example"}
    with pytest.raises(InvalidInput) as info:
        ServiceCredentials.from_environ(environ)
    text = str(info.value)
    assert "SM_CLIENT_SECRET" in text and "SM_TOKEN_URL" in text
    assert "SM_CLIENT_ID" not in text.split("need", 1)[1].split("(")[0]
    assert "id-123" not in text and "sm.example" not in text


PLAIN = {
    "SM_CLIENT_ID": "the-id",
    "SM_CLIENT_SECRET": "s3cr3t-value",
    "SM_URL": "https://sm.example",
    "SM_TOKEN_URL": "https://token.example",
}
DECODED = {
    "clientid": "the-id",
    "clientsecret": "s3cr3t-value",
    "sm_url": "https://sm.example",
    "tokenurl": "https://token.example",
    "cluster_id": "c-1",
}


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize(
    ("environ", "encoding"),
    [
        # the default: base64 values, as btp-manager's CI keeps its repository secrets
        ({name: b64(value) for name, value in PLAIN.items()}, "base64"),
        (
            {**{name: b64(value) for name, value in PLAIN.items()}, "SM_CREDENTIALS_ENCODING": "base64"},
            "base64",
        ),
        ({**PLAIN, "SM_CREDENTIALS_ENCODING": "plain"}, "plain"),
        ({**PLAIN, "SM_CREDENTIALS_ENCODING": " Plain "}, "plain"),
    ],
)
def test_real_credentials_go_into_the_secret_encoded_once(environ: dict[str, str], encoding: str) -> None:
    credentials = ServiceCredentials.from_environ(environ, cluster_id="c-1")
    assert credentials.real and credentials.encoding == encoding
    assert "s3cr3t" not in repr(credentials) and b64("s3cr3t-value") not in repr(credentials)
    body = credentials_secret(credentials)
    assert {k: base64.b64decode(v).decode() for k, v in body["data"].items()} == DECODED
    assert body["metadata"] == {
        "name": "sap-btp-manager",
        "namespace": "kyma-system",
        "labels": {"app.kubernetes.io/managed-by": "kcp-kyma-environment-broker"},
    }


def test_base64_credentials_are_checked_and_their_plain_form_is_masked_too() -> None:
    with pytest.raises(InvalidInput) as info:
        ServiceCredentials.from_environ({**PLAIN, "SM_CLIENT_ID": b64("the-id")})  # the rest is plain
    text = str(info.value)
    assert "SM_CLIENT_SECRET is not base64" in text and "SM_CREDENTIALS_ENCODING=plain" in text
    assert "s3cr3t" not in text
    with pytest.raises(InvalidInput, match="must be base64 or plain"):
        ServiceCredentials.from_environ({**PLAIN, "SM_CREDENTIALS_ENCODING": "hex"})
    # only its base64 form was given: the plain one is masked as well, should it show up in a message
    ServiceCredentials.from_environ(
        {**{n: b64(v) for n, v in PLAIN.items()}, "SM_CLIENT_SECRET": b64("pl41n-only")}
    )
    assert redact("token pl41n-only leaked") == "token *** leaked"


def test_dummy_credentials_are_the_fixed_test_values() -> None:
    dummy = ServiceCredentials.dummy()
    assert not dummy.real and dummy.encoding == "plain"
    assert {k: v.reveal() for k, v in dummy.values.items()} == DUMMY_CREDENTIALS
    decoded = {k: base64.b64decode(v).decode() for k, v in credentials_secret(dummy)["data"].items()}
    assert decoded == DUMMY_CREDENTIALS


@pytest.mark.parametrize(
    ("run_id", "matrix_entry", "expected"),
    [
        ("12345", "", "si-main-12345"),
        ("Run #7/attempt 2", "", "si-main-run-7-attempt-2"),
        ("", "", "si-main-run"),
        # btp-manager names them ${GITHUB_JOB}-${K8S_VER}-${GITHUB_RUN_ID}: one per matrix entry
        ("987654321", "k3s-v1.31.4+k3s1", "si-main-987654321-k3s-v1-31-4-k3s1"),
        ("1.2.0-0123456789ab", "k3s-v1.30.8+k3s1", "si-main-1-2-0-0123456789ab-k3s-v1-30-8-k3s1"),
    ],
)
def test_unique_names_are_dns_labels_from_the_run_and_the_matrix_entry(
    run_id: str, matrix_entry: str, expected: str
) -> None:
    assert E2ESettings(run_id=run_id, matrix_entry=matrix_entry).unique("si-main") == expected


def test_long_unique_names_stay_labels_and_stay_unique() -> None:
    one = E2ESettings(run_id="x" * 80, matrix_entry="k3s-v1.31.4+k3s1").unique("si-main")
    other = E2ESettings(run_id="x" * 80, matrix_entry="k3s-v1.30.8+k3s1").unique("si-main")
    assert len(one) == len(other) == 63 and one != other
    assert re.fullmatch(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?", one)


def test_the_time_budgets_match_the_real_jobs() -> None:
    settings = E2ESettings()
    assert settings.budget("main") == 600  # btp-manager's run-e2e-tests job: timeout-minutes 10
    assert settings.budget("upgrade") == settings.budget("upgrade-while-deleting") == 300  # 5 minutes
    assert settings.budget("module") is None  # the generic scenario has only its waits' limits
    assert E2ESettings(budgets={"main": 60}).budget("main") == 60
