"""SPF (RFC 7208): is this client IP allowed to send for the MAIL FROM (or HELO) domain?

``check_spf`` and ``check_helo`` run pyspf's evaluator with every DNS lookup going through the
injected ``Resolver`` (a subclass overrides pyspf's ``dns()``; pyspf's module-level DNS hook is
never touched), and turn its answer into an ``SpfResult``.

pyspf enforces the RFC 7208 §4.6.4 limits (10 DNS-querying terms, 10 MX/PTR names, 2 void
lookups) because every lookup still passes through its ``dns()`` bookkeeping. A DNS failure
(``DnsTempError``) becomes ``temperror`` — never ``fail`` or ``pass``.
"""

from __future__ import annotations

import logging
from typing import Any, cast

import spf  # type: ignore[import-untyped]

from mairust.auth.dns import DnsTempError, NxDomain, RecordType, Resolver
from mairust.auth.results import SpfResult, SpfWord

log = logging.getLogger(__name__)

_QUERY_TYPES: frozenset[str] = frozenset({"A", "AAAA", "MX", "TXT", "PTR", "CNAME"})
# pyspf's historical names for the RFC 7208 words.
_WORDS = {word.value: word for word in SpfWord} | {
    "unknown": SpfWord.PERMERROR,
    "error": SpfWord.TEMPERROR,
}


def check_spf(
    resolver: Resolver,
    client_ip: str,
    mail_from: str,
    helo: str,
    *,
    default_explanation: str | None = None,
) -> SpfResult:
    """The SPF result for the MAIL FROM identity (RFC 7208 §2.4).

    For the null reverse-path (``mail_from == ""``) the identity checked is
    ``postmaster@<helo>``, reported as identity ``"helo"``.
    ``default_explanation`` replaces pyspf's text for fail/softfail/permerror when the
    domain publishes no ``exp=``.
    """
    return _evaluate(resolver, client_ip, mail_from, helo, default_explanation)


def check_helo(
    resolver: Resolver,
    client_ip: str,
    helo: str,
    *,
    default_explanation: str | None = None,
) -> SpfResult:
    """The SPF result for the HELO identity (RFC 7208 §2.3)."""
    return _evaluate(resolver, client_ip, "", helo, default_explanation)


def _evaluate(
    resolver: Resolver,
    client_ip: str,
    mail_from: str,
    helo: str,
    default_explanation: str | None,
) -> SpfResult:
    identity = "mailfrom" if mail_from else "helo"
    if not mail_from and not helo:
        return SpfResult(SpfWord.NONE, identity, "", client_ip, "no identity to check")
    try:
        query = _ResolverQuery(resolver, i=client_ip, s=mail_from, h=helo)
    except spf.PermError as exc:  # pyspf rejects a malformed client address here
        return SpfResult(SpfWord.PERMERROR, identity, "", client_ip, f"invalid client IP: {exc}")
    if default_explanation is not None:
        query.set_default_explanation(default_explanation)
    answer, _code, explanation = query.check()
    word = _WORDS.get(answer)
    if word is None:  # 'ambiguous' exists only in pyspf's harsh mode, which we never use
        log.warning("unexpected pyspf result %r for %s; reporting permerror", answer, query.o)
        word = SpfWord.PERMERROR
    return SpfResult(word, identity, str(query.o), client_ip, str(explanation))


class _ResolverQuery(spf.query):  # type: ignore[misc]
    """pyspf's evaluator, asking the injected ``Resolver`` instead of its global DNS hook."""

    def __init__(self, resolver: Resolver, **kwargs: Any) -> None:
        self._resolver = resolver
        super().__init__(**kwargs)

    def dns(
        self,
        name: str,
        qtype: str,
        cnames: dict[str, str] | None = None,
        ignore_void: bool = False,
    ) -> list[Any]:
        """The answers in pyspf's shapes, cached per check, counting void lookups.

        Mirrors ``spf.query.dns``: invalid names give no answer, an empty answer counts as a
        void lookup (RFC 7208 §4.6.4) unless ``ignore_void``. CNAMEs are followed by the
        resolver, so ``cnames`` is unused.
        """
        if not name:
            raise spf.PermError("empty domain name in a DNS lookup")
        name = str(name).removesuffix(".")
        if not all(0 < len(label) < 64 for label in name.split(".")):
            return []  # not a valid DNS name: nothing can be found there
        key = (name.lower(), qtype)
        result: list[Any] | None = self.cache.get(key)
        if result is None:
            result = self._ask(key[0], qtype)
            self.cache[key] = result
        if not result and not ignore_void:
            self.void_lookups += 1
            if self.void_lookups > spf.MAX_VOID_LOOKUPS:
                raise spf.PermError(f"Void lookup limit of {spf.MAX_VOID_LOOKUPS} exceeded")
        return result

    def _ask(self, name: str, qtype: str) -> list[Any]:
        if qtype not in _QUERY_TYPES:  # type 99 (SPF) is only asked in pyspf's harsh mode
            return []
        rdtype = cast(RecordType, qtype)
        try:
            records = self._resolver.lookup(name, rdtype)
        except NxDomain:
            return []
        except DnsTempError as exc:
            raise spf.TempError(f"DNS {exc}") from exc
        return [_pyspf_value(qtype, record) for record in records]

    def validated_ptrs(self) -> list[str]:
        """The client's PTR names whose A/AAAA records lead back to it (RFC 7208 §5.5).

        Unlike pyspf's own, a DNS error does not end the check as temperror: a failed PTR
        lookup means no names, a failed A lookup (say a CNAME loop, which resolvers report
        as SERVFAIL) skips that name, as §5.5 says.
        """
        try:
            names: list[str] = self.dns_ptr(self.i)[: spf.MAX_PTR]
        except spf.TempError as exc:
            log.info("ptr: PTR lookup for %s failed, no names: %s", self.c, exc)
            return []
        return [name for name in names if self._points_back(name)]

    def _points_back(self, name: str) -> bool:
        try:
            addresses = self.dns_a(name, self.A)
        except spf.TempError as exc:
            log.info("ptr: skipping %s: %s", name, exc)
            return False
        return bool(self.cidrmatch(addresses, self.cidrmax))

    def get_explanation(self, spec: str) -> str | None:
        # RFC 7208 §6.2: a DNS error while fetching the exp= text means "no exp=", never a
        # temperror for the whole check.
        try:
            explanation: str | None = super().get_explanation(spec)
        except spf.TempError as exc:
            log.info("ignoring exp=%s: %s", spec, exc)
            return None
        return explanation


def _pyspf_value(qtype: str, record: str) -> Any:
    """One presentation-text record in the shape pyspf's DNS drivers return."""
    if qtype == "TXT":
        # pyspf wants bytes chunks; it joins them and checks SPF records are ASCII itself.
        return (record.encode("utf-8", "surrogateescape"),)
    if qtype == "MX":
        preference, _, exchange = record.partition(" ")
        return (int(preference), "" if exchange == "." else exchange)
    return record
