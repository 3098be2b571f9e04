"""DMARC: records, domains, discovery and evaluation over a dict resolver."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from mairust.auth.dmarc import (
    DmarcRecordError,
    aligned,
    author_domains,
    discover_policy,
    evaluate_dmarc,
    organizational_domain,
    parse_record,
)
from mairust.auth.dns import DnsTempError
from mairust.auth.results import DkimResult, DkimWord, DmarcWord, SpfResult, SpfWord
from tests.support.dict_resolver import DictResolver


def _dns(records: Mapping[str, str | list[str]], **extra: Any) -> DictResolver:
    zone: dict[str, Any] = {
        name: {"TXT": [value] if isinstance(value, str) else value}
        for name, value in records.items()
    }
    return DictResolver(zone | extra.pop("raw", {}), **extra)


def _spf(word: SpfWord, domain: str) -> SpfResult:
    return SpfResult(word, "mailfrom", domain, "192.0.2.1")


def _dkim(word: DkimWord, domain: str) -> DkimResult:
    return DkimResult(word, domain, "s1", "rsa-sha256", "abcdefgh")


def _never() -> float:
    raise AssertionError("sampled although pct=100 or the message passed")


REJECT = {"_dmarc.example.org": "v=DMARC1; p=reject"}


# -- records -------------------------------------------------------------------------------


def test_record_defaults() -> None:
    record = parse_record("v=DMARC1; p=quarantine")
    assert (record.p, record.sp, record.np, record.adkim, record.aspf, record.pct) == (
        "quarantine",
        None,
        None,
        "relaxed",
        "relaxed",
        100,
    )
    assert (record.fo, record.rf, record.ri, record.rua) == (("0",), ("afrf",), 86400, ())


def test_record_reads_every_tag_any_case() -> None:
    record = parse_record(
        "v=DMARC1 ;P=Reject; SP=none; np=quarantine; adkim=s; aspf=S; pct=20; "
        "rua=mailto:a@example.org, mailto:b@example.org; ruf=mailto:f@example.org; "
        "fo=1:d; rf=afrf; ri=3600; psd=n; t=y;"
    )
    assert (record.p, record.sp, record.np, record.adkim, record.aspf) == (
        "reject",
        "none",
        "quarantine",
        "strict",
        "strict",
    )
    assert (record.pct, record.fo, record.ri, record.psd) == (20, ("1", "d"), 3600, "n")
    assert record.rua == ("mailto:a@example.org", "mailto:b@example.org")
    assert record.tags["t"] == "y"


@pytest.mark.parametrize(
    ("text", "kind", "tag"),
    [
        ("   ", "empty", ""),
        ("p=reject; v=DMARC1", "bad_version", "v"),
        ("v=DMARC2; p=reject", "bad_version", "v"),
        ("v=DMARC1; p=reject; p=none", "bad_syntax", "p"),
        ("v=DMARC1; p=reject; reject", "bad_syntax", ""),
        ("v=DMARC1; p=reject; pct=-1", "bad_value", "pct"),
        ("v=DMARC1; p=reject; fo=0:x", "bad_value", "fo"),
        ("v=DMARC1; p=reject; np=maybe", "bad_value", "np"),
        ("v=DMARC1; sp=none", "no_required_p", "p"),
    ],
)
def test_record_errors_name_their_kind(text, kind, tag) -> None:
    with pytest.raises(DmarcRecordError) as caught:
        parse_record(text)
    assert (caught.value.kind, caught.value.tag) == (kind, tag)


# -- domains -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("domain", "org"),
    [
        ("mail.example.co.uk", "example.co.uk"),
        ("Example.COM.", "example.com"),
        ("co.uk", "co.uk"),
        ("a.b.user.github.io", "user.github.io"),  # private part of the list counts too
        ("x..y", "x..y"),
    ],
)
def test_organizational_domain(domain, org) -> None:
    assert organizational_domain(domain) == org


def test_alignment_modes() -> None:
    assert aligned("news.example.org", "example.org", "relaxed")
    assert not aligned("news.example.org", "example.org", "strict")
    assert aligned("EXAMPLE.org", "example.ORG.", "strict")
    assert not aligned("example.co.uk", "other.co.uk", "relaxed")
    assert not aligned("example.org", "", "relaxed")


def test_author_domains_reads_every_from_mailbox() -> None:
    message = (
        b'From: "Doe, Jane" <jane@Example.ORG>,\r\n bob@news.example.net\r\n'
        b"From: carol@third.test\r\nTo: x@y.test\r\n\r\nFrom: body@not.header\r\n"
    )
    assert author_domains(message) == ("example.org", "news.example.net", "third.test")
    assert author_domains(b"From: Just A Name\r\n\r\n") == ("",)
    assert author_domains(b"To: x@y.test\r\n\r\n") == ()


# -- discovery -----------------------------------------------------------------------------


def test_author_domain_record_wins() -> None:
    dns = _dns({"_dmarc.news.example.org": "v=DMARC1; p=none", **REJECT})
    found = discover_policy(dns, "news.example.org")
    assert found is not None
    assert (found.record.p, found.record_domain, found.via) == (
        "none",
        "news.example.org",
        "author domain",
    )
    assert dns.lookups == [("_dmarc.news.example.org", "TXT")]


def test_organizational_record_is_the_fallback_and_non_dmarc_txt_is_ignored() -> None:
    dns = _dns({"_dmarc.news.example.org": "v=spf1 -all", **REJECT})
    found = discover_policy(dns, "news.example.org")
    assert found is not None
    assert (found.record_domain, found.organizational_domain, found.via) == (
        "example.org",
        "example.org",
        "organizational domain",
    )


def test_no_record_anywhere_is_none_and_temp_failure_raises() -> None:
    assert discover_policy(_dns({}), "news.example.org") is None
    with pytest.raises(DnsTempError):
        discover_policy(_dns(REJECT, temp_error_names=["_dmarc.example.org"]), "example.org")


def test_tree_walk_stops_at_eight_lookups() -> None:
    deep = "a.b.c.d.e.f.g.h.i.j.example.org"
    dns = _dns({"_dmarc.example.org": "v=DMARC1; p=reject"})
    found = discover_policy(dns, deep, tree_walk=True)
    assert found is not None and found.record_domain == "example.org"
    asked = [name for name, _ in dns.lookups]
    assert asked[0] == f"_dmarc.{deep}" and asked[1] == "_dmarc.f.g.h.i.j.example.org"
    assert len(asked) == 8 and asked[-1] == "_dmarc.org"


def test_tree_walk_organizational_domain_follows_psd_flags() -> None:
    records = {
        "_dmarc.dept.agency.example": "v=DMARC1; p=none",
        "_dmarc.agency.example": "v=DMARC1; p=reject; psd=n",
        "_dmarc.example": "v=DMARC1; p=reject; psd=y",
    }
    found = discover_policy(_dns(records), "x.dept.agency.example", tree_walk=True)
    assert found is not None
    assert (found.record_domain, found.organizational_domain) == (
        "dept.agency.example",
        "agency.example",
    )
    del records["_dmarc.agency.example"]
    found = discover_policy(_dns(records), "x.dept.agency.example", tree_walk=True)
    assert found is not None and found.organizational_domain == "agency.example"


# -- evaluation ----------------------------------------------------------------------------


def test_aligned_dkim_passes_and_says_which_identifier() -> None:
    result = evaluate_dmarc(
        _dns(REJECT),
        ["example.org"],
        None,
        [_dkim(DkimWord.PASS, "mail.example.org")],
        sample=_never,
    )
    assert (result.result, result.policy, result.dkim_aligned, result.spf_aligned) == (
        DmarcWord.PASS,
        "reject",
        True,
        False,
    )


def test_aligned_spf_passes_relaxed_but_not_strict() -> None:
    spf = _spf(SpfWord.PASS, "bounces.example.org")
    relaxed = evaluate_dmarc(_dns(REJECT), ["example.org"], spf, [], sample=_never)
    strict_dns = _dns({"_dmarc.example.org": "v=DMARC1; p=reject; aspf=s"})
    strict = evaluate_dmarc(strict_dns, ["example.org"], spf, [], sample=lambda: 0.0)
    assert (relaxed.result, relaxed.spf_aligned) == (DmarcWord.PASS, True)
    assert (strict.result, strict.policy) == (DmarcWord.FAIL, "reject")


@pytest.mark.parametrize(
    ("spf", "dkim"),
    [
        (_spf(SpfWord.SOFTFAIL, "example.org"), [_dkim(DkimWord.FAIL, "example.org")]),
        (_spf(SpfWord.PASS, "evil.test"), [_dkim(DkimWord.PASS, "evil.test")]),
        (None, [_dkim(DkimWord.POLICY, "example.org")]),  # l= with content appended
        (None, [_dkim(DkimWord.PASS, "org")]),  # the public suffix is not the organization
    ],
)
def test_unaligned_or_failed_identifiers_fail(spf, dkim) -> None:
    result = evaluate_dmarc(_dns(REJECT), ["example.org"], spf, dkim, sample=lambda: 0.0)
    assert (result.result, result.policy) == (DmarcWord.FAIL, "reject")


def test_strict_dkim_needs_the_exact_domain() -> None:
    dns = _dns({"_dmarc.example.org": "v=DMARC1; p=quarantine; adkim=s"})
    sub = evaluate_dmarc(
        dns, ["example.org"], None, [_dkim(DkimWord.PASS, "mail.example.org")], sample=lambda: 0.0
    )
    same = evaluate_dmarc(
        dns, ["example.org"], None, [_dkim(DkimWord.PASS, "Example.org")], sample=_never
    )
    assert (sub.result, same.result) == (DmarcWord.FAIL, DmarcWord.PASS)


@pytest.mark.parametrize(
    ("draw", "policy"), [(0.49, "reject"), (0.5, "quarantine"), (0.99, "quarantine")]
)
def test_pct_samples_failing_messages(draw, policy) -> None:
    dns = _dns({"_dmarc.example.org": "v=DMARC1; p=reject; pct=50"})
    result = evaluate_dmarc(dns, ["example.org"], None, [], sample=lambda: draw)
    assert (result.result, result.policy) == (DmarcWord.FAIL, policy)
    assert ("outside pct=50" in result.reason) == (policy != "reject")


def test_pct_zero_always_steps_quarantine_down_to_none() -> None:
    dns = _dns({"_dmarc.example.org": "v=DMARC1; p=quarantine; pct=0"})
    result = evaluate_dmarc(dns, ["example.org"], None, [], sample=lambda: 0.0)
    assert (result.result, result.policy) == (DmarcWord.FAIL, "none")


def test_subdomain_gets_sp_and_nonexistent_subdomain_gets_np() -> None:
    org = {"_dmarc.example.org": "v=DMARC1; p=none; sp=quarantine; np=reject"}
    existing = _dns(org, raw={"shop.example.org": {"A": ["192.0.2.7"]}})
    empty = _dns(org, raw={"ghost.example.org": {"TXT": []}})  # NODATA for A, AAAA and MX
    shop = evaluate_dmarc(existing, ["shop.example.org"], None, [], sample=lambda: 0.0)
    ghost = evaluate_dmarc(empty, ["ghost.example.org"], None, [], sample=lambda: 0.0)
    gone = evaluate_dmarc(_dns(org), ["gone.example.org"], None, [], sample=lambda: 0.0)
    assert [r.policy for r in (shop, ghost, gone)] == ["quarantine", "reject", "reject"]
    assert [n for n, t in empty.lookups if n == "ghost.example.org"] == ["ghost.example.org"] * 3


def test_subdomain_without_sp_gets_p() -> None:
    result = evaluate_dmarc(_dns(REJECT), ["shop.example.org"], None, [], sample=lambda: 0.0)
    assert result.policy == "reject" and result.reason.startswith("p= of the organizational")


def test_no_record_is_none_and_dns_failure_is_temperror() -> None:
    none = evaluate_dmarc(_dns({}), ["example.org"], None, [], sample=_never)
    temp = evaluate_dmarc(
        _dns(REJECT, temp_error_names=["_dmarc.example.org"]),
        ["example.org"],
        None,
        [],
        sample=_never,
    )
    assert (none.result, none.policy) == (DmarcWord.NONE, "")
    assert (temp.result, temp.from_domain) == (DmarcWord.TEMPERROR, "example.org")


@pytest.mark.parametrize(
    "domains", [[], [""], ["example.org", ""], ["a..example.org"], ["-x.example.org"], ["x" * 64]]
)
def test_no_usable_from_domain_is_permerror(domains) -> None:
    result = evaluate_dmarc(_dns(REJECT), domains, None, [], sample=_never)
    assert (result.result, result.policy) == (DmarcWord.PERMERROR, "none")


def test_broken_record_is_permerror_and_two_records_are_none() -> None:
    broken = _dns({"_dmarc.example.org": "v=DMARC1; p=reject; adkim=x"})
    two = _dns({"_dmarc.example.org": ["v=DMARC1; p=reject", "v=DMARC1; p=none"]})
    assert (
        evaluate_dmarc(broken, ["example.org"], None, [], sample=_never).result
        == DmarcWord.PERMERROR
    )
    assert evaluate_dmarc(two, ["example.org"], None, [], sample=_never).result == DmarcWord.NONE


def test_invalid_p_with_rua_acts_as_p_none_without_rua_as_no_record() -> None:
    with_rua = _dns({"_dmarc.example.org": "v=DMARC1; p=bogus; rua=mailto:d@example.org"})
    without = _dns({"_dmarc.example.org": "v=DMARC1; p=bogus"})
    first = evaluate_dmarc(with_rua, ["example.org"], None, [], sample=lambda: 0.0)
    assert (first.result, first.policy) == (DmarcWord.FAIL, "none")
    assert (
        evaluate_dmarc(without, ["example.org"], None, [], sample=_never).result == DmarcWord.NONE
    )


def test_several_from_domains_answer_with_the_strictest() -> None:
    dns = _dns({**REJECT, "_dmarc.example.net": "v=DMARC1; p=none"})
    dkim = [_dkim(DkimWord.PASS, "example.net")]
    result = evaluate_dmarc(dns, ["example.net", "example.org"], None, dkim, sample=lambda: 0.0)
    assert (result.result, result.from_domain, result.policy) == (
        DmarcWord.FAIL,
        "example.org",
        "reject",
    )
    both_pass = evaluate_dmarc(
        dns,
        ["example.net", "example.org"],
        None,
        [*dkim, _dkim(DkimWord.PASS, "example.org")],
        sample=_never,
    )
    assert both_pass.result == DmarcWord.PASS


def test_the_same_domain_twice_is_evaluated_once() -> None:
    dns = _dns(REJECT)
    evaluate_dmarc(dns, ["example.org", "EXAMPLE.org."], None, [], sample=lambda: 0.0)
    assert dns.lookups == [("_dmarc.example.org", "TXT")]


def test_tree_walk_relaxed_alignment_uses_the_walked_organization() -> None:
    records = {
        "_dmarc.example": "v=DMARC1; p=reject; psd=y",
        "_dmarc.a.example": "v=DMARC1; p=quarantine",
    }
    dkim = [_dkim(DkimWord.PASS, "mail.a.example")]
    result = evaluate_dmarc(
        _dns(records), ["news.a.example"], None, dkim, sample=_never, tree_walk=True
    )
    assert (result.result, result.dkim_aligned) == (DmarcWord.PASS, True)
    other = evaluate_dmarc(
        _dns(records),
        ["news.a.example"],
        None,
        [_dkim(DkimWord.PASS, "b.example")],
        sample=lambda: 0.0,
        tree_walk=True,
    )
    assert (other.result, other.policy) == (DmarcWord.FAIL, "quarantine")


def test_internationalised_from_domain_is_looked_up_in_a_labels() -> None:
    dns = _dns({"_dmarc.xn--bcher-kva.example": "v=DMARC1; p=reject"})
    result = evaluate_dmarc(dns, ["Bücher.example"], None, [], sample=lambda: 0.0)
    assert (result.result, result.from_domain) == (DmarcWord.FAIL, "xn--bcher-kva.example")
