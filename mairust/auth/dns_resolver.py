"""The production ``Resolver``: dnspython on the wire, behind a TTL-respecting LRU cache.

``CachingResolver`` owns talking to DNS servers (UDP, TCP fallback on truncation — dnspython
retries over TCP by itself), turning dnspython's answers into the presentation text the
``Resolver`` protocol promises, and caching answers for as long as their TTLs allow:

- positive answers for the smallest TTL of the chain (CNAMEs included), capped at ``max_ttl``;
- NXDOMAIN and NODATA for the SOA minimum of the reply (RFC 2308), capped at ``negative_ttl``;
- failures (timeout, SERVFAIL, refused, unreachable) never, so the next message asks again.

One instance is meant to be shared by every check of a process (thread-safe); ``stats()``
gives the hit/miss/error counters for metrics.

TXT strings are bytes on the wire; they are decoded as UTF-8 with ``surrogateescape``, so a
non-UTF-8 record round-trips through ``str.encode("utf-8", "surrogateescape")`` unchanged.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import dns.exception
import dns.message
import dns.name
import dns.rdata
import dns.rdtypes.IN.A
import dns.rdtypes.IN.AAAA
import dns.rdtypes.mxbase
import dns.rdtypes.nsbase
import dns.rdtypes.txtbase
import dns.resolver

from mairust.auth.dns import DnsTempError, NxDomain, RecordType

if TYPE_CHECKING:
    from mairust.config import DnsSettings

log = logging.getLogger(__name__)

Clock = Callable[[], float]


@dataclass(frozen=True, slots=True)
class ResolverStats:
    hits: int
    misses: int
    errors: int
    cached: int


@dataclass(frozen=True, slots=True)
class _Entry:
    expires_at: float
    records: tuple[str, ...] | None  # None: the name does not exist (cached NXDOMAIN)


class CachingResolver:
    """A thread-safe caching ``Resolver`` (see ``mairust.auth.dns``)."""

    def __init__(
        self,
        nameservers: list[str] | None = None,
        port: int = 53,
        timeout: float = 2.0,
        cache_size: int = 10_000,
        clock: Clock = time.monotonic,
        *,
        max_ttl: int = 86_400,
        negative_ttl: int = 300,
    ) -> None:
        # Without explicit nameservers, read the system's (/etc/resolv.conf).
        self._resolver = dns.resolver.Resolver(configure=nameservers is None)
        if nameservers is not None:
            self._resolver.nameservers = list(nameservers)
            self._resolver.port = port
        # ``timeout`` bounds the whole lookup, every server and retry included.
        self._resolver.timeout = timeout
        self._resolver.lifetime = timeout
        self._cache_size = cache_size
        self._clock = clock
        self._max_ttl = max_ttl
        self._negative_ttl = negative_ttl
        self._cache: OrderedDict[tuple[str, str], _Entry] = OrderedDict()
        self._lock = threading.Lock()
        self._hits = 0
        self._misses = 0
        self._errors = 0

    @classmethod
    def from_settings(cls, dns: DnsSettings, *, cached: bool = True) -> CachingResolver:
        """The resolver ``[dns]`` describes: its nameservers (none named: the system's), port,
        timeout and cache size; ``cached=False`` for lookups that must see a record published
        a moment ago (a tenant checking its DNS)."""
        return cls(
            dns.nameservers or None,
            port=dns.port,
            timeout=dns.timeout,
            cache_size=dns.cache_size if cached else 0,
        )

    def lookup(self, name: str, rdtype: RecordType) -> tuple[str, ...]:
        key = (name.rstrip(".").lower(), rdtype)
        entry = self._cached(key)
        if entry is None:
            entry = self._query(name, rdtype)
            self._store(key, entry)
        if entry.records is None:
            raise NxDomain(f"{name}: no such domain")
        return entry.records

    def stats(self) -> ResolverStats:
        with self._lock:
            return ResolverStats(self._hits, self._misses, self._errors, len(self._cache))

    # -- cache ---------------------------------------------------------------------------

    def _cached(self, key: tuple[str, str]) -> _Entry | None:
        with self._lock:
            entry = self._cache.get(key)
            if entry is not None and entry.expires_at > self._clock():
                self._cache.move_to_end(key)
                self._hits += 1
                return entry
            if entry is not None:
                del self._cache[key]
            self._misses += 1
            return None

    def _store(self, key: tuple[str, str], entry: _Entry) -> None:
        if entry.expires_at <= self._clock() or self._cache_size <= 0:
            return
        with self._lock:
            self._cache[key] = entry
            self._cache.move_to_end(key)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)

    # -- the wire ------------------------------------------------------------------------

    def _query(self, name: str, rdtype: RecordType) -> _Entry:
        try:
            qname = dns.name.from_text(name)
        except (
            dns.name.EmptyLabel,
            dns.name.LabelTooLong,
            dns.name.NameTooLong,
            dns.name.IDNAException,
        ) as exc:
            # A name that cannot exist in the DNS is answered as one that does not.
            log.debug("%r is not a valid domain name (%s): NXDOMAIN", name, exc)
            return _Entry(self._clock() + self._negative_ttl, None)
        try:
            answer = self._resolver.resolve(qname, rdtype, search=False, raise_on_no_answer=False)
        except dns.resolver.NXDOMAIN as exc:
            ttl = _negative_ttl_of(exc, qname, default=self._negative_ttl)
            return _Entry(self._clock() + min(ttl, self._negative_ttl), None)
        except dns.exception.DNSException as exc:
            # Timeout, NoNameservers (SERVFAIL/REFUSED/unreachable), YXDOMAIN, a CNAME chain
            # too long: the answer is unknown, so temperror — and never cached.
            with self._lock:
                self._errors += 1
            raise DnsTempError(f"{name} {rdtype}: {exc}") from exc
        ttl = answer.chaining_result.minimum_ttl
        if answer.rrset is None:  # NODATA: the TTL is already the SOA's (RFC 2308)
            return _Entry(self._clock() + min(ttl, self._negative_ttl), ())
        records = tuple(_present(rdata) for rdata in answer.rrset)
        return _Entry(self._clock() + min(ttl, self._max_ttl), records)


def _negative_ttl_of(exc: dns.resolver.NXDOMAIN, qname: dns.name.Name, default: int) -> int:
    """The RFC 2308 negative TTL of an NXDOMAIN reply: min(SOA TTL, SOA minimum)."""
    # dnspython keeps the replies in the exception's kwargs (its accessors are untyped).
    responses: dict[dns.name.Name, dns.message.Message] = exc.kwargs.get("responses", {})
    response = responses.get(qname)
    if not isinstance(response, dns.message.QueryMessage):
        return default
    try:
        return int(response.resolve_chaining().minimum_ttl)
    except dns.exception.DNSException:
        return default


def _present(rdata: dns.rdata.Rdata) -> str:
    """One record as the ``Resolver`` protocol's presentation text."""
    if isinstance(rdata, dns.rdtypes.IN.A.A | dns.rdtypes.IN.AAAA.AAAA):
        return str(rdata.address)
    if isinstance(rdata, dns.rdtypes.mxbase.MXBase):
        return f"{rdata.preference} {rdata.exchange.to_text(omit_final_dot=True)}"
    if isinstance(rdata, dns.rdtypes.txtbase.TXTBase):
        return b"".join(rdata.strings).decode("utf-8", "surrogateescape")
    if isinstance(rdata, dns.rdtypes.nsbase.NSBase):  # PTR, CNAME
        return rdata.target.to_text(omit_final_dot=True)
    raise DnsTempError(f"unexpected record type in answer: {rdata.rdtype!r}")
