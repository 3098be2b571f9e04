from __future__ import annotations

import pytest

from mairust.auth.policy import QUARANTINE_FOLDER, QUARANTINE_TAG, AuthPolicy
from mairust.auth.results import AuthResults, DmarcResult, DmarcWord, SpfResult, SpfWord
from mairust.config import AuthSettings
from mairust.model.policy import DomainPolicy
from mairust.model.verdict import Source, VerdictKind


def spf(word: SpfWord) -> SpfResult:
    return SpfResult(word, "mailfrom", "sender.example", "192.0.2.1", reason=f"spf {word}")


def dmarc(word: DmarcWord, policy: str = "reject") -> AuthResults:
    return AuthResults(dmarc=DmarcResult(word, "sender.example", policy))


def test_trusted_networks_and_disabled_checks_are_skipped():
    policy = AuthPolicy(AuthSettings())
    assert policy.skips("127.0.0.1") and policy.skips("::1")
    assert not policy.skips("192.0.2.1")
    assert not policy.skips("not an ip")
    assert AuthPolicy(AuthSettings(enabled=False)).skips("192.0.2.1")


@pytest.mark.parametrize(
    ("mode", "word", "action", "check"),
    [
        ("record", SpfWord.FAIL, VerdictKind.CONTINUE, Source.NONE),
        ("enforce", SpfWord.FAIL, VerdictKind.REJECT, Source.SPF),
        ("enforce", SpfWord.SOFTFAIL, VerdictKind.CONTINUE, Source.NONE),
        ("enforce", SpfWord.PASS, VerdictKind.CONTINUE, Source.NONE),
        ("record", SpfWord.TEMPERROR, VerdictKind.TEMPFAIL, Source.DNS),
        ("enforce", SpfWord.PERMERROR, VerdictKind.CONTINUE, Source.NONE),
    ],
)
def test_spf_at_rcpt(mode, word, action, check):
    decision = AuthPolicy(AuthSettings(spf=mode)).on_recipient(spf(word), "192.0.2.1", "x.test")
    assert (decision.kind, decision.source) == (action, check)


def test_spf_per_domain_override_and_forwarders():
    settings = AuthSettings(
        spf="record",
        domains={"strict.test": {"spf": "enforce"}},
        trusted_forwarders=["198.51.100.0/24"],
    )
    policy = AuthPolicy(settings)
    assert (
        policy.on_recipient(spf(SpfWord.FAIL), "192.0.2.1", "strict.test").kind
        is VerdictKind.REJECT
    )
    assert (
        policy.on_recipient(spf(SpfWord.FAIL), "192.0.2.1", "lax.test").kind is VerdictKind.CONTINUE
    )
    assert policy.on_recipient(spf(SpfWord.FAIL), "198.51.100.7", "strict.test").kind is (
        VerdictKind.CONTINUE
    )
    assert policy.on_recipient(None, "192.0.2.1", "strict.test").kind is VerdictKind.CONTINUE


def test_dns_failures_are_never_a_silent_pass_unless_configured():
    results = dmarc(DmarcWord.TEMPERROR)
    assert AuthPolicy(AuthSettings()).on_message(results, "192.0.2.1", ["x.test"]).kind is (
        VerdictKind.TEMPFAIL
    )
    lenient = AuthPolicy(AuthSettings(tempfail_on_dns_error=False))
    assert lenient.on_message(results, "192.0.2.1", ["x.test"]).kind is VerdictKind.CONTINUE


@pytest.mark.parametrize(
    ("mode", "published", "action"),
    [
        ("enforce", "reject", VerdictKind.REJECT),
        ("quarantine", "reject", VerdictKind.QUARANTINE),
        ("record", "reject", VerdictKind.CONTINUE),
        ("enforce", "quarantine", VerdictKind.QUARANTINE),
        ("record", "quarantine", VerdictKind.CONTINUE),
        ("enforce", "none", VerdictKind.CONTINUE),
    ],
)
def test_dmarc_failure_by_local_mode_and_published_policy(mode, published, action):
    decision = AuthPolicy(AuthSettings(dmarc=mode)).on_message(
        dmarc(DmarcWord.FAIL, published), "192.0.2.1", ["x.test"]
    )
    assert decision.kind is action
    if action is VerdictKind.QUARANTINE:
        assert decision.annotations.folder == QUARANTINE_FOLDER
        assert decision.annotations.tags == (QUARANTINE_TAG,)


def test_strictest_recipient_domain_mode_wins():
    settings = AuthSettings(dmarc="record", domains={"strict.test": {"dmarc": "enforce"}})
    decision = AuthPolicy(settings).on_message(
        dmarc(DmarcWord.FAIL), "192.0.2.1", ["lax.test", "strict.test"]
    )
    assert decision.kind is VerdictKind.REJECT and decision.source is Source.DMARC


def test_passing_or_unchecked_mail_is_accepted():
    policy = AuthPolicy(AuthSettings())
    assert policy.on_message(dmarc(DmarcWord.PASS), "192.0.2.1", ["x"]).kind is VerdictKind.CONTINUE
    assert policy.on_message(AuthResults(), "192.0.2.1", ["x"]).kind is VerdictKind.CONTINUE


def test_a_domains_own_policy_wins_over_the_configuration():
    settings = AuthSettings(spf="record", dmarc="record", domains={"x.test": {"spf": "record"}})
    policy = AuthPolicy(settings)
    strict = DomainPolicy(spf="enforce", dmarc="enforce")
    assert (
        policy.on_recipient(spf(SpfWord.FAIL), "192.0.2.1", "x.test").kind is VerdictKind.CONTINUE
    )
    assert policy.on_recipient(spf(SpfWord.FAIL), "192.0.2.1", "x.test", strict).kind is (
        VerdictKind.REJECT
    )
    failed = dmarc(DmarcWord.FAIL)
    assert policy.on_message(failed, "192.0.2.1", ["x.test"]).kind is VerdictKind.CONTINUE
    own = {"x.test": strict}
    assert policy.on_message(failed, "192.0.2.1", ["x.test"], own).kind is VerdictKind.REJECT
    # And the other way: a domain may relax what the configuration enforces.
    enforcing = AuthPolicy(AuthSettings(spf="enforce", dmarc="enforce"))
    lax = DomainPolicy(spf="record", dmarc="record")
    assert enforcing.on_recipient(spf(SpfWord.FAIL), "192.0.2.1", "x.test", lax).kind is (
        VerdictKind.CONTINUE
    )
    assert enforcing.on_message(failed, "192.0.2.1", ["x.test"], {"x.test": lax}).kind is (
        VerdictKind.CONTINUE
    )
