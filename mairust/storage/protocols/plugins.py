"""Installed plugins and their hook bindings (the platform operator's), and the
asynchronous hook jobs.

Part of :mod:`mairust.storage.protocols`; its docstring says what holds for every role.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from mairust.model.hook_jobs import HookJob, JobEffect, JobTarget
from mairust.model.plugins import (
    BreakerReport,
    HookBinding,
    HookCall,
    HookCallCount,
    HookLatencyCount,
    InstalledPlugin,
)


class PluginStore(Protocol):
    """Plugins by name, bindings by id, the calls made; ``active_bindings`` and
    ``record_hook_calls`` for the hook runtime."""

    def add_plugin(self, plugin: InstalledPlugin) -> None:
        """Conflict if a plugin of that name is installed."""
        ...

    def get_plugin(self, name: str) -> InstalledPlugin | None: ...

    def list_plugins(self) -> list[InstalledPlugin]: ...

    def update_plugin(
        self,
        name: str,
        *,
        version: str | None = None,
        manifest: dict[str, Any] | None = None,
        enabled: bool | None = None,
        config: dict[str, Any] | None = None,
    ) -> InstalledPlugin:
        """Change what is given; NotFound if absent."""
        ...

    def remove_plugin(self, name: str) -> None:
        """The plugin and its bindings; NotFound if absent."""
        ...

    def add_binding(self, binding: HookBinding) -> None:
        """NotFound if the plugin is not installed."""
        ...

    def get_binding(self, binding_id: str) -> HookBinding | None: ...

    def list_bindings(self, point: str | None = None) -> list[HookBinding]:
        """By point, then in the order they are tried."""
        ...

    def update_binding(
        self,
        binding_id: str,
        *,
        priority: int | None = None,
        mode: str | None = None,
        enabled: bool | None = None,
    ) -> HookBinding:
        """NotFound if absent."""
        ...

    def delete_binding(self, binding_id: str) -> None:
        """NotFound if absent."""
        ...

    def record_hook_calls(self, calls: Sequence[HookCall]) -> None:
        """Append calls and add them to the running totals (one transaction)."""
        ...

    def hook_call_counts(self, plugin: str | None = None) -> list[HookCallCount]:
        """The running totals by plugin, point, mode, outcome and verdict."""
        ...

    def hook_latency_counts(self, plugin: str | None = None) -> list[HookLatencyCount]:
        """The latency histogram by plugin, point and mode (per bucket, not cumulative)."""
        ...

    def report_breaker(self, report: BreakerReport) -> None:
        """Keep what one process says of a plugin's breaker (in place of what it said)."""
        ...

    def forget_breakers(self, holder: str) -> None:
        """A process that stops takes its breaker reports with it."""
        ...

    def breaker_reports(self, plugin: str | None = None) -> list[BreakerReport]: ...

    def set_plugin_secret(self, plugin: str, name: str, secret_id: str, at: datetime) -> str | None:
        """Name ``secret_id`` (a sealed platform secret) as the plugin's ``name``; the
        secret it held before is deleted with the change (its id returned). NotFound if
        the plugin is not installed."""
        ...

    def plugin_secrets(self, plugin: str) -> dict[str, tuple[str, datetime]]:
        """The plugin's secrets set: name → (secret id, when set)."""
        ...

    def delete_plugin_secret(self, plugin: str, name: str) -> None:
        """The name and the sealed value it held; NotFound if not set."""
        ...

    def forget_hook_calls(self, before: datetime, limit: int = 5000) -> int:
        """Delete up to ``limit`` of the oldest calls made before ``before``; how many."""
        ...

    def list_hook_calls(
        self, plugin: str, limit: int = 100, before: str | None = None
    ) -> list[HookCall]:
        """A plugin's calls, newest first; ``before``: the last id of the previous page."""
        ...

    def active_bindings(self, point: str) -> list[tuple[HookBinding, InstalledPlugin]]:
        """The enabled bindings of enabled plugins at ``point``, in the order tried."""
        ...


class HookJobStore(Protocol):
    """Asynchronous hook jobs (``post_receive``): one per (message, plugin, point),
    leased like the queue; only a lease's owner (or, for a job waiting for its callback,
    the callback API) settles one."""

    def add_hook_jobs(self, point: str, targets: Sequence[JobTarget]) -> int:
        """A job for each message of ``targets`` and each active binding at ``point`` whose
        tenant / domain filters match one of the message's targets; none twice (returns
        how many are new). Effects of finished jobs are applied to these copies too."""
        ...

    def lease_hook_jobs(self, owner: str, limit: int, lease_seconds: float) -> list[HookJob]:
        """Due jobs (and jobs whose lease expired), leased to ``owner``; attempts + 1."""
        ...

    def defer_hook_job(self, job_id: str, owner: str, error: str, retry_at: datetime) -> bool:
        """Pending again from ``retry_at``; False if ``owner`` holds no lease on it."""
        ...

    def fail_hook_job(self, job_id: str, owner: str | None, error: str) -> bool:
        """Failed for good (``owner`` None: a job waiting for its callback)."""
        ...

    def await_hook_callback(self, job_id: str, owner: str, until: datetime) -> bool:
        """The plugin answers later: waiting until ``until``."""
        ...

    def finish_hook_job(self, job_id: str, owner: str | None, effect: JobEffect) -> bool:
        """Done with ``effect`` recorded, and applied to the message's entries for an
        enforce binding, in one transaction; ``owner`` None: from waiting (the callback).
        False when the job is not so held (then nothing is applied)."""
        ...

    def expire_hook_callbacks(self, now: datetime) -> list[HookJob]:
        """Jobs that waited for a callback past their time: failed, and returned."""
        ...

    def release_hook_job_leases(self, owner_prefix: str, keep_owner: str | None = None) -> int:
        """As ``QueueStore.release_leases``, for the jobs."""
        ...

    def get_hook_job(self, job_id: str) -> HookJob | None: ...

    def list_hook_jobs(self, message_id: str | None = None, limit: int = 100) -> list[HookJob]:
        """Oldest first."""
        ...


class PluginStateStore(Protocol):
    """Plugins' small key/value state (a greylist's triplets), per plugin: each entry
    expires, and an expired one reads as absent. Keys are at most ``STATE_KEY_MAX`` and
    values ``STATE_VALUE_MAX`` characters (InvalidInput otherwise)."""

    def get_plugin_state(self, plugin: str, key: str, now: datetime) -> str | None:
        """The value, or None when there is none or it expired by ``now``."""
        ...

    def put_plugin_state(
        self, plugin: str, key: str, value: str, expires_at: datetime, now: datetime
    ) -> None:
        """Set (or replace) the entry, and sweep a few of the plugin's expired ones."""
        ...

    def add_plugin_state(
        self, plugin: str, key: str, value: str, expires_at: datetime, now: datetime
    ) -> str:
        """Set the entry only if there is none alive at ``now``; the value that holds
        afterwards (``value``, or the one another writer put first)."""
        ...

    def delete_plugin_state(self, plugin: str, key: str) -> bool:
        """True if there was an entry (expired or not)."""
        ...

    def sweep_plugin_state(self, now: datetime, limit: int = 1000) -> int:
        """Delete up to ``limit`` entries (of any plugin) expired by ``now``."""
        ...
