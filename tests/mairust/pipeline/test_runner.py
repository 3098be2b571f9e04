from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mairust.config import QueueSettings
from mairust.errors import StorageUnavailable
from mairust.model.queue import QueueState
from mairust.model.scope import PLATFORM
from mairust.pipeline.runner import PipelineRunner, RetryPolicy
from mairust.search.indexing import drain_search_backlog
from mairust.storage.stores import Stores

BODY = b"From: s@remote.example\r\nSubject: hello there\r\n\r\nunique-word-walrus\r\n"


def run_once(stores, settings, owner="w1"):
    items = stores.metadata.lease_batch(owner, 100, 60)
    return items, PipelineRunner(stores, settings.queue).process(items, owner)


def test_delivers_to_every_local_recipient_with_one_blob(stores, settings, spool_message):
    ref = spool_message(BODY, "alice@example.test", "bob@example.test")
    _items, report = run_once(stores, settings)
    assert (report.delivered, report.deferred, report.failed) == (2, 0, 0)
    entries = stores.metadata.list_entries(PLATFORM)
    assert sorted(e.mailbox_address for e in entries) == ["alice@example.test", "bob@example.test"]
    assert {e.blob_key for e in entries} == {ref.blob_key}
    assert all(e.subject == "hello there" and e.folder == "INBOX" for e in entries)
    hits = stores.search.search(PLATFORM, "walrus")
    assert sorted(h.entry_id for h in hits) == sorted(e.id for e in entries)
    assert stores.metadata.queue_counts()[QueueState.DONE] == 2


def test_running_a_row_twice_stores_it_once(stores, settings, spool_message):
    spool_message(BODY, "alice@example.test")
    items = stores.metadata.lease_batch("w1", 10, 60)
    runner = PipelineRunner(stores, settings.queue)
    runner.process(items, "w1")
    runner.process(items, "w1")  # a lost ack: the same batch again
    assert len(stores.metadata.list_entries(PLATFORM)) == 1
    assert len(stores.search.search(PLATFORM, "walrus")) == 1


def test_mailbox_gone_since_rcpt_fails_permanently(stores, settings, spool_message):
    spool_message(BODY, "ghost@example.test", "x@elsewhere.example")
    _items, report = run_once(stores, settings)
    assert report.failed == 2
    failed = stores.metadata.list_queue(QueueState.FAILED)
    assert sorted(r.last_error[:5] for r in failed) == ["5.1.1", "5.4.1"]


class FailingSearch:
    def __init__(self, real):
        self.real = real
        self.down = True

    def index(self, documents):
        if self.down:
            raise StorageUnavailable("search is down")
        self.real.index(documents)

    def __getattr__(self, name):
        return getattr(self.real, name)


def test_search_outage_delivers_and_leaves_a_durable_backlog(stores, settings, spool_message):
    search = FailingSearch(stores.search)
    flaky = Stores(metadata=stores.metadata, blobs=stores.blobs, search=search)
    spool_message(BODY, "alice@example.test", "bob@example.test")
    items = stores.metadata.lease_batch("w1", 10, 60)
    report = PipelineRunner(flaky, settings.queue).process(items, "w1")
    assert (report.delivered, report.deferred) == (2, 0)  # delivery does not wait for search
    entries = stores.metadata.list_entries(PLATFORM)
    assert sorted(stores.metadata.search_backlog()) == sorted(e.id for e in entries)
    assert stores.search.search(PLATFORM, "walrus") == []
    with pytest.raises(StorageUnavailable):
        drain_search_backlog(flaky)  # still down: the backlog keeps everything
    assert stores.metadata.search_backlog_size() == 2
    search.down = False
    assert drain_search_backlog(flaky) == 2
    assert stores.metadata.search_backlog_size() == 0
    assert len(stores.search.search(PLATFORM, "walrus")) == 2


class FailingMetadata:
    def __init__(self, real):
        self.real = real

    def add_to_search_backlog(self, entry_ids):
        raise StorageUnavailable("metadata is down too")

    def __getattr__(self, name):
        return getattr(self.real, name)


def test_search_and_backlog_outage_defers_the_rows(stores, settings, spool_message):
    flaky = Stores(
        metadata=FailingMetadata(stores.metadata),
        blobs=stores.blobs,
        search=FailingSearch(stores.search),
    )
    spool_message(BODY, "alice@example.test")
    items = stores.metadata.lease_batch("w1", 10, 60)
    report = PipelineRunner(flaky, settings.queue).process(items, "w1")
    assert report.deferred == 1
    [row] = stores.metadata.list_queue(QueueState.QUEUED)
    assert "search is down" in (row.last_error or "")


def _lease_when_due(stores, timeout=5.0):
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        items = stores.metadata.lease_batch("w2", 10, 60)
        if items:
            return items
        time.sleep(0.1)
    raise AssertionError("row never became due")


class BrokenStage:
    name = "broken"
    description = "raises"

    def run(self, work, batch):
        raise KeyError("bug")


def test_a_stage_bug_defers_then_expires(stores, settings, spool_message, monkeypatch):
    from mairust.pipeline import stages

    monkeypatch.setitem(stages.STAGES, "broken", BrokenStage)
    spool_message(BODY, "alice@example.test")
    runner = PipelineRunner(stores, settings.queue, ("parse", "broken"))
    for attempt in range(1, settings.queue.max_attempts + 1):
        items = _lease_when_due(stores, timeout=10)
        assert items[0].attempts == attempt
        report = runner.process(items, "w2")
    assert report.failed == 1
    [row] = stores.metadata.list_queue(QueueState.FAILED)
    assert "gave up after 3 attempts" in (row.last_error or "")


def test_retry_policy_backs_off_and_gives_up():
    policy = RetryPolicy(QueueSettings(retry_base_seconds=10, retry_max_seconds=25, max_attempts=4))
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert policy.retry_at(1, now) == now + timedelta(seconds=10)
    assert policy.retry_at(2, now) == now + timedelta(seconds=20)
    assert policy.retry_at(3, now) == now + timedelta(seconds=25)
    assert policy.retry_at(4, now) is None
