"""Domain policies and routing rules: what a pattern and a relay host may be, and what a
pattern matches."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mairust.errors import InvalidInput
from mairust.model.policy import (
    DomainPolicy,
    RouteAction,
    RoutingRule,
    normalize_pattern,
    normalize_relay_host,
)


def rule(pattern: str) -> RoutingRule:
    return RoutingRule(
        "r", "d.test", "t", pattern, RouteAction.LOCAL, "x@d.test", 0, datetime.now(UTC)
    )


@pytest.mark.parametrize(
    ("pattern", "matching", "other"),
    [
        ("*x", "any.thing+x", "x.any"),
        ("sales-*", "sales-eu", "presales-eu"),
        ("*-eu", "ops-eu", "ops-eu2"),
        ("a?c", "abc", "abbc"),
        ("info", "info", "info2"),
    ],
)
def test_a_pattern_is_a_glob_over_the_whole_local_part(
    pattern: str, matching: str, other: str
) -> None:
    assert rule(normalize_pattern(pattern)).matches(matching)
    assert not rule(normalize_pattern(pattern)).matches(other)


def test_patterns_are_lower_cased_and_checked() -> None:
    assert normalize_pattern(" Sales-* ") == "sales-*"
    for bad in ("", "a@b", "[ab]", "a b", "x" * 65, "a\r\nb", "é*"):
        with pytest.raises(InvalidInput):
            normalize_pattern(bad)


def test_relay_hosts() -> None:
    assert normalize_relay_host("MX.Inside.Example") == "mx.inside.example"
    assert normalize_relay_host("mx.example:2525") == "mx.example:2525"
    assert normalize_relay_host("[192.0.2.1]:25") == "[192.0.2.1]:25"
    assert normalize_relay_host("[2001:db8::1]") == "[2001:db8::1]"
    for bad in ("", "-bad.example", "a..b", "host:0", "host:70000", "http://x", "a b", "x:y"):
        with pytest.raises(InvalidInput):
            normalize_relay_host(bad)


def test_lmtp_relay_targets() -> None:
    assert normalize_relay_host(" LMTP:Store.Example:24 ") == "lmtp:store.example:24"
    assert normalize_relay_host("lmtp:[192.0.2.7]:2424") == "lmtp:[192.0.2.7]:2424"
    assert normalize_relay_host("lmtp:[2001:db8::1]:24") == "lmtp:[2001:db8::1]:24"
    # A socket path keeps its case: paths are case-sensitive.
    assert normalize_relay_host("lmtp:/run/Dovecot/lmtp") == "lmtp:/run/Dovecot/lmtp"
    bad_ones = (
        "lmtp:store.example",  # no port: LMTP has none of its own
        "lmtp:[192.0.2.7]",
        "lmtp:store.example:0",
        "lmtp:",
        "lmtp:relative/path",
        "lmtp:/run/../etc/socket",
        "lmtp:/run/./lmtp",
        "lmtp:/run/lmtp/",
        "lmtp:/run/with space",
        "lmtp:/run/x\ny",
        "lmtp:/" + "a" * 107,
        "lmtp:lmtp:host:24",
        "smtp:host:25",
    )
    for bad in bad_ones:
        with pytest.raises(InvalidInput):
            normalize_relay_host(bad)


def test_a_policy_limit_is_positive_or_unset() -> None:
    assert DomainPolicy(max_message_bytes=1, messages_per_minute=1).messages_per_minute == 1
    with pytest.raises(InvalidInput):
        DomainPolicy(max_message_bytes=0)
    with pytest.raises(InvalidInput):
        DomainPolicy(messages_per_minute=-3)
