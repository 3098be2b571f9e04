"""Stage ``post_receive`` in the pipeline over real embedded stores: a job per message and
bound plugin, made once however often a row runs, none without bindings, and a store that
cannot take them defers the rows."""

from __future__ import annotations

from mairust.errors import StorageUnavailable
from mairust.model.hook_jobs import HookJobState
from mairust.model.queue import QueueState
from mairust.pipeline.runner import PipelineRunner
from mairust.storage.stores import Stores
from tests.support.hook_jobs import install_job_plugin

BODY = b"From: s@remote.example\r\nSubject: hello\r\n\r\nbody\r\n"
# Never called here: the stage only makes the jobs.
NOWHERE = "http://127.0.0.1:9/hook"


def test_each_message_gets_one_job_per_bound_plugin_once(stores, settings, spool_message, tmp_path):
    install_job_plugin(stores, tmp_path, "tagger", NOWHERE)
    install_job_plugin(stores, tmp_path, "watcher", NOWHERE, mode="shadow")
    first = spool_message(BODY, "alice@example.test", "bob@example.test")
    second = spool_message(BODY, "bob@example.test")
    items = stores.metadata.lease_batch("w1", 10, 60)
    runner = PipelineRunner(stores, settings.queue)
    report = runner.process(items, "w1")
    assert (report.delivered, report.deferred, report.failed) == (3, 0, 0)
    runner.process(items, "w1")  # a lost ack: the same batch again
    for ref in (first, second):
        jobs = stores.metadata.list_hook_jobs(ref.id)
        assert sorted((j.plugin, j.mode) for j in jobs) == [
            ("tagger", "enforce"),
            ("watcher", "shadow"),
        ]
        assert {j.state for j in jobs} == {HookJobState.PENDING}
        assert {j.point for j in jobs} == {"post_receive"}


def test_no_bindings_no_jobs(stores, settings, spool_message):
    ref = spool_message(BODY, "alice@example.test")
    items = stores.metadata.lease_batch("w1", 10, 60)
    report = PipelineRunner(stores, settings.queue).process(items, "w1")
    assert report.delivered == 1
    assert stores.metadata.list_hook_jobs(ref.id) == []


class JobsDown:
    def __init__(self, real):
        self.real = real

    def add_hook_jobs(self, point, targets):
        raise StorageUnavailable("jobs table is down")

    def __getattr__(self, name):
        return getattr(self.real, name)


def test_a_store_outage_defers_the_rows_and_the_retry_makes_the_jobs(
    stores, settings, spool_message, tmp_path
):
    install_job_plugin(stores, tmp_path, "tagger", NOWHERE)
    ref = spool_message(BODY, "alice@example.test")
    flaky = Stores(metadata=JobsDown(stores.metadata), blobs=stores.blobs, search=stores.search)
    items = stores.metadata.lease_batch("w1", 10, 60)
    report = PipelineRunner(flaky, settings.queue).process(items, "w1")
    assert report.deferred == 1
    [row] = stores.metadata.list_queue(QueueState.QUEUED)
    assert "post_receive" in (row.last_error or "") and "jobs table is down" in row.last_error
    assert stores.metadata.list_hook_jobs(ref.id) == []
    # The row runs again (as the dispatcher would lease it when due): entry once, job once.
    PipelineRunner(stores, settings.queue).process(items, "w1")
    assert [j.plugin for j in stores.metadata.list_hook_jobs(ref.id)] == ["tagger"]
