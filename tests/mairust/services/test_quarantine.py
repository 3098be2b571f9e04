"""QuarantineService over real embedded stores: held mail (put in Quarantine by the real
pipeline from its accept-time annotations) is listed per mailbox and per tenant, released
to the folder it would have gone to with a QuarantineReleased event, deleted for good with
its blob; another tenant's (or for a user, another mailbox's) is never seen or touched."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mairust.config import QueueSettings
from mairust.errors import Conflict, Forbidden, NotFound
from mairust.events import RecordType
from mairust.model.annotations import Annotations
from mairust.model.directory import Mailbox
from mairust.model.folders import QUARANTINE
from mairust.model.ids import new_id
from mairust.model.mailbox import MailboxEntry
from mairust.model.message import Envelope, MessageRef, SpoolRecord
from mairust.model.principal import Permission, Principal, Role
from mairust.model.scope import PLATFORM, TenantScope
from mairust.pipeline.runner import PipelineRunner
from mairust.services.application import Application
from mairust.services.quarantine import QuarantineService
from mairust.storage.stores import Stores
from tests.mairust.services.conftest import ADMIN, Tenants
from tests.mairust.services.test_mailboxes import raw_message, tenant_admin, user


def held(
    stores: Stores, mailboxes: list[Mailbox], annotations: Annotations, subject: str = "held"
) -> list[MailboxEntry]:
    """Spool a message with ``annotations`` and run the real pipeline over it."""
    raw = raw_message(subject)
    blob = stores.blobs.put(raw)
    ref = MessageRef(new_id(), blob.size, blob.sha256, blob.key)
    envelope = Envelope(
        "carol@remote.example", tuple(m.address for m in mailboxes), datetime.now(UTC)
    )
    stores.metadata.commit_messages([SpoolRecord(ref, envelope, annotations=annotations)])
    items = stores.metadata.lease_batch("w", 100, 60)
    report = PipelineRunner(stores, QueueSettings()).process(items, "w")
    assert report.delivered == len(mailboxes)
    return [e for e in stores.metadata.list_entries(PLATFORM, limit=500) if e.message_id == ref.id]


HELD = Annotations(tags=("suspect",)).quarantined()


def test_held_mail_is_listed_by_name_only(
    application: Application, stores: Stores, tenants: Tenants
) -> None:
    [entry] = held(stores, [tenants.alice], HELD)
    assert entry.folder == QUARANTINE
    alice = user(tenants.alice)
    # An ordinary listing leaves held mail out; asked for by name, it is there.
    assert application.mailboxes.page(alice).items == []
    assert [e.id for e in application.mailboxes.page(alice, folder=QUARANTINE).items] == [entry.id]
    [page_item] = application.quarantine.page(alice).items
    assert (page_item.entry.id, page_item.release_to) == (entry.id, "INBOX")
    counts = {f.name: f.total for f in application.mailboxes.folders(alice, tenants.alice.id)}
    assert counts[QUARANTINE] == 1


def test_a_user_sees_their_own_a_tenant_admin_the_tenants_another_tenant_nothing(
    application: Application, stores: Stores, tenants: Tenants
) -> None:
    [for_alice] = held(stores, [tenants.alice], HELD, "one")
    [for_amos] = held(stores, [tenants.amos], HELD, "two")
    [for_bob] = held(stores, [tenants.bob], HELD, "three")

    def ids(principal: Principal, mailbox_id: str | None = None) -> set[str]:
        return {h.entry.id for h in application.quarantine.page(principal, mailbox_id).items}

    assert ids(user(tenants.alice)) == {for_alice.id}
    assert ids(tenant_admin(tenants.a.id)) == {for_alice.id, for_amos.id}
    assert ids(tenant_admin(tenants.a.id), tenants.amos.id) == {for_amos.id}
    assert ids(tenant_admin(tenants.b.id)) == {for_bob.id}
    assert ids(ADMIN) == {for_alice.id, for_amos.id, for_bob.id}
    with pytest.raises(NotFound):
        application.quarantine.page(tenant_admin(tenants.b.id), tenants.alice.id)
    for stranger, entry in (
        (tenant_admin(tenants.b.id), for_alice),
        (user(tenants.amos), for_alice),
    ):
        with pytest.raises(NotFound):
            application.quarantine.release(stranger, entry.id)
        with pytest.raises(NotFound):
            application.quarantine.delete(stranger, entry.id)
    assert stores.metadata.get_entry(PLATFORM, for_alice.id).folder == QUARANTINE


def test_a_release_goes_to_the_remembered_folder_and_is_an_event(
    application: Application, stores: Stores, tenants: Tenants, clock
) -> None:
    [entry] = held(stores, [tenants.alice], Annotations(folder="Junk").quarantined())
    [listed] = application.quarantine.page(user(tenants.alice)).items
    assert listed.release_to == "Junk"
    released = application.quarantine.release(tenant_admin(tenants.a.id), entry.id)
    assert released.folder == "Junk"
    assert stores.metadata.get_entry(PLATFORM, entry.id).folder == "Junk"
    [event] = stores.metadata.list_events(
        TenantScope(tenants.a.id), kinds=[RecordType.QUARANTINE_RELEASED]
    )
    assert event.webhook_type == "quarantine.released"
    assert (event.message_id, event.recipient, event.at) == (
        entry.message_id,
        "alice@a.example",
        clock.now,
    )
    assert event.detail == {"entry_id": entry.id, "folder": "Junk", "released_by": "t"}
    # Released once: it is no longer held, and the tenant admin's release was audited.
    with pytest.raises(Conflict):
        application.quarantine.release(tenant_admin(tenants.a.id), entry.id)
    audited = [r.action for r in stores.metadata.list_audit(PLATFORM, limit=50)]
    assert "quarantine.release" in audited


def test_a_message_that_is_not_held_is_neither_released_nor_deleted(
    application: Application, stores: Stores, tenants: Tenants
) -> None:
    [entry] = held(stores, [tenants.alice], Annotations())
    assert entry.folder == "INBOX"
    with pytest.raises(Conflict):
        application.quarantine.release(user(tenants.alice), entry.id)
    with pytest.raises(Conflict):
        application.quarantine.delete(user(tenants.alice), entry.id)
    assert stores.metadata.get_entry(PLATFORM, entry.id).folder == "INBOX"


def test_delete_purges_the_entry_and_the_blob_it_freed(
    application: Application, stores: Stores, tenants: Tenants
) -> None:
    # A grace below zero: the body counts as written long before the purge's moment (the
    # purger's own suite races a delivery against the real grace).
    service = QuarantineService(stores, application.mailboxes, blob_grace=timedelta(seconds=-5))
    [entry] = held(stores, [tenants.alice], HELD)
    blob_key = stores.metadata.get_entry(PLATFORM, entry.id).blob_key
    assert stores.blobs.exists(blob_key)
    service.delete(user(tenants.alice), entry.id)
    with pytest.raises(NotFound):
        stores.metadata.get_entry(PLATFORM, entry.id)
    assert not stores.blobs.exists(blob_key)
    with pytest.raises(NotFound):
        service.delete(user(tenants.alice), entry.id)


def test_held_mail_leaves_only_by_release_or_delete(
    application: Application, stores: Stores, tenants: Tenants
) -> None:
    [entry] = held(stores, [tenants.alice], HELD)
    alice = user(tenants.alice)
    with pytest.raises(Conflict, match="release or delete"):
        application.mailboxes.move(alice, entry.id, "INBOX")
    with pytest.raises(Conflict):
        application.mailboxes.delete(alice, entry.id)
    assert stores.metadata.get_entry(PLATFORM, entry.id).folder == QUARANTINE


def test_release_and_delete_need_the_write_permission(
    application: Application, stores: Stores, tenants: Tenants
) -> None:
    [entry] = held(stores, [tenants.alice], HELD)
    reader = Principal(
        Role.USER,
        TenantScope(tenants.alice.tenant_id, tenants.alice.id),
        frozenset({Permission.READ}),
        "r",
    )
    assert [h.entry.id for h in application.quarantine.page(reader).items] == [entry.id]
    with pytest.raises(Forbidden):
        application.quarantine.release(reader, entry.id)
    with pytest.raises(Forbidden):
        application.quarantine.delete(reader, entry.id)


def test_a_release_is_told_with_the_message_s_tags(
    stores: Stores, tenants: Tenants, application: Application
) -> None:
    """The accept-time tags (the hook's) reach ``on_release``, which is how learning
    plugins hear of their mistakes; a delete tells nothing."""
    told: list[tuple[str, tuple[str, ...]]] = []
    service = QuarantineService(
        stores,
        application.mailboxes,
        on_release=lambda entry, tags: told.append((entry.id, tuple(tags))),
    )
    [kept] = held(stores, [tenants.alice], Annotations(tags=("spam",)).quarantined())
    [dropped] = held(stores, [tenants.alice], HELD, "gone")
    service.delete(user(tenants.alice), dropped.id)
    service.release(user(tenants.alice), kept.id)
    assert told == [(kept.id, ("spam",))]
