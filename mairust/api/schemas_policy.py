"""Request and response bodies of a domain's own policy and its routing rules."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from mairust.model.policy import DomainPolicy, RouteAction, RoutingRule
from mairust.services.policy import NewRule, PolicyView


class PolicyFields(BaseModel):
    """A domain's policy; null (or absent) inherits the platform's configuration."""

    model_config = ConfigDict(extra="forbid")

    spf: Literal["enforce", "record"] | None = Field(
        None, description="SPF fail: `enforce` refuses at RCPT (550 5.7.23), `record` stamps."
    )
    dmarc: Literal["enforce", "quarantine", "record"] | None = Field(
        None,
        description="DMARC fail under p=reject: `enforce` refuses (550 5.7.1), "
        "`quarantine` delivers to Junk, `record` stamps.",
    )
    max_message_bytes: int | None = Field(
        None,
        ge=1,
        description="The largest message the domain takes (552 5.3.4 above it); at most "
        "the platform's own limit.",
    )
    messages_per_minute: int | None = Field(
        None,
        ge=1,
        le=1_000_000,
        description="Messages accepted for the domain per minute on each SMTP front-end "
        "(450 4.7.1 beyond; the sender retries).",
    )

    def to_policy(self) -> DomainPolicy:
        return DomainPolicy(
            spf=self.spf,
            dmarc=self.dmarc,
            max_message_bytes=self.max_message_bytes,
            messages_per_minute=self.messages_per_minute,
        )

    @classmethod
    def of(cls, policy: DomainPolicy) -> PolicyFields:
        return cls(
            spf=policy.spf,
            dmarc=policy.dmarc,
            max_message_bytes=policy.max_message_bytes,
            messages_per_minute=policy.messages_per_minute,
        )


class PolicyOut(BaseModel):
    domain: str
    own: PolicyFields = Field(description="What was set for this domain (null: inherited).")
    effective: PolicyFields = Field(
        description="What is in force: the domain's own value, else the configuration's "
        "(`messages_per_minute` null: no limit)."
    )

    @classmethod
    def from_view(cls, view: PolicyView) -> PolicyOut:
        return cls(
            domain=view.domain,
            own=PolicyFields.of(view.own),
            effective=PolicyFields.of(view.effective),
        )


class RuleCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pattern: str = Field(
        min_length=1,
        max_length=64,
        description="A local-part glob: `*` any run of characters, `?` one; e.g. `sales-*`.",
        examples=["sales-*"],
    )
    action: RouteAction = Field(
        description="`local`: into the mailbox `target` of the domain's tenant; `forward`: to "
        "the address `target` (a local one must be the tenant's mailbox or alias); `relay`: "
        "to the host `target` (`host`, `host:port`, `[address]:port`; platform admin only), "
        "or over LMTP to a local mail store: `lmtp:host:port`, `lmtp:[address]:port` or "
        "`lmtp:/path/to/socket` (no MX lookup; a reply per recipient)."
    )
    target: str = Field(min_length=1, max_length=254, examples=["sales@example.com"])
    position: int | None = Field(
        None,
        ge=-1_000_000,
        le=1_000_000,
        description="Where the rule is tried among the domain's rules (lowest first); "
        "default: after the last.",
    )

    def to_rule(self) -> NewRule:
        return NewRule(self.pattern, self.action, self.target, self.position)


class RuleOut(BaseModel):
    id: str
    domain: str
    pattern: str
    action: RouteAction
    target: str
    position: int
    created_at: datetime

    @classmethod
    def from_rule(cls, rule: RoutingRule) -> RuleOut:
        return cls(
            id=rule.id,
            domain=rule.domain,
            pattern=rule.pattern,
            action=rule.action,
            target=rule.target,
            position=rule.position,
            created_at=rule.created_at,
        )


class RuleList(BaseModel):
    items: list[RuleOut]
