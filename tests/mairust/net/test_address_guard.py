"""AddressPolicy: every non-public range is refused with its reason, IPv4 carried in IPv6
is judged as IPv4, and only the operator's allow-list opens a refused range."""

from __future__ import annotations

import ipaddress

import pytest

from mairust.net.address_guard import AddressPolicy, DestinationRefused, embedded_ipv4

REFUSED = [
    ("127.0.0.1", "loopback"),
    ("127.255.0.9", "loopback"),
    ("::1", "loopback"),
    ("10.1.2.3", "private"),
    ("172.16.0.1", "private"),
    ("172.31.255.254", "private"),
    ("192.168.1.1", "private"),
    ("fc00::1", "private"),
    ("fd12:3456::1", "private"),
    ("169.254.1.1", "link-local"),
    ("fe80::1", "link-local"),
    ("100.64.0.1", "shared address space (CGNAT)"),
    ("100.127.255.254", "shared address space (CGNAT)"),
    ("0.0.0.0", "unspecified"),
    ("::", "unspecified"),
    ("224.0.0.1", "multicast"),
    ("239.255.255.250", "multicast"),
    ("ff02::1", "multicast"),
    ("169.254.169.254", "a cloud metadata address"),
    ("fd00:ec2::254", "a cloud metadata address"),
    ("255.255.255.255", "broadcast or reserved"),
    ("192.0.2.10", "not a public address"),  # TEST-NET-1 (documentation)
    ("198.18.0.1", "not a public address"),  # benchmarking
    ("2001:db8::1", "not a public address"),  # documentation
    ("::ffff:127.0.0.1", "loopback (carried in ::ffff:7f00:1)"),
    ("::ffff:169.254.169.254", "a cloud metadata address (carried in ::ffff:a9fe:a9fe)"),
    ("64:ff9b::a00:1", "private (carried in 64:ff9b::a00:1)"),
    ("2002:c0a8:0101::1", "private (carried in 2002:c0a8:101::1)"),
]
PUBLIC = [
    "93.184.216.34",
    "1.1.1.1",
    "8.8.8.8",
    "2606:4700:4700::1111",
    "172.32.0.1",
    "100.128.0.1",
]


@pytest.mark.parametrize(("address", "reason"), REFUSED)
def test_non_public_addresses_are_refused_with_their_reason(address: str, reason: str) -> None:
    policy = AddressPolicy()
    assert policy.refusal(ipaddress.ip_address(address)) == reason
    with pytest.raises(DestinationRefused, match="refused") as raised:
        policy.check("hooks.example", ipaddress.ip_address(address))
    assert raised.value.host == "hooks.example"
    assert raised.value.reason == reason


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_pass(address: str) -> None:
    AddressPolicy().check("hooks.example", ipaddress.ip_address(address))
    assert AddressPolicy().refusal(ipaddress.ip_address(address)) is None


def test_the_allow_list_opens_only_what_it_names() -> None:
    policy = AddressPolicy.allowing(["127.0.0.1/32", "10.9.0.0/16"])
    assert policy.refusal(ipaddress.ip_address("127.0.0.1")) is None
    assert policy.refusal(ipaddress.ip_address("::ffff:127.0.0.1")) is None
    assert policy.refusal(ipaddress.ip_address("10.9.200.1")) is None
    assert policy.refusal(ipaddress.ip_address("127.0.0.2")) == "loopback"
    assert policy.refusal(ipaddress.ip_address("10.8.0.1")) == "private"
    assert policy.refusal(ipaddress.ip_address("::1")) == "loopback"
    assert policy.refusal(ipaddress.ip_address("169.254.169.254")) == "a cloud metadata address"


def test_a_bad_network_in_the_allow_list_is_an_error() -> None:
    with pytest.raises(ValueError):
        AddressPolicy.allowing(["not-a-network"])


def test_embedded_ipv4() -> None:
    assert embedded_ipv4(ipaddress.ip_address("::ffff:1.2.3.4")) == ipaddress.ip_address("1.2.3.4")
    assert embedded_ipv4(ipaddress.ip_address("64:ff9b::102:304")) == ipaddress.ip_address(
        "1.2.3.4"
    )
    assert embedded_ipv4(ipaddress.ip_address("2606:4700::1")) is None
    assert embedded_ipv4(ipaddress.ip_address("1.2.3.4")) is None
