"""MTA-STS texts: the TXT record, the policy file (hostile input gives a PolicyError, never
another exception), MX patterns with wildcards."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mairust.outbound.mta_sts import (
    MAX_AGE_LIMIT,
    MAX_POLICY_BYTES,
    PolicyError,
    PolicyMode,
    StsPolicy,
    mx_matches,
    parse_policy,
    parse_sts_record,
)

GOOD = (
    "version: STSv1\r\nmode: enforce\r\n"
    "mx: mail.example.com\r\nmx: *.example.net\r\nmax_age: 604800\r\n"
)


def test_a_policy_is_parsed_with_its_mx_patterns() -> None:
    policy = parse_policy(GOOD.encode())
    assert policy == StsPolicy(
        mode=PolicyMode.ENFORCE, max_age=604800, mx=("mail.example.com", "*.example.net")
    )
    assert policy.allows_mx("MAIL.example.com.") and policy.allows_mx("mx1.example.net")
    assert not policy.allows_mx("example.net") and not policy.allows_mx("a.b.example.net")


def test_lf_lines_unknown_keys_and_a_none_policy_without_mx() -> None:
    policy = parse_policy(
        "version: STSv1\nmode: testing\nmx: MX.Example.org.\nmax_age:86400\nextension: yes\n"
    )
    assert (policy.mode, policy.max_age, policy.mx) == (
        PolicyMode.TESTING,
        86400,
        ("mx.example.org",),
    )
    assert parse_policy("version: STSv1\nmode: none\nmax_age: 0\n").mx == ()


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "version must be STSv1"),
        ("version: STSv2\nmode: enforce\nmx: a.test\nmax_age: 1\n", "version must be STSv1"),
        ("version: STSv1\nmode: strict\nmx: a.test\nmax_age: 1\n", "mode must be"),
        ("version: STSv1\nmode: enforce\nmx: a.test\n", "max_age must be"),
        ("version: STSv1\nmode: enforce\nmx: a.test\nmax_age: -5\n", "max_age must be"),
        ("version: STSv1\nmode: enforce\nmx: a.test\nmax_age: 1e9\n", "max_age must be"),
        ("version: STSv1\nmode: enforce\nmx: a.test\nmax_age: ٣\n", "max_age must be"),
        (f"version: STSv1\nmode: enforce\nmx: a.test\nmax_age: {MAX_AGE_LIMIT + 1}\n", "is over"),
        ("version: STSv1\nmode: enforce\nmax_age: 60\n", "needs at least one mx"),
        ("version: STSv1\nmode: enforce\nmx: *.*.a.test\nmax_age: 60\n", "not an MX host pattern"),
        ("version: STSv1\nmode: enforce\nmx: a..test\nmax_age: 60\n", "not an MX host pattern"),
        ("version: STSv1\nmode: enforce\nmx: bücher.test\nmax_age: 60\n", "not an MX host pattern"),
        ("version: STSv1\nmode: enforce\nmx: a.test x\nmax_age: 60\n", "not an MX host pattern"),
        ("<html><body>Welcome</body></html>\n", "line 1: not a 'key: value' line"),
        ("version STSv1\n", "not a 'key: value' line"),
    ],
)
def test_a_bad_policy_says_what_is_wrong(text: str, says: str) -> None:
    with pytest.raises(PolicyError, match=says.replace("*", r"\*")):
        parse_policy(text.encode())


def test_bytes_that_are_not_utf8_or_too_many_are_refused() -> None:
    with pytest.raises(PolicyError, match="not UTF-8"):
        parse_policy(b"version: STSv1\nmode: \xff\n")
    with pytest.raises(PolicyError, match="larger than"):
        parse_policy(b"x" * (MAX_POLICY_BYTES + 1))


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.binary(max_size=400), st.text(max_size=400).map(str.encode)))
def test_whatever_the_bytes_a_policy_or_a_policy_error(body: bytes) -> None:
    try:
        policy = parse_policy(GOOD.encode()[: len(body) % 80] + body)
    except PolicyError as error:
        assert str(error)  # a reason, whatever went wrong
    else:
        assert policy.mode in PolicyMode and 0 <= policy.max_age <= MAX_AGE_LIMIT


@pytest.mark.parametrize(
    ("records", "policy_id"),
    [
        (["v=STSv1; id=20261130T120000;"], "20261130T120000"),
        (["v=STSv1;id=abc123"], "abc123"),
        (["v=spf1 -all", "v=STSv1; id=a1; ext=1"], "a1"),
        (["v=STSv1; id=a1;", "v=STSv1; id=b2;"], None),  # two records: no policy (§3.1)
        (["v=STSv1; id=" + "a" * 33], None),
        (["v=STSv1; id=no-dashes"], None),
        (["v=STSv1; ID=a1"], None),
        (["v=STSv1"], None),
        ([" v=STSv1; id=a1"], None),
        (["v=STSv1; id"], None),
        (["v=STSv1; id=a1; \x00=1"], None),
        ([], None),
    ],
)
def test_the_txt_record_gives_an_id_only_when_it_is_exactly_one_and_well_formed(
    records: list[str], policy_id: str | None
) -> None:
    assert parse_sts_record(records) == policy_id


@pytest.mark.parametrize(
    ("pattern", "host", "matches"),
    [
        ("mx.example.com", "mx.example.com", True),
        ("mx.example.com", "MX.EXAMPLE.COM.", True),
        ("mx.example.com", "mx2.example.com", False),
        ("*.example.com", "mx.example.com", True),
        ("*.example.com", "example.com", False),
        ("*.example.com", "a.mx.example.com", False),
        ("*.example.com", ".example.com", False),
        ("*.example.com", "mx.example.com.evil.test", False),
    ],
)
def test_mx_patterns(pattern: str, host: str, matches: bool) -> None:
    assert mx_matches(pattern, host) is matches
