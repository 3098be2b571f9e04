from __future__ import annotations

import pytest

from mairust.errors import StorageUnavailable
from mairust.model.scope import PLATFORM
from mairust.pipeline.runner import PipelineRunner
from mairust.search.indexing import (
    drain_search_backlog,
    index_entries,
    index_or_backlog,
    reindex_all,
    relabel_or_backlog,
)
from mairust.storage.stores import Stores


def deliver(stores, settings, spool_message, count: int) -> None:
    for n in range(count):
        spool_message(
            f"Subject: note {n}\r\n\r\nplatypus number {n}\r\n".encode(), "alice@example.test"
        )
    items = stores.metadata.lease_batch("w", 100, 60)
    PipelineRunner(stores, settings.queue).process(items, "w")


class DownSearch:
    def __init__(self, real):
        self.real = real

    def index(self, documents):
        raise StorageUnavailable("search is down")

    def update_labels(self, entry_id, tags, folder):
        raise StorageUnavailable("search is down")

    def __getattr__(self, name):
        return getattr(self.real, name)


def test_reindex_rebuilds_a_lost_index(stores, settings, spool_message, tmp_path):
    deliver(stores, settings, spool_message, 5)
    stores.search.delete([e.id for e in stores.metadata.list_entries(PLATFORM)])
    assert stores.search.search(PLATFORM, "platypus") == []
    seen: list[int] = []
    assert reindex_all(stores, batch_size=2, progress=seen.append) == 5
    assert seen == [2, 2, 1]
    assert len(stores.search.search(PLATFORM, "platypus")) == 5
    assert reindex_all(stores) == 5  # again: replaced, not doubled
    assert len(stores.search.search(PLATFORM, "platypus")) == 5


def test_reindex_during_an_outage_fills_the_backlog(stores, settings, spool_message):
    deliver(stores, settings, spool_message, 3)
    down = Stores(metadata=stores.metadata, blobs=stores.blobs, search=DownSearch(stores.search))
    with pytest.raises(StorageUnavailable):
        reindex_all(down)
    assert stores.metadata.search_backlog_size() == 3
    assert drain_search_backlog(stores, batch_size=2) == 3
    assert stores.metadata.search_backlog_size() == 0


def test_an_entry_whose_blob_is_gone_is_skipped_not_fatal(stores, settings, spool_message):
    deliver(stores, settings, spool_message, 2)
    entries = stores.metadata.list_entries(PLATFORM)
    stores.blobs.delete(entries[0].blob_key)
    assert index_entries(stores, entries) == 1


def test_documents_carry_the_entry_labels(stores, settings, spool_message):
    deliver(stores, settings, spool_message, 1)
    entry = stores.metadata.list_entries(PLATFORM)[0]
    stores.metadata.set_tags(PLATFORM, entry.id, add=["ops"], remove=[])
    moved = stores.metadata.move_entry(PLATFORM, entry.id, "Archive")
    assert (moved.tags, moved.folder) == (("ops",), "Archive")
    assert index_entries(stores, [moved]) == 1
    hits = stores.search.search(PLATFORM, "platypus", filters={"tag": "ops"})
    assert [hit.entry_id for hit in hits] == [entry.id]
    assert stores.search.search(PLATFORM, "", filters={"folder": "INBOX"}) == []


def test_index_or_backlog(stores, settings, spool_message):
    deliver(stores, settings, spool_message, 2)
    first, second = stores.metadata.list_entries(PLATFORM)
    stores.metadata.move_entry(PLATFORM, first.id, "Archive")
    moved = stores.metadata.get_entry(PLATFORM, first.id)
    down = Stores(metadata=stores.metadata, blobs=stores.blobs, search=DownSearch(stores.search))
    assert index_or_backlog(down, [moved]) is False
    assert stores.metadata.search_backlog(10) == [first.id]
    assert stores.search.search(PLATFORM, "", filters={"folder": "Archive"}) == []
    assert index_or_backlog(stores, [second]) is True
    assert stores.metadata.search_backlog(10) == [first.id]
    assert drain_search_backlog(stores) == 1
    hits = stores.search.search(PLATFORM, "", filters={"folder": "Archive"})
    assert [hit.entry_id for hit in hits] == [first.id]


class NoBlobs:
    """A blob store whose every read fails: proves a path reads no blob."""

    def __init__(self, real):
        self.real = real

    def get(self, key):
        raise AssertionError(f"blob {key} read")

    def __getattr__(self, name):
        return getattr(self.real, name)


def test_relabel_updates_in_place_without_the_blob(stores, settings, spool_message):
    deliver(stores, settings, spool_message, 1)
    [entry] = stores.metadata.list_entries(PLATFORM)
    tagged = stores.metadata.set_tags(PLATFORM, entry.id, add=["ops"], remove=[])
    no_blobs = Stores(metadata=stores.metadata, blobs=NoBlobs(stores.blobs), search=stores.search)
    assert relabel_or_backlog(no_blobs, tagged) is True
    hits = stores.search.search(PLATFORM, "platypus", filters={"tag": "ops"})
    assert [hit.entry_id for hit in hits] == [entry.id]


def test_relabel_of_an_entry_not_indexed_indexes_it_whole(stores, settings, spool_message):
    deliver(stores, settings, spool_message, 1)
    [entry] = stores.metadata.list_entries(PLATFORM)
    stores.search.delete([entry.id])
    moved = stores.metadata.move_entry(PLATFORM, entry.id, "Archive")
    assert relabel_or_backlog(stores, moved) is True
    hits = stores.search.search(PLATFORM, "platypus", filters={"folder": "Archive"})
    assert [hit.entry_id for hit in hits] == [entry.id]
    assert stores.metadata.search_backlog_size() == 0


def test_relabel_with_search_down_goes_to_the_backlog(stores, settings, spool_message):
    deliver(stores, settings, spool_message, 1)
    [entry] = stores.metadata.list_entries(PLATFORM)
    moved = stores.metadata.move_entry(PLATFORM, entry.id, "Archive")
    down = Stores(metadata=stores.metadata, blobs=stores.blobs, search=DownSearch(stores.search))
    assert relabel_or_backlog(down, moved) is False
    assert stores.metadata.search_backlog(10) == [entry.id]
    assert stores.search.search(PLATFORM, "", filters={"folder": "Archive"}) == []
    assert drain_search_backlog(stores) == 1
    hits = stores.search.search(PLATFORM, "", filters={"folder": "Archive"})
    assert [hit.entry_id for hit in hits] == [entry.id]
