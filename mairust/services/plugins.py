"""Installed plugins and their bindings to hook points: the platform operator's.

Installing reads and checks the plugin's ``plugin.toml`` from a directory on the server and
binds it at the hook points it declares. A plugin whose configuration does not satisfy its
manifest's schema, or which names secrets (``plugin_secrets``), is installed switched off
and cannot be switched on until it is configured and its secrets are set.
Bindings may be added, reordered, put in shadow mode, switched off and removed; a binding
names a point the plugin declares. Every change is in the audit log. A dry run asks a
point's plugins about a posted message and stores nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from mairust.errors import Conflict, InvalidInput, NotFound, StorageUnavailable
from mairust.hooks.chain import BindingMode, ChainResult
from mairust.hooks.deployment import PluginPackages
from mairust.hooks.figures import CallSummary, PluginFigures, plugin_figures, summarise_calls
from mairust.hooks.manifest import Manifest, TransportKind, load_manifest
from mairust.hooks.points import POINTS, HookPoint
from mairust.hooks.runtime import HookRuntime
from mairust.model.ids import new_id
from mairust.model.message import Envelope
from mairust.model.plugins import HookBinding, HookCall, InstalledPlugin
from mairust.model.principal import Permission, Principal, Role
from mairust.model.verdict import VerdictKind
from mairust.services.access import require
from mairust.services.audit import AuditTrail, Clock, utc_now
from mairust.services.plugin_secrets import missing_secrets
from mairust.smtp.replies import DISCARDED, reply_for
from mairust.storage.protocols import PluginStateStore, PluginStore

# Calls forgotten per transaction by the retention job (a short write lock each).
_FORGET_BATCH = 5000
_SWEEP_BATCH = 1000


@dataclass(frozen=True, slots=True)
class DryRun:
    result: ChainResult
    # What the client would be answered (None: the transaction goes on).
    reply: str | None


@dataclass(frozen=True, slots=True)
class NewBinding:
    plugin: str
    point: HookPoint
    priority: int = 100
    mode: BindingMode = BindingMode.ENFORCE
    tenant_id: str | None = None
    domain: str | None = None


class PluginService:
    def __init__(
        self,
        store: PluginStore,
        audit: AuditTrail,
        clock: Clock = utc_now,
        runtime: HookRuntime | None = None,
        packages: PluginPackages | None = None,
    ) -> None:
        """``runtime`` runs dry runs (the API builds one; without it they are unavailable);
        ``packages`` keeps serve and stdin plugins' files (without it they cannot be
        installed)."""
        self._packages = packages
        self._store = store
        self._audit = audit
        self._clock = clock
        self._runtime = runtime

    # -- plugins -----------------------------------------------------------------------
    def install(
        self, principal: Principal, directory: str, origin: str | None = None
    ) -> InstalledPlugin:
        """``origin`` names where it came from for the audit log (default: ``directory``;
        a package's unpacked copy is not worth recording)."""
        _operator(principal)
        manifest = load_manifest(Path(directory))
        name = manifest.plugin.name
        if self._store.get_plugin(name) is not None:
            raise Conflict(f"plugin {name} is installed already (upgrade it instead)")
        self._keep_package(manifest, Path(directory))
        now = self._clock()
        config: dict[str, Any] = {}
        plugin = InstalledPlugin(
            name,
            manifest.plugin.version,
            manifest.model_dump(mode="json"),
            # On only once configured and given the secrets it names.
            not config_faults(manifest, config) and not manifest.secrets,
            config,
            now,
            now,
        )
        self._store.add_plugin(plugin)
        for hook in manifest.hooks:
            self._store.add_binding(
                _binding(NewBinding(name, hook.point, hook.priority, hook.mode), now)
            )
        self._audit.record(
            principal,
            "plugin.install",
            name,
            None,
            {"version": plugin.version, "from": origin or directory},
        )
        return plugin

    def upgrade(
        self, principal: Principal, name: str, directory: str, origin: str | None = None
    ) -> InstalledPlugin:
        """The new version's manifest replaces the old; bindings stay (those at points the
        new version no longer declares are removed). ``origin`` as for :meth:`install`."""
        _operator(principal)
        current = self._plugin(name)
        manifest = load_manifest(Path(directory))
        if manifest.plugin.name != name:
            raise InvalidInput(f"the manifest in {directory} is {manifest.plugin.name}, not {name}")
        if manifest.plugin.version == current.version:
            raise Conflict(f"plugin {name} {current.version} is installed already")
        self._keep_package(manifest, Path(directory))
        declared = {hook.point.value for hook in manifest.hooks}
        for binding in self._store.list_bindings():
            if binding.plugin == name and binding.point not in declared:
                self._store.delete_binding(binding.id)
        faults = config_faults(manifest, current.config)
        held = self._store.plugin_secrets(name)
        unset = [secret for secret in manifest.secrets if secret not in held]
        upgraded = self._store.update_plugin(
            name,
            version=manifest.plugin.version,
            manifest=manifest.model_dump(mode="json"),
            enabled=current.enabled and not faults and not unset,
        )
        self._audit.record(
            principal,
            "plugin.upgrade",
            name,
            None,
            {"from": current.version, "to": upgraded.version, "source": origin or directory},
        )
        return upgraded

    def _keep_package(self, manifest: Manifest, directory: Path) -> None:
        """A serve or stdin plugin's files are copied under the data directory: what runs
        is what was installed (``mairust up`` deploys a serve plugin from there, and each
        process calling a stdin plugin starts its command there)."""
        kind = manifest.transport.kind
        if kind not in (TransportKind.SERVE, TransportKind.STDIN):
            return
        if self._packages is None:
            raise InvalidInput(f"{kind.value} plugins cannot be installed by this process")
        self._packages.keep(manifest.plugin.name, manifest.plugin.version, directory)

    def list_plugins(self, principal: Principal) -> list[InstalledPlugin]:
        _operator(principal)
        return self._store.list_plugins()

    def get_plugin(self, principal: Principal, name: str) -> InstalledPlugin:
        _operator(principal)
        return self._plugin(name)

    def change(
        self,
        principal: Principal,
        name: str,
        *,
        enabled: bool | None = None,
        config: dict[str, Any] | None = None,
    ) -> InstalledPlugin:
        """Switch it on or off, or give it a configuration its schema accepts."""
        _operator(principal)
        current = self._plugin(name)
        manifest = Manifest.model_validate(current.manifest)
        wanted = config if config is not None else current.config
        faults = config_faults(manifest, wanted)
        if config is not None and faults:
            raise InvalidInput(
                "the configuration does not fit the plugin's schema: " + "; ".join(faults)
            )
        if enabled and faults:
            raise InvalidInput(f"plugin {name} needs a configuration first: " + "; ".join(faults))
        unset = missing_secrets(self._store, current) if enabled else []
        if unset:
            raise InvalidInput(f"plugin {name} needs its secrets set first: {', '.join(unset)}")
        changed = self._store.update_plugin(name, enabled=enabled, config=config)
        details: dict[str, Any] = {}
        if enabled is not None:
            details["enabled"] = enabled
        if config is not None:
            details["config_keys"] = sorted(config)
        self._audit.record(principal, "plugin.change", name, None, details)
        return changed

    def uninstall(self, principal: Principal, name: str) -> None:
        _operator(principal)
        self._store.remove_plugin(name)
        self._audit.record(principal, "plugin.uninstall", name, None)

    # -- bindings ----------------------------------------------------------------------
    def list_bindings(
        self, principal: Principal, point: HookPoint | None = None
    ) -> list[HookBinding]:
        _operator(principal)
        return self._store.list_bindings(point.value if point is not None else None)

    def bind(self, principal: Principal, wanted: NewBinding) -> HookBinding:
        _operator(principal)
        plugin = self._plugin(wanted.plugin)
        declared = {hook["point"] for hook in plugin.manifest.get("hooks", [])}
        if wanted.point.value not in declared:
            raise InvalidInput(
                f"plugin {plugin.name} does not declare the {wanted.point.value} hook "
                f"(it declares {', '.join(sorted(declared))})"
            )
        binding = _binding(wanted, self._clock())
        self._store.add_binding(binding)
        self._audit.record(
            principal,
            "hook.bind",
            binding.id,
            wanted.tenant_id,
            {"plugin": binding.plugin, "point": binding.point, "mode": binding.mode},
        )
        return binding

    def change_binding(
        self,
        principal: Principal,
        binding_id: str,
        *,
        priority: int | None = None,
        mode: BindingMode | None = None,
        enabled: bool | None = None,
    ) -> HookBinding:
        _operator(principal)
        changed = self._store.update_binding(
            binding_id,
            priority=priority,
            mode=mode.value if mode is not None else None,
            enabled=enabled,
        )
        self._audit.record(
            principal,
            "hook.change",
            binding_id,
            changed.tenant_id,
            {"priority": changed.priority, "mode": changed.mode, "enabled": changed.enabled},
        )
        return changed

    def unbind(self, principal: Principal, binding_id: str) -> None:
        _operator(principal)
        found = self._store.get_binding(binding_id)
        if found is None:
            raise NotFound(f"no hook binding {binding_id!r}")
        self._store.delete_binding(binding_id)
        self._audit.record(
            principal, "hook.unbind", binding_id, found.tenant_id, {"plugin": found.plugin}
        )

    def calls(
        self, principal: Principal, name: str, limit: int = 100, before: str | None = None
    ) -> tuple[list[HookCall], CallSummary]:
        """The plugin's recorded calls, newest first (its log), and their summary."""
        _operator(principal)
        self._plugin(name)
        calls = self._store.list_hook_calls(name, limit, before)
        return calls, summarise_calls(calls)

    def figures(self, principal: Principal, name: str) -> PluginFigures:
        """The plugin's running totals per point and mode, and its circuit breakers."""
        _operator(principal)
        self._plugin(name)
        return plugin_figures(
            name,
            self._store.hook_call_counts(name),
            self._store.hook_latency_counts(name),
            self._store.breaker_reports(name),
        )

    # -- dry runs ----------------------------------------------------------------------
    async def dry_run(
        self, principal: Principal, point: HookPoint, envelope: Envelope, message: bytes | None
    ) -> DryRun:
        """The point's chain, as bound now, against ``message``: each plugin's verdict and
        latency, what would be enforced and its reply. Nothing is stored or delivered."""
        _operator(principal)
        if self._runtime is None:
            raise StorageUnavailable("dry runs need the hook runtime, which this process lacks")
        if not POINTS[point].synchronous:
            raise InvalidInput(f"{point.value} is not a synchronous hook point")
        result = await self._runtime.run(point, envelope, message, fresh=True, record_calls=False)
        reply = reply_for(result.verdict)
        if reply is None and result.verdict.kind is VerdictKind.DISCARD:
            reply = DISCARDED
        return DryRun(result, reply)

    def _plugin(self, name: str) -> InstalledPlugin:
        found = self._store.get_plugin(name)
        if found is None:
            raise NotFound(f"no plugin {name!r}")
        return found


def expire_plugin_calls(store: PluginStore, now: datetime, days: float) -> int:
    """The platform's retention job (no principal): forget plugin calls older than
    ``days``, in bounded transactions; how many. The running totals are not touched."""
    if days <= 0:
        return 0
    before = now - timedelta(days=days)
    forgotten = 0
    while (batch := store.forget_hook_calls(before, _FORGET_BATCH)) > 0:
        forgotten += batch
        if batch < _FORGET_BATCH:
            break
    return forgotten


def sweep_expired_plugin_state(store: PluginStateStore, now: datetime) -> int:
    """The platform's retention job: delete plugins' key/value state that expired by
    ``now``, in bounded transactions; how many. (Writes sweep a few of their plugin's as
    they go; this clears what a plugin that stopped writing left behind.)"""
    swept = 0
    while (batch := store.sweep_plugin_state(now, _SWEEP_BATCH)) > 0:
        swept += batch
        if batch < _SWEEP_BATCH:
            break
    return swept


def config_faults(manifest: Manifest, config: dict[str, Any]) -> list[str]:
    """What is wrong with ``config`` for this plugin (empty when it fits its schema)."""
    validator = Draft202012Validator(manifest.config_schema)
    return [
        f"{'/'.join(str(p) for p in error.absolute_path) or 'config'}: {error.message}"
        for error in validator.iter_errors(config)
    ]


def _operator(principal: Principal) -> None:
    require(principal, Permission.ADMIN, Role.ADMIN)


def _binding(wanted: NewBinding, now: datetime) -> HookBinding:
    return HookBinding(
        new_id(),
        wanted.plugin,
        wanted.point.value,
        wanted.priority,
        wanted.mode.value,
        True,
        wanted.tenant_id,
        wanted.domain,
        now,
    )
