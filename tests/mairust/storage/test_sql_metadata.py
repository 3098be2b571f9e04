"""Contract tests of the MetadataStore role (every backend in conftest.METADATA_URLS),
then the SQLite-specific promises: pragmas, lock timeouts, several processes."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from pathlib import Path

import pytest
from sqlalchemy import event

from mairust.errors import Conflict, InvalidInput, NotFound, StorageUnavailable
from mairust.model.directory import Mailbox, Tenant
from mairust.model.mailbox import NewEntry
from mairust.model.message import SpoolRecord
from mairust.model.queue import QueueState
from mairust.model.scope import PLATFORM, TenantScope
from mairust.storage.sql_metadata import SqlMetadataStore
from mairust.storage.sql_migrations import upgrade_to_head

RecordMaker = Callable[..., SpoolRecord]

# -- helpers -----------------------------------------------------------------------


def _tenant_with_mailbox(
    store: SqlMetadataStore, name: str, domain: str, local: str = "user"
) -> tuple[Tenant, Mailbox]:
    tenant = store.create_tenant(name)
    store.add_domain(domain, tenant.id)
    return tenant, store.add_mailbox(f"{local}@{domain}")


def _entry(mailbox: Mailbox, message_id: str, **changes: object) -> NewEntry:
    fields: dict[str, object] = {
        "tenant_id": mailbox.tenant_id,
        "mailbox_id": mailbox.id,
        "message_id": message_id,
        "subject": "Grüße aus Köln ☕",
        "from_addr": "sender@remote.test",
        "to_addrs": (mailbox.address,),
        "date": datetime(2024, 5, 1, 12, 0, tzinfo=timezone_plus_two()),
        "size": 123,
    }
    fields.update(changes)
    return NewEntry(**fields)  # type: ignore[arg-type]


def timezone_plus_two() -> tzinfo:
    return timezone(timedelta(hours=2))


def _assert_utc(moment: datetime | None) -> None:
    assert moment is not None
    assert moment.tzinfo is not None
    assert moment.utcoffset() == timedelta(0)


# -- directory ---------------------------------------------------------------------


def test_tenants_are_unique_by_name(metadata_store: SqlMetadataStore) -> None:
    tenant = metadata_store.create_tenant("Acme")
    assert metadata_store.get_tenant_by_name("Acme") == tenant
    assert metadata_store.get_tenant_by_name("nobody") is None
    _assert_utc(tenant.created_at)
    with pytest.raises(Conflict):
        metadata_store.create_tenant("Acme")
    with pytest.raises(InvalidInput):
        metadata_store.create_tenant("  ")
    metadata_store.create_tenant("Beta")
    assert [t.name for t in metadata_store.list_tenants()] == ["Acme", "Beta"]


def test_a_tenant_keeps_its_home_region_and_its_domains_carry_it(
    metadata_store: SqlMetadataStore,
) -> None:
    here = metadata_store.create_tenant("Here")
    away = metadata_store.create_tenant("Away", home_region="us-east")
    assert here.home_region is None and away.home_region == "us-east"
    assert metadata_store.get_tenant(away.id) == away
    assert metadata_store.get_tenant_by_name("Away") == away
    metadata_store.add_domain("here.test", here.id)
    metadata_store.add_domain("away.test", away.id)
    found = metadata_store.get_domain("away.test")
    assert found is not None and found.home_region == "us-east"
    local = metadata_store.get_domain("here.test")
    assert local is not None and local.home_region is None


def test_domains_are_normalised_and_owned(metadata_store: SqlMetadataStore) -> None:
    tenant = metadata_store.create_tenant("acme")
    domain = metadata_store.add_domain("Bücher.Example.", tenant.id)
    assert domain.name == "bücher.example"
    assert metadata_store.get_domain("BÜCHER.example") == domain
    assert metadata_store.get_domain("other.example") is None
    with pytest.raises(Conflict):
        metadata_store.add_domain("bücher.example", tenant.id)
    with pytest.raises(NotFound):
        metadata_store.add_domain("new.example", "no-such-tenant")
    with pytest.raises(InvalidInput):
        metadata_store.add_domain("bad domain", tenant.id)


def test_mailboxes_with_unicode_addresses(metadata_store: SqlMetadataStore) -> None:
    tenant = metadata_store.create_tenant("acme")
    metadata_store.add_domain("bücher.example", tenant.id)
    mailbox = metadata_store.add_mailbox("<Jörg.Müller@Bücher.Example>", "scrypt$1$2$3$s$h")
    assert mailbox.address == "jörg.müller@bücher.example"
    assert mailbox.tenant_id == tenant.id
    _assert_utc(mailbox.created_at)
    assert metadata_store.find_mailbox("JÖRG.MÜLLER@bücher.example") == mailbox
    assert metadata_store.find_mailbox("nobody@bücher.example") is None
    with pytest.raises(Conflict):
        metadata_store.add_mailbox("jörg.müller@BÜCHER.example")
    with pytest.raises(NotFound):
        metadata_store.add_mailbox("someone@not-local.example")
    with pytest.raises(InvalidInput):
        metadata_store.add_mailbox("no-at-sign")


def test_directory_listings_are_scoped(metadata_store: SqlMetadataStore) -> None:
    acme, acme_box = _tenant_with_mailbox(metadata_store, "acme", "acme.example")
    beta, beta_box = _tenant_with_mailbox(metadata_store, "beta", "beta.example")
    assert [d.name for d in metadata_store.list_domains(TenantScope(acme.id))] == ["acme.example"]
    assert metadata_store.list_mailboxes(TenantScope(beta.id)) == [beta_box]
    assert metadata_store.list_mailboxes(PLATFORM) == [acme_box, beta_box]
    assert len(metadata_store.list_domains(PLATFORM)) == 2


# -- spool -------------------------------------------------------------------------


def test_commit_creates_one_queue_row_per_recipient(
    metadata_store: SqlMetadataStore, make_record: RecordMaker
) -> None:
    record = make_record("a@x.test", "b@x.test", "a@x.test")
    metadata_store.commit_messages([record])
    items = metadata_store.list_queue()
    assert sorted(item.recipient for item in items) == ["a@x.test", "b@x.test"]
    for item in items:
        assert item.message == record.ref
        assert item.state is QueueState.QUEUED
        assert item.attempts == 0
        _assert_utc(item.next_attempt_at)
    assert metadata_store.queue_counts() == {
        QueueState.QUEUED: 2,
        QueueState.LEASED: 0,
        QueueState.DONE: 0,
        QueueState.FAILED: 0,
    }


def test_a_failing_batch_leaves_nothing(
    metadata_store: SqlMetadataStore, make_record: RecordMaker
) -> None:
    existing = make_record("a@x.test")
    metadata_store.commit_messages([existing])
    batch = [make_record("b@x.test"), make_record("c@x.test"), existing]
    with pytest.raises(Conflict):
        metadata_store.commit_messages(batch)
    assert [item.recipient for item in metadata_store.list_queue()] == ["a@x.test"]
    # The records that were fine commit once the bad one is gone.
    metadata_store.commit_messages(batch[:2])
    assert metadata_store.queue_counts()[QueueState.QUEUED] == 3


def test_a_batch_of_100_is_one_transaction(
    metadata_store: SqlMetadataStore, make_record: RecordMaker
) -> None:
    commits: list[object] = []
    event.listen(metadata_store.engine, "commit", commits.append)
    metadata_store.commit_messages([make_record(f"r{i}@x.test") for i in range(100)])
    assert len(commits) == 1
    assert metadata_store.queue_counts()[QueueState.QUEUED] == 100


def test_empty_batch_is_a_no_op(metadata_store: SqlMetadataStore) -> None:
    metadata_store.commit_messages([])
    assert metadata_store.list_queue() == []


# -- queue -------------------------------------------------------------------------


def test_lease_marks_rows_and_counts_attempts(
    metadata_store: SqlMetadataStore, make_record: RecordMaker
) -> None:
    metadata_store.commit_messages([make_record("a@x.test", "b@x.test")])
    before = datetime.now(UTC)
    leased = metadata_store.lease_batch("w1", 10, 60)
    assert len(leased) == 2
    for item in leased:
        assert item.state is QueueState.LEASED
        assert item.lease_owner == "w1"
        assert item.attempts == 1
        assert item.lease_until is not None
        _assert_utc(item.lease_until)
        assert item.lease_until >= before + timedelta(seconds=59)
    assert metadata_store.lease_batch("w2", 10, 60) == []  # not expired yet
    assert metadata_store.lease_batch("w2", 0, 60) == []


def test_two_owners_never_get_the_same_row(
    metadata_store: SqlMetadataStore, make_record: RecordMaker
) -> None:
    metadata_store.commit_messages([make_record(f"r{i}@x.test") for i in range(120)])
    taken: list[int] = []
    lock = threading.Lock()
    errors: list[BaseException] = []

    def worker(owner: str) -> None:
        try:
            while batch := metadata_store.lease_batch(owner, 7, 60):
                with lock:
                    taken.extend(item.id for item in batch)
                assert all(item.lease_owner == owner for item in batch)
        except BaseException as error:  # surfaced by the assert below
            errors.append(error)

    threads = [threading.Thread(target=worker, args=(f"w{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(taken) == 120
    assert len(set(taken)) == 120


def test_an_expired_lease_is_leased_again(
    metadata_store: SqlMetadataStore, make_record: RecordMaker
) -> None:
    metadata_store.commit_messages([make_record("a@x.test")])
    [first] = metadata_store.lease_batch("dead-worker", 5, 0.05)
    time.sleep(0.15)
    [again] = metadata_store.lease_batch("w2", 5, 60)
    assert again.id == first.id
    assert again.lease_owner == "w2"
    assert again.attempts == 2
    # The dead worker's late ack must not touch the row it lost.
    assert metadata_store.ack([first.id], "dead-worker") == 0
    assert metadata_store.list_queue(QueueState.LEASED)[0].lease_owner == "w2"


def test_only_the_owner_acks(metadata_store: SqlMetadataStore, make_record: RecordMaker) -> None:
    metadata_store.commit_messages([make_record("a@x.test", "b@x.test")])
    leased = metadata_store.lease_batch("w1", 5, 60)
    ids = [item.id for item in leased]
    assert metadata_store.ack(ids, "intruder") == 0
    assert metadata_store.queue_counts()[QueueState.LEASED] == 2
    assert metadata_store.ack(ids, "w1") == 2
    assert metadata_store.ack(ids, "w1") == 0  # already done
    assert metadata_store.ack([], "w1") == 0
    done = metadata_store.list_queue(QueueState.DONE)
    assert {item.id for item in done} == set(ids)
    assert metadata_store.lease_batch("w1", 5, 60) == []


def test_defer_puts_the_row_back_for_later(
    metadata_store: SqlMetadataStore, make_record: RecordMaker
) -> None:
    metadata_store.commit_messages([make_record("a@x.test")])
    [item] = metadata_store.lease_batch("w1", 5, 60)
    metadata_store.defer(item.id, "intruder", "nope", datetime.now(UTC))  # ignored
    assert metadata_store.list_queue(QueueState.LEASED)[0].id == item.id
    retry_at = datetime.now(UTC) + timedelta(hours=1)
    metadata_store.defer(item.id, "w1", "451 4.4.1 try later", retry_at)
    [queued] = metadata_store.list_queue(QueueState.QUEUED)
    assert queued.last_error == "451 4.4.1 try later"
    assert queued.lease_owner is None
    assert abs(queued.next_attempt_at - retry_at) < timedelta(milliseconds=1)
    assert metadata_store.lease_batch("w1", 5, 60) == []  # not due yet
    metadata_store.commit_messages([make_record("b@x.test")])
    [other] = metadata_store.lease_batch("w1", 5, 60)
    assert other.recipient == "b@x.test"


def test_due_rows_are_queued_and_due_or_leased_past_their_lease(
    metadata_store: SqlMetadataStore, make_record: RecordMaker
) -> None:
    now = datetime.now(UTC)
    assert metadata_store.due_queue_rows(now) == 0
    metadata_store.commit_messages([make_record("a@x.test", "b@x.test", "c@x.test")])
    assert metadata_store.due_queue_rows(datetime.now(UTC)) == 3
    first, second = metadata_store.lease_batch("w1", 2, 30)
    later = datetime.now(UTC)
    assert metadata_store.due_queue_rows(later) == 1  # leased rows are held, not waiting
    metadata_store.defer(first.id, "w1", "later", later + timedelta(hours=1))
    assert metadata_store.due_queue_rows(later) == 1  # deferred to later: not due now
    # Past its lease, the leased row is due again (a lease would take it).
    assert metadata_store.due_queue_rows(later + timedelta(seconds=31)) == 2
    assert metadata_store.due_queue_rows(later + timedelta(hours=2)) == 3
    assert second.id != first.id


def test_defer_into_the_past_is_due_at_once(
    metadata_store: SqlMetadataStore, make_record: RecordMaker
) -> None:
    metadata_store.commit_messages([make_record("a@x.test")])
    [item] = metadata_store.lease_batch("w1", 5, 60)
    metadata_store.defer(item.id, "w1", "busy", datetime.now(UTC) - timedelta(seconds=1))
    [again] = metadata_store.lease_batch("w2", 5, 60)
    assert (again.id, again.attempts, again.last_error) == (item.id, 2, "busy")


def test_fail_is_permanent(metadata_store: SqlMetadataStore, make_record: RecordMaker) -> None:
    metadata_store.commit_messages([make_record("a@x.test")])
    [item] = metadata_store.lease_batch("w1", 5, 0.01)
    metadata_store.fail(item.id, "intruder", "x")  # ignored
    metadata_store.fail(item.id, "w1", "550 5.1.1 no such user")
    time.sleep(0.05)
    assert metadata_store.lease_batch("w1", 5, 60) == []
    [failed] = metadata_store.list_queue(QueueState.FAILED)
    assert failed.last_error == "550 5.1.1 no such user"


def test_release_leases_hands_back_only_earlier_incarnations_of_one_owner(
    metadata_store: SqlMetadataStore, make_record: RecordMaker
) -> None:
    metadata_store.commit_messages([make_record(f"r{i}@x.test") for i in range(7)])
    dead = metadata_store.lease_batch("dispatcher@a:1/old", 2, 600)
    current = metadata_store.lease_batch("dispatcher@a:1/new", 2, 600)
    # Another node's dispatcher, and one whose identity merely shares a prefix of ours.
    other = metadata_store.lease_batch("dispatcher@b:1/x", 1, 600)
    lookalike = metadata_store.lease_batch("dispatcher@a:10/y", 1, 600)

    assert metadata_store.release_leases("dispatcher@a:1/", keep_owner="dispatcher@a:1/new") == 2

    rows = {row.id: row for row in metadata_store.list_queue(limit=100)}
    assert {rows[item.id].state for item in dead} == {QueueState.QUEUED}
    assert all(rows[item.id].lease_owner is None for item in dead)
    for items, owner in (
        (current, "dispatcher@a:1/new"),
        (other, "dispatcher@b:1/x"),
        (lookalike, "dispatcher@a:10/y"),
    ):
        assert {(rows[item.id].state, rows[item.id].lease_owner) for item in items} == {
            (QueueState.LEASED, owner)
        }
    # The two released rows and the one never leased are due at once, nothing else.
    again = metadata_store.lease_batch("w2", 10, 60)
    assert len(again) == 3
    assert {item.id for item in dead} < {item.id for item in again}


def test_release_leases_without_a_kept_owner_releases_every_incarnation(
    metadata_store: SqlMetadataStore, make_record: RecordMaker
) -> None:
    metadata_store.commit_messages([make_record("a@x.test", "b@x.test", "c@x.test")])
    metadata_store.lease_batch("d@n:1/run1", 1, 600)
    metadata_store.lease_batch("d@n:1/run2", 1, 600)
    metadata_store.lease_batch("D@N:1/run3", 1, 600)  # prefixes are case-sensitive
    assert metadata_store.release_leases("d@n:1/") == 2
    assert metadata_store.queue_counts()[QueueState.QUEUED] == 2
    assert [row.lease_owner for row in metadata_store.list_queue(QueueState.LEASED)] == [
        "D@N:1/run3"
    ]


def test_release_leases_refuses_an_empty_prefix(metadata_store: SqlMetadataStore) -> None:
    with pytest.raises(ValueError, match="prefix"):
        metadata_store.release_leases("")


def test_oldest_due_at_is_none_when_nothing_is_due(
    metadata_store: SqlMetadataStore, make_record: RecordMaker
) -> None:
    now = datetime.now(UTC)
    assert metadata_store.oldest_due_at(now) is None
    metadata_store.commit_messages([make_record("a@x.test", "b@x.test")])
    [first, second] = metadata_store.lease_batch("w1", 2, 600)
    metadata_store.ack([first.id], "w1")  # done: never due again
    metadata_store.defer(second.id, "w1", "busy", now + timedelta(hours=1))  # due later
    assert metadata_store.oldest_due_at(datetime.now(UTC)) is None


def test_oldest_due_at_is_the_earliest_due_row_or_expired_lease(
    metadata_store: SqlMetadataStore, make_record: RecordMaker
) -> None:
    metadata_store.commit_messages([make_record("a@x.test", "b@x.test", "c@x.test")])
    start = datetime.now(UTC)
    [a, b, _leased_until_later] = metadata_store.lease_batch("w1", 3, 600)
    metadata_store.defer(a.id, "w1", "x", start - timedelta(seconds=30))
    metadata_store.defer(b.id, "w1", "x", start - timedelta(seconds=90))
    due = metadata_store.oldest_due_at(start)
    _assert_utc(due)
    assert abs((start - due).total_seconds() - 90) < 0.01  # type: ignore[operator]
    assert metadata_store.oldest_due_at(start - timedelta(seconds=60)) == due
    # c is leased until start + 600 s: due (and older than b) only once that has passed.
    later = start + timedelta(seconds=601)
    assert metadata_store.oldest_due_at(later) == due
    retried = metadata_store.lease_batch("w2", 10, 600)
    assert sorted(item.id for item in retried) == sorted([a.id, b.id])
    metadata_store.ack([a.id, b.id], "w2")
    expired = metadata_store.oldest_due_at(later)
    _assert_utc(expired)
    assert 599 < (expired - start).total_seconds() < 601  # type: ignore[operator]
    assert metadata_store.oldest_due_at(start + timedelta(seconds=300)) is None


def test_list_queue_filters_and_limits(
    metadata_store: SqlMetadataStore, make_record: RecordMaker
) -> None:
    metadata_store.commit_messages([make_record(f"r{i}@x.test") for i in range(5)])
    metadata_store.lease_batch("w1", 2, 60)
    assert len(metadata_store.list_queue(limit=3)) == 3
    assert len(metadata_store.list_queue(QueueState.LEASED)) == 2
    assert len(metadata_store.list_queue(QueueState.QUEUED)) == 3
    assert metadata_store.list_queue(QueueState.FAILED) == []


# -- mailbox entries ---------------------------------------------------------------


def test_store_entry_is_idempotent(
    metadata_store: SqlMetadataStore, make_record: RecordMaker
) -> None:
    _, mailbox = _tenant_with_mailbox(metadata_store, "acme", "acme.example")
    record = make_record(mailbox.address)
    metadata_store.commit_messages([record])
    first = metadata_store.store_entry(_entry(mailbox, record.ref.id, tags=("a", "a", "b")))
    second = metadata_store.store_entry(_entry(mailbox, record.ref.id, subject="other"))
    assert second == first
    assert metadata_store.count_entries_for_message(record.ref.id) == 1
    assert first.subject == "Grüße aus Köln ☕"
    assert first.tags == ("a", "b")
    assert first.folder == "INBOX"
    assert first.mailbox_address == mailbox.address
    assert first.blob_key == record.ref.blob_key
    assert first.date == datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
    _assert_utc(first.date)
    _assert_utc(first.received_at)
    assert abs(first.received_at - record.envelope.received_at) < timedelta(milliseconds=1)


def test_store_entry_needs_mailbox_of_the_tenant_and_message(
    metadata_store: SqlMetadataStore, make_record: RecordMaker
) -> None:
    _, acme_box = _tenant_with_mailbox(metadata_store, "acme", "acme.example")
    beta, _ = _tenant_with_mailbox(metadata_store, "beta", "beta.example")
    record = make_record(acme_box.address)
    metadata_store.commit_messages([record])
    with pytest.raises(NotFound):
        metadata_store.store_entry(_entry(acme_box, record.ref.id, tenant_id=beta.id))
    with pytest.raises(NotFound):
        metadata_store.store_entry(_entry(acme_box, record.ref.id, mailbox_id="nope"))
    with pytest.raises(NotFound):
        metadata_store.store_entry(_entry(acme_box, "no-such-message"))
    assert metadata_store.count_entries_for_message(record.ref.id) == 0


def test_store_entries_writes_a_batch_in_order_and_marks_what_cannot_be_stored(
    metadata_store: SqlMetadataStore, make_record: RecordMaker
) -> None:
    _, acme_box = _tenant_with_mailbox(metadata_store, "acme", "acme.example")
    beta, beta_box = _tenant_with_mailbox(metadata_store, "beta", "beta.example")
    records = [make_record(acme_box.address, beta_box.address) for _ in range(3)]
    metadata_store.commit_messages(records)
    earlier = metadata_store.store_entry(_entry(acme_box, records[0].ref.id))
    batch = [
        _entry(acme_box, records[0].ref.id, subject="again"),  # stored before: kept as is
        _entry(beta_box, records[0].ref.id),
        _entry(acme_box, records[1].ref.id, tenant_id=beta.id),  # not beta's mailbox
        _entry(acme_box, "no-such-message"),
        _entry(acme_box, records[2].ref.id, folder="Junk"),
        _entry(acme_box, records[2].ref.id),  # twice in one batch: one entry
    ]
    stored = metadata_store.store_entries(batch)
    assert [entry is None for entry in stored] == [False, False, True, True, False, False]
    assert stored[0] == earlier
    assert stored[1] is not None and stored[1].mailbox_id == beta_box.id
    assert stored[4] is not None and stored[4] == stored[5] and stored[4].folder == "Junk"
    assert [metadata_store.count_entries_for_message(r.ref.id) for r in records] == [2, 0, 1]
    assert metadata_store.store_entries([]) == []


def test_settle_records_a_whole_batch_for_its_owner_only(
    metadata_store: SqlMetadataStore, make_record: RecordMaker
) -> None:
    metadata_store.commit_messages([make_record(f"r{i}@x.test") for i in range(4)])
    ids = [item.id for item in metadata_store.lease_batch("w1", 4, 60)]
    retry_at = datetime.now(UTC) + timedelta(hours=1)
    metadata_store.settle("w2", done=ids)  # another owner's leases: nothing changes
    assert len(metadata_store.list_queue(QueueState.LEASED)) == 4
    metadata_store.settle(
        "w1", done=ids[:2], deferred=[(ids[2], "4.3.0 later", retry_at)], failed=[(ids[3], "5.1.1")]
    )
    rows = {row.id: row for row in metadata_store.list_queue()}
    assert [rows[i].state for i in ids] == [
        QueueState.DONE,
        QueueState.DONE,
        QueueState.QUEUED,
        QueueState.FAILED,
    ]
    assert rows[ids[2]].last_error == "4.3.0 later" and rows[ids[3]].last_error == "5.1.1"
    next_attempt = rows[ids[2]].next_attempt_at
    assert next_attempt is not None and abs(next_attempt - retry_at) < timedelta(seconds=1)
    assert all(rows[i].lease_owner is None for i in ids)
    assert metadata_store.lease_batch("w1", 4, 60) == []  # the deferred row is not due yet


def test_entries_of_another_tenant_are_not_found(
    metadata_store: SqlMetadataStore, make_record: RecordMaker
) -> None:
    acme, acme_box = _tenant_with_mailbox(metadata_store, "acme", "acme.example")
    beta, beta_box = _tenant_with_mailbox(metadata_store, "beta", "beta.example")
    record = make_record(acme_box.address, beta_box.address)
    metadata_store.commit_messages([record])
    acme_entry = metadata_store.store_entry(_entry(acme_box, record.ref.id))
    beta_entry = metadata_store.store_entry(_entry(beta_box, record.ref.id))
    acme_scope, beta_scope = TenantScope(acme.id), TenantScope(beta.id)

    assert metadata_store.get_entry(acme_scope, acme_entry.id) == acme_entry
    with pytest.raises(NotFound):
        metadata_store.get_entry(beta_scope, acme_entry.id)
    with pytest.raises(NotFound):
        metadata_store.set_tags(beta_scope, acme_entry.id, ["x"], [])
    with pytest.raises(NotFound):
        metadata_store.move_entry(beta_scope, acme_entry.id, "Trash")
    with pytest.raises(NotFound):
        metadata_store.list_entries(beta_scope, before=acme_entry.id)
    assert metadata_store.get_entry(acme_scope, acme_entry.id).tags == ()
    assert metadata_store.get_entry(acme_scope, acme_entry.id).folder == "INBOX"

    both = [acme_entry.id, beta_entry.id]
    assert metadata_store.get_entries(beta_scope, both) == [beta_entry]
    assert metadata_store.get_entries(PLATFORM, both) == [acme_entry, beta_entry]
    assert metadata_store.get_entries(PLATFORM, both[::-1]) == [beta_entry, acme_entry]
    assert metadata_store.list_entries(beta_scope) == [beta_entry]
    assert metadata_store.list_entries(beta_scope, mailbox_id=acme_box.id) == []
    assert len(metadata_store.list_entries(PLATFORM)) == 2


def test_list_entries_newest_first_with_cursor(
    metadata_store: SqlMetadataStore, make_record: RecordMaker
) -> None:
    tenant, mailbox = _tenant_with_mailbox(metadata_store, "acme", "acme.example")
    start = datetime(2024, 1, 1, tzinfo=UTC)
    records = [
        make_record(mailbox.address, received_at=start + timedelta(minutes=i // 2))
        for i in range(7)  # pairs share a received_at: the id breaks the tie
    ]
    metadata_store.commit_messages(records)
    stored = [metadata_store.store_entry(_entry(mailbox, r.ref.id)) for r in records]
    scope = TenantScope(tenant.id)
    expected = sorted(stored, key=lambda e: (e.received_at, e.id), reverse=True)

    pages: list[list[str]] = []
    cursor: str | None = None
    while page := metadata_store.list_entries(scope, mailbox.id, limit=3, before=cursor):
        pages.append([e.id for e in page])
        cursor = page[-1].id
    assert [len(p) for p in pages] == [3, 3, 1]
    assert [i for p in pages for i in p] == [e.id for e in expected]
    assert metadata_store.list_entries(scope, limit=0) == []


def test_folders_and_tags(metadata_store: SqlMetadataStore, make_record: RecordMaker) -> None:
    tenant, mailbox = _tenant_with_mailbox(metadata_store, "acme", "acme.example")
    records = [make_record(mailbox.address) for _ in range(3)]
    metadata_store.commit_messages(records)
    entries = [metadata_store.store_entry(_entry(mailbox, r.ref.id)) for r in records]
    scope = TenantScope(tenant.id)

    moved = metadata_store.move_entry(scope, entries[0].id, "Archiv/2024 ✓")
    assert moved.folder == "Archiv/2024 ✓"
    with pytest.raises(InvalidInput):
        metadata_store.move_entry(scope, entries[0].id, " ")
    with pytest.raises(NotFound):
        metadata_store.move_entry(scope, "no-such-entry", "x")
    assert [e.id for e in metadata_store.list_entries(scope, folder="Archiv/2024 ✓")] == [
        entries[0].id
    ]
    assert len(metadata_store.list_entries(scope, mailbox.id, folder="INBOX")) == 2

    tagged = metadata_store.set_tags(scope, entries[1].id, ["spam", "wichtig", "spam"], [])
    assert tagged.tags == ("spam", "wichtig")
    tagged = metadata_store.set_tags(scope, entries[1].id, ["neu"], ["spam", "absent"])
    assert tagged.tags == ("wichtig", "neu")
    assert metadata_store.get_entry(PLATFORM, entries[1].id).tags == ("wichtig", "neu")


# -- concurrency -------------------------------------------------------------------


def test_concurrent_writers_in_threads(
    metadata_store: SqlMetadataStore, make_record: RecordMaker
) -> None:
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for batch in range(10):
                metadata_store.commit_messages(
                    [make_record(f"t{n}-{batch}-{i}@x.test") for i in range(5)]
                )
        except BaseException as error:  # surfaced by the assert below
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert metadata_store.queue_counts()[QueueState.QUEUED] == 8 * 10 * 5


_WRITER = """
import hashlib, sys
from datetime import UTC, datetime
from mairust.model.ids import new_id
from mairust.model.message import Envelope, MessageRef, SpoolRecord
from mairust.storage.sql_metadata import SqlMetadataStore

url, name, batches = sys.argv[1], sys.argv[2], int(sys.argv[3])
store = SqlMetadataStore(url)
for b in range(batches):
    records = []
    for i in range(10):
        digest = hashlib.sha256(f"{name}{b}{i}".encode()).hexdigest()
        records.append(SpoolRecord(
            MessageRef(new_id(), 10, digest, digest),
            Envelope(f"s@{name}.test", (f"r{i}@{name}.test",), datetime.now(UTC)),
        ))
    store.commit_messages(records)
store.close()
"""


def test_two_processes_write_while_a_third_leases(metadata_url: str) -> None:
    writers = [
        subprocess.Popen([sys.executable, "-c", _WRITER, metadata_url, name, "100"])
        for name in ("one", "two")
    ]
    store = SqlMetadataStore(metadata_url)
    leased: Counter[int] = Counter()
    try:
        while any(w.poll() is None for w in writers):
            batch = store.lease_batch("main", 50, 60)
            leased.update(item.id for item in batch)
            store.ack([item.id for item in batch], "main")
        assert [w.wait() for w in writers] == [0, 0]
        while batch := store.lease_batch("main", 50, 60):
            leased.update(item.id for item in batch)
            store.ack([item.id for item in batch], "main")
        assert store.queue_counts()[QueueState.DONE] == 2 * 100 * 10
        assert len(leased) == 2 * 100 * 10
        assert max(leased.values()) == 1
    finally:
        for writer in writers:
            writer.kill()
        store.close()


# -- SQLite specifics --------------------------------------------------------------


def _sqlite_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'meta.db'}"
    upgrade_to_head(url)
    return url


def test_sqlite_connection_settings(tmp_path: Path) -> None:
    store = SqlMetadataStore(_sqlite_url(tmp_path))
    try:
        with store.engine.connect() as conn:
            pragma = conn.exec_driver_sql
            assert pragma("PRAGMA journal_mode").scalar() == "wal"
            assert pragma("PRAGMA synchronous").scalar() == 2  # FULL
            assert pragma("PRAGMA foreign_keys").scalar() == 1
            assert pragma("PRAGMA busy_timeout").scalar_one() >= 10_000
    finally:
        store.close()


def test_sqlite_lock_held_too_long_is_storage_unavailable(
    tmp_path: Path, make_record: RecordMaker
) -> None:
    url = _sqlite_url(tmp_path)
    store = SqlMetadataStore(url, busy_timeout=0.2)
    blocker = sqlite3.connect(tmp_path / "meta.db", isolation_level=None)
    try:
        blocker.execute("BEGIN IMMEDIATE")
        with pytest.raises(StorageUnavailable):
            store.commit_messages([make_record("a@x.test")])
        with pytest.raises(StorageUnavailable):
            store.lease_batch("w1", 5, 60)
        blocker.execute("ROLLBACK")
        store.commit_messages([make_record("a@x.test")])
        assert len(store.lease_batch("w1", 5, 60)) == 1
    finally:
        blocker.close()
        store.close()


def test_sqlite_writer_waits_for_a_short_lock(tmp_path: Path, make_record: RecordMaker) -> None:
    store = SqlMetadataStore(_sqlite_url(tmp_path))
    blocker = sqlite3.connect(tmp_path / "meta.db", isolation_level=None, check_same_thread=False)
    try:
        blocker.execute("BEGIN IMMEDIATE")
        releaser = threading.Timer(0.3, lambda: blocker.execute("COMMIT"))
        releaser.start()
        store.commit_messages([make_record("a@x.test")])  # waits, then succeeds
        releaser.join()
        assert store.queue_counts()[QueueState.QUEUED] == 1
    finally:
        blocker.close()
        store.close()
