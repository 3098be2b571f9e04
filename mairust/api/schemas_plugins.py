"""Request and response bodies of the admin plugin and hook-binding routes."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from mairust.hooks import figures
from mairust.hooks.chain import BindingMode, CallRecord
from mairust.hooks.points import HookPoint
from mairust.model.plugins import HookBinding, HookCall, InstalledPlugin
from mairust.services.plugins import DryRun


class PluginInstall(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: str = Field(
        min_length=1,
        max_length=4096,
        description="A directory on the server holding the plugin's plugin.toml.",
        examples=["/srv/mairust/plugins/recipient-policy"],
    )


class PluginChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool | None = None
    config: dict[str, Any] | None = Field(
        None, description="The plugin's configuration; checked against its manifest's schema."
    )


class PluginOut(BaseModel):
    name: str
    version: str
    enabled: bool
    description: str
    transport: str
    hooks: list[str]
    scopes: list[str]
    permissions: list[str]
    config: dict[str, Any]
    manifest: dict[str, Any]
    installed_at: datetime
    updated_at: datetime

    @classmethod
    def from_plugin(cls, plugin: InstalledPlugin) -> PluginOut:
        manifest = plugin.manifest
        return cls(
            name=plugin.name,
            version=plugin.version,
            enabled=plugin.enabled,
            description=str(manifest.get("plugin", {}).get("description", "")),
            transport=str(manifest.get("transport", {}).get("kind", "")),
            hooks=[str(h.get("point")) for h in manifest.get("hooks", [])],
            scopes=[str(s) for s in manifest.get("scopes", [])],
            permissions=[str(p) for p in manifest.get("permissions", [])],
            config=plugin.config,
            manifest=manifest,
            installed_at=plugin.installed_at,
            updated_at=plugin.updated_at,
        )


class PluginList(BaseModel):
    items: list[PluginOut]


class BindingCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    plugin: str = Field(min_length=1, max_length=64)
    point: HookPoint
    priority: int = Field(100, ge=0, le=10_000, description="Lower runs first; ties in order.")
    mode: BindingMode = BindingMode.ENFORCE
    tenant_id: str | None = Field(None, max_length=64)
    domain: str | None = Field(None, max_length=253)


class BindingChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    priority: int | None = Field(None, ge=0, le=10_000)
    mode: BindingMode | None = None
    enabled: bool | None = None


class BindingOut(BaseModel):
    id: str
    plugin: str
    point: HookPoint
    priority: int
    mode: BindingMode
    enabled: bool
    tenant_id: str | None
    domain: str | None
    created_at: datetime

    @classmethod
    def from_binding(cls, binding: HookBinding) -> BindingOut:
        return cls(
            id=binding.id,
            plugin=binding.plugin,
            point=HookPoint(binding.point),
            priority=binding.priority,
            mode=BindingMode(binding.mode),
            enabled=binding.enabled,
            tenant_id=binding.tenant_id,
            domain=binding.domain,
            created_at=binding.created_at,
        )


class BindingList(BaseModel):
    items: list[BindingOut]


class DryRunRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    message: str | None = Field(
        None,
        max_length=512 * 1024,
        description="The message as RFC 5322 text (line endings made CRLF); none at the "
        "envelope points.",
    )
    mail_from: str = Field("", max_length=254, description='The envelope sender ("" is <>).')
    rcpt_tos: list[str] = Field(min_length=1, max_length=100)
    client_ip: str = Field("192.0.2.1", max_length=45)
    helo: str = Field("dry-run.example", max_length=255)


class CallOut(BaseModel):
    plugin: str
    mode: BindingMode
    outcome: str
    verdict: str
    reason: str
    reply: str | None
    tags: list[str]
    folder: str | None
    modifications: list[str]
    dropped: list[str]
    error: str
    latency_ms: float

    @classmethod
    def from_record(cls, record: CallRecord) -> CallOut:
        verdict = record.verdict
        return cls(
            plugin=record.plugin,
            mode=record.mode,
            outcome=record.outcome.value,
            verdict=verdict.kind.value,
            reason=verdict.reason,
            reply=verdict.reply,
            tags=list(verdict.annotations.tags),
            folder=verdict.annotations.folder,
            modifications=[repr(m) for m in verdict.modifications],
            dropped=list(record.dropped),
            error=record.error,
            latency_ms=round(record.latency_ms, 2),
        )


class DryRunOut(BaseModel):
    point: HookPoint
    verdict: str = Field(description="What would be enforced (the most severe, by priority).")
    reply: str | None = Field(description="The SMTP reply it would give (null: it goes on).")
    calls: list[CallOut] = Field(description="Each binding's call, in the order they run.")

    @classmethod
    def from_dry_run(cls, point: HookPoint, ran: DryRun) -> DryRunOut:
        return cls(
            point=point,
            verdict=ran.result.verdict.kind.value,
            reply=ran.reply,
            calls=[CallOut.from_record(record) for record in ran.result.records],
        )


class HookCallOut(BaseModel):
    id: str
    at: datetime
    point: HookPoint
    mode: BindingMode
    outcome: str
    verdict: str
    latency_ms: float
    error: str
    dropped: list[str]

    @classmethod
    def from_call(cls, call: HookCall) -> HookCallOut:
        return cls(
            id=call.id,
            at=call.at,
            point=HookPoint(call.point),
            mode=BindingMode(call.mode),
            outcome=call.outcome,
            verdict=call.verdict,
            latency_ms=round(call.latency_ms, 2),
            error=call.error,
            dropped=list(call.dropped),
        )


class CallSummary(BaseModel):
    """Figures over the calls of this page."""

    calls: int
    by_outcome: dict[str, int]
    by_verdict: dict[str, int]
    latency_p50_ms: float | None
    latency_p99_ms: float | None

    @classmethod
    def from_summary(cls, summary: figures.CallSummary) -> CallSummary:
        return cls(
            calls=summary.calls,
            by_outcome=summary.by_outcome,
            by_verdict=summary.by_verdict,
            latency_p50_ms=summary.latency_p50_ms,
            latency_p99_ms=summary.latency_p99_ms,
        )


class HookCallList(BaseModel):
    items: list[HookCallOut]
    next: str | None = Field(description="Pass as `before` for the next (older) page.")
    summary: CallSummary


class PointFiguresOut(BaseModel):
    point: HookPoint
    mode: BindingMode
    calls: int
    by_outcome: dict[str, int] = Field(description="answered, timeout, error, shed.")
    by_verdict: dict[str, int] = Field(description="What the calls stood for (enforced or not).")
    latency_mean_ms: float | None
    latency_p50_at_most_ms: float | None = Field(
        description="The upper bound of the latency bucket the median falls in "
        "(null: slower than the largest bucket, or no calls)."
    )
    latency_p99_at_most_ms: float | None


class BreakerOut(BaseModel):
    holder: str = Field(description="The process: role@host:pid.")
    state: Literal["open", "closed"]
    changed_at: datetime
    trial_after: datetime | None = Field(description="While open: when one trial call goes.")
    times_opened: int


class PluginFiguresOut(BaseModel):
    """A plugin's running totals since it was installed, per hook point and mode, and its
    circuit breakers as each process last reported them."""

    plugin: str
    points: list[PointFiguresOut]
    breakers: list[BreakerOut]
    shed_by: int = Field(description="How many processes shed its calls now (circuit open).")

    @classmethod
    def from_figures(cls, found: figures.PluginFigures) -> PluginFiguresOut:
        return cls(
            plugin=found.plugin,
            points=[
                PointFiguresOut(
                    point=HookPoint(p.point),
                    mode=BindingMode(p.mode),
                    calls=p.calls,
                    by_outcome=p.by_outcome,
                    by_verdict=p.by_verdict,
                    latency_mean_ms=p.latency_mean_ms,
                    latency_p50_at_most_ms=_finite(p.latency_p50_at_most_ms),
                    latency_p99_at_most_ms=_finite(p.latency_p99_at_most_ms),
                )
                for p in found.points
            ],
            breakers=[
                BreakerOut(
                    holder=b.holder,
                    state="open" if b.state == "open" else "closed",
                    changed_at=b.changed_at,
                    trial_after=b.trial_after,
                    times_opened=b.times_opened,
                )
                for b in found.breakers
            ],
            shed_by=found.shed_by,
        )


def _finite(value: float | None) -> float | None:
    """JSON has no infinity: slower than every bucket reads as null."""
    return value if value is not None and math.isfinite(value) else None
