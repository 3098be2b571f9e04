"""The secrets a plugin's manifest names: set, listed (never shown), deleted — by the
platform operator — and revealed to the platform's own transports.

Each value is sealed in the secret store as a platform secret (no tenant sees it; a key
rotation re-seals it with the others), and named per plugin in ``plugin_secrets``. A
plugin is not switched on while a secret it names is unset (``missing``, used by
:class:`~mairust.services.plugins.PluginService`). Setting or deleting one is audited
(name only, never the value).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from mairust.errors import InvalidInput, NotFound
from mairust.hooks.manifest import Manifest
from mairust.model.plugins import InstalledPlugin
from mairust.model.principal import Permission, Principal, Role
from mairust.model.scope import PLATFORM
from mairust.model.secrets import SecretPurpose
from mairust.secrets.vault import SecretVault
from mairust.services.access import require
from mairust.services.audit import AuditTrail, Clock, utc_now
from mairust.storage.protocols import PluginStore


@dataclass(frozen=True, slots=True)
class PluginSecretState:
    name: str
    declared: bool  # the manifest names it (an undeclared one is left from an older version)
    set_at: datetime | None


def missing_secrets(store: PluginStore, plugin: InstalledPlugin) -> list[str]:
    """The secrets the plugin's manifest names that are not set."""
    declared = Manifest.model_validate(plugin.manifest).secrets
    held = store.plugin_secrets(plugin.name)
    return [name for name in declared if name not in held]


def plugin_secret_values(store: PluginStore, vault: SecretVault, plugin: str) -> dict[str, str]:
    """A plugin's secrets set, by name: for the platform's own transports only."""
    return {
        name: vault.reveal(PLATFORM, secret_id).decode("utf-8", errors="replace")
        for name, (secret_id, _) in store.plugin_secrets(plugin).items()
    }


class PluginSecretService:
    def __init__(
        self,
        store: PluginStore,
        vault: SecretVault | None,
        audit: AuditTrail,
        clock: Clock = utc_now,
    ) -> None:
        """``vault`` seals and opens the values (None: no keyring configured, so secrets
        can be listed but neither set nor read)."""
        self._store = store
        self._vault = vault
        self._audit = audit
        self._clock = clock

    def states(self, principal: Principal, plugin: str) -> list[PluginSecretState]:
        require(principal, Permission.ADMIN, Role.ADMIN)
        declared = self._declared(plugin)
        held = self._store.plugin_secrets(plugin)
        names = declared + sorted(name for name in held if name not in declared)
        return [
            PluginSecretState(name, name in declared, held[name][1] if name in held else None)
            for name in names
        ]

    def set(self, principal: Principal, plugin: str, name: str, value: bytes) -> None:
        require(principal, Permission.ADMIN, Role.ADMIN)
        if name not in self._declared(plugin):
            raise InvalidInput(f"plugin {plugin} does not name a secret {name!r} in its manifest")
        ref = self._sealing().create_platform(SecretPurpose.PLUGIN, value)
        try:
            self._store.set_plugin_secret(plugin, name, ref.id, self._clock())
        except Exception:
            self._sealing().delete(PLATFORM, ref.id)  # uninstalled meanwhile: none left over
            raise
        self._audit.record(principal, "plugin.secret.set", f"{plugin}/{name}", None)

    def delete(self, principal: Principal, plugin: str, name: str) -> None:
        """A plugin that is on and loses a secret its manifest names is switched off (it
        would be called without it)."""
        require(principal, Permission.ADMIN, Role.ADMIN)
        declared = self._declared(plugin)
        self._store.delete_plugin_secret(plugin, name)
        self._audit.record(principal, "plugin.secret.delete", f"{plugin}/{name}", None)
        installed = self._store.get_plugin(plugin)
        if name in declared and installed is not None and installed.enabled:
            self._store.update_plugin(plugin, enabled=False)
            self._audit.record(
                principal, "plugin.change", plugin, None, {"enabled": False, "why": "secret"}
            )

    def values(self, plugin: str) -> dict[str, str]:
        """The values, for the platform's own transports only (never an API answer)."""
        return plugin_secret_values(self._store, self._sealing(), plugin)

    def _declared(self, plugin: str) -> list[str]:
        installed = self._store.get_plugin(plugin)
        if installed is None:
            raise NotFound(f"no plugin {plugin!r}")
        return list(Manifest.model_validate(installed.manifest).secrets)

    def _sealing(self) -> SecretVault:
        if self._vault is None:
            raise InvalidInput("this platform has no secret key configured (secrets.key)")
        return self._vault
