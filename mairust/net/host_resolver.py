"""Host name → IP addresses for outgoing connections; injected, never looked up globally.

The HTTP client resolves a host ONCE, checks every address against the
:class:`~mairust.net.address_guard.AddressPolicy`, and connects to a checked address:
a second lookup by the socket layer could answer differently (DNS rebinding). A
:data:`HostResolver` is any async callable from a host name to its addresses; two are
provided: the system's (``getaddrinfo``) and an adapter for the record-level
:class:`mairust.auth.dns.Resolver` (dnspython, or a dict in tests).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Sequence

from mairust.auth.dns import DnsError, NxDomain, Resolver
from mairust.auth.dns_resolver import CachingResolver
from mairust.config import DnsSettings
from mairust.net.address_guard import IPAddress, OutgoingRequestError

HostResolver = Callable[[str], Awaitable[Sequence[IPAddress]]]


class HostUnresolvable(OutgoingRequestError):
    """The host has no address, or DNS gave no answer."""


def literal_address(host: str) -> IPAddress | None:
    """The address when ``host`` is an IP literal (brackets of IPv6 URLs removed)."""
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


async def system_resolver(host: str) -> Sequence[IPAddress]:
    """Addresses from the operating system's resolver (``getaddrinfo``), in its order."""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(
            host, None, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
        )
    except (OSError, UnicodeError) as error:
        raise HostUnresolvable(f"{host}: {error}") from error
    addresses: dict[IPAddress, None] = {}
    for _family, _type, _proto, _name, sockaddr in infos:
        # Strip an IPv6 zone ("fe80::1%eth0"): the guard judges the address itself.
        addresses[ipaddress.ip_address(str(sockaddr[0]).split("%")[0])] = None
    return list(addresses)


def record_resolver(resolver: Resolver) -> HostResolver:
    """A :data:`HostResolver` over a record-level ``Resolver`` (A, then AAAA records)."""

    async def resolve(host: str) -> Sequence[IPAddress]:
        addresses: list[IPAddress] = []
        failures: list[str] = []
        for rdtype in ("A", "AAAA"):
            try:
                records = await asyncio.to_thread(resolver.lookup, host, rdtype)
            except NxDomain as error:
                raise HostUnresolvable(f"{host}: no such name ({error})") from error
            except DnsError as error:
                failures.append(f"{rdtype}: {error}")
                continue
            addresses += [ipaddress.ip_address(record) for record in records]
        if not addresses:
            detail = "; ".join(failures) or "no A or AAAA records"
            raise HostUnresolvable(f"{host}: {detail}")
        return addresses

    return resolve


def configured_resolver(dns: DnsSettings) -> HostResolver:
    """The operator's resolver when ``[dns] nameservers`` names one (as for every other
    lookup), else the system's."""
    if not dns.nameservers:
        return system_resolver
    return record_resolver(CachingResolver.from_settings(dns))
