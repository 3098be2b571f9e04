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
