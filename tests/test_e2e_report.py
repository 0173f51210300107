"""E2E pieces that need no cluster: the step record and its JUnit XML, credentials, settings."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from btp_release.e2e import E2ESettings, ServiceCredentials, Steps
from btp_release.e2e.scenarios import DUMMY_CREDENTIALS, credentials_secret
from btp_release.errors import CheckFailed, InvalidInput
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


def test_real_credentials_are_secrets_and_go_base64_into_the_secret() -> None:
    environ = {
        "SM_CLIENT_ID": "the-id",
        "SM_CLIENT_SECRET": "s3cr3t",
        "SM_URL": "https://sm.example",
        "SM_TOKEN_URL": "https://token.example",
    }
    credentials = ServiceCredentials.from_environ(environ, cluster_id="c-1")
    assert credentials.real and "s3cr3t" not in repr(credentials)
    body = credentials_secret(credentials)
    import base64

    decoded = {k: base64.b64decode(v).decode() for k, v in body["data"].items()}
    assert decoded == {
        "clientid": "the-id",
        "clientsecret": "s3cr3t",
        "sm_url": "https://sm.example",
        "tokenurl": "https://token.example",
        "cluster_id": "c-1",
    }
    assert body["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "kcp-kyma-environment-broker"}


def test_dummy_credentials_are_the_fixed_test_values() -> None:
    dummy = ServiceCredentials.dummy()
    assert not dummy.real
    assert {k: v.reveal() for k, v in dummy.values.items()} == DUMMY_CREDENTIALS


@pytest.mark.parametrize(
    ("run_id", "expected"),
    [
        ("12345", "si-12345"),
        ("Run #7/attempt 2", "si-run--7-attempt-2"),
        ("", "si-run"),
        ("x" * 80, "si-" + "x" * 40),
    ],
)
def test_unique_names_are_dns_labels_from_the_run_id(run_id: str, expected: str) -> None:
    assert E2ESettings(run_id=run_id).unique("si") == expected
