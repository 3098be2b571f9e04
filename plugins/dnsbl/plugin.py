"""The dnsbl plugin: when a client greets (the ``connect`` point), its address is looked up
in each configured DNS blocklist at once, and a client listed in one is refused with
``554 5.7.1 client ADDRESS is listed in ZONE``, naming the first listing zone in the
configured order.

The query is the address reversed under the zone: IPv4 by octet (``1.0.0.127.zen.test``
for 127.0.0.1), IPv6 by nibble (32 labels), as RFC 5782 says. A zone lists the address
when it answers an A record: one of the zone's ``codes`` when the configuration gives
them, else any address in 127.0.0.0/8 outside 127.255.255.0/24 (the answers lists such
as Spamhaus give for a refused query, not a listing). NXDOMAIN or no answer: not listed.
A lookup that fails (a timeout, a SERVFAIL, no resolver) is no listing either: the client
goes on and the failure is logged, so a blocklist outage never keeps mail out.

Configuration::

    {"zones": ["zen.spamhaus.org", {"zone": "bl.example", "codes": ["127.0.0.2"]}],
     "resolver": {"address": "127.0.0.1", "port": 53},   # optional: the system's otherwise
     "timeout_ms": 1000}                                  # optional: per lookup
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import dns.asyncresolver
import dns.exception
import dns.rdatatype
import dns.resolver

from mairust.plugin_sdk import Config, HookRequest, HookResponse, Plugin, proceed, reject

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_MS = 1000
# What a list answers for a query it refuses to serve (e.g. through a public resolver).
_ERROR_ANSWERS = ipaddress.ip_network("127.255.255.0/24")
_LISTING_ANSWERS = ipaddress.ip_network("127.0.0.0/8")

plugin = Plugin("dnsbl")


@dataclass(frozen=True, slots=True)
class Zone:
    name: str
    codes: frozenset[str]  # empty: any 127.0.0.0/8 answer but 127.255.255.x


@plugin.connect
async def check(request: HookRequest, config: Config) -> HookResponse:
    if request.envelope is None:
        return proceed()
    client = request.envelope.client_ip
    try:
        reversed_name = query_prefix(client)
    except ValueError:
        log.warning("dnsbl: client address %r is no IP address; not looked up", client)
        return proceed()
    zones = zones_of(config)
    resolver = resolver_of(config)
    listed = await asyncio.gather(
        *(is_listed(resolver, f"{reversed_name}.{zone.name}", zone) for zone in zones)
    )
    for zone, hit in zip(zones, listed, strict=True):
        if hit:
            reply = f"554 5.7.1 client {client} is listed in {zone.name}"
            return reject(f"client {client} is listed in {zone.name}", reply=reply)
    return proceed()


def query_prefix(address: str) -> str:
    """``address`` reversed as a blocklist query wants it (octets for IPv4, nibbles for
    IPv6); ValueError when it is no IP address."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # a v4 client on a dual-stack socket is listed as v4
    pointer = ip.reverse_pointer  # "1.0.0.127.in-addr.arpa" / "b.a.9...ip6.arpa"
    return pointer.rsplit(".", 2)[0]


async def is_listed(resolver: dns.asyncresolver.Resolver, name: str, zone: Zone) -> bool:
    """Whether ``zone`` lists the address ``name`` asks about; a failed lookup is not."""
    try:
        answer = await resolver.resolve(name, dns.rdatatype.A, search=False)
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return False
    except dns.exception.DNSException as error:
        log.warning("dnsbl: %s not looked up (%s): taken as not listed", name, error)
        return False
    found = {record.to_text() for record in answer}
    if zone.codes:
        return bool(found & zone.codes)
    return any(_means_listed(text) for text in found)


def _means_listed(text: str) -> bool:
    try:
        address = ipaddress.IPv4Address(text)
    except ValueError:
        return False
    return address in _LISTING_ANSWERS and address not in _ERROR_ANSWERS


def zones_of(config: Config) -> tuple[Zone, ...]:
    return _zones(_frozen(config.get("zones") or []))


def resolver_of(config: Config) -> dns.asyncresolver.Resolver:
    """One resolver per configuration (kept: a new one per call would re-read the system's)."""
    given = config.get("resolver") or {}
    timeout_ms = int(config.get("timeout_ms") or DEFAULT_TIMEOUT_MS)
    address = given.get("address") if isinstance(given, dict) else None
    port = int(given.get("port") or 53) if isinstance(given, dict) else 53
    return _resolver(address, port, timeout_ms)


@lru_cache(maxsize=8)
def _resolver(address: str | None, port: int, timeout_ms: int) -> dns.asyncresolver.Resolver:
    if address is None:
        resolver = dns.asyncresolver.Resolver()
    else:
        resolver = dns.asyncresolver.Resolver(configure=False)
        resolver.nameservers = [address]
        resolver.port = port
    resolver.timeout = timeout_ms / 1000.0
    resolver.lifetime = timeout_ms / 1000.0
    return resolver


@lru_cache(maxsize=8)
def _zones(items: tuple[Any, ...]) -> tuple[Zone, ...]:
    zones = []
    for item in items:
        if isinstance(item, str):
            zones.append(Zone(item.rstrip(".").lower(), frozenset()))
        else:
            fields = dict(item)
            zones.append(
                Zone(str(fields["zone"]).rstrip(".").lower(), frozenset(fields.get("codes", ())))
            )
    return tuple(zones)


def _frozen(items: list[Any]) -> tuple[Any, ...]:
    """The zones in a hashable form (the compiled zones are cached per configuration)."""
    return tuple(
        item
        if isinstance(item, str)
        else tuple(
            (key, tuple(value) if isinstance(value, list) else value) for key, value in item.items()
        )
        for item in items
    )
