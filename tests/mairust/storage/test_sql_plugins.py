"""Contract tests of installed plugins and hook bindings (every backend in
conftest.METADATA_URLS): add, change, remove with its bindings, and what the runtime reads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mairust.errors import Conflict, NotFound
from mairust.model.plugins import HookBinding, InstalledPlugin
from mairust.storage.sql_metadata import SqlMetadataStore

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def plugin(name: str, enabled: bool = True) -> InstalledPlugin:
    manifest = {"plugin": {"name": name, "version": "1.0.0"}, "nested": {"ü": [1, 2]}}
    return InstalledPlugin(name, "1.0.0", manifest, enabled, {"level": 3}, NOW, NOW)


def binding(
    id_: str,
    plugin_name: str,
    point: str = "pre_receive",
    priority: int = 100,
    enabled: bool = True,
    offset: int = 0,
) -> HookBinding:
    return HookBinding(
        id_,
        plugin_name,
        point,
        priority,
        "enforce",
        enabled,
        None,
        None,
        NOW + timedelta(seconds=offset),
    )


def test_plugins_are_added_read_changed_and_removed(metadata_store: SqlMetadataStore) -> None:
    metadata_store.add_plugin(plugin("rules"))
    with pytest.raises(Conflict):
        metadata_store.add_plugin(plugin("rules"))
    assert metadata_store.get_plugin("rules") == plugin("rules")
    assert metadata_store.get_plugin("nothing") is None
    changed = metadata_store.update_plugin("rules", enabled=False, config={"level": 9})
    assert (changed.enabled, changed.config, changed.version) == (False, {"level": 9}, "1.0.0")
    upgraded = metadata_store.update_plugin(
        "rules", version="1.1.0", manifest={"plugin": {"version": "1.1.0"}}
    )
    assert upgraded.version == "1.1.0" and upgraded.manifest == {"plugin": {"version": "1.1.0"}}
    assert upgraded.updated_at >= changed.updated_at
    with pytest.raises(NotFound):
        metadata_store.update_plugin("nothing", enabled=True)
    metadata_store.add_binding(binding("b1", "rules"))
    metadata_store.remove_plugin("rules")
    assert metadata_store.list_plugins() == [] and metadata_store.list_bindings() == []
    with pytest.raises(NotFound):
        metadata_store.remove_plugin("rules")


def test_bindings_and_what_the_runtime_reads(metadata_store: SqlMetadataStore) -> None:
    metadata_store.add_plugin(plugin("a"))
    metadata_store.add_plugin(plugin("b"))
    metadata_store.add_plugin(plugin("off", enabled=False))
    with pytest.raises(NotFound):
        metadata_store.add_binding(binding("x", "missing"))
    for filtered in (
        HookBinding("y", "a", "pre_receive", 1, "enforce", True, "no-tenant", None, NOW),
        HookBinding("z", "a", "pre_receive", 1, "enforce", True, None, "no.example", NOW),
    ):
        with pytest.raises(NotFound):
            metadata_store.add_binding(filtered)
    metadata_store.add_binding(binding("b-late", "b", priority=50, offset=2))
    metadata_store.add_binding(binding("a-first", "a", priority=10))
    metadata_store.add_binding(binding("b-tie", "b", priority=50, offset=1))
    metadata_store.add_binding(binding("a-off", "a", priority=5, enabled=False))
    metadata_store.add_binding(binding("plugin-off", "off", priority=1))
    metadata_store.add_binding(binding("elsewhere", "a", point="rcpt_to"))
    active = metadata_store.active_bindings("pre_receive")
    assert [b.id for b, _ in active] == ["a-first", "b-tie", "b-late"]
    assert [p.name for _, p in active] == ["a", "b", "b"]
    assert [b.id for b in metadata_store.list_bindings("rcpt_to")] == ["elsewhere"]
    assert len(metadata_store.list_bindings()) == 6
    moved = metadata_store.update_binding("a-off", enabled=True, priority=60, mode="shadow")
    assert (moved.enabled, moved.priority, moved.mode) == (True, 60, "shadow")
    assert metadata_store.get_binding("a-off") == moved
    assert [b.id for b, _ in metadata_store.active_bindings("pre_receive")][-1] == "a-off"
    metadata_store.delete_binding("a-off")
    assert metadata_store.get_binding("a-off") is None
    for call in (
        lambda: metadata_store.delete_binding("a-off"),
        lambda: metadata_store.update_binding("a-off", enabled=False),
        lambda: metadata_store.update_binding("a-off"),
    ):
        with pytest.raises(NotFound):
            call()
