"""CachingResolver against a real loopback DNS server (tests.support.dns_server.ZoneServer).

Also checks the test servers themselves: ZoneServer on the wire, DictResolver giving the same
answers as the real resolver, and the SPF suite zonedata translation.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import dns.message
import dns.query
import dns.rdtypes.ANY.TXT
import dns.resolver
import pytest

from mairust.auth.dns import DnsTempError, NxDomain, RecordType
from mairust.auth.dns_resolver import CachingResolver
from mairust.config import DnsSettings
from tests.support.dict_resolver import DictResolver
from tests.support.dns_server import ZoneServer, records_from_suite_zonedata

LONG_TEXT = "v=spf1 " + " ".join(f"ip4:192.0.2.{i}" for i in range(60)) + " -all"  # > 255 bytes
RECORDS: dict[str, dict[str, Any]] = {
    "Example.COM": {
        "A": ["192.0.2.1", "192.0.2.2"],
        "AAAA": ["2001:db8::1"],
        "MX": [(10, "mx1.example.com"), (20, "mx2.example.com.")],
        "TXT": ["v=spf1 -all", ["split ", "in ", "three"], LONG_TEXT],
    },
    "alias.example.com": {"CNAME": "example.com"},
    "1.2.0.192.in-addr.arpa": {"PTR": ["example.com"]},
    "nullmx.example.com": {"MX": [(0, "")]},
    "short.example.com": {"A": ["192.0.2.9"], "TTL": 60},
    "empty.example.com": {},
    "big.example.com": {"TXT": [f"{i:02d} " + "x" * 200 for i in range(20)]},  # ~4 KB
    "binary.example.com": {"TXT": [[b"caf\xe9 \xff"]]},
}
TIMEOUT = 0.5
# For tests that are not about timeouts: long enough for a loaded machine.
PATIENT = 5.0


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def server() -> Iterator[ZoneServer]:
    with ZoneServer(
        RECORDS,
        timeout_names=["slow.example.com", ("example.com", "PTR")],
        servfail_names=["broken.example.com"],
        ttl=300,
        negative_ttl=30,
    ) as zone:
        yield zone


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def resolver(server: ZoneServer, clock: FakeClock) -> CachingResolver:
    return CachingResolver(["127.0.0.1"], port=server.port, timeout=TIMEOUT, clock=clock)


@pytest.mark.parametrize(
    ("name", "rdtype", "expected"),
    [
        ("example.com", "A", ("192.0.2.1", "192.0.2.2")),
        ("EXAMPLE.com.", "A", ("192.0.2.1", "192.0.2.2")),
        ("example.com", "AAAA", ("2001:db8::1",)),
        ("example.com", "MX", ("10 mx1.example.com", "20 mx2.example.com")),
        ("nullmx.example.com", "MX", ("0 .",)),
        ("example.com", "TXT", ("v=spf1 -all", "split in three", LONG_TEXT)),
        ("1.2.0.192.in-addr.arpa", "PTR", ("example.com",)),
        ("alias.example.com", "CNAME", ("example.com",)),
        ("alias.example.com", "A", ("192.0.2.1", "192.0.2.2")),  # the CNAME is followed
        ("empty.example.com", "A", ()),  # NODATA
        ("example.com", "CNAME", ()),
    ],
)
def test_each_record_type_in_presentation_text(
    resolver: CachingResolver, name: str, rdtype: RecordType, expected: tuple[str, ...]
) -> None:
    assert sorted(resolver.lookup(name, rdtype)) == sorted(expected)


def test_dict_resolver_answers_like_the_real_one(resolver: CachingResolver) -> None:
    fake = DictResolver(RECORDS)
    asked: list[tuple[str, RecordType]] = [
        (name, rdtype)
        for name in (*RECORDS, "missing.example.com")
        for rdtype in ("A", "AAAA", "MX", "TXT", "PTR", "CNAME")
        if (name, rdtype) != ("Example.COM", "PTR")  # a timeout name on the server
    ]
    for name, rdtype in asked:
        try:
            real: object = sorted(resolver.lookup(name, rdtype))
        except NxDomain:
            real = NxDomain
        try:
            faked: object = sorted(fake.lookup(name, rdtype))
        except NxDomain:
            faked = NxDomain
        assert real == faked, (name, rdtype)


def test_nxdomain_raises(resolver: CachingResolver) -> None:
    with pytest.raises(NxDomain):
        resolver.lookup("nowhere.example.com", "A")


def test_invalid_name_is_nxdomain_without_asking(
    resolver: CachingResolver, server: ZoneServer
) -> None:
    with pytest.raises(NxDomain):
        resolver.lookup("a" * 64 + ".example.com", "TXT")
    with pytest.raises(NxDomain):
        resolver.lookup("a..example.com", "TXT")
    assert server.queries == []


def test_timeout_is_a_temp_error_within_the_timeout(
    resolver: CachingResolver, server: ZoneServer
) -> None:
    started = time.monotonic()
    with pytest.raises(DnsTempError):
        resolver.lookup("slow.example.com", "TXT")
    assert time.monotonic() - started < TIMEOUT + 1.0
    assert server.queries_for("slow.example.com")  # it did ask
    with pytest.raises(DnsTempError):  # a timeout only for one type of a name
        resolver.lookup("example.com", "PTR")
    assert resolver.lookup("example.com", "AAAA") == ("2001:db8::1",)


def test_servfail_is_a_temp_error_and_never_cached(
    resolver: CachingResolver, server: ZoneServer
) -> None:
    for _ in range(2):
        with pytest.raises(DnsTempError):
            resolver.lookup("broken.example.com", "TXT")
    assert len(server.queries_for("broken.example.com", "TXT")) == 2
    assert resolver.stats().errors == 2


def test_answers_are_cached_until_their_ttl_expires(
    resolver: CachingResolver, server: ZoneServer, clock: FakeClock
) -> None:
    resolver.lookup("example.com", "A")
    clock.now += 299
    resolver.lookup("Example.Com.", "A")
    assert len(server.queries_for("example.com", "A")) == 1
    clock.now += 2
    assert resolver.lookup("example.com", "A") == ("192.0.2.1", "192.0.2.2")
    assert len(server.queries_for("example.com", "A")) == 2
    stats = resolver.stats()
    assert (stats.hits, stats.misses) == (1, 2)


def test_a_records_own_ttl_is_respected(
    resolver: CachingResolver, server: ZoneServer, clock: FakeClock
) -> None:
    resolver.lookup("short.example.com", "A")
    clock.now += 59
    resolver.lookup("short.example.com", "A")
    assert len(server.queries_for("short.example.com")) == 1
    clock.now += 2
    resolver.lookup("short.example.com", "A")
    assert len(server.queries_for("short.example.com")) == 2


@pytest.mark.parametrize(
    ("name", "negative"), [("nowhere.example.com", True), ("empty.example.com", False)]
)
def test_nxdomain_and_nodata_are_cached_for_the_soa_minimum(
    resolver: CachingResolver, server: ZoneServer, clock: FakeClock, name: str, negative: bool
) -> None:
    def ask() -> None:
        if negative:
            with pytest.raises(NxDomain):
                resolver.lookup(name, "TXT")
        else:
            assert resolver.lookup(name, "TXT") == ()

    ask()
    clock.now += 29  # the server's SOA minimum is 30 s
    ask()
    assert len(server.queries_for(name)) == 1
    clock.now += 2
    ask()
    assert len(server.queries_for(name)) == 2


def test_negative_caching_is_capped(clock: FakeClock) -> None:
    with ZoneServer({}, negative_ttl=86_400) as server:
        resolver = CachingResolver(
            ["127.0.0.1"], port=server.port, timeout=TIMEOUT, clock=clock, negative_ttl=300
        )
        for step in (0, 299, 2):
            clock.now += step
            with pytest.raises(NxDomain):
                resolver.lookup("gone.example.com", "A")
        assert len(server.queries_for("gone.example.com")) == 2


def test_least_recently_used_entries_are_evicted(server: ZoneServer, clock: FakeClock) -> None:
    resolver = CachingResolver(
        ["127.0.0.1"], port=server.port, timeout=TIMEOUT, clock=clock, cache_size=2
    )
    resolver.lookup("example.com", "A")
    resolver.lookup("example.com", "AAAA")
    resolver.lookup("example.com", "A")  # now AAAA is the least recently used
    resolver.lookup("example.com", "MX")
    assert resolver.stats().cached == 2
    resolver.lookup("example.com", "A")
    resolver.lookup("example.com", "AAAA")
    assert len(server.queries_for("example.com", "A")) == 1
    assert len(server.queries_for("example.com", "AAAA")) == 2


def test_long_txt_is_split_on_the_wire_and_joined_by_the_resolver(
    resolver: CachingResolver, server: ZoneServer
) -> None:
    query = dns.message.make_query("example.com", "TXT")
    reply = dns.query.tcp(query, "127.0.0.1", port=server.port, timeout=TIMEOUT)
    chunked = [
        rdata.strings for rdata in reply.answer[0] if isinstance(rdata, dns.rdtypes.ANY.TXT.TXT)
    ]
    assert len(LONG_TEXT) > 3 * 255
    assert max(len(strings) for strings in chunked) == len(LONG_TEXT) // 255 + 1
    assert all(len(s) <= 255 for strings in chunked for s in strings)
    assert LONG_TEXT in resolver.lookup("example.com", "TXT")


def test_a_large_answer_falls_back_to_tcp(resolver: CachingResolver, server: ZoneServer) -> None:
    records = resolver.lookup("big.example.com", "TXT")
    assert sorted(r[:2] for r in records) == [f"{i:02d}" for i in range(20)]
    assert server.queries_for("big.example.com") == ["udp", "tcp"]


def test_non_utf8_txt_round_trips(resolver: CachingResolver) -> None:
    (text,) = resolver.lookup("binary.example.com", "TXT")
    assert text.encode("utf-8", "surrogateescape") == b"caf\xe9 \xff"


def test_suite_zonedata_translation() -> None:
    zone = records_from_suite_zonedata(
        {
            "Both.example.com": [{"SPF": "v=spf1 -all"}, {"TXT": "v=spf1 +all"}],
            "spfonly.example.com": [{"SPF": ["v=spf1 ", "-all"]}, {"MX": [0, "mx.example.com"]}],
            "partial.example.com": [{"A": "192.0.2.1"}, {"TXT": "NONE"}, "TIMEOUT"],
            "typed.example.com": [{"TXT": "TIMEOUT"}, {"A": "192.0.2.2"}],
        }
    )
    assert zone.records["both.example.com"] == {"TXT": [["v=spf1 +all"]]}
    assert zone.records["spfonly.example.com"] == {
        "TXT": [["v=spf1 ", "-all"]],
        "MX": [(0, "mx.example.com")],
    }
    fake = DictResolver(zone.records, temp_error_names=zone.timeout_names)
    assert fake.lookup("partial.example.com", "A") == ("192.0.2.1",)
    for name, rdtype in [("partial.example.com", "TXT"), ("typed.example.com", "TXT")]:
        with pytest.raises(DnsTempError):
            fake.lookup(name, rdtype)  # type: ignore[arg-type]
    assert fake.lookup("typed.example.com", "A") == ("192.0.2.2",)


def test_concurrent_lookups_share_one_cache(server: ZoneServer, clock: FakeClock) -> None:
    # Its own resolver with a patient timeout: this test is about the shared cache, and
    # under a loaded CI machine the short TIMEOUT let a first lookup expire (1 in 5,466).
    resolver = CachingResolver(["127.0.0.1"], port=server.port, timeout=PATIENT, clock=clock)
    names = ["example.com", "short.example.com", "alias.example.com"]

    def work(i: int) -> tuple[str, ...]:
        return resolver.lookup(names[i % len(names)], "A")

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(work, range(200)))
    assert {answers[i] for i in range(0, 200, 3)} == {("192.0.2.1", "192.0.2.2")}
    stats = resolver.stats()
    assert stats.hits + stats.misses == 200
    assert stats.cached == 3


def test_from_settings_asks_the_configured_server_and_caches_as_told(server: ZoneServer) -> None:
    settings = DnsSettings(nameservers=["127.0.0.1"], port=server.port, timeout=TIMEOUT)
    cached = CachingResolver.from_settings(settings)
    assert sorted(cached.lookup("example.com", "A")) == ["192.0.2.1", "192.0.2.2"]
    assert cached.lookup("example.com", "A") and cached.stats().hits == 1
    uncached = CachingResolver.from_settings(settings, cached=False)
    uncached.lookup("example.com", "A")
    uncached.lookup("example.com", "A")
    assert uncached.stats().hits == 0 and uncached.stats().misses == 2


def test_from_settings_without_nameservers_reads_the_systems() -> None:
    """No ``[dns] nameservers``: /etc/resolv.conf's, not an empty list (which would fail
    every lookup)."""
    resolver = CachingResolver.from_settings(DnsSettings())
    assert resolver._resolver.nameservers == dns.resolver.Resolver().nameservers
    assert resolver._resolver.nameservers
