"""Learning plugins' trained models, versioned (the platform operator's).

Part of :mod:`mairust.storage.protocols`; its docstring says what holds for every role.
"""

from __future__ import annotations

from typing import Protocol

from mairust.model.plugin_models import PluginModel


class PluginModelStore(Protocol):
    def add_plugin_model(self, model: PluginModel, keep: int = 5) -> None:
        """Stores ``model``, whose version must be one above the newest stored (1 for the
        first): Conflict otherwise (another training got there first). Only the newest
        ``keep`` versions are kept."""
        ...

    def get_plugin_model(self, plugin: str, version: int | None = None) -> PluginModel | None:
        """That version (None: the newest); None when there is none."""
        ...

    def plugin_model_versions(self) -> dict[str, int]:
        """Each plugin with a stored model -> its newest version (one cheap query, for the
        reconciler's every pass)."""
        ...
