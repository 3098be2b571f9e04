"""``PluginState``: a serve plugin's small key/value state, kept in the metadata store.

A handler that takes a ``state`` parameter is given the plugin's :class:`PluginState`
(``async def check(request, config, state)``); the plugin's manifest must declare the
``state`` permission, for the platform to open the store in its replicas. Every entry
expires (``ttl_seconds``) and reads as absent afterwards; the store deletes expired
entries as the plugin writes. Keys and values are short text (512 and 4096 characters):
counters, first-seen times, small JSON, never messages. Entries are the plugin's own, by
its name: two plugins never see each other's.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from mairust.storage.protocols import PluginStateStore


class PluginState:
    """One plugin's entries in ``store``; ``clock`` gives the time (seconds since the epoch)."""

    def __init__(
        self, store: PluginStateStore, plugin: str, clock: Callable[[], float] = time.time
    ) -> None:
        self._store = store
        self._plugin = plugin
        self._clock = clock

    @property
    def plugin(self) -> str:
        return self._plugin

    def now(self) -> float:
        """The time the entries are judged by (seconds since the epoch)."""
        return self._clock()

    def _times(self, ttl_seconds: float) -> tuple[datetime, datetime]:
        if ttl_seconds <= 0:
            raise ValueError("an entry lives a positive number of seconds")
        now = datetime.fromtimestamp(self._clock(), UTC)
        return now, now + timedelta(seconds=ttl_seconds)

    async def get(self, key: str) -> str | None:
        """The value, or None (never set, deleted or expired)."""
        now = datetime.fromtimestamp(self._clock(), UTC)
        return await asyncio.to_thread(self._store.get_plugin_state, self._plugin, key, now)

    async def put(self, key: str, value: str, ttl_seconds: float) -> None:
        """Set the entry (replacing any), living ``ttl_seconds``."""
        now, until = self._times(ttl_seconds)
        await asyncio.to_thread(self._store.put_plugin_state, self._plugin, key, value, until, now)

    async def add(self, key: str, value: str, ttl_seconds: float) -> str:
        """Set the entry unless one lives; the value that holds afterwards (atomic: of two
        replicas adding at once, both read back the first one's value)."""
        now, until = self._times(ttl_seconds)
        return await asyncio.to_thread(
            self._store.add_plugin_state, self._plugin, key, value, until, now
        )

    async def delete(self, key: str) -> bool:
        return await asyncio.to_thread(self._store.delete_plugin_state, self._plugin, key)
