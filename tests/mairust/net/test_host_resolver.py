"""Host resolvers: the record-level adapter (A and AAAA, NXDOMAIN, temporary failures), the
system resolver, and IP literals."""

from __future__ import annotations

import ipaddress

import pytest

from mairust.net.host_resolver import (
    HostUnresolvable,
    literal_address,
    record_resolver,
    system_resolver,
)
from tests.support.dict_resolver import DictResolver


async def test_record_resolver_returns_a_then_aaaa() -> None:
    records = DictResolver({"hooks.example": {"A": ["192.0.2.1"], "AAAA": ["2001:db8::1"]}})
    resolve = record_resolver(records)
    assert await resolve("hooks.example") == [
        ipaddress.ip_address("192.0.2.1"),
        ipaddress.ip_address("2001:db8::1"),
    ]
    assert records.lookups == [("hooks.example", "A"), ("hooks.example", "AAAA")]


async def test_record_resolver_failures_are_unresolvable() -> None:
    records = DictResolver(
        {"v6.example": {"AAAA": ["2001:db8::2"]}, "empty.example": {"TXT": ["x"]}},
        temp_error_names=[("v6.example", "A"), "down.example"],
    )
    resolve = record_resolver(records)
    # One family failing temporarily does not hide the other's answer.
    assert await resolve("v6.example") == [ipaddress.ip_address("2001:db8::2")]
    with pytest.raises(HostUnresolvable, match="no such name"):
        await resolve("missing.example")
    with pytest.raises(HostUnresolvable, match="no A or AAAA"):
        await resolve("empty.example")
    with pytest.raises(HostUnresolvable, match="timed out"):
        await resolve("down.example")


async def test_system_resolver_answers_localhost_and_refuses_garbage() -> None:
    addresses = await system_resolver("localhost")
    assert addresses and all(address.is_loopback for address in addresses)
    with pytest.raises(HostUnresolvable):
        await system_resolver("no-such-host.invalid")


def test_literals() -> None:
    assert literal_address("127.0.0.1") == ipaddress.ip_address("127.0.0.1")
    assert literal_address("[::1]") == ipaddress.ip_address("::1")
    assert literal_address("hooks.example") is None
