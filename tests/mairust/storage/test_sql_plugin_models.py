"""Contract tests of learning plugins' trained models (every backend in
conftest.METADATA_URLS): versions one after another, a stale training refused, the newest
few kept, the bytes as written, and all of them gone with the plugin."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mairust.errors import Conflict
from mairust.model.plugin_models import PluginModel
from mairust.storage.sql_metadata import SqlMetadataStore
from tests.mairust.storage.test_sql_plugins import plugin

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def state(version: int, name: str = "learner") -> PluginModel:
    return PluginModel(name, version, bytes([version, 0, 255]) * 1000, version, "api", NOW)


def test_versions_follow_each_other_and_the_newest_is_read(
    metadata_store: SqlMetadataStore,
) -> None:
    metadata_store.add_plugin(plugin("learner"))
    metadata_store.add_plugin(plugin("other"))
    assert metadata_store.get_plugin_model("learner") is None
    assert metadata_store.plugin_model_versions() == {}
    for version in (1, 2, 3):
        metadata_store.add_plugin_model(state(version))
    metadata_store.add_plugin_model(state(1, "other"))
    assert metadata_store.get_plugin_model("learner") == state(3)
    assert metadata_store.get_plugin_model("learner", 2) == state(2)
    assert metadata_store.plugin_model_versions() == {"learner": 3, "other": 1}
    # A training that read version 2 (another stored 3 meanwhile) loses, changing nothing.
    with pytest.raises(Conflict):
        metadata_store.add_plugin_model(state(3))
    with pytest.raises(Conflict):
        metadata_store.add_plugin_model(state(5))
    assert metadata_store.get_plugin_model("learner") == state(3)


def test_only_the_newest_are_kept_and_uninstalling_forgets_them(
    metadata_store: SqlMetadataStore,
) -> None:
    metadata_store.add_plugin(plugin("learner"))
    for version in range(1, 5):
        metadata_store.add_plugin_model(state(version), keep=2)
    assert metadata_store.get_plugin_model("learner", 2) is None
    assert metadata_store.get_plugin_model("learner", 3) == state(3)
    metadata_store.remove_plugin("learner")
    assert metadata_store.get_plugin_model("learner") is None
    assert metadata_store.plugin_model_versions() == {}
