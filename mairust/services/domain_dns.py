"""The DNS records a tenant publishes for a local domain, and a check of what is published.

MX points at the platform's host name (``smtp.hostname``); SPF allows that host; DKIM
publishes one record per key of the domain (:mod:`mairust.services.dkim_keys`: the active
ones, rsa and/or ed25519, and those retired within the rotation's grace period), an
RSA-2048 key being made on the first request if the domain has none (its private half
goes to the secret store and is never shown; outbound signing reads it there); DMARC asks
receivers to quarantine what fails. ``check`` looks each record up through the
configured resolver and says, per record, ``ok``, ``missing``, ``different`` (with what
was found) or ``error`` (the lookup failed: we do not know, and say so).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

from mairust.auth.dns import DnsTempError, NxDomain, RecordType, Resolver
from mairust.model.dkim_keys import DkimAlgorithm, DkimKeyState
from mairust.model.principal import Permission, Principal
from mairust.services.access import require
from mairust.services.directory import DirectoryService
from mairust.services.dkim_keys import DkimKeyService

log = logging.getLogger(__name__)

TTL = 3600
MX_PREFERENCE = 10
DMARC_POLICY = "v=DMARC1; p=quarantine; adkim=r; aspf=r"
_TXT_CHUNK = 255  # one character-string of a TXT record (RFC 1035 §3.3.14)

Purpose = Literal["mx", "spf", "dkim", "dmarc"]
CheckStatus = Literal["ok", "missing", "different", "error"]


@dataclass(frozen=True, slots=True)
class DnsRecord:
    """One record to publish: ``name`` (no trailing dot), ``type``, and ``value`` as the
    resolver presents it (MX: ``"10 host"``; TXT: the strings joined)."""

    purpose: Purpose
    name: str
    type: RecordType
    value: str

    def zone_line(self) -> str:
        """The record as a zone-file line (TXT split into 255-byte strings)."""
        if self.type == "MX":
            rdata = f"{self.value}."
        else:
            chunks = [self.value[i : i + _TXT_CHUNK] for i in range(0, len(self.value), _TXT_CHUNK)]
            rdata = " ".join(f'"{chunk}"' for chunk in chunks)
        return f"{self.name}. {TTL} IN {self.type} {rdata}"


@dataclass(frozen=True, slots=True)
class RecordCheck:
    record: DnsRecord
    status: CheckStatus
    found: tuple[str, ...] = ()
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class DomainDns:
    domain: str
    dkim_selector: str
    records: tuple[DnsRecord, ...]


class DomainDnsService:
    def __init__(
        self,
        directory: DirectoryService,
        dkim: DkimKeyService,
        resolver: Resolver | None,
        mx_host: str,
    ) -> None:
        """``dkim`` holds the domains' DKIM keys (without a secret store, a domain that has
        none answers InvalidInput); ``resolver`` serves ``check``."""
        self._directory = directory
        self._dkim = dkim
        self._resolver = resolver
        self._mx_host = mx_host.rstrip(".").lower()

    def records(self, principal: Principal, domain: str) -> DomainDns:
        """What the tenant publishes for ``domain``; NotFound outside their tenant."""
        require(principal, Permission.READ)
        owned = self._directory.own_domain(principal, domain)
        keys = self._dkim.published(owned)
        name = owned.name
        records = (
            DnsRecord("mx", name, "MX", f"{MX_PREFERENCE} {self._mx_host}"),
            DnsRecord("spf", name, "TXT", f"v=spf1 a:{self._mx_host} -all"),
            *(DnsRecord("dkim", key.dns_name, "TXT", key.dns_record) for key in keys),
            DnsRecord("dmarc", f"_dmarc.{name}", "TXT", DMARC_POLICY),
        )
        # The selector shown on its own: the active RSA key's (the one every verifier
        # understands), else the first active one.
        active = [key for key in keys if key.state is DkimKeyState.ACTIVE] or keys
        first = next((k for k in active if k.algorithm is DkimAlgorithm.RSA2048), None)
        shown = first or (active[0] if active else None)
        return DomainDns(name, shown.selector if shown else "", records)

    def check(self, principal: Principal, domain: str) -> list[RecordCheck]:
        """Each record looked up through the resolver, compared with what it should be."""
        expected = self.records(principal, domain)
        if self._resolver is None:
            raise RuntimeError("no resolver configured for DNS checks")
        return [self._check_one(record) for record in expected.records]

    def _check_one(self, record: DnsRecord) -> RecordCheck:
        assert self._resolver is not None
        try:
            answers = self._resolver.lookup(record.name, record.type)
        except NxDomain:
            answers = ()
        except DnsTempError as error:
            return RecordCheck(record, "error", detail=str(error))
        relevant = tuple(a for a in answers if _same_kind(record, a))
        if not relevant:
            return RecordCheck(record, "missing", answers)
        if any(_matches(record, answer) for answer in relevant):
            return RecordCheck(record, "ok", relevant)
        return RecordCheck(record, "different", relevant)


def _same_kind(record: DnsRecord, answer: str) -> bool:
    """Whether ``answer`` is a record of the same kind (the other TXT records at a domain,
    a site verification say, are not an SPF record that differs)."""
    lowered = answer.strip().lower()
    match record.purpose:
        case "spf":
            return lowered.startswith("v=spf1")
        case "dkim":
            return "p=" in lowered or lowered.startswith("v=dkim1")
        case "dmarc":
            return lowered.startswith("v=dmarc1")
        case "mx":
            return True


def _matches(record: DnsRecord, answer: str) -> bool:
    match record.purpose:
        case "mx":
            return _mx_host(answer) == _mx_host(record.value)
        case "dkim":
            return _dkim_key_of(answer) == _dkim_key_of(record.value)
        case "spf" | "dmarc":
            return _words(answer) == _words(record.value)


def _mx_host(value: str) -> str:
    return value.split()[-1].rstrip(".").lower() if value.split() else ""


def _dkim_key_of(value: str) -> str:
    for tag in value.split(";"):
        name, _, content = tag.partition("=")
        if name.strip().lower() == "p":
            return "".join(content.split())
    return ""


def _words(value: str) -> list[str]:
    return [" ".join(part.split()).lower() for part in value.replace(";", " ; ").split()]
