"""MX resolution against a real DNS server on loopback, read through the real resolver."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import pytest

from mairust.auth.dns_resolver import CachingResolver
from mairust.outbound.errors import DeliveryFailure
from mairust.outbound.mx import (
    DnsTemporaryFailure,
    Endpoint,
    NoReachableHost,
    NoSuchDomain,
    NotAMailDomain,
    NullMx,
    parse_relay_host,
    resolve_route,
    resolve_route_async,
)
from tests.support.dns_server import ZoneServer

ZONE: dict[str, dict[str, Any]] = {
    "pref.test": {"MX": [(20, "mx-b.pref.test"), (10, "mx-a.pref.test"), (30, "mx-c.pref.test")]},
    "mx-a.pref.test": {"A": ["127.0.0.11"], "AAAA": ["::1"]},
    "mx-b.pref.test": {"A": ["127.0.0.12"]},
    "mx-c.pref.test": {"AAAA": ["2001:db8::c"]},
    "equal.test": {"MX": [(10, f"mx{i}.equal.test") for i in range(6)]},
    **{f"mx{i}.equal.test": {"A": [f"127.0.0.{20 + i}"]} for i in range(6)},
    "null.test": {"MX": [(0, ".")], "A": ["127.0.0.13"]},
    "implicit.test": {"A": ["127.0.0.14"], "AAAA": ["2001:db8::14"]},
    "bare.test": {"TXT": ["v=spf1 -all"]},
    "servfail.test": {"MX": [(10, "mx.servfail.test")]},
    "skip.test": {"MX": [(5, "gone.skip.test"), (10, "noaddr.skip.test"), (15, "ok.skip.test")]},
    "noaddr.skip.test": {"TXT": ["nothing here"]},
    "ok.skip.test": {"A": ["127.0.0.15"]},
    "allgone.test": {"MX": [(10, "gone.allgone.test")]},
    "halfbroken.test": {"MX": [(10, "slow.halfbroken.test")]},
    "slow.halfbroken.test": {"A": ["127.0.0.16"]},
    "relay.test": {"A": ["127.0.0.17"]},
    "twice.test": {"MX": [(30, "mx-b.pref.test"), (10, "mx-b.pref.test"), (20, "mx-a.pref.test")]},
}


@pytest.fixture(scope="module")
def resolver() -> Iterator[CachingResolver]:
    with ZoneServer(
        ZONE,
        servfail_names=["servfail.test", ("slow.halfbroken.test", "A")],
    ) as server:
        yield CachingResolver(["127.0.0.1"], port=server.port, timeout=1.0, cache_size=0)


def test_mx_hosts_come_in_preference_order_with_ipv4_and_ipv6_addresses(
    resolver: CachingResolver,
) -> None:
    route = resolve_route("Pref.Test.", resolver, port=2525)
    assert route.source == "mx"
    assert [(h.name, h.preference) for h in route.hosts] == [
        ("mx-a.pref.test", 10),
        ("mx-b.pref.test", 20),
        ("mx-c.pref.test", 30),
    ]
    assert route.endpoints() == (
        Endpoint("mx-a.pref.test", "127.0.0.11", 2525),
        Endpoint("mx-a.pref.test", "::1", 2525),
        Endpoint("mx-b.pref.test", "127.0.0.12", 2525),
        Endpoint("mx-c.pref.test", "2001:db8::c", 2525),
    )
    ipv6_first = resolve_route("pref.test", resolver, address_types=("AAAA", "A"))
    assert ipv6_first.hosts[0].addresses == ("::1", "127.0.0.11")


def test_equal_preferences_are_shuffled(resolver: CachingResolver) -> None:
    orders = {
        tuple(h.name for h in resolve_route("equal.test", resolver, rng=random.Random(s)).hosts)
        for s in range(8)
    }
    assert len(orders) > 1
    assert all(sorted(order) == [f"mx{i}.equal.test" for i in range(6)] for order in orders)


def test_null_mx_is_a_permanent_5_1_10_even_with_an_address_record(
    resolver: CachingResolver,
) -> None:
    # What our resolver gives for "0 ." (the test documents the rendering null MX hinges on).
    assert resolver.lookup("null.test", "MX") == ("0 .",)
    with pytest.raises(NullMx) as failure:
        resolve_route("null.test", resolver)
    assert (failure.value.enhanced_code, failure.value.permanent) == ("5.1.10", True)


def test_no_mx_falls_back_to_the_domains_own_addresses(resolver: CachingResolver) -> None:
    route = resolve_route("implicit.test", resolver)
    assert route.source == "implicit"
    assert route.endpoints() == (
        Endpoint("implicit.test", "127.0.0.14", 25),
        Endpoint("implicit.test", "2001:db8::14", 25),
    )


def test_no_mx_and_no_address_is_permanent(resolver: CachingResolver) -> None:
    with pytest.raises(NotAMailDomain) as failure:
        resolve_route("bare.test", resolver)
    assert failure.value.permanent


def test_nxdomain_is_a_permanent_5_1_2(resolver: CachingResolver) -> None:
    with pytest.raises(NoSuchDomain) as failure:
        resolve_route("nowhere.test", resolver)
    assert (failure.value.enhanced_code, failure.value.permanent) == ("5.1.2", True)


def test_servfail_is_a_temporary_4_4_3(resolver: CachingResolver) -> None:
    with pytest.raises(DnsTemporaryFailure) as failure:
        resolve_route("servfail.test", resolver)
    assert (failure.value.enhanced_code, failure.value.permanent) == ("4.4.3", False)


def test_a_host_listed_twice_is_tried_once_at_its_best_preference(
    resolver: CachingResolver,
) -> None:
    route = resolve_route("twice.test", resolver)
    assert [(h.name, h.preference) for h in route.hosts] == [
        ("mx-b.pref.test", 10),
        ("mx-a.pref.test", 20),
    ]


def test_hosts_without_addresses_are_skipped(resolver: CachingResolver) -> None:
    route = resolve_route("skip.test", resolver)
    assert [h.name for h in route.hosts] == ["ok.skip.test"]


def test_every_host_skipped_is_temporary(resolver: CachingResolver) -> None:
    with pytest.raises(NoReachableHost) as failure:
        resolve_route("allgone.test", resolver)
    assert (failure.value.enhanced_code, failure.value.permanent) == ("4.4.4", False)
    # A host skipped because DNS failed for it: still temporary, and says DNS.
    with pytest.raises(DnsTemporaryFailure):
        resolve_route("halfbroken.test", resolver, address_types=("A",))


def test_a_relay_host_skips_the_mx_lookup(resolver: CachingResolver) -> None:
    literal = resolve_route("null.test", resolver, relay_host="[127.0.0.18]:2526")
    assert (literal.source, literal.endpoints()) == (
        "relay",
        (Endpoint("[127.0.0.18]", "127.0.0.18", 2526),),
    )
    named = resolve_route("nowhere.test", resolver, relay_host="relay.test:587")
    assert named.endpoints() == (Endpoint("relay.test", "127.0.0.17", 587),)
    assert resolve_route("x.test", resolver, relay_host="relay.test").port == 25
    with pytest.raises(DeliveryFailure) as failure:
        resolve_route("x.test", resolver, relay_host="missing.test")
    assert not failure.value.permanent  # our configuration, not the recipient's domain


def test_relay_host_forms() -> None:
    v6 = parse_relay_host("[2001:DB8::1]:2525")
    assert (v6.host, v6.literal, v6.port) == ("[2001:db8::1]", "2001:db8::1", 2525)
    assert parse_relay_host("[10.0.0.1]").port == 25
    assert parse_relay_host("smart.example.com:465").host == "smart.example.com"


async def test_the_async_form_answers_the_same(resolver: CachingResolver) -> None:
    route = await resolve_route_async("pref.test", resolver)
    assert route.hosts[0].name == "mx-a.pref.test"
