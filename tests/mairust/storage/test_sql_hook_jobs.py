"""Contract tests of the asynchronous hook jobs (every backend in conftest.METADATA_URLS):
one job per (message, plugin, point) for the bindings whose filters match, leased like the
queue, settled only by the lease's owner, and a verdict's effect applied to the message's
entries once, in the transaction that finishes the job."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from mairust.model.folders import QUARANTINE
from mairust.model.hook_jobs import HookJobState, JobEffect, JobTarget
from mairust.model.ids import new_id
from mairust.model.mailbox import NewEntry
from mairust.model.message import Envelope, MessageRef, SpoolRecord
from mairust.model.plugins import HookBinding, InstalledPlugin
from mairust.model.scope import PlatformScope
from mairust.storage.sql_metadata import SqlMetadataStore

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
POINT = "post_receive"


def setup(store: SqlMetadataStore) -> dict[str, Any]:
    a = store.create_tenant("a")
    b = store.create_tenant("b")
    store.add_domain("a.example", a.id)
    store.add_domain("b.example", b.id)
    ann = store.add_mailbox("ann@a.example")
    bob = store.add_mailbox("bob@b.example")
    for name in ("tagger", "a-only", "b-domain", "watcher", "off"):
        store.add_plugin(InstalledPlugin(name, "1.0.0", {}, name != "off", {}, NOW, NOW))
    bindings = [
        ("b1", "tagger", "enforce", None, None),
        ("b2", "a-only", "enforce", a.id, None),
        ("b3", "b-domain", "enforce", None, "b.example"),
        ("b4", "watcher", "shadow", None, None),
        ("b5", "off", "enforce", None, None),
    ]
    for binding_id, plugin, mode, tenant_id, domain in bindings:
        store.add_binding(
            HookBinding(binding_id, plugin, POINT, 100, mode, True, tenant_id, domain, NOW)
        )
    # A binding at another point makes no job.
    store.add_binding(
        HookBinding("b6", "tagger", "pre_receive", 1, "enforce", True, None, None, NOW)
    )
    return {"a": a, "b": b, "ann": ann, "bob": bob}


def message(store: SqlMetadataStore, *mailboxes: Any) -> tuple[str, list[Any]]:
    ref = MessageRef(new_id(), 10, "0" * 64, f"blob-{new_id()}")
    envelope = Envelope(
        mail_from="s@remote.example",
        rcpt_tos=tuple(m.address for m in mailboxes),
        received_at=NOW,
        helo="client.example",
        client_ip="192.0.2.9",
    )
    store.commit_messages([SpoolRecord(ref=ref, envelope=envelope)])
    entries = store.store_entries(
        [
            NewEntry(m.tenant_id, m.id, ref.id, "hi", "s@remote.example", (m.address,), None, 10)
            for m in mailboxes
        ]
    )
    return ref.id, entries


def targets(message_id: str, *mailboxes: Any) -> list[JobTarget]:
    return [JobTarget(message_id, m.tenant_id, m.address.split("@")[1]) for m in mailboxes]


def test_one_job_per_matching_binding_and_none_twice(metadata_store: SqlMetadataStore) -> None:
    seen = setup(metadata_store)
    ann = seen["ann"]
    message_id, _ = message(metadata_store, ann)
    assert metadata_store.add_hook_jobs(POINT, targets(message_id, ann)) == 3
    jobs = metadata_store.list_hook_jobs(message_id)
    # The tenant filter matches ann's tenant, the domain filter (b.example) does not; the
    # disabled plugin and the other point make none.
    assert sorted((j.plugin, j.mode) for j in jobs) == [
        ("a-only", "enforce"),
        ("tagger", "enforce"),
        ("watcher", "shadow"),
    ]
    assert {j.state for j in jobs} == {HookJobState.PENDING}
    assert {(j.tenant_id is None, j.binding_id) for j in jobs} == {
        (False, "b2"),
        (True, "b1"),
        (True, "b4"),
    }
    # The same rows run again (a lease expired): no second job.
    metadata_store.add_hook_jobs(POINT, targets(message_id, ann))
    assert len(metadata_store.list_hook_jobs(message_id)) == 3
    # A later copy to bob adds the domain binding's job only.
    metadata_store.add_hook_jobs(POINT, targets(message_id, seen["bob"]))
    assert sorted(j.plugin for j in metadata_store.list_hook_jobs(message_id)) == [
        "a-only",
        "b-domain",
        "tagger",
        "watcher",
    ]


def test_jobs_are_leased_with_their_message_and_settled_by_the_owner_only(
    metadata_store: SqlMetadataStore,
) -> None:
    seen = setup(metadata_store)
    message_id, _ = message(metadata_store, seen["ann"])
    metadata_store.add_hook_jobs(POINT, targets(message_id, seen["ann"]))
    leased = metadata_store.lease_hook_jobs("loop-1/x", 10, 60)
    assert len(leased) == 3 and {j.state for j in leased} == {HookJobState.LEASED}
    job = leased[0]
    assert job.attempts == 1 and job.lease_owner == "loop-1/x"
    assert job.envelope is not None and job.envelope.rcpt_tos == ("ann@a.example",)
    assert job.envelope.client_ip == "192.0.2.9" and job.blob_key.startswith("blob-")
    assert metadata_store.lease_hook_jobs("loop-2/y", 10, 60) == []
    assert not metadata_store.defer_hook_job(job.id, "loop-2/y", "no", NOW)
    retry_at = datetime.now(UTC) + timedelta(hours=1)
    assert metadata_store.defer_hook_job(job.id, "loop-1/x", "HTTP 500", retry_at)
    deferred = metadata_store.get_hook_job(job.id)
    assert deferred is not None and deferred.state is HookJobState.PENDING
    assert deferred.last_error == "HTTP 500" and deferred.lease_owner is None
    assert metadata_store.lease_hook_jobs("loop-2/y", 10, 60) == []  # not due yet
    assert metadata_store.fail_hook_job(leased[1].id, "loop-1/x", "gave up")
    failed = metadata_store.get_hook_job(leased[1].id)
    assert failed is not None and failed.state is HookJobState.FAILED
    assert failed.finished_at is not None
    assert metadata_store.get_hook_job("nothing") is None


def test_an_expired_lease_is_leased_again_and_a_restart_takes_its_leases_back(
    metadata_store: SqlMetadataStore,
) -> None:
    seen = setup(metadata_store)
    message_id, _ = message(metadata_store, seen["bob"])
    metadata_store.add_hook_jobs(POINT, targets(message_id, seen["bob"]))
    first = metadata_store.lease_hook_jobs("node/dead", 1, 0)  # expires at once
    assert len(first) == 1
    again = metadata_store.lease_hook_jobs("node/alive", 1, 60)
    assert [j.id for j in again] == [first[0].id] and again[0].attempts == 2
    # The dead loop's lease is gone: it cannot settle any more.
    assert not metadata_store.finish_hook_job(first[0].id, "node/dead", JobEffect("continue"))
    others = metadata_store.lease_hook_jobs("node/old", 10, 60)
    assert len(others) == 2
    assert metadata_store.release_hook_job_leases("node/", keep_owner="node/alive") == 2
    assert metadata_store.get_hook_job(again[0].id).state is HookJobState.LEASED  # type: ignore[union-attr]
    assert {
        metadata_store.get_hook_job(j.id).state  # type: ignore[union-attr]
        for j in others
    } == {HookJobState.PENDING}


def test_finishing_applies_the_effect_once_to_the_filtered_entries(
    metadata_store: SqlMetadataStore,
) -> None:
    seen = setup(metadata_store)
    ann, bob = seen["ann"], seen["bob"]
    message_id, entries = message(metadata_store, ann, bob)
    metadata_store.add_hook_jobs(POINT, targets(message_id, ann, bob))
    jobs = {j.plugin: j for j in metadata_store.lease_hook_jobs("o/1", 10, 60)}
    assert set(jobs) == {"tagger", "a-only", "b-domain", "watcher"}
    quarantine = JobEffect("quarantine", ("suspect",), QUARANTINE)
    assert metadata_store.finish_hook_job(jobs["a-only"].id, "o/1", quarantine)
    assert not metadata_store.finish_hook_job(jobs["a-only"].id, "o/1", quarantine)  # once
    tag = JobEffect("continue", ("checked", "suspect"))
    assert metadata_store.finish_hook_job(jobs["tagger"].id, "o/1", tag)
    shadow = JobEffect("quarantine", ("shadowy",), QUARANTINE)
    assert metadata_store.finish_hook_job(jobs["watcher"].id, "o/1", shadow)
    by_mailbox = {
        e.mailbox_id: e
        for e in metadata_store.get_entries(PlatformScope(), [e.id for e in entries])
    }
    # a-only (tenant a) moved ann's copy only; the shadow binding changed nothing.
    assert by_mailbox[ann.id].folder == QUARANTINE
    assert by_mailbox[ann.id].tags == ("suspect", "checked")
    assert by_mailbox[bob.id].folder == "INBOX"
    assert by_mailbox[bob.id].tags == ("checked", "suspect")
    # Search learns of the changes through the indexer's backlog.
    assert sorted(metadata_store.search_backlog()) == sorted(e.id for e in by_mailbox.values())
    done = metadata_store.get_hook_job(jobs["watcher"].id)
    assert done is not None and done.state is HookJobState.DONE
    assert done.result == shadow.to_json()


def test_a_copy_delivered_after_its_job_finished_gets_the_effect(
    metadata_store: SqlMetadataStore,
) -> None:
    seen = setup(metadata_store)
    ann = seen["ann"]
    message_id, _ = message(metadata_store, ann)
    metadata_store.add_hook_jobs(POINT, targets(message_id, ann))
    for job in metadata_store.lease_hook_jobs("o/1", 10, 60):
        effect = JobEffect("continue", ("late",)) if job.plugin == "tagger" else JobEffect("x")
        metadata_store.finish_hook_job(job.id, "o/1", effect)
    other = metadata_store.add_mailbox("ann2@a.example")
    later = metadata_store.store_entries(
        [NewEntry(ann.tenant_id, other.id, message_id, "hi", "s@remote.example", (), None, 10)]
    )[0]
    assert later is not None and later.tags == ()
    metadata_store.add_hook_jobs(POINT, targets(message_id, other))
    (found,) = metadata_store.get_entries(PlatformScope(), [later.id])
    assert found.tags == ("late",)
    metadata_store.add_hook_jobs(POINT, targets(message_id, other))  # and only once
    (found,) = metadata_store.get_entries(PlatformScope(), [later.id])
    assert found.tags == ("late",)


def test_a_job_waits_for_its_callback_and_expires_without_one(
    metadata_store: SqlMetadataStore,
) -> None:
    seen = setup(metadata_store)
    message_id, entries = message(metadata_store, seen["ann"])
    metadata_store.add_hook_jobs(POINT, targets(message_id, seen["ann"]))
    jobs = {j.plugin: j for j in metadata_store.lease_hook_jobs("o/1", 10, 60)}
    soon = datetime.now(UTC) + timedelta(minutes=5)
    assert metadata_store.await_hook_callback(jobs["tagger"].id, "o/1", soon)
    past = datetime.now(UTC) - timedelta(seconds=1)
    assert metadata_store.await_hook_callback(jobs["a-only"].id, "o/1", past)
    waiting = metadata_store.get_hook_job(jobs["tagger"].id)
    assert waiting is not None and waiting.state is HookJobState.WAITING
    assert waiting.callback_until == soon and waiting.lease_owner is None
    # Waiting jobs are not leased; the loop's owner cannot finish them, the callback can.
    assert metadata_store.lease_hook_jobs("o/2", 10, 60) == []
    assert not metadata_store.finish_hook_job(jobs["tagger"].id, "o/1", JobEffect("continue"))
    expired = metadata_store.expire_hook_callbacks(datetime.now(UTC))
    assert [j.id for j in expired] == [jobs["a-only"].id]
    assert expired[0].state is HookJobState.FAILED and expired[0].last_error
    assert metadata_store.finish_hook_job(jobs["tagger"].id, None, JobEffect("continue", ("cb",)))
    assert not metadata_store.finish_hook_job(jobs["tagger"].id, None, JobEffect("continue"))
    (entry,) = metadata_store.get_entries(PlatformScope(), [entries[0].id])
    assert entry.tags == ("cb",)


def test_two_loops_leasing_at_once_never_share_a_job(metadata_store: SqlMetadataStore) -> None:
    seen = setup(metadata_store)
    for _ in range(10):
        message_id, _ = message(metadata_store, seen["ann"])
        metadata_store.add_hook_jobs(POINT, targets(message_id, seen["ann"]))
    got: dict[str, list[str]] = {}

    def lease(owner: str) -> None:
        got[owner] = [j.id for j in metadata_store.lease_hook_jobs(owner, 20, 60)]

    threads = [threading.Thread(target=lease, args=(f"o/{n}",)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    leased = got["o/0"] + got["o/1"]
    assert len(leased) == len(set(leased)) == 30
