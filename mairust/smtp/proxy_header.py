"""The PROXY protocol at the SMTP edge: which peers must send a header, and reading it.

A load balancer that passes TCP through (HAProxy, a cloud network load balancer) makes
every connection come from its own address; with the PROXY protocol it first sends a
header naming the real client. ``[smtp] proxy_protocol_from`` lists the proxies: a
connection from one of them must start with a header (v2 binary, or v1 text) within
``proxy_protocol_timeout`` seconds, before the greeting, or it is closed. A connection from
any other address is ordinary SMTP: a header there is a bad command and names nobody.

The header is parsed by aiosmtpd's own parser (``aiosmtpd.proxy_protocol``); aiosmtpd's
switch for it (``proxy_protocol_timeout``) would demand a header of every peer and read it
after our admission and greeting pause, so the allow-list and the order are ours
(``session_limits.AdmittedSMTP``).
"""

from __future__ import annotations

import asyncio
import ipaddress
from dataclasses import dataclass

from aiosmtpd.proxy_protocol import AF, V2_CMD, get_proxy

from mairust.config import SmtpSettings

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
ClientAddress = tuple[str, int]
"""``(ip, port)``, as a socket's peer name."""


class ProxyHeaderError(Exception):
    """A listed proxy sent no valid PROXY header in time; the message says what was wrong."""


@dataclass(frozen=True, slots=True)
class ProxySources:
    """The proxies whose connections start with a PROXY header, and how long they have."""

    networks: tuple[Network, ...]
    timeout: float

    @classmethod
    def of(cls, smtp: SmtpSettings) -> ProxySources | None:
        """The ``[smtp]`` allow-list; None when it is empty (the protocol is off)."""
        if not smtp.proxy_protocol_from:
            return None
        listed = smtp.proxy_protocol_from
        networks = tuple(ipaddress.ip_network(net, strict=False) for net in listed)
        return cls(networks, smtp.proxy_protocol_timeout)

    def listed(self, ip: str) -> bool:
        """Whether a connection from ``ip`` (a peer name's host) comes through a proxy."""
        try:
            address = ipaddress.ip_address(ip.partition("%")[0])  # no IPv6 zone
        except ValueError:
            return False  # not an IP peer (a Unix socket): never a listed proxy
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return any(address in network for network in self.networks)


async def read_proxy_header(reader: asyncio.StreamReader, seconds: float) -> ClientAddress | None:
    """Read one PROXY header from the start of a connection.

    Returns the client's address it names, or None where the connection's own peer stands:
    a v2 LOCAL command (the proxy's health check), v1 ``UNKNOWN``, v2 UNSPEC or UNIX
    families. Raises ProxyHeaderError for a missing, truncated, malformed header, or one
    not complete within ``seconds``; what follows the header stays in ``reader`` for the
    SMTP session."""
    try:
        async with asyncio.timeout(seconds):
            data = await get_proxy(reader)
    except TimeoutError:
        raise ProxyHeaderError(f"no complete PROXY header within {seconds:g} s") from None
    except (asyncio.IncompleteReadError, ConnectionError) as error:
        raise ProxyHeaderError(f"connection ended inside the PROXY header: {error}") from None
    except asyncio.LimitOverrunError:
        raise ProxyHeaderError("PROXY header line too long") from None
    if not data.valid:
        raise ProxyHeaderError(data.error or "malformed PROXY header")
    if data.version == 2 and data.command == V2_CMD.LOCAL:
        # The proxy's own connection (a health check): the socket's address stands (§2.2).
        return None
    if data.family not in (AF.INET, AF.INET6):
        return None
    source = data.src_addr
    if not isinstance(source, ipaddress.IPv4Address | ipaddress.IPv6Address):
        raise ProxyHeaderError("PROXY header without a source address")
    return str(source), int(data.src_port or 0)
