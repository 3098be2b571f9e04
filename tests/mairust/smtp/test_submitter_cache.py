"""The submitter cache: allowed senders and remote domains, fresh for a TTL, refusals never."""

from __future__ import annotations

from mairust.smtp.submitter_cache import SubmitterCache


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_an_allowed_sender_is_remembered_per_login_and_domain_until_it_expires() -> None:
    clock = Clock()
    cache = SubmitterCache(10, clock=clock)
    assert not cache.sender_allowed("alice@example.test", "alice@example.test")
    cache.allow_sender("alice@example.test", "alice@example.test")
    # Any address of the domain: the rule is the domain's tenant, not the address.
    assert cache.sender_allowed("alice@example.test", "noreply@example.test")
    assert not cache.sender_allowed("bob@example.test", "alice@example.test")
    assert not cache.sender_allowed("alice@example.test", "alice@other.test")
    clock.now += 9.9
    assert cache.sender_allowed("alice@example.test", "alice@example.test")
    clock.now += 0.1
    assert not cache.sender_allowed("alice@example.test", "alice@example.test")


def test_the_null_sender_is_never_remembered() -> None:
    cache = SubmitterCache(10, clock=Clock())
    cache.allow_sender("alice@example.test", "")
    assert not cache.sender_allowed("alice@example.test", "")


def test_a_remote_domain_is_remembered_until_it_expires() -> None:
    clock = Clock()
    cache = SubmitterCache(5, clock=clock)
    assert not cache.is_remote("far.test")
    cache.remote("far.test")
    assert cache.is_remote("far.test") and not cache.is_remote("near.test")
    # A sender entry and a domain entry never answer for each other.
    assert not cache.sender_allowed("far.test", "x@far.test")
    clock.now += 5
    assert not cache.is_remote("far.test")


def test_a_ttl_of_zero_keeps_nothing() -> None:
    cache = SubmitterCache(0, clock=Clock())
    cache.remote("far.test")
    cache.allow_sender("alice@example.test", "alice@example.test")
    assert not cache.is_remote("far.test")
    assert not cache.sender_allowed("alice@example.test", "alice@example.test")


def test_the_oldest_entries_go_first_beyond_the_bound() -> None:
    cache = SubmitterCache(10, max_entries=2, clock=Clock())
    for domain in ("a.test", "b.test", "c.test"):
        cache.remote(domain)
    assert [cache.is_remote(d) for d in ("a.test", "b.test", "c.test")] == [False, True, True]
