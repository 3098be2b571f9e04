"""MailboxService over real embedded stores: filters, flags, folders, delete and purge (and
the blobs a purge frees, also against a delivery of the same bytes racing it), retention,
threads and attachments; each with another tenant and another user of the same tenant."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mairust.config import MailboxSettings
from mairust.errors import Conflict, InvalidInput, NotFound
from mairust.model.directory import Mailbox
from mairust.model.ids import new_id
from mairust.model.mailbox import MailboxEntry, NewEntry
from mairust.model.message import BlobInfo, Envelope, MessageRef, SpoolRecord
from mairust.model.parsing import parse_message
from mairust.model.principal import ALL_PERMISSIONS, Principal, Role
from mairust.model.scope import PLATFORM, TenantScope
from mairust.model.threads import thread_headers
from mairust.search.indexing import search_document
from mairust.services.mailboxes import EntryFilters, MailboxService
from mairust.storage.blob_sweep import SweepableBlobStore
from mairust.storage.stores import Stores
from tests.mairust.services.conftest import ADMIN, Tenants

NOW = datetime.now(UTC)


def raw_message(
    subject: str = "Hello", sender: str = "carol@remote.example", extra: str = ""
) -> bytes:
    return (
        f"From: Carol <{sender}>\r\nTo: alice@a.example\r\nSubject: {subject}\r\n"
        f"Message-ID: <{new_id()}@remote.example>\r\n{extra}"
        "MIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nbody words\r\n"
    ).encode()


def spool(stores: Stores, raw: bytes, rcpts: tuple[str, ...], at: datetime | None = None) -> str:
    """The spool's commit for ``raw``: blob first, then the message and queue rows."""
    blob = stores.blobs.put(raw)
    ref = MessageRef(id=new_id(), size=blob.size, sha256=blob.sha256, blob_key=blob.key)
    envelope = Envelope("carol@remote.example", rcpts, at or datetime.now(UTC))
    stores.metadata.commit_messages([SpoolRecord(ref=ref, envelope=envelope)])
    return ref.id


def deliver(
    stores: Stores,
    mailboxes: list[Mailbox],
    raw: bytes | None = None,
    *,
    folder: str = "INBOX",
    at: datetime | None = None,
    settle: bool = True,
) -> list[MailboxEntry]:
    """Spool, store an entry in each mailbox, index it, and (``settle``) mark the queue
    rows done, as the pipeline does."""
    raw = raw or raw_message()
    message_id = spool(stores, raw, tuple(m.address for m in mailboxes), at)
    parsed = parse_message(raw)
    stored = []
    for mailbox in mailboxes:
        entry = stores.metadata.store_entry(
            NewEntry(
                tenant_id=mailbox.tenant_id,
                mailbox_id=mailbox.id,
                message_id=message_id,
                subject=parsed.subject,
                from_addr=parsed.from_addr,
                to_addrs=parsed.to_addrs,
                date=parsed.date,
                size=len(raw),
                folder=folder,
                thread=thread_headers(parsed.headers),
            )
        )
        stores.search.index([search_document(entry, parsed)])
        stored.append(entry)
    if settle:
        leased = stores.metadata.lease_batch("test", 1000, 60)
        stores.metadata.ack([item.id for item in leased], "test")
    return stored


def tenant_admin(tenant_id: str) -> Principal:
    return Principal(Role.TENANT_ADMIN, TenantScope(tenant_id), ALL_PERMISSIONS, "t")


def user(mailbox: Mailbox) -> Principal:
    return Principal(Role.USER, TenantScope(mailbox.tenant_id, mailbox.id), ALL_PERMISSIONS, "u")


@pytest.fixture
def service(stores: Stores) -> MailboxService:
    # No grace: a purged body goes at once unless written again since the purge began.
    return MailboxService(stores, MailboxSettings(trash_days=30, junk_days=10), timedelta(0))


def searched_ids(stores: Stores, words: str) -> set[str]:
    return {hit.entry_id for hit in stores.search.search(PLATFORM, words)}


# -- listing with filters -------------------------------------------------------------


def test_page_applies_every_filter(stores, service, tenants: Tenants):
    admin = tenant_admin(tenants.a.id)
    old = deliver(stores, [tenants.alice], raw_message("old"), at=NOW - timedelta(days=3))[0]
    new = deliver(stores, [tenants.alice], raw_message("new", sender="dan@other.example"))[0]
    stores.metadata.set_tags(PLATFORM, new.id, add=["work"], remove=[])
    service.flag(admin, old.id, seen=True, flagged=True)

    def ids(**filters: object) -> list[str]:
        wanted = EntryFilters(**filters)  # type: ignore[arg-type]
        return [e.id for e in service.page(admin, tenants.alice.id, filters=wanted).items]

    assert ids() == [new.id, old.id]
    assert ids(tag="work") == [new.id]
    assert ids(from_addr="@OTHER.example") == [new.id]
    assert ids(from_addr="carol@remote.example") == [old.id]
    assert ids(unread=True) == [new.id]
    assert ids(unread=False) == [old.id]
    assert ids(flagged=True) == [old.id]
    assert ids(received_after=NOW - timedelta(days=1)) == [new.id]
    assert ids(received_before=NOW - timedelta(days=1)) == [old.id]
    assert ids(auth={"dmarc": "fail"}) == []
    with pytest.raises(InvalidInput):
        ids(received_after=NOW, received_before=NOW - timedelta(days=1))
    with pytest.raises(InvalidInput):
        ids(auth={"bimi": "pass"})


def test_page_tells_an_unknown_mailbox_from_an_unknown_cursor(stores, service, tenants: Tenants):
    """The mailbox is looked up only when a page comes back empty or its cursor is
    unknown; the answers stay those of a lookup first: a mailbox outside the scope is
    NotFound (before any cursor), a bad cursor in a known mailbox is InvalidInput, and a
    known mailbox with nothing in it is an empty page."""
    admin = tenant_admin(tenants.a.id)
    [entry] = deliver(stores, [tenants.alice])
    [foreign] = deliver(stores, [tenants.bob])
    assert [e.id for e in service.page(admin, tenants.alice.id).items] == [entry.id]
    assert service.page(admin, tenants.amos.id).items == []
    assert service.page(admin, tenants.alice.id, before=entry.id).items == []
    for cursor in (None, entry.id, foreign.id, "no-such-entry"):
        with pytest.raises(NotFound):
            service.page(admin, tenants.bob.id, before=cursor)
    for cursor in (foreign.id, "no-such-entry"):
        with pytest.raises(InvalidInput):
            service.page(admin, tenants.alice.id, before=cursor)
    with pytest.raises(NotFound):
        service.page(user(tenants.amos), tenants.alice.id)


def test_flags_show_on_the_entry_and_stay_in_scope(stores, service, tenants: Tenants):
    [entry] = deliver(stores, [tenants.alice])
    flagged = service.flag(user(tenants.alice), entry.id, flagged=True)
    assert (flagged.seen, flagged.flagged) == (False, True)
    seen = service.flag(user(tenants.alice), entry.id, seen=True)
    assert (seen.seen, seen.flagged) == (True, True)
    for outsider in (user(tenants.amos), tenant_admin(tenants.b.id)):
        with pytest.raises(NotFound):
            service.flag(outsider, entry.id, seen=False)
    assert service.get(user(tenants.alice), entry.id).seen is True


# -- folders ----------------------------------------------------------------------------


def test_folders_list_counts_with_the_system_folders_first(stores, service, tenants: Tenants):
    alice = user(tenants.alice)
    first, _ = deliver(stores, [tenants.alice]) + deliver(stores, [tenants.alice])
    deliver(stores, [tenants.alice], folder="Archive")
    service.flag(alice, first.id, seen=True)
    service.create_folder(alice, tenants.alice.id, "Empty")
    counts = [(f.name, f.total, f.unread) for f in service.folders(alice, tenants.alice.id)]
    assert counts == [
        ("INBOX", 2, 1),
        ("Trash", 0, 0),
        ("Junk", 0, 0),
        ("Quarantine", 0, 0),
        ("Archive", 1, 1),
        ("Empty", 0, 0),
    ]


def test_folders_are_reached_only_through_the_scope(stores, service, tenants: Tenants):
    deliver(stores, [tenants.alice], folder="Archive")
    for outsider in (user(tenants.amos), tenant_admin(tenants.b.id)):
        with pytest.raises(NotFound):
            service.folders(outsider, tenants.alice.id)
        with pytest.raises(NotFound):
            service.create_folder(outsider, tenants.alice.id, "Mine")
        with pytest.raises(NotFound):
            service.rename_folder(outsider, tenants.alice.id, "Archive", "Old")
        with pytest.raises(NotFound):
            service.delete_folder(outsider, tenants.alice.id, "Archive")
    names = [f.name for f in service.folders(tenant_admin(tenants.a.id), tenants.alice.id)]
    assert "Archive" in names and "Mine" not in names and "Old" not in names


def test_create_refuses_an_existing_or_system_folder(stores, service, tenants: Tenants):
    alice = user(tenants.alice)
    deliver(stores, [tenants.alice], folder="Archive")
    for name in ("Archive", "INBOX", "inbox", "Trash", "Junk", "Quarantine"):
        with pytest.raises(Conflict):
            service.create_folder(alice, tenants.alice.id, name)
    service.create_folder(alice, tenants.alice.id, "Projects/2026")
    with pytest.raises(Conflict):
        service.create_folder(alice, tenants.alice.id, "Projects/2026")


def test_rename_moves_every_entry_and_their_search_labels(stores, service, tenants: Tenants):
    alice = user(tenants.alice)
    moved = deliver(stores, [tenants.alice], raw_message("zebra"), folder="Old")
    moved += deliver(stores, [tenants.alice], raw_message("zebra"), folder="Old")
    [stays] = deliver(stores, [tenants.alice], raw_message("zebra"), folder="Other")
    assert service.rename_folder(alice, tenants.alice.id, "Old", "New") == 2
    for entry in moved:
        assert service.get(alice, entry.id).folder == "New"
    assert service.get(alice, stays.id).folder == "Other"
    names = [f.name for f in service.folders(alice, tenants.alice.id)]
    assert "Old" not in names and "New" in names
    in_new = stores.search.search(PLATFORM, "zebra", filters={"folder": "New"})
    assert {hit.entry_id for hit in in_new} == {e.id for e in moved}


def test_rename_refuses_system_missing_and_taken_names(stores, service, tenants: Tenants):
    alice = user(tenants.alice)
    deliver(stores, [tenants.alice], folder="A")
    deliver(stores, [tenants.alice], folder="B")
    with pytest.raises(Conflict):
        service.rename_folder(alice, tenants.alice.id, "INBOX", "Mail")
    with pytest.raises(Conflict):
        service.rename_folder(alice, tenants.alice.id, "A", "Trash")
    with pytest.raises(Conflict):
        service.rename_folder(alice, tenants.alice.id, "A", "B")
    with pytest.raises(NotFound):
        service.rename_folder(alice, tenants.alice.id, "Nope", "C")
    counts = {f.name: f.total for f in service.folders(alice, tenants.alice.id)}
    assert counts["A"] == 1 and counts["B"] == 1


def test_an_empty_created_folder_keeps_its_new_name(stores, service, tenants: Tenants):
    alice = user(tenants.alice)
    service.create_folder(alice, tenants.alice.id, "Drafts2")
    assert service.rename_folder(alice, tenants.alice.id, "Drafts2", "Drafts3") == 0
    names = [f.name for f in service.folders(alice, tenants.alice.id)]
    assert "Drafts3" in names and "Drafts2" not in names


def test_delete_folder_only_when_empty_and_never_a_system_one(stores, service, tenants: Tenants):
    alice = user(tenants.alice)
    [entry] = deliver(stores, [tenants.alice], folder="Archive")
    with pytest.raises(Conflict):
        service.delete_folder(alice, tenants.alice.id, "Archive")
    for name in ("INBOX", "Trash", "Junk", "Quarantine"):
        with pytest.raises(Conflict):
            service.delete_folder(alice, tenants.alice.id, name)
    service.move(alice, entry.id, "INBOX")
    # Empty now, but it only ever existed through its entry: nothing left to delete.
    with pytest.raises(NotFound):
        service.delete_folder(alice, tenants.alice.id, "Archive")
    service.create_folder(alice, tenants.alice.id, "Archive")
    service.delete_folder(alice, tenants.alice.id, "Archive")
    assert "Archive" not in [f.name for f in service.folders(alice, tenants.alice.id)]


# -- delete, purge and the blobs it frees ---------------------------------------------


def message_row_exists(stores: Stores, message_id: str) -> bool:
    # Through the QueueStore's question for the sweep: is this blob named by a message row?
    return bool(stores.metadata.referenced_blob_keys([message_id]))


def test_delete_moves_to_trash_and_purge_removes_entry_document_and_blob(
    stores, service, tenants: Tenants
):
    alice = user(tenants.alice)
    [entry] = deliver(stores, [tenants.alice], raw_message("walrus"))
    with pytest.raises(Conflict):
        service.delete(alice, entry.id, purge=True)  # not in Trash yet: nothing happens
    assert stores.blobs.exists(entry.blob_key)
    deleted = service.delete(alice, entry.id)
    assert deleted.entry is not None and deleted.entry.folder == "Trash" and not deleted.purged
    assert searched_ids(stores, "walrus") == {entry.id}
    assert service.delete(alice, entry.id, purge=True).purged
    with pytest.raises(NotFound):
        service.get(alice, entry.id)
    assert searched_ids(stores, "walrus") == set()
    assert not stores.blobs.exists(entry.blob_key)
    assert not stores.metadata.referenced_blob_keys([entry.blob_key])
    with pytest.raises(NotFound):
        service.delete(alice, entry.id, purge=True)


def test_delete_and_purge_stay_in_scope(stores, service, tenants: Tenants):
    [entry] = deliver(stores, [tenants.alice], folder="Trash")
    for outsider in (user(tenants.amos), tenant_admin(tenants.b.id)):
        for purge in (False, True):
            with pytest.raises(NotFound):
                service.delete(outsider, entry.id, purge=purge)
    assert service.get(user(tenants.alice), entry.id).folder == "Trash"
    assert stores.blobs.exists(entry.blob_key)


def test_purge_keeps_the_blob_another_recipients_entry_needs(stores, service, tenants: Tenants):
    mine, amos = deliver(stores, [tenants.alice, tenants.amos], folder="Trash")
    service.delete(user(tenants.alice), mine.id, purge=True)
    assert stores.blobs.exists(mine.blob_key)
    assert service.raw(user(tenants.amos), amos.id)[1].startswith(b"From:")
    service.delete(user(tenants.amos), amos.id, purge=True)
    assert not stores.blobs.exists(mine.blob_key)


def test_purge_keeps_the_blob_a_live_queue_row_needs(stores, service, tenants: Tenants):
    # The message was for two recipients: one is stored, the other still queued.
    [entry] = deliver(stores, [tenants.alice], folder="Trash", settle=False)
    service.delete(user(tenants.alice), entry.id, purge=True)
    assert stores.blobs.exists(entry.blob_key)
    assert stores.metadata.referenced_blob_keys([entry.blob_key]) == {entry.blob_key}


def test_purge_keeps_a_blob_another_message_of_the_same_bytes_names(
    stores, service, tenants: Tenants
):
    raw = raw_message("twins")
    [first] = deliver(stores, [tenants.alice], raw, folder="Trash")
    [second] = deliver(stores, [tenants.amos], raw)
    assert first.blob_key == second.blob_key and first.message_id != second.message_id
    service.delete(user(tenants.alice), first.id, purge=True)
    assert stores.blobs.get(second.blob_key) == raw


class RacingBlobs:
    """The real blob store, with a delivery of the same bytes committing between the
    purge's transaction and its blob delete: the worst moment for it."""

    def __init__(self, stores: Stores, raw: bytes, rcpt: str) -> None:
        self.inner = stores.blobs
        self.stores, self.raw, self.rcpt = stores, raw, rcpt
        self.raced: list[str] = []

    def put(self, data: bytes) -> BlobInfo:
        return self.inner.put(data)

    def get(self, key: str) -> bytes:
        return self.inner.get(key)

    def exists(self, key: str) -> bool:
        return self.inner.exists(key)

    def delete(self, key: str) -> None:
        self.inner.delete(key)

    def close(self) -> None:
        self.inner.close()

    def delete_if_written_before(self, key: str, moment: datetime) -> bool:
        if not self.raced:
            real = Stores(self.stores.metadata, self.inner, self.stores.search)
            self.raced.append(spool(real, self.raw, (self.rcpt,)))
        assert isinstance(self.inner, SweepableBlobStore)
        return self.inner.delete_if_written_before(key, moment)

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)


# Through the service, with the real grace. The race at grace 0 (the body would otherwise
# go) is tested on the purger itself, in test_purging.py, where the purge's moment is set
# clear of the storage's coarse write times; here a zero grace would race those timestamps.
@pytest.mark.parametrize("grace", [timedelta(hours=1)])
def test_a_delivery_of_the_same_bytes_racing_a_purge_keeps_its_blob(
    stores, tenants: Tenants, grace: timedelta
):
    raw = raw_message("race")
    [entry] = deliver(stores, [tenants.alice], raw, folder="Trash")
    racing = RacingBlobs(stores, raw, tenants.amos.address)
    service = MailboxService(Stores(stores.metadata, racing, stores.search), None, grace)
    assert service.delete(user(tenants.alice), entry.id, purge=True).purged
    assert racing.raced, "the race did not run"
    # The delivery that raced has its 250: its body must still be there.
    assert stores.blobs.get(entry.blob_key) == raw
    assert stores.metadata.referenced_blob_keys([entry.blob_key]) == {entry.blob_key}


# -- retention --------------------------------------------------------------------------


def test_expire_purges_trash_and_junk_past_their_days(stores, service, tenants: Tenants):
    alice = user(tenants.alice)
    # Received long ago, deleted now: Trash counts from the move, not from arrival.
    [old_deleted] = deliver(stores, [tenants.alice], at=NOW - timedelta(days=400))
    service.delete(alice, old_deleted.id)
    [old_junk] = deliver(stores, [tenants.alice], folder="Junk", at=NOW - timedelta(days=11))
    [new_junk] = deliver(stores, [tenants.alice], folder="Junk", at=NOW - timedelta(days=9))
    [old_inbox] = deliver(stores, [tenants.bob], at=NOW - timedelta(days=400))
    seen: list[tuple[str, int]] = []
    report = service.expire(datetime.now(UTC), lambda f, n: seen.append((f, n)))
    assert (report.trash, report.junk, report.blobs_deleted) == (0, 1, 1)
    assert seen == [("Junk", 1)]
    assert [e.id for e in stores.metadata.get_entries(PLATFORM, [old_junk.id, new_junk.id])] == [
        new_junk.id
    ]
    later = service.expire(datetime.now(UTC) + timedelta(days=31))
    assert (later.trash, later.junk) == (1, 1)
    left = stores.metadata.get_entries(PLATFORM, [old_deleted.id, new_junk.id, old_inbox.id])
    assert [e.id for e in left] == [old_inbox.id]
    assert not stores.blobs.exists(old_deleted.blob_key)


def test_expire_keeps_everything_when_days_are_zero(stores, tenants: Tenants):
    service = MailboxService(stores, MailboxSettings(trash_days=0, junk_days=0), timedelta(0))
    [entry] = deliver(stores, [tenants.alice], folder="Junk", at=NOW - timedelta(days=999))
    report = service.expire(datetime.now(UTC) + timedelta(days=999))
    assert (report.trash, report.junk) == (0, 0)
    assert stores.metadata.get_entries(PLATFORM, [entry.id])


# -- threads and attachments ------------------------------------------------------------


def test_threads_and_thread_of_stay_in_scope(stores, service, tenants: Tenants):
    root = raw_message("root")
    root_id = parse_message(root).message_id
    [first] = deliver(stores, [tenants.alice], root, at=NOW - timedelta(hours=2))
    reply = raw_message("re: root", extra=f"In-Reply-To: {root_id}\r\n")
    [second] = deliver(stores, [tenants.alice], reply, at=NOW - timedelta(hours=1))
    [alone] = deliver(stores, [tenants.alice], raw_message("alone"))
    alice = user(tenants.alice)
    assert [e.id for e in service.thread(alice, first.id)] == [first.id, second.id]
    page = service.threads(alice, tenants.alice.id, limit=1)
    assert [(t.latest.id, t.count) for t in page.items] == [(alone.id, 1)]
    rest = service.threads(alice, tenants.alice.id, limit=1, before=page.next)
    assert [(t.latest.id, t.count) for t in rest.items] == [(second.id, 2)]
    for outsider in (user(tenants.amos), tenant_admin(tenants.b.id)):
        with pytest.raises(NotFound):
            service.thread(outsider, first.id)
        with pytest.raises(NotFound):
            service.threads(outsider, tenants.alice.id)
    assert service.threads(tenant_admin(tenants.b.id)).items == []


ATTACHED = (
    b"From: carol@remote.example\r\nTo: alice@a.example\r\nSubject: files\r\n"
    b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n'
    b"--b\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n"
    b"--b\r\nContent-Type: text/csv\r\n"
    b'Content-Disposition: attachment; filename="a.csv"\r\n\r\nx,y\r\n'
    b"--b\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n"
    b'Content-Disposition: attachment; filename="b.pdf"\r\n\r\nJVBERi0xLjQK\r\n--b--\r\n'
)


def test_attachments_are_numbered_as_the_detail_lists_them(stores, service, tenants: Tenants):
    [entry] = deliver(stores, [tenants.alice], ATTACHED)
    listed = parse_message(ATTACHED).attachments
    alice = user(tenants.alice)
    for index, info in enumerate(listed):
        assert service.attachment(alice, entry.id, index).info == info
    assert service.attachment(alice, entry.id, 1).content == b"%PDF-1.4\n"
    with pytest.raises(NotFound):
        service.attachment(alice, entry.id, 2)
    for outsider in (user(tenants.amos), tenant_admin(tenants.b.id)):
        with pytest.raises(NotFound):
            service.attachment(outsider, entry.id, 0)


def test_admin_purges_and_folder_changes_are_audited_a_users_own_are_not(
    stores, application, tenants: Tenants
):
    admin = tenant_admin(tenants.a.id)
    alice = user(tenants.alice)
    mine, theirs = (deliver(stores, [tenants.alice], folder="Trash")[0] for _ in range(2))
    application.mailboxes.delete(alice, mine.id, purge=True)
    application.mailboxes.delete(admin, theirs.id, purge=True)
    application.mailboxes.create_folder(admin, tenants.alice.id, "Old")
    application.mailboxes.rename_folder(admin, tenants.alice.id, "Old", "Older")
    application.mailboxes.delete_folder(admin, tenants.alice.id, "Older")
    records = application.audit.page(admin)
    assert [(r.action, r.target, r.details) for r in reversed(records)] == [
        ("message.purge", theirs.id, None),
        ("folder.rename", f"{tenants.alice.id}/Old", {"to": "Older"}),
        ("folder.delete", f"{tenants.alice.id}/Older", None),
    ]
    assert all(r.tenant_id == tenants.a.id for r in records)
    # The operator's actions land under the mailbox's tenant, where its admins see them.
    application.mailboxes.create_folder(ADMIN, tenants.alice.id, "Ops")
    application.mailboxes.delete_folder(ADMIN, tenants.alice.id, "Ops")
    newest = application.audit.page(admin)[0]
    assert (newest.action, newest.actor) == ("folder.delete", ADMIN.actor)
