"""MailboxService's flags, delete, threads, folders and listing filters, through each kind
of principal: the owner acts, another tenant or another user of the tenant gets NotFound
(and changes nothing), a read-only token gets Forbidden. (The rest of MailboxService is
tested through the API routes.)"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from mairust.errors import Forbidden, InvalidInput, NotFound
from mairust.model.mailbox import MailboxEntry
from mairust.model.principal import Permission, Principal, Role
from mairust.model.scope import PLATFORM, TenantScope
from mairust.services.application import Application
from mairust.services.mailboxes import EntryFilters
from mairust.storage.stores import Stores
from tests.mairust.services.conftest import Tenants
from tests.support.stored_entries import deliver

RW = frozenset({Permission.READ, Permission.WRITE})


def _tenant_admin(tenant_id: str, permissions: frozenset[Permission] = RW) -> Principal:
    return Principal(Role.TENANT_ADMIN, TenantScope(tenant_id), permissions, "t", "test")


def _user(tenant_id: str, mailbox_id: str) -> Principal:
    return Principal(Role.USER, TenantScope(tenant_id, mailbox_id), RW, "u", "test")


@pytest.fixture
def thread(stores: Stores, tenants: Tenants) -> list[MailboxEntry]:
    """alice: a root, its reply, and an unrelated message (newest), a second apart."""
    start = tenants.alice.created_at
    root = deliver(stores.metadata, tenants.alice, "<r@x.test>", received_at=start)
    reply = deliver(
        stores.metadata,
        tenants.alice,
        "<s@x.test>",
        ["<r@x.test>"],
        received_at=start + timedelta(seconds=1),
    )
    other = deliver(
        stores.metadata, tenants.alice, "<o@x.test>", received_at=start + timedelta(seconds=2)
    )
    return [root, reply, other]


def _outsiders(tenants: Tenants) -> list[Principal]:
    return [_tenant_admin(tenants.b.id), _user(tenants.a.id, tenants.amos.id)]


def test_set_flags(
    application: Application, stores: Stores, tenants: Tenants, thread: list[MailboxEntry]
) -> None:
    root = thread[0]
    for outsider in _outsiders(tenants):
        with pytest.raises(NotFound):
            application.mailboxes.flag(outsider, root.id, seen=True)
    reader = _tenant_admin(tenants.a.id, frozenset({Permission.READ}))
    with pytest.raises(Forbidden):
        application.mailboxes.flag(reader, root.id, seen=True)
    assert stores.metadata.get_entry(PLATFORM, root.id).seen is False
    owner = _user(tenants.a.id, tenants.alice.id)
    marked = application.mailboxes.flag(owner, root.id, seen=True)
    assert (marked.seen, marked.flagged) == (True, False)
    starred = application.mailboxes.flag(owner, root.id, flagged=True)
    assert (starred.seen, starred.flagged) == (True, True)


def test_delete_moves_to_the_trash_folder(
    application: Application, stores: Stores, tenants: Tenants, thread: list[MailboxEntry]
) -> None:
    root = thread[0]
    for outsider in _outsiders(tenants):
        with pytest.raises(NotFound):
            application.mailboxes.delete(outsider, root.id)
    assert stores.metadata.get_entry(PLATFORM, root.id).folder == "INBOX"
    deleted = application.mailboxes.delete(_tenant_admin(tenants.a.id), root.id)
    assert deleted.entry is not None and not deleted.purged
    assert deleted.entry.folder == "Trash"
    assert stores.metadata.get_entry(PLATFORM, root.id).folder == "Trash"


def test_thread_and_threads(
    application: Application, tenants: Tenants, thread: list[MailboxEntry]
) -> None:
    root, reply, other = thread
    owner = _tenant_admin(tenants.a.id)
    assert [e.id for e in application.mailboxes.thread(owner, reply.id)] == [root.id, reply.id]
    first = application.mailboxes.threads(owner, tenants.alice.id, limit=1)
    assert [t.latest.id for t in first.items] == [other.id]
    assert first.next == other.id
    second = application.mailboxes.threads(owner, tenants.alice.id, limit=1, before=first.next)
    assert [(t.latest.id, t.count) for t in second.items] == [(reply.id, 2)]
    assert second.next is None
    for outsider in _outsiders(tenants):
        with pytest.raises(NotFound):
            application.mailboxes.thread(outsider, reply.id)
        with pytest.raises(NotFound):
            application.mailboxes.threads(outsider, tenants.alice.id)
        # A cursor outside the scope is refused like an unknown one.
        with pytest.raises(InvalidInput):
            application.mailboxes.threads(outsider, before=other.id)
        assert application.mailboxes.threads(outsider).items == []


def test_folders(
    application: Application, stores: Stores, tenants: Tenants, thread: list[MailboxEntry]
) -> None:
    owner = _tenant_admin(tenants.a.id)
    application.mailboxes.move(owner, thread[2].id, "Archive")
    found = application.mailboxes.folders(owner, tenants.alice.id)
    # Folders that hold mail, with their counts (empty system folders may be listed too).
    assert {f.name: (f.total, f.unread) for f in found if f.total} == {
        "Archive": (1, 1),
        "INBOX": (2, 2),
    }
    for outsider in _outsiders(tenants):
        with pytest.raises(NotFound):
            application.mailboxes.folders(outsider, tenants.alice.id)


def test_page_passes_the_listing_filters(
    application: Application, tenants: Tenants, thread: list[MailboxEntry]
) -> None:
    root, reply, other = thread
    owner = _tenant_admin(tenants.a.id)
    application.mailboxes.flag(owner, root.id, seen=True, flagged=True)
    application.mailboxes.tag(owner, reply.id, add=["x"], remove=[])

    def ids(**filters: Any) -> list[str]:
        page = application.mailboxes.page(owner, tenants.alice.id, filters=EntryFilters(**filters))
        return [entry.id for entry in page.items]

    assert ids(unread=True) == [other.id, reply.id]
    assert ids(flagged=True) == [root.id]
    assert ids(tag="x") == [reply.id]
    assert ids(received_after=reply.received_at) == [other.id, reply.id]
    assert ids(received_before=reply.received_at) == [root.id]
    assert ids(from_addr="@nowhere.test") == []
    with pytest.raises(InvalidInput):
        ids(auth={"nope": "pass"})
    with pytest.raises(InvalidInput):
        ids(received_after=reply.received_at, received_before=reply.received_at)
