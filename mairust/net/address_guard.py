"""Which addresses an outgoing request may connect to (the SSRF guard).

A tenant names a webhook URL; a plugin names an HTTP endpoint. Left alone, such a URL
could reach the platform's own services (loopback, the private network, a cloud
metadata endpoint). :class:`AddressPolicy` refuses every address that is not plainly on
the public Internet: loopback, private (RFC 1918, fc00::/7), link-local, CGNAT
(100.64.0.0/10), unspecified, multicast, cloud metadata and the other special-purpose
ranges. The operator may allow networks explicitly (``webhooks.allow_networks``); an
allowed network wins over every refusal, so allowing ``127.0.0.1/32`` for tests is
possible and allowing nothing is the default.

IPv6 forms that carry an IPv4 address (``::ffff:a.b.c.d``, NAT64 ``64:ff9b::/96``,
6to4 ``2002::/16``) are judged by the IPv4 address they carry, so ``::ffff:127.0.0.1``
is loopback, not "some IPv6 address".
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

from mairust.errors import MairustError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class OutgoingRequestError(MairustError):
    """An outgoing HTTP request did not get a usable answer (base of the client's errors)."""


class DestinationRefused(OutgoingRequestError):
    """The destination resolves to an address the policy refuses; nothing was connected."""

    def __init__(self, host: str, address: IPAddress, reason: str) -> None:
        super().__init__(f"destination {host} refused: {address} is {reason}")
        self.host = host
        self.address = address
        self.reason = reason


def _nets(*cidrs: str) -> tuple[IPNetwork, ...]:
    return tuple(ipaddress.ip_network(cidr) for cidr in cidrs)


# First match names the reason; metadata comes before link-local so the error says which.
_REFUSED: tuple[tuple[str, tuple[IPNetwork, ...]], ...] = (
    ("a cloud metadata address", _nets("169.254.169.254/32", "fd00:ec2::254/128")),
    ("unspecified", _nets("0.0.0.0/8", "::/128")),
    ("loopback", _nets("127.0.0.0/8", "::1/128")),
    ("private", _nets("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7")),
    ("link-local", _nets("169.254.0.0/16", "fe80::/10")),
    ("shared address space (CGNAT)", _nets("100.64.0.0/10")),
    ("multicast", _nets("224.0.0.0/4", "ff00::/8")),
    ("broadcast or reserved", _nets("240.0.0.0/4")),
)

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, NAT64, 6to4), if any."""
    if isinstance(address, ipaddress.IPv4Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address.sixtofour


@dataclass(frozen=True, slots=True)
class AddressPolicy:
    """Refuses non-public addresses, except in the networks the operator allows."""

    allowed: tuple[IPNetwork, ...] = ()

    @classmethod
    def allowing(cls, networks: Iterable[str]) -> AddressPolicy:
        """A policy that allows ``networks`` (CIDR strings); ValueError for a bad one."""
        return cls(tuple(ipaddress.ip_network(network, strict=False) for network in networks))

    def refusal(self, address: IPAddress) -> str | None:
        """Why ``address`` is refused, or None when a connection to it is allowed."""
        if any(address.version == net.version and address in net for net in self.allowed):
            return None
        carried = embedded_ipv4(address)
        if carried is not None:
            reason = self.refusal(carried)
            return None if reason is None else f"{reason} (carried in {address})"
        for reason, networks in _REFUSED:
            if any(address.version == net.version and address in net for net in networks):
                return reason
        # Anything else not globally routable (documentation, benchmarking, IETF ranges).
        if not address.is_global:
            return "not a public address"
        return None

    def check(self, host: str, address: IPAddress) -> None:
        """Raise :class:`DestinationRefused` unless ``address`` may be connected to."""
        reason = self.refusal(address)
        if reason is not None:
            raise DestinationRefused(host, address, reason)
