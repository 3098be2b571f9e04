"""Where mail for a domain goes: its MX hosts in order, each with its addresses.

Owns RFC 5321 §5.1 and RFC 7505 on top of the injected :class:`~mairust.auth.dns.Resolver`:

- MX records sorted by preference, equal preferences shuffled (load spreading, §5.1);
- no MX records (NODATA) → the domain itself is the host ("implicit MX"), if it has an
  A or AAAA record; neither → permanent 5.4.4 (not a mail domain);
- a null MX (``0 .``; our resolver renders its exchange as ``.``, a bare dict may give ``""``)
  → permanent 5.1.10 (RFC 7505 §3); NXDOMAIN → permanent 5.1.2;
- SERVFAIL / timeout on the MX query → temporary 4.4.3; a host whose addresses cannot be
  found is skipped, and if every host is skipped → temporary (4.4.3 if DNS failed on the
  way, else 4.4.4);
- a relay host (``host``, ``host:port``, ``[address]:port``, as routing rules store it,
  see :func:`mairust.model.policy.normalize_relay_host`) replaces the MX lookup: its name
  is resolved for addresses only (RFC 5321 §5.1: a relay is not looked up for MX). A relay
  that does not resolve is temporary: it is our configuration, not the recipient's domain.
- an LMTP relay (``lmtp:host:port``, ``lmtp:[address]:port``, ``lmtp:/path/to/socket``)
  likewise, its endpoints marked ``protocol="lmtp"`` (RFC 2033: LHLO, a reply per
  recipient); a socket path is an endpoint with ``port`` 0 and the path as its address.

The resolver is synchronous (dnspython); :func:`resolve_route_async` runs it on a thread.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from mairust.auth.dns import DnsTempError, NxDomain, Resolver
from mairust.outbound.errors import DeliveryFailure

log = logging.getLogger(__name__)

SMTP_PORT = 25
AddressType = Literal["A", "AAAA"]
RouteSource = Literal["mx", "implicit", "relay"]
Protocol = Literal["smtp", "lmtp"]
LMTP_PREFIX = "lmtp:"
_NULL_EXCHANGES = frozenset({"", ".", "@"})


class NullMx(DeliveryFailure):
    """The domain publishes a null MX: it accepts no mail (RFC 7505)."""

    default_code = "5.1.10"


class NoSuchDomain(DeliveryFailure):
    """The domain does not exist (NXDOMAIN)."""

    default_code = "5.1.2"


class NotAMailDomain(DeliveryFailure):
    """No MX and no address record: nowhere to deliver (RFC 5321 §5.1)."""

    default_code = "5.4.4"


class DnsTemporaryFailure(DeliveryFailure):
    """DNS did not answer (SERVFAIL, timeout): try again later."""

    default_code = "4.4.3"


class NoReachableHost(DeliveryFailure):
    """Every MX host (or the relay) came out without an address."""

    default_code = "4.4.4"


@dataclass(frozen=True, slots=True)
class MxHost:
    """One host to try, with its addresses in the order to try them."""

    name: str
    preference: int
    addresses: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One address to connect to, and the host name it stands for (for TLS and traces)."""

    host: str
    address: str  # an IP address, or the path of a unix socket (``port`` 0)
    port: int
    protocol: Protocol = "smtp"

    @property
    def unix(self) -> bool:
        """A unix socket: ``address`` is its path."""
        return self.address.startswith("/")


@dataclass(frozen=True, slots=True)
class Route:
    """The hosts for ``domain``, best first; ``source`` says how they were found."""

    domain: str
    hosts: tuple[MxHost, ...]
    port: int
    source: RouteSource
    protocol: Protocol = "smtp"

    def endpoints(self) -> tuple[Endpoint, ...]:
        """Every (host, address) in the order to try them."""
        return tuple(
            Endpoint(host=host.name, address=address, port=self.port, protocol=self.protocol)
            for host in self.hosts
            for address in host.addresses
        )


@dataclass(frozen=True, slots=True)
class RelayHost:
    """A parsed relay host: a name to resolve, or an address literal."""

    host: str
    port: int
    literal: str | None  # the address, when given as [address]; a socket's path
    protocol: Protocol = "smtp"


def parse_relay_host(relay: str) -> RelayHost:
    """``host`` / ``host:port`` / ``[1.2.3.4]:port`` / ``[2001:db8::1]`` → RelayHost, and
    the same after ``lmtp:`` (a port required), or ``lmtp:/path/to/socket``.

    Expects the form ``normalize_relay_host`` stores; ValueError on an unusable address.
    """
    text = relay.strip()
    if text[: len(LMTP_PREFIX)].lower() == LMTP_PREFIX:
        rest = text[len(LMTP_PREFIX) :]
        if rest.startswith("/"):  # a path is case-sensitive: kept as it is
            return RelayHost(host=LMTP_PREFIX + rest, port=0, literal=rest, protocol="lmtp")
        parsed = parse_relay_host(rest)
        if ":" not in rest.rpartition("]")[2]:
            raise ValueError(f"an LMTP relay needs a port: {relay!r}")
        return RelayHost(parsed.host, parsed.port, parsed.literal, protocol="lmtp")
    text = text.lower()
    if text.startswith("["):
        inside, _, rest = text[1:].partition("]")
        address = ipaddress.ip_address(inside.removeprefix("ipv6:"))
        port = int(rest[1:]) if rest.startswith(":") else SMTP_PORT
        return RelayHost(host=text.partition("]")[0] + "]", port=port, literal=str(address))
    name, colon, port_text = text.rpartition(":")
    if not colon:
        return RelayHost(host=text.rstrip("."), port=SMTP_PORT, literal=None)
    return RelayHost(host=name.rstrip("."), port=int(port_text), literal=None)


def resolve_route(
    domain: str,
    resolver: Resolver,
    *,
    relay_host: str | None = None,
    port: int = SMTP_PORT,
    address_types: Sequence[AddressType] = ("A", "AAAA"),
    rng: random.Random | None = None,
) -> Route:
    """The route for mail to ``domain``; a DeliveryFailure (see the module docstring) if
    there is none. ``port`` applies to MX hosts (tests point it at a sink); a relay host
    brings its own. ``address_types``: which addresses, in which order, for each host."""
    domain = domain.strip().rstrip(".").lower()
    if relay_host is not None:
        return _relay_route(domain, parse_relay_host(relay_host), resolver, address_types)
    try:
        answers = resolver.lookup(domain, "MX")
    except NxDomain as exc:
        raise NoSuchDomain(f"{domain}: no such domain") from exc
    except DnsTempError as exc:
        raise DnsTemporaryFailure(f"{domain}: MX lookup failed: {exc}") from exc
    if not answers:
        return _implicit_route(domain, resolver, port, address_types)
    records = [_parse_mx(domain, answer) for answer in answers]
    if any(exchange in _NULL_EXCHANGES for _, exchange in records):
        raise NullMx(f"{domain} accepts no mail (null MX, RFC 7505)")
    ordered = _by_preference(records, rng or random.Random())
    hosts: list[MxHost] = []
    dns_failed = False
    for preference, exchange in ordered:
        addresses, failed = _addresses(exchange, resolver, address_types)
        dns_failed = dns_failed or failed
        if addresses:
            hosts.append(MxHost(name=exchange, preference=preference, addresses=addresses))
        else:
            log.info("MX %s of %s has no usable address: skipped", exchange, domain)
    if not hosts:
        cls = DnsTemporaryFailure if dns_failed else NoReachableHost
        names = ", ".join(exchange for _, exchange in ordered)
        raise cls(f"{domain}: no MX host has an address ({names})")
    return Route(domain=domain, hosts=tuple(hosts), port=port, source="mx")


async def resolve_route_async(
    domain: str,
    resolver: Resolver,
    *,
    relay_host: str | None = None,
    port: int = SMTP_PORT,
    address_types: Sequence[AddressType] = ("A", "AAAA"),
    rng: random.Random | None = None,
) -> Route:
    """:func:`resolve_route` on a worker thread, so DNS waits never block the event loop."""
    return await asyncio.to_thread(
        resolve_route,
        domain,
        resolver,
        relay_host=relay_host,
        port=port,
        address_types=address_types,
        rng=rng,
    )


def _parse_mx(domain: str, answer: str) -> tuple[int, str]:
    preference, _, exchange = answer.strip().partition(" ")
    try:
        value = int(preference)
    except ValueError as exc:
        raise DnsTemporaryFailure(f"{domain}: unreadable MX record {answer!r}") from exc
    return value, exchange.strip().rstrip(".").lower() or "."


def _by_preference(records: list[tuple[int, str]], rng: random.Random) -> list[tuple[int, str]]:
    # A host listed twice is tried once, at its best preference.
    best: dict[str, int] = {}
    for preference, exchange in records:
        best[exchange] = min(preference, best.get(exchange, preference))
    shuffled = [(preference, exchange) for exchange, preference in best.items()]
    # Shuffle first, then a stable sort: equal preferences end up in random order (§5.1).
    rng.shuffle(shuffled)
    return sorted(shuffled, key=lambda record: record[0])


def _addresses(
    name: str, resolver: Resolver, address_types: Sequence[AddressType]
) -> tuple[tuple[str, ...], bool]:
    """The addresses of ``name`` (every type asked, in order) and whether DNS failed."""
    found: list[str] = []
    failed = False
    for rdtype in address_types:
        try:
            found.extend(resolver.lookup(name, rdtype))
        except NxDomain:
            break  # no such host: no other type will exist either
        except DnsTempError as exc:
            log.info("%s %s: %s", name, rdtype, exc)
            failed = True
    return tuple(dict.fromkeys(found)), failed


def _implicit_route(
    domain: str, resolver: Resolver, port: int, address_types: Sequence[AddressType]
) -> Route:
    addresses, failed = _addresses(domain, resolver, address_types)
    if addresses:
        host = MxHost(name=domain, preference=0, addresses=addresses)
        return Route(domain=domain, hosts=(host,), port=port, source="implicit")
    if failed:
        raise DnsTemporaryFailure(f"{domain}: no MX, and the address lookup failed")
    raise NotAMailDomain(f"{domain} has no MX and no address record")


def _relay_route(
    domain: str, relay: RelayHost, resolver: Resolver, address_types: Sequence[AddressType]
) -> Route:
    if relay.literal is not None:
        addresses: tuple[str, ...] = (relay.literal,)
    else:
        addresses, failed = _addresses(relay.host, resolver, address_types)
        if not addresses:
            cls = DnsTemporaryFailure if failed else NoReachableHost
            raise cls(f"relay host {relay.host} has no address")
    host = MxHost(name=relay.host, preference=0, addresses=addresses)
    return Route(
        domain=domain, hosts=(host,), port=relay.port, source="relay", protocol=relay.protocol
    )
