from __future__ import annotations

from datetime import UTC, datetime

from mairust.model.directory import Domain, Mailbox
from mairust.routing.route_cache import RouteCache
from mairust.routing.router import AliasTargets, LocalMailbox, NotLocal, UnknownUser

NOW = datetime(2026, 1, 1, tzinfo=UTC)


class CountingDirectory:
    def __init__(self) -> None:
        self.domains = {"example.test": Domain("example.test", "t1", NOW)}
        self.mailboxes: dict[str, Mailbox] = {}
        self.aliases: dict[str, list[Mailbox]] = {}
        self.lookups = 0

    def get_domain(self, name):
        self.lookups += 1
        return self.domains.get(name)

    def find_mailbox(self, address):
        self.lookups += 1
        return self.mailboxes.get(address)

    def alias_targets(self, address):
        self.lookups += 1
        return self.aliases.get(address, [])

    def catchall_mailbox(self, domain):
        self.lookups += 1
        return None

    def routing_rules(self, domain):
        self.lookups += 1
        return []

    def add(self, address: str) -> None:
        self.mailboxes[address] = Mailbox(f"id-{address}", "t1", address, NOW)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_found_mailbox_is_served_from_memory_until_it_expires():
    directory, clock = CountingDirectory(), Clock()
    directory.add("alice@example.test")
    cache = RouteCache(directory, ttl_seconds=10, clock=clock)
    assert cache.cached("alice@example.test") is None
    first = cache.route("alice@example.test")
    assert isinstance(first, LocalMailbox)
    lookups = directory.lookups
    assert cache.cached("alice@example.test") == first
    assert cache.route("alice@example.test") == first
    assert directory.lookups == lookups
    clock.now += 10
    assert cache.cached("alice@example.test") is None
    cache.route("alice@example.test")
    assert directory.lookups > lookups
    assert (cache.hits, cache.misses) == (2, 2)


def test_refusals_are_never_remembered():
    directory, clock = CountingDirectory(), Clock()
    cache = RouteCache(directory, ttl_seconds=10, clock=clock)
    assert cache.route("bob@example.test") == UnknownUser("bob@example.test", "t1")
    assert cache.route("x@elsewhere.example") == NotLocal("elsewhere.example")
    directory.add("bob@example.test")  # created a moment later: accepted at once
    assert isinstance(cache.route("bob@example.test"), LocalMailbox)
    assert cache.cached("x@elsewhere.example") is None


def test_zero_ttl_turns_the_memory_off_and_size_is_bounded():
    directory, clock = CountingDirectory(), Clock()
    for n in range(5):
        directory.add(f"u{n}@example.test")
    off = RouteCache(directory, ttl_seconds=0, clock=clock)
    off.route("u0@example.test")
    assert off.cached("u0@example.test") is None
    small = RouteCache(directory, ttl_seconds=10, max_entries=3, clock=clock)
    for n in range(5):
        small.route(f"u{n}@example.test")
    assert [small.cached(f"u{n}@example.test") is not None for n in range(5)] == [
        False,
        False,
        True,
        True,
        True,
    ]


def test_an_alias_is_remembered_like_a_mailbox():
    directory, clock = CountingDirectory(), Clock()
    directory.add("alice@example.test")
    directory.aliases["team@example.test"] = [directory.mailboxes["alice@example.test"]]
    cache = RouteCache(directory, ttl_seconds=10, clock=clock)
    first = cache.route("team@example.test")
    assert first == AliasTargets("team@example.test", (directory.mailboxes["alice@example.test"],))
    lookups = directory.lookups
    assert cache.cached("team@example.test") == first
    assert cache.route("team@example.test") == first
    assert directory.lookups == lookups
    clock.now += 11
    assert cache.cached("team@example.test") is None
