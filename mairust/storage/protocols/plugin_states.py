"""Learning plugins' trained states, versioned (the platform operator's).

Part of :mod:`mairust.storage.protocols`; its docstring says what holds for every role.
"""

from __future__ import annotations

from typing import Protocol

from mairust.model.plugin_states import PluginState


class PluginStateStore(Protocol):
    def add_plugin_state(self, state: PluginState, keep: int = 5) -> None:
        """Stores ``state``, whose version must be one above the newest stored (1 for the
        first): Conflict otherwise (another training got there first). Only the newest
        ``keep`` versions are kept."""
        ...

    def get_plugin_state(self, plugin: str, version: int | None = None) -> PluginState | None:
        """That version (None: the newest); None when there is none."""
        ...

    def plugin_state_versions(self) -> dict[str, int]:
        """Each plugin with a stored state -> its newest version (one cheap query, for the
        reconciler's every pass)."""
        ...
