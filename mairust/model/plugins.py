"""Installed plugins and their bindings to hook points, as stored.

The manifest is kept as the JSON it was read into (``mairust.hooks.manifest`` reads and
checks it); a binding names a plugin, a hook point and how it runs there (order, mode,
on or off, and optional tenant/domain filters).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class InstalledPlugin:
    name: str
    version: str
    manifest: dict[str, Any]
    enabled: bool
    config: dict[str, Any]
    installed_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class HookBinding:
    id: str
    plugin: str
    point: str
    priority: int
    mode: str  # "enforce" or "shadow"
    enabled: bool
    # Only mail of this tenant / to this domain (None: all).
    tenant_id: str | None
    domain: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class HookCall:
    """One call of one plugin at one hook point, as recorded (DESIGN §6: every call)."""

    id: str
    at: datetime
    point: str
    plugin: str
    mode: str
    outcome: str  # answered, timeout, error, shed
    verdict: str
    latency_ms: float
    error: str = ""
    dropped: tuple[str, ...] = ()


# Upper bounds (ms) of the call latency histogram kept per plugin, point and mode; the last
# bucket takes everything slower. Changing them needs a migration of hook_call_latency.
LATENCY_BUCKETS_MS: tuple[float, ...] = (
    1.0,
    2.5,
    5.0,
    10.0,
    25.0,
    50.0,
    100.0,
    250.0,
    500.0,
    1000.0,
    2500.0,
    5000.0,
    float("inf"),
)


@dataclass(frozen=True, slots=True)
class HookCallCount:
    """How many calls of a plugin at a point, in a mode, ended one way with one verdict,
    since it was first called (kept beside the call log, updated with it)."""

    plugin: str
    point: str
    mode: str
    outcome: str
    verdict: str
    calls: int
    latency_ms_sum: float


@dataclass(frozen=True, slots=True)
class HookLatencyCount:
    """Calls of a plugin at a point, in a mode, that took at most ``le_ms`` and more than
    the bucket below (not cumulative)."""

    plugin: str
    point: str
    mode: str
    le_ms: float
    calls: int


@dataclass(frozen=True, slots=True)
class BreakerReport:
    """A plugin's circuit breaker in one process (``holder``), as that process last said:
    ``open`` sheds its calls until ``changed_at`` + ``open_seconds``, then one trial call."""

    plugin: str
    holder: str
    state: str  # "open" or "closed"
    changed_at: datetime
    open_seconds: float
    times_opened: int
