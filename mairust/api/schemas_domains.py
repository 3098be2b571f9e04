"""Request and response bodies of a domain's aliases, catch-all and DNS records."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from mairust.model.directory import Alias, CatchAll
from mairust.services.domain_dns import DnsRecord, DomainDns, RecordCheck

MAX_ALIAS_TARGETS = 100
Address = Annotated[str, Field(min_length=3, max_length=254)]


class AliasCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    address: str = Field(min_length=3, max_length=254, examples=["team@example.com"])
    targets: list[Address] = Field(
        min_length=1,
        max_length=MAX_ALIAS_TARGETS,
        description="Addresses of mailboxes of the domain's tenant; each gets one copy.",
        examples=[["jane@example.com", "joe@example.com"]],
    )


class AliasOut(BaseModel):
    address: str
    domain: str
    targets: list[str]
    created_at: datetime

    @classmethod
    def from_alias(cls, alias: Alias) -> AliasOut:
        return cls(
            address=alias.address,
            domain=alias.domain,
            targets=list(alias.targets),
            created_at=alias.created_at,
        )


class AliasList(BaseModel):
    items: list[AliasOut]


class CatchAllSet(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mailbox: str = Field(
        min_length=3,
        max_length=254,
        description="Address of a mailbox of the domain's tenant.",
        examples=["inbox@example.com"],
    )


class CatchAllOut(BaseModel):
    domain: str
    mailbox: str
    updated_at: datetime

    @classmethod
    def from_catchall(cls, catchall: CatchAll) -> CatchAllOut:
        return cls(
            domain=catchall.domain,
            mailbox=catchall.mailbox_address,
            updated_at=catchall.updated_at,
        )


class DnsRecordOut(BaseModel):
    purpose: Literal["mx", "spf", "dkim", "dmarc"]
    name: str = Field(description="The owner name, without the trailing dot.")
    type: str
    value: str = Field(description="MX: `preference host`; TXT: the whole text.")
    zone: str = Field(description="The record as a zone-file line.")

    @classmethod
    def from_record(cls, record: DnsRecord) -> DnsRecordOut:
        return cls(
            purpose=record.purpose,
            name=record.name,
            type=record.type,
            value=record.value,
            zone=record.zone_line(),
        )


class DomainDnsOut(BaseModel):
    domain: str
    dkim_selector: str
    records: list[DnsRecordOut]
    zone: str = Field(description="Every record as zone-file lines.")

    @classmethod
    def from_dns(cls, dns: DomainDns) -> DomainDnsOut:
        return cls(
            domain=dns.domain,
            dkim_selector=dns.dkim_selector,
            records=[DnsRecordOut.from_record(r) for r in dns.records],
            zone="\n".join(r.zone_line() for r in dns.records) + "\n",
        )


class DnsCheckOut(BaseModel):
    record: DnsRecordOut
    status: Literal["ok", "missing", "different", "error"] = Field(
        description="`error`: the lookup failed (timeout, SERVFAIL): try again later."
    )
    found: list[str] = Field(description="What the resolver returned for the name.")
    detail: str | None = None

    @classmethod
    def from_check(cls, check: RecordCheck) -> DnsCheckOut:
        return cls(
            record=DnsRecordOut.from_record(check.record),
            status=check.status,
            found=list(check.found),
            detail=check.detail,
        )


class DnsCheckList(BaseModel):
    domain: str
    items: list[DnsCheckOut]
