"""Release version rules: strict SemVer 2.0, no build metadata, OCI tag length, SemVer precedence."""

from __future__ import annotations

import itertools
import random

import pytest

from btp_release.errors import InvalidInput
from btp_release.version import Version, latest

try:  # hypothesis is optional: the property tests below run only where it is installed
    from hypothesis import given
    from hypothesis import strategies as st
except ImportError:  # pragma: no cover
    given = None


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("v1.2.0", "drop the leading 'v'"),
        ("V1.2.0", "drop the leading 'v'"),
        ("1.2", "three numbers"),
        ("1.2.3.4", "three numbers"),
        ("1.2.0;rm -rf /", "only digits, letters"),
        ("$(id)", "only digits, letters"),
        ("1.2.0`id`", "only digits, letters"),
        ("01.2.0", "leading zeros"),
        ("1.02.0", "leading zeros"),
        ("1.2.00", "leading zeros"),
        ("1.2.0+build", "build metadata"),
        ("1.2.0-rc.1+sha.abc", "build metadata"),
        ("", "empty"),
        (" ", "whitespace"),
        (" 1.2.0", "whitespace"),
        ("1.2.0 ", "whitespace"),
        ("1.2.0\n", "whitespace"),
        ("\t1.2.0", "whitespace"),
        ("\uff11.2.0", "only digits, letters"),  # FULLWIDTH DIGIT ONE
        ("1\u0663.2.0", "only digits, letters"),  # ARABIC-INDIC DIGIT THREE
        ("1.2.0-rc.\u0661", "only digits, letters"),
        ("1.2.0-" + "a" * 130, "at most 128"),
        ("1.2.0-", "empty identifier"),
        ("1.2.0-rc..1", "empty identifier"),
        ("1.2.0-01", "leading zeros"),
        ("1.2.0-rc.01", "leading zeros"),
        ("a.b.c", "not a SemVer"),
    ],
)
def test_parse_rejects_with_a_reason(text: str, reason: str) -> None:
    with pytest.raises(InvalidInput) as info:
        Version.parse(text)
    message = str(info.value)
    assert "invalid release version" in message
    assert reason in message
    assert repr(text[:40]) in message or text[:40] + "…" in message
    assert info.value.hint is not None
    assert "1.2.0" in info.value.hint
    assert Version.try_parse(text) is None


def test_long_input_is_shortened_in_the_message() -> None:
    text = "9" * 300
    with pytest.raises(InvalidInput) as info:
        Version.parse(text)
    assert len(str(info.value)) < 250
    assert "…" in str(info.value)


def test_exactly_128_characters_are_accepted_and_129_are_not() -> None:
    prefix = "1.2.0-"
    ok = prefix + "a" * (128 - len(prefix))
    assert str(Version.parse(ok)) == ok
    with pytest.raises(InvalidInput, match="at most 128"):
        Version.parse(ok + "a")


@pytest.mark.parametrize("value", [None, 1, 1.2, b"1.2.0"])
def test_parse_rejects_non_strings(value: object) -> None:
    with pytest.raises(InvalidInput, match="must be a string"):
        Version.parse(value)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "fields"),
    [
        ("1.2.0", (1, 2, 0, ())),
        ("0.0.0", (0, 0, 0, ())),
        ("1.2.0-rc.1", (1, 2, 0, ("rc", "1"))),
        ("10.20.30-alpha.beta", (10, 20, 30, ("alpha", "beta"))),
        ("1.0.0-0.3.7", (1, 0, 0, ("0", "3", "7"))),
        ("1.0.0-x-y-z.--", (1, 0, 0, ("x-y-z", "--"))),
        ("1.0.0-0A.is.legal", (1, 0, 0, ("0A", "is", "legal"))),
        ("999999999.0.1", (999999999, 0, 1, ())),
    ],
)
def test_parse_accepts_semver(text: str, fields: tuple[object, ...]) -> None:
    version = Version.parse(text)
    assert (version.major, version.minor, version.patch, version.prerelease) == fields
    assert str(version) == text
    assert version.is_prerelease == bool(fields[3])
    assert Version.try_parse(text) == version


def test_image_tag_and_module_tag() -> None:
    version = Version.parse("1.3.0-rc.2")
    assert version.image_tag == "1.3.0-rc.2"
    assert version.module_tag == "v1.3.0-rc.2"
    assert Version(2, 0, 1).image_tag == "2.0.1"
    assert Version(2, 0, 1).module_tag == "v2.0.1"


# semver.org §11: 1.0.0-alpha < 1.0.0-alpha.1 < 1.0.0-alpha.beta < 1.0.0-beta < 1.0.0-beta.2
# < 1.0.0-beta.11 < 1.0.0-rc.1 < 1.0.0, and 1.0.0 < 2.0.0 < 2.1.0 < 2.1.1.
SEMVER_CHAIN = [
    "1.0.0-alpha",
    "1.0.0-alpha.1",
    "1.0.0-alpha.beta",
    "1.0.0-beta",
    "1.0.0-beta.2",
    "1.0.0-beta.11",
    "1.0.0-rc.1",
    "1.0.0",
    "2.0.0",
    "2.1.0",
    "2.1.1",
]


def test_precedence_follows_the_semver_example_chain() -> None:
    chain = [Version.parse(t) for t in SEMVER_CHAIN]
    for lower, higher in itertools.pairwise(chain):
        assert lower < higher, (lower, higher)
        assert higher > lower
        assert lower != higher
        assert not higher < lower
    shuffled = chain[:]
    random.Random(11).shuffle(shuffled)
    assert [str(v) for v in sorted(shuffled)] == SEMVER_CHAIN


def test_numbers_compare_numerically_not_as_text() -> None:
    assert Version.parse("1.10.0") > Version.parse("1.9.0")
    assert Version.parse("1.0.10") > Version.parse("1.0.9")
    assert Version.parse("1.0.0-rc.10") > Version.parse("1.0.0-rc.9")
    # numeric identifiers rank below alphanumeric ones
    assert Version.parse("1.0.0-1") < Version.parse("1.0.0-a")


def test_equality_and_hash() -> None:
    assert Version.parse("1.2.0") == Version(1, 2, 0)
    assert Version.parse("1.2.0-rc.1") == Version(1, 2, 0, ("rc", "1"))
    assert len({Version.parse("1.2.0"), Version(1, 2, 0)}) == 1
    assert Version.parse("1.2.0") <= Version.parse("1.2.0")
    assert Version.parse("1.2.0") != "1.2.0"


def test_ordering_against_other_types_is_refused() -> None:
    with pytest.raises(TypeError):
        _ = Version.parse("1.2.0") < "1.3.0"  # type: ignore[operator]


def test_latest_skips_prereleases_unless_asked() -> None:
    versions = [Version.parse(t) for t in ["1.2.0", "1.10.0", "1.9.3", "2.0.0-rc.1", "1.10.0-rc.1"]]
    assert latest(versions) == Version.parse("1.10.0")
    assert latest(versions, include_prereleases=True) == Version.parse("2.0.0-rc.1")


def test_latest_of_nothing_is_none() -> None:
    assert latest([]) is None
    assert latest([], include_prereleases=True) is None
    only_pre = [Version.parse("1.0.0-rc.1")]
    assert latest(only_pre) is None
    assert latest(only_pre, include_prereleases=True) == only_pre[0]


if given is not None:
    _identifier = st.one_of(
        st.integers(min_value=0, max_value=10**6).map(str),
        st.from_regex(r"\A[0-9A-Za-z-]*[A-Za-z-][0-9A-Za-z-]*\Z"),
    )
    _versions = st.builds(
        Version,
        st.integers(min_value=0, max_value=10**9),
        st.integers(min_value=0, max_value=10**9),
        st.integers(min_value=0, max_value=10**9),
        st.lists(_identifier, max_size=4).map(tuple),
    ).filter(lambda v: len(str(v)) <= 128)

    @given(_versions)
    def test_property_str_and_parse_round_trip(version: Version) -> None:
        assert Version.parse(str(version)) == version
        assert str(Version.parse(str(version))) == str(version)

    @given(st.text(max_size=60))
    def test_property_any_text_parses_exactly_or_raises_invalid_input(text: str) -> None:
        try:
            version = Version.parse(text)
        except InvalidInput:
            return
        # Whatever is accepted is exactly its own canonical form: no stray characters slip through.
        assert str(version) == text
        assert text.isascii()

    @given(_versions, _versions)
    def test_property_ordering_is_consistent(a: Version, b: Version) -> None:
        assert (a < b) + (a == b) + (a > b) == 1
        assert (a < b) == (b > a)
        if (a.major, a.minor, a.patch) != (b.major, b.minor, b.patch):
            assert (a < b) == ((a.major, a.minor, a.patch) < (b.major, b.minor, b.patch))
