"""The error hierarchy: one root, handling levels that make sense, exit codes the CLI documents."""

from __future__ import annotations

import inspect

import pytest

import btp_release.errors as errors
from btp_release.errors import (
    AlreadyExists,
    AuthenticationFailed,
    BtpReleaseError,
    CheckFailed,
    Conflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
    RateLimited,
    Timeout,
    Transient,
    UntrustedCertificate,
)

ALL_CLASSES = [getattr(errors, name) for name in errors.__all__]


def test_all_exports_every_exception_class_of_the_module() -> None:
    defined = {
        obj
        for _, obj in inspect.getmembers(errors, inspect.isclass)
        if issubclass(obj, BaseException) and obj.__module__ == errors.__name__
    }
    assert defined == set(ALL_CLASSES)


@pytest.mark.parametrize("cls", ALL_CLASSES, ids=lambda c: c.__name__)
def test_every_error_is_a_btp_release_error(cls: type[BaseException]) -> None:
    assert issubclass(cls, BtpReleaseError)
    assert issubclass(cls, Exception)


def test_specialisations() -> None:
    assert issubclass(RateLimited, Transient)
    assert issubclass(AlreadyExists, Conflict)
    # Not retryable and not "already there": these must not be caught as Transient or Conflict.
    for cls in (AuthenticationFailed, PermissionDenied, NotFound, InvalidInput, Timeout, CheckFailed):
        assert not issubclass(cls, Transient), cls
        assert not issubclass(cls, Conflict), cls
    assert not issubclass(Timeout, Transient)


def test_catching_at_the_transient_level_catches_rate_limits() -> None:
    with pytest.raises(Transient) as info:
        raise RateLimited("GitHub list releases failed: HTTP 429", retry_after=12.0)
    assert isinstance(info.value, RateLimited)
    assert info.value.retry_after == 12.0


def test_exit_codes_are_distinct_except_for_deliberate_families() -> None:
    by_code: dict[int, set[type[BtpReleaseError]]] = {}
    for cls in ALL_CLASSES:
        by_code.setdefault(cls.exit_code, set()).add(cls)
    shared = {frozenset(classes) for classes in by_code.values() if len(classes) > 1}
    # An existing object is a conflict; a bad token and a missing permission are both "fix the credentials".
    assert shared == {
        frozenset({Conflict, AlreadyExists}),
        frozenset({AuthenticationFailed, PermissionDenied, UntrustedCertificate}),
    }


@pytest.mark.parametrize("cls", ALL_CLASSES, ids=lambda c: c.__name__)
def test_exit_codes_are_failures_a_shell_can_see(cls: type[BtpReleaseError]) -> None:
    assert 1 <= cls.exit_code <= 125


def test_only_the_root_uses_the_generic_exit_code() -> None:
    assert BtpReleaseError.exit_code == 1
    assert [cls for cls in ALL_CLASSES if cls.exit_code == 1] == [BtpReleaseError]


@pytest.mark.parametrize("cls", ALL_CLASSES, ids=lambda c: c.__name__)
def test_hint_appears_in_str(cls: type[BtpReleaseError]) -> None:
    error = cls("release 1.2.0 not found", hint="check the tag")
    assert str(error) == "release 1.2.0 not found — check the tag"
    assert error.message == "release 1.2.0 not found"
    assert error.hint == "check the tag"


@pytest.mark.parametrize("cls", ALL_CLASSES, ids=lambda c: c.__name__)
def test_without_hint_str_is_the_message(cls: type[BtpReleaseError]) -> None:
    error = cls("release 1.2.0 not found")
    assert str(error) == "release 1.2.0 not found"
    assert error.hint is None


def test_rate_limited_keeps_retry_after_and_hint() -> None:
    error = RateLimited("limited", retry_after=30.5, hint="wait")
    assert error.retry_after == 30.5
    assert str(error) == "limited — wait"
    assert RateLimited("limited").retry_after is None
