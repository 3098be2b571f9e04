"""check_spf / check_helo over a DictResolver: every result word, limits, DNS failures."""

from __future__ import annotations

from typing import Any

import pytest
import spf  # type: ignore[import-untyped]

from mairust.auth.results import SpfResult, SpfWord
from mairust.auth.spf import check_helo, check_spf
from tests.support.dict_resolver import DictResolver

CLIENT = "192.0.2.10"
OTHER = "198.51.100.7"


def zone(**txt: str | list[str]) -> dict[str, dict[str, Any]]:
    """``zone(example_com="v=spf1 ...")`` → records with that TXT at example.com."""
    return {
        name.replace("_", "."): {"TXT": value if isinstance(value, list) else [value]}
        for name, value in txt.items()
    }


def spf_of(policy: str, extra: dict[str, Any] | None = None) -> SpfResult:
    records: dict[str, dict[str, Any]] = {"example.com": {"TXT": [policy]}} | (extra or {})
    return check_spf(DictResolver(records), CLIENT, "alice@example.com", "mail.example.org")


@pytest.mark.parametrize(
    ("policy", "word"),
    [
        (f"v=spf1 ip4:{CLIENT} -all", SpfWord.PASS),
        ("v=spf1 ip4:192.0.2.0/24 -all", SpfWord.PASS),
        ("v=spf1 -all", SpfWord.FAIL),
        ("v=spf1 ~all", SpfWord.SOFTFAIL),
        ("v=spf1 ?all", SpfWord.NEUTRAL),
        ("v=spf1 ip4:198.51.100.0/24", SpfWord.NEUTRAL),  # no match, no all: neutral
        ("v=spf1 ip4:192.0.2.300 -all", SpfWord.PERMERROR),
        ("v=spf1 bogus:thing -all", SpfWord.PERMERROR),
    ],
)
def test_result_words(policy: str, word: SpfWord) -> None:
    result = spf_of(policy)
    assert result.result == word
    assert (result.identity, result.domain, result.client_ip) == ("mailfrom", "example.com", CLIENT)


def test_reason_is_kept() -> None:
    assert "not authorized" in spf_of("v=spf1 -all").reason
    assert spf_of(f"v=spf1 ip4:{CLIENT} -all").reason == "sender SPF authorized"
    assert "Unknown mechanism" in spf_of("v=spf1 bogus:thing -all").reason


def test_exp_text_becomes_the_reason() -> None:
    result = spf_of(
        "v=spf1 -all exp=why.example.com",
        {"why.example.com": {"TXT": ["%{i} may not send for %{d}"]}},
    )
    assert result.result == SpfWord.FAIL
    assert result.reason == f"{CLIENT} may not send for example.com"


def test_exp_dns_error_is_ignored_not_temperror() -> None:
    records = zone(example_com="v=spf1 -all exp=why.example.com")
    resolver = DictResolver(records, temp_error_names=["why.example.com"])
    result = check_spf(resolver, CLIENT, "a@example.com", "h.example.org", default_explanation="X")
    assert (result.result, result.reason) == (SpfWord.FAIL, "X")


def test_no_record_is_none() -> None:
    records = zone(example_com="not an spf record")
    result = check_spf(DictResolver(records), CLIENT, "a@example.com", "h.example.org")
    assert result.result == SpfWord.NONE
    result = check_spf(DictResolver({}), CLIENT, "a@nowhere.example", "h.example.org")
    assert result.result == SpfWord.NONE


def test_two_spf_records_are_permerror() -> None:
    result = spf_of("v=spf1 -all", {"example.com": {"TXT": ["v=spf1 -all", "v=spf1 +all"]}})
    assert result.result == SpfWord.PERMERROR


def test_dns_timeout_on_the_record_is_temperror() -> None:
    resolver = DictResolver(zone(example_com="v=spf1 -all"), temp_error_names=["example.com"])
    result = check_spf(resolver, CLIENT, "a@example.com", "h.example.org")
    assert result.result == SpfWord.TEMPERROR
    assert "timed out" in result.reason


@pytest.mark.parametrize("mechanism", ["include:other.example.com", "a:other.example.com"])
def test_dns_timeout_inside_evaluation_is_temperror_never_fail(mechanism: str) -> None:
    records = zone(example_com=f"v=spf1 {mechanism} -all")
    resolver = DictResolver(records, temp_error_names=["other.example.com"])
    result = check_spf(resolver, CLIENT, "a@example.com", "h.example.org")
    assert result.result == SpfWord.TEMPERROR


def test_mechanisms_resolve_through_the_injected_resolver() -> None:
    records: dict[str, dict[str, Any]] = {
        "example.com": {
            "TXT": ["v=spf1 mx a:web.example.com include:_spf.example.net ptr -all"],
            "MX": [(10, "mx.example.com")],
        },
        "mx.example.com": {"A": ["203.0.113.1"]},
        "web.example.com": {"AAAA": ["2001:db8::25"]},
        "_spf.example.net": {"TXT": ["v=spf1 ip4:198.51.100.0/24 -all"]},
        "10.2.0.192.in-addr.arpa": {"PTR": ["host.example.com"]},
        "host.example.com": {"A": [CLIENT]},
    }
    resolver = DictResolver(records)
    cases = [("203.0.113.1", SpfWord.PASS), ("2001:db8::25", SpfWord.PASS)]
    cases += [(OTHER, SpfWord.PASS), (CLIENT, SpfWord.PASS), ("192.0.2.11", SpfWord.FAIL)]
    for ip, word in cases:
        assert check_spf(resolver, ip, "a@example.com", "h.example.org").result == word, ip
    assert ("mx.example.com", "A") in resolver.lookups
    assert ("10.2.0.192.in-addr.arpa", "PTR") in resolver.lookups


def test_more_than_ten_dns_mechanisms_is_permerror() -> None:
    includes = " ".join(f"a:h{i}.example.com" for i in range(11))
    records = zone(example_com=f"v=spf1 {includes} -all")
    records |= {f"h{i}.example.com": {"A": ["203.0.113.9"]} for i in range(11)}
    result = check_spf(DictResolver(records), CLIENT, "a@example.com", "h.example.org")
    assert result.result == SpfWord.PERMERROR
    assert "Too many DNS lookups" in result.reason


def test_more_than_two_void_lookups_is_permerror() -> None:
    voids = " ".join(f"a:void{i}.example.com" for i in range(3))
    records = zone(example_com=f"v=spf1 {voids} -all")
    result = check_spf(DictResolver(records), CLIENT, "a@example.com", "h.example.org")
    assert result.result == SpfWord.PERMERROR
    assert "Void lookup limit" in result.reason
    two = zone(example_com="v=spf1 a:void1.example.com a:void2.example.com -all")
    assert check_spf(DictResolver(two), CLIENT, "a@example.com", "h").result == SpfWord.FAIL


def test_null_sender_checks_the_helo_identity() -> None:
    records = zone(example_com="v=spf1 -all", mail_example_org=f"v=spf1 ip4:{CLIENT} -all")
    result = check_spf(DictResolver(records), CLIENT, "", "mail.example.org")
    assert result == SpfResult(
        SpfWord.PASS, "helo", "mail.example.org", CLIENT, "sender SPF authorized"
    )
    assert check_helo(DictResolver(records), CLIENT, "mail.example.org") == result
    assert check_helo(DictResolver(records), OTHER, "mail.example.org").result == SpfWord.FAIL


def test_helo_that_is_not_a_domain_is_none() -> None:
    for helo in ("[192.0.2.10]", "localhost"):
        assert check_helo(DictResolver({}), CLIENT, helo).result == SpfWord.NONE


def test_no_identity_at_all_is_none() -> None:
    assert check_spf(DictResolver({}), CLIENT, "", "").result == SpfWord.NONE


def test_invalid_client_ip_is_permerror() -> None:
    result = check_spf(DictResolver({}), "not-an-ip", "a@example.com", "h.example.org")
    assert result.result == SpfWord.PERMERROR


def test_pyspf_global_dns_hook_is_left_alone() -> None:
    before = spf.DNSLookup
    spf_of("v=spf1 a:other.example.com -all")
    assert spf.DNSLookup is before
