"""Store-time threading on every backend of conftest.METADATA_URLS: a new entry joins the
threads of its mailbox it shares an id with, a late parent merges them, and concurrent
batches of one mailbox cannot miss each other's links."""

from __future__ import annotations

import itertools
import threading

import sqlalchemy as sa

from mairust.model.scope import PLATFORM
from mairust.model.threads import MAX_REFERENCES
from mairust.storage.sql_metadata import SqlMetadataStore
from mairust.storage.sql_schema import thread_links
from tests.support.stored_entries import deliver, new_entry, spooled, tenant_with_mailboxes


def _threads(store: SqlMetadataStore, entry_ids: list[str]) -> list[str]:
    """The current thread id of each entry, read back from the store."""
    return [entry.thread_id for entry in store.get_entries(PLATFORM, entry_ids)]


def test_a_reply_after_its_parent_joins_the_parent_thread(
    metadata_store: SqlMetadataStore,
) -> None:
    _, [box] = tenant_with_mailboxes(metadata_store, "acme", "alice")
    parent = deliver(metadata_store, box, "<p@x.test>")
    reply = deliver(metadata_store, box, "<r@x.test>", ["<p@x.test>"])
    other = deliver(metadata_store, box, "<o@x.test>")
    assert parent.thread_id == parent.id  # a thread is named by an entry id
    assert reply.thread_id == parent.thread_id
    assert other.thread_id == other.id != parent.thread_id
    assert reply.thread.references == ("<p@x.test>",)
    assert reply.thread.in_reply_to == "<p@x.test>"
    assert reply.thread.message_id == "<r@x.test>"


def test_a_late_parent_merges_the_replies_that_came_before_it(
    metadata_store: SqlMetadataStore,
) -> None:
    _, [box] = tenant_with_mailboxes(metadata_store, "acme", "alice")
    # Two replies that name different ancestors, each alone until the parent arrives.
    first = deliver(metadata_store, box, "<r1@x.test>", ["<p@x.test>"])
    second = deliver(metadata_store, box, "<r2@x.test>", ["<q@x.test>"])
    assert first.thread_id != second.thread_id
    parent = deliver(metadata_store, box, "<q@x.test>", ["<p@x.test>"])
    threads = _threads(metadata_store, [first.id, second.id, parent.id])
    assert threads == [first.id] * 3  # the oldest thread's id wins
    assert parent.thread_id == first.id  # the store's answer already has it


def test_replies_naming_the_same_missing_parent_share_a_thread(
    metadata_store: SqlMetadataStore,
) -> None:
    _, [box] = tenant_with_mailboxes(metadata_store, "acme", "alice")
    one = deliver(metadata_store, box, "<a@x.test>", ["<gone@x.test>"])
    two = deliver(metadata_store, box, "<b@x.test>", ["<gone@x.test>"])
    lone = deliver(metadata_store, box)  # no Message-ID, no references
    assert two.thread_id == one.thread_id
    assert lone.thread_id == lone.id


def test_threads_stay_within_one_mailbox(metadata_store: SqlMetadataStore) -> None:
    _, [alice, bob] = tenant_with_mailboxes(metadata_store, "acme", "alice", "bob")
    parent = deliver(metadata_store, alice, "<p@x.test>")
    reply_to_bob = deliver(metadata_store, bob, "<r@x.test>", ["<p@x.test>"])
    reply_to_alice = deliver(metadata_store, alice, "<s@x.test>", ["<p@x.test>"])
    assert reply_to_bob.thread_id == reply_to_bob.id
    assert reply_to_alice.thread_id == parent.thread_id


def test_one_batch_threads_its_own_entries_and_a_rerun_changes_nothing(
    metadata_store: SqlMetadataStore,
) -> None:
    _, [box] = tenant_with_mailboxes(metadata_store, "acme", "alice")
    batch = [
        new_entry(box, spooled(metadata_store, box), "<c@x.test>", ["<p@x.test>"]),
        new_entry(box, spooled(metadata_store, box), "<p@x.test>"),
        new_entry(box, spooled(metadata_store, box), "<z@x.test>"),
    ]
    child, parent, other = metadata_store.store_entries(batch)
    assert child is not None and parent is not None and other is not None
    assert child.thread_id == parent.thread_id != other.thread_id
    # A lost ack runs the batch again: same entries, same threads, no second set of links.
    again = metadata_store.store_entries(batch)
    assert again == [child, parent, other]
    with metadata_store.engine.connect() as conn:
        links = conn.execute(sa.select(sa.func.count()).select_from(thread_links)).scalar()
    assert links == 4  # c, p (own and referenced: one node), p, z


def test_arrival_order_does_not_change_the_grouping(metadata_store: SqlMetadataStore) -> None:
    # A chain r3 -> r2 -> r1 -> root, a stray that names r2, and an unrelated message.
    mail = {
        "root": ("<root@x.test>", []),
        "r1": ("<r1@x.test>", ["<root@x.test>"]),
        "r2": ("<r2@x.test>", ["<root@x.test>", "<r1@x.test>"]),
        "r3": ("<r3@x.test>", ["<r2@x.test>"]),
        "stray": ("<stray@x.test>", ["<r2@x.test>"]),
        "alone": ("<alone@x.test>", ["<elsewhere@x.test>"]),
    }
    names = sorted(mail)
    orders = [names, names[::-1], ["r3", "stray", "alone", "r1", "root", "r2"]]
    orders += [list(order) for order in itertools.islice(itertools.permutations(names), 7, 200, 97)]
    for number, order in enumerate(orders):
        _, [box] = tenant_with_mailboxes(metadata_store, f"order{number}", "user")
        stored = {name: deliver(metadata_store, box, *mail[name]) for name in order}
        ids = [stored[name].id for name in names]
        thread = dict(zip(names, _threads(metadata_store, ids), strict=True))
        assert len({thread[name] for name in ("root", "r1", "r2", "r3", "stray")}) == 1, order
        assert thread["alone"] != thread["root"], order


def test_hostile_references_are_stored_bounded(metadata_store: SqlMetadataStore) -> None:
    _, [box] = tenant_with_mailboxes(metadata_store, "acme", "alice")
    refs = [f"<ref{i}@x.test>" for i in range(MAX_REFERENCES)]
    entry = deliver(metadata_store, box, "<big@x.test>", refs)
    assert entry.thread.references == tuple(refs)
    assert deliver(metadata_store, box, "<n@x.test>", [refs[17]]).thread_id == entry.thread_id


def test_an_entry_takes_its_links_along_when_it_goes(metadata_store: SqlMetadataStore) -> None:
    _, [box] = tenant_with_mailboxes(metadata_store, "acme", "alice")
    entry = deliver(metadata_store, box, "<p@x.test>", ["<q@x.test>"])
    with metadata_store.engine.begin() as conn:
        conn.exec_driver_sql(f"DELETE FROM entries WHERE id = '{entry.id}'")
        left = conn.execute(sa.select(sa.func.count()).select_from(thread_links)).scalar()
    assert left == 0


def test_concurrent_batches_of_one_mailbox_never_miss_a_link(
    metadata_store: SqlMetadataStore,
) -> None:
    """A parent and its reply stored at the same moment by two workers end in one thread:
    without the mailbox lock each transaction would miss the other's uncommitted half."""
    _, [box] = tenant_with_mailboxes(metadata_store, "acme", "alice")
    pairs = 12
    entries = [
        (
            new_entry(box, spooled(metadata_store, box), f"<p{i}@x.test>"),
            new_entry(box, spooled(metadata_store, box), f"<r{i}@x.test>", [f"<p{i}@x.test>"]),
        )
        for i in range(pairs)
    ]
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def store(side: int) -> None:
        try:
            for pair in entries:
                start.wait(timeout=30)
                metadata_store.store_entries([pair[side]])
        except BaseException as exc:  # reported below, with the thread's own traceback
            errors.append(exc)
            start.abort()

    workers = [threading.Thread(target=store, args=(side,)) for side in (0, 1)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert not errors, errors
    for parent, reply in entries:
        stored = metadata_store.store_entries([parent, reply])
        assert stored[0] is not None and stored[1] is not None
        assert stored[0].thread_id == stored[1].thread_id
