"""``PluginState`` over a real metadata store (SQLite): one plugin's entries, their
time to live on the state's clock, first-writer-wins adds, and a handler that takes
``state`` given it (and refused without it)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mairust.plugin_sdk import HookRequest, HookResponse, NoState, Plugin, PluginState, proceed
from mairust.plugin_sdk.testing import run_plugin_async
from mairust.storage.sql_metadata import SqlMetadataStore
from tests.support.sqlite_template import upgrade_to_head_for_test


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlMetadataStore]:
    url = f"sqlite:///{tmp_path / 'metadata.db'}"
    upgrade_to_head_for_test(url)
    opened = SqlMetadataStore(url)
    yield opened
    opened.close()


async def test_entries_live_their_time_on_the_states_clock(store: SqlMetadataStore) -> None:
    now = [1_800_000_000.0]
    state = PluginState(store, "counter", lambda: now[0])
    other = PluginState(store, "other", lambda: now[0])
    await state.put("k", "v", 10)
    assert await state.get("k") == "v" and await other.get("k") is None
    assert await state.add("k", "w", 10) == "v"
    now[0] += 10
    assert await state.get("k") is None
    assert await state.add("k", "w", 10) == "w"
    assert await state.delete("k") and await state.get("k") is None
    with pytest.raises(ValueError):
        await state.put("k", "v", 0)


async def test_a_handler_that_takes_state_is_given_it(store: SqlMetadataStore) -> None:
    plugin = Plugin("counter")

    @plugin.connect
    async def count(request: HookRequest, config: object, state: PluginState) -> HookResponse:
        seen = int(await state.get("n") or 0) + 1
        await state.put("n", str(seen), 60)
        return proceed(reason=f"seen {seen}")

    assert plugin.keeps_state
    state = PluginState(store, "counter")
    first = await run_plugin_async(plugin, "connect", state=state)
    second = await run_plugin_async(plugin, "connect", state=state)
    assert (first.reason, second.reason) == ("seen 1", "seen 2")
    with pytest.raises(NoState):
        await run_plugin_async(plugin, "connect")
