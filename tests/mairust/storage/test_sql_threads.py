"""Reading threads on every backend of conftest.METADATA_URLS: one thread oldest first,
a mailbox's threads newest first with a cursor, both confined to the caller's scope."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mairust.errors import NotFound
from mairust.model.scope import PLATFORM, TenantScope
from mairust.storage.sql_metadata import SqlMetadataStore
from tests.support.stored_entries import deliver, tenant_with_mailboxes

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def test_thread_of_is_the_whole_thread_oldest_first(metadata_store: SqlMetadataStore) -> None:
    tenant, [box] = tenant_with_mailboxes(metadata_store, "acme", "alice")
    # Arrival order is not time order: the reply's message was received later.
    reply = deliver(metadata_store, box, "<r@x.test>", ["<p@x.test>"], received_at=_at(5))
    parent = deliver(metadata_store, box, "<p@x.test>", received_at=_at(1))
    deliver(metadata_store, box, "<other@x.test>", received_at=_at(3))
    later = deliver(
        metadata_store, box, "<l@x.test>", ["<p@x.test>", "<r@x.test>"], received_at=_at(9)
    )
    expected = [parent.id, reply.id, later.id]
    for scope in (TenantScope(tenant.id), TenantScope(tenant.id, box.id), PLATFORM):
        for member in expected:
            assert [e.id for e in metadata_store.thread_of(scope, member)] == expected
    assert [e.id for e in metadata_store.thread_of(PLATFORM, reply.id, limit=2)] == expected[:2]


def test_thread_of_another_tenant_or_mailbox_is_not_found(
    metadata_store: SqlMetadataStore,
) -> None:
    tenant, [alice, bob] = tenant_with_mailboxes(metadata_store, "acme", "alice", "bob")
    other, _ = tenant_with_mailboxes(metadata_store, "beta", "carol")
    entry = deliver(metadata_store, alice, "<p@x.test>")
    assert [e.id for e in metadata_store.thread_of(TenantScope(tenant.id, alice.id), entry.id)] == [
        entry.id
    ]
    for scope in (TenantScope(other.id), TenantScope(tenant.id, bob.id)):
        with pytest.raises(NotFound):
            metadata_store.thread_of(scope, entry.id)
    with pytest.raises(NotFound):
        metadata_store.thread_of(PLATFORM, "no-such-entry")


def test_list_threads_newest_activity_first_with_counts_and_cursor(
    metadata_store: SqlMetadataStore,
) -> None:
    tenant, [box, bob] = tenant_with_mailboxes(metadata_store, "acme", "alice", "bob")
    a1 = deliver(metadata_store, box, "<a1@x.test>", received_at=_at(1))
    b1 = deliver(metadata_store, box, "<b1@x.test>", received_at=_at(2))
    c1 = deliver(metadata_store, box, "<c1@x.test>", received_at=_at(3))
    a2 = deliver(metadata_store, box, "<a2@x.test>", ["<a1@x.test>"], received_at=_at(4))
    a3 = deliver(metadata_store, box, "<a3@x.test>", ["<a2@x.test>"], received_at=_at(6))
    b2 = deliver(metadata_store, box, "<b2@x.test>", ["<b1@x.test>"], received_at=_at(5))
    deliver(metadata_store, bob, "<x@x.test>", received_at=_at(7))  # another mailbox
    scope = TenantScope(tenant.id, box.id)
    threads = metadata_store.list_threads(scope)
    assert [(t.thread_id, t.latest.id, t.count) for t in threads] == [
        (a1.id, a3.id, 3),
        (b1.id, b2.id, 2),
        (c1.id, c1.id, 1),
    ]
    assert a2.thread_id == a1.id
    pages: list[list[str]] = []
    cursor: str | None = None
    while page := metadata_store.list_threads(TenantScope(tenant.id), box.id, 2, cursor):
        pages.append([t.thread_id for t in page])
        cursor = page[-1].latest.id
    assert pages == [[a1.id, b1.id], [c1.id]]
    assert len(metadata_store.list_threads(TenantScope(tenant.id))) == 4
    assert metadata_store.list_threads(scope, limit=0) == []


def test_list_threads_of_another_tenant_is_empty(metadata_store: SqlMetadataStore) -> None:
    tenant, [box] = tenant_with_mailboxes(metadata_store, "acme", "alice")
    other, [carol] = tenant_with_mailboxes(metadata_store, "beta", "carol")
    mine = deliver(metadata_store, box, "<p@x.test>")
    assert [t.thread_id for t in metadata_store.list_threads(TenantScope(tenant.id))] == [mine.id]
    assert metadata_store.list_threads(TenantScope(other.id)) == []
    assert metadata_store.list_threads(TenantScope(other.id), mailbox_id=box.id) == []
    assert metadata_store.list_threads(TenantScope(tenant.id, carol.id)) == []
    with pytest.raises(NotFound):  # a cursor from another tenant
        metadata_store.list_threads(TenantScope(other.id), before=mine.id)
