"""Plugins' key/value state on every metadata backend (conftest.METADATA_URLS): per plugin,
expiry (an expired entry reads as absent and is replaced), first-writer-wins adds, the
sweep on write and the sweep of the rest, and the size limits."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from mairust.errors import InvalidInput
from mairust.storage.sql_metadata import SqlMetadataStore
from mairust.storage.sql_plugin_state import STATE_KEY_MAX, STATE_VALUE_MAX, SWEEP_ON_WRITE
from mairust.storage.sql_schema import plugin_state

NOW = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


def _rows(store: SqlMetadataStore) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(plugin_state)).scalar_one())


def test_entries_are_per_plugin_and_expire(metadata_store: SqlMetadataStore) -> None:
    store = metadata_store
    later = NOW + timedelta(seconds=60)
    store.put_plugin_state("greylist", "k", "one", later, NOW)
    assert store.get_plugin_state("greylist", "k", NOW) == "one"
    assert store.get_plugin_state("other", "k", NOW) is None
    store.put_plugin_state("greylist", "k", "two", later, NOW)
    assert store.get_plugin_state("greylist", "k", NOW) == "two"
    # At its expiry time it is gone for readers (still a row until swept).
    assert store.get_plugin_state("greylist", "k", later) is None
    assert store.delete_plugin_state("greylist", "k")
    assert not store.delete_plugin_state("greylist", "k")


def test_add_keeps_the_first_value_until_it_expires(metadata_store: SqlMetadataStore) -> None:
    store = metadata_store
    until = NOW + timedelta(seconds=10)
    assert store.add_plugin_state("greylist", "t", "first", until, NOW) == "first"
    assert store.add_plugin_state("greylist", "t", "second", until, NOW) == "first"
    # Expired: the next add starts afresh.
    assert store.add_plugin_state("greylist", "t", "third", until + timedelta(1), until) == "third"
    assert store.get_plugin_state("greylist", "t", until) == "third"


def test_concurrent_adds_agree_on_one_value(metadata_store: SqlMetadataStore) -> None:
    store = metadata_store
    until = NOW + timedelta(seconds=60)
    seen: list[str] = []
    lock = threading.Lock()

    def add(value: str) -> None:
        held = store.add_plugin_state("greylist", "race", value, until, NOW)
        with lock:
            seen.append(held)

    threads = [threading.Thread(target=add, args=(f"v{i}",)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(seen) == 6 and len(set(seen)) == 1


def test_writes_sweep_some_expired_entries_and_sweep_clears_the_rest(
    metadata_store: SqlMetadataStore,
) -> None:
    store = metadata_store
    past = NOW - timedelta(seconds=1)
    for index in range(SWEEP_ON_WRITE + 4):
        store.put_plugin_state("greylist", f"old{index}", "x", past, past - timedelta(1))
    store.put_plugin_state("other", "old", "x", past, past - timedelta(1))
    assert _rows(store) == SWEEP_ON_WRITE + 5
    # A write of greylist's at NOW removes up to SWEEP_ON_WRITE of greylist's expired ones.
    store.put_plugin_state("greylist", "new", "y", NOW + timedelta(60), NOW)
    assert _rows(store) == 4 + 1 + 1
    assert store.sweep_plugin_state(NOW, limit=2) == 2
    assert store.sweep_plugin_state(NOW) == 3
    assert _rows(store) == 1
    assert store.get_plugin_state("greylist", "new", NOW) == "y"


def test_sizes_are_bounded(metadata_store: SqlMetadataStore) -> None:
    store = metadata_store
    later = NOW + timedelta(seconds=60)
    with pytest.raises(InvalidInput):
        store.put_plugin_state("p", "", "v", later, NOW)
    with pytest.raises(InvalidInput):
        store.put_plugin_state("p", "k" * (STATE_KEY_MAX + 1), "v", later, NOW)
    with pytest.raises(InvalidInput):
        store.add_plugin_state("p", "k", "v" * (STATE_VALUE_MAX + 1), later, NOW)
    store.put_plugin_state("p", "k" * STATE_KEY_MAX, "v" * STATE_VALUE_MAX, later, NOW)
    assert store.get_plugin_state("p", "k" * STATE_KEY_MAX, NOW) == "v" * STATE_VALUE_MAX
