"""Secret: the value only comes out through reveal()."""

from __future__ import annotations

import logging

import attrs
import pytest

from btp_release.secret import Secret

VALUE = "ghp_S3cr3tT0k3nValue"


@pytest.fixture
def secret() -> Secret:
    return Secret(VALUE)


def test_reveal_returns_the_value(secret: Secret) -> None:
    assert secret.reveal() == VALUE
    assert Secret(value=VALUE).reveal() == VALUE


@pytest.mark.parametrize(
    "render",
    [
        repr,
        str,
        lambda s: f"{s}",
        lambda s: f"{s!r}",
        lambda s: f"{s!s}",
        lambda s: f"{s!a}",
        lambda s: format(s),
        lambda s: "{}".format(s),  # noqa: UP032
        lambda s: "token=%s" % s,  # noqa: UP031
        lambda s: "token=%r" % s,  # noqa: UP031
        lambda s: repr([s, {"token": s}]),
        lambda s: str(RuntimeError("auth failed", s)),
        lambda s: repr(RuntimeError(s)),
    ],
    ids=[
        "repr",
        "str",
        "fstring",
        "fstring-r",
        "fstring-s",
        "fstring-a",
        "format",
        "str.format",
        "percent-s",
        "percent-r",
        "container",
        "exception-str",
        "exception-repr",
    ],
)
def test_renderings_never_show_the_value(secret: Secret, render: object) -> None:
    text = render(secret)  # type: ignore[operator]
    assert VALUE not in text
    assert "***" in text


def test_format_spec_does_not_show_the_value(secret: Secret) -> None:
    text = format(secret, ">40")
    assert VALUE not in text
    assert text.strip() == "Secret('***')" and len(text) == 40


def test_repr_of_a_value_object_holding_a_secret(secret: Secret) -> None:
    @attrs.frozen
    class Credentials:
        user: str
        token: Secret

    assert VALUE not in repr(Credentials("bot", secret))


def test_logging_does_not_show_the_value(secret: Secret, caplog: pytest.LogCaptureFixture) -> None:
    log = logging.getLogger("test_secret")
    with caplog.at_level(logging.INFO, logger="test_secret"):
        log.info("using token %s (%r)", secret, secret)
    assert caplog.records
    assert VALUE not in caplog.text


def test_is_not_equal_to_its_plain_value(secret: Secret) -> None:
    assert secret != VALUE
    assert secret != Secret(VALUE)  # no value-based equality that asserts could print


def test_truthiness_follows_the_value() -> None:
    assert Secret("x")
    assert not Secret("")


def test_is_immutable(secret: Secret) -> None:
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        secret._value = "other"  # type: ignore[misc]
    assert secret.reveal() == VALUE
