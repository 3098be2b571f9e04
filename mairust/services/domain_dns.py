"""The DNS records a tenant publishes for a local domain, and a check of what is published.

MX points at the platform's host name (``smtp.hostname``); SPF allows that host; DKIM
publishes the public half of the domain's own RSA-2048 key, made on first request (its
private half goes to the secret store and is never shown; outbound signing reads it
there); DMARC asks receivers to quarantine what fails. ``check`` looks each record up
through the configured resolver and says, per record, ``ok``, ``missing``, ``different``
(with what was found) or ``error`` (the lookup failed: we do not know, and say so).
"""

from __future__ import annotations

import base64
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from mairust.auth.dns import DnsTempError, NxDomain, RecordType, Resolver
from mairust.errors import Conflict
from mairust.model.directory import DkimKey, Domain
from mairust.model.principal import Permission, Principal
from mairust.model.scope import TenantScope
from mairust.model.secrets import SecretPurpose
from mairust.secrets.vault import SecretVault
from mairust.services.access import require
from mairust.services.directory import DirectoryService
from mairust.storage.protocols import AliasStore

log = logging.getLogger(__name__)

DKIM_KEY_BITS = 2048
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
        keys: AliasStore,
        vault: SecretVault | None,
        resolver: Resolver | None,
        mx_host: str,
    ) -> None:
        """``vault`` holds the DKIM private keys (None: keys cannot be made, a domain without
        one answers StorageUnavailable); ``resolver`` serves ``check``."""
        self._directory = directory
        self._keys = keys
        self._vault = vault
        self._resolver = resolver
        self._mx_host = mx_host.rstrip(".").lower()

    def records(self, principal: Principal, domain: str) -> DomainDns:
        """What the tenant publishes for ``domain``; NotFound outside their tenant."""
        require(principal, Permission.READ)
        owned = self._directory.own_domain(principal, domain)
        key = self._dkim_key(owned)
        name = owned.name
        records = (
            DnsRecord("mx", name, "MX", f"{MX_PREFERENCE} {self._mx_host}"),
            DnsRecord("spf", name, "TXT", f"v=spf1 a:{self._mx_host} -all"),
            DnsRecord(
                "dkim",
                f"{key.selector}._domainkey.{name}",
                "TXT",
                f"v=DKIM1; k=rsa; p={key.public_key}",
            ),
            DnsRecord("dmarc", f"_dmarc.{name}", "TXT", DMARC_POLICY),
        )
        return DomainDns(name, key.selector, records)

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

    def _dkim_key(self, domain: Domain) -> DkimKey:
        existing = self._keys.get_dkim_key(domain.name)
        if existing is not None:
            return existing
        if self._vault is None:
            raise RuntimeError("no secret store configured: cannot make a DKIM key")
        private = rsa.generate_private_key(public_exponent=65537, key_size=DKIM_KEY_BITS)
        pem = private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        public = private.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        now = datetime.now(UTC)
        scope = TenantScope(domain.tenant_id)
        ref = self._vault.create(scope, SecretPurpose.DKIM_KEY, pem)
        key = DkimKey(
            domain.name,
            f"mr{now:%Y%m}",
            base64.b64encode(public).decode("ascii"),
            ref.id,
            now,
        )
        try:
            self._keys.add_dkim_key(key)
        except Conflict:
            # Another request made one first: keep theirs, drop ours.
            self._vault.delete(scope, ref.id)
            raced = self._keys.get_dkim_key(domain.name)
            if raced is None:
                raise
            return raced
        log.info("DKIM key %s made for %s", key.selector, domain.name)
        return key


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
