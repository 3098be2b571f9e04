"""Held mail in the SQL metadata store (SQLite and PostgreSQL): the annotations a release
reads, the release that moves an entry out of Quarantine with its event in one
transaction, the envelopes pre_delivery reads, and listings that leave a folder out."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from mairust.errors import Conflict, NotFound
from mairust.events import Event, RecordType
from mairust.model.annotations import Annotations
from mairust.model.folders import QUARANTINE
from mairust.model.ids import new_id
from mairust.model.scope import PLATFORM, TenantScope
from mairust.storage.sql_metadata import SqlMetadataStore
from tests.mairust.storage.conftest import RecordMaker
from tests.support.stored_entries import deliver, tenant_with_mailboxes


def released_event(tenant_id: str, message_id: str) -> Event:
    return Event(
        new_id(),
        tenant_id,
        RecordType.QUARANTINE_RELEASED,
        datetime.now(UTC),
        message_id=message_id,
        detail={"folder": "Junk"},
    )


def test_release_moves_a_held_entry_and_keeps_its_event(
    metadata_store: SqlMetadataStore,
) -> None:
    tenant, [alice] = tenant_with_mailboxes(metadata_store, "acme", "alice")
    held = deliver(metadata_store, alice, folder=QUARANTINE)
    scope = TenantScope(tenant.id, alice.id)
    event = released_event(tenant.id, held.message_id)
    released = metadata_store.release_entry(scope, held.id, "Junk", event)
    assert released.folder == "Junk"
    assert metadata_store.get_entry(PLATFORM, held.id).folder == "Junk"
    [kept] = metadata_store.list_events(PLATFORM, kinds=[RecordType.QUARANTINE_RELEASED])
    assert (kept.id, kept.detail) == (event.id, {"folder": "Junk"})
    # Not held any more: a second release changes nothing and writes no event.
    with pytest.raises(Conflict):
        metadata_store.release_entry(scope, held.id, "INBOX", released_event(tenant.id, "m"))
    assert len(metadata_store.list_events(PLATFORM)) == 1


def test_release_is_not_found_outside_the_scope(metadata_store: SqlMetadataStore) -> None:
    tenant, [alice, amos] = tenant_with_mailboxes(metadata_store, "acme", "alice", "amos")
    other, _ = tenant_with_mailboxes(metadata_store, "other", "bob")
    held = deliver(metadata_store, alice, folder=QUARANTINE)
    for scope in (TenantScope(other.id), TenantScope(tenant.id, amos.id)):
        with pytest.raises(NotFound):
            metadata_store.release_entry(
                scope, held.id, "INBOX", released_event(tenant.id, held.message_id)
            )
    assert metadata_store.get_entry(PLATFORM, held.id).folder == QUARANTINE
    assert metadata_store.list_events(PLATFORM) == []


def test_message_annotations_and_envelopes_are_read_by_message(
    metadata_store: SqlMetadataStore, make_record: RecordMaker
) -> None:
    held = Annotations(folder="Junk", tags=("x",)).quarantined()
    first = dataclasses.replace(make_record("a@acme.example", "b@acme.example"), annotations=held)
    second = make_record("c@acme.example", mail_from="")
    metadata_store.commit_messages([first, second])
    ids = [first.ref.id, second.ref.id, "no-such-message"]
    notes = metadata_store.message_annotations(ids)
    assert notes == {first.ref.id: held, second.ref.id: Annotations()}
    assert notes[first.ref.id].release_to() == "Junk"
    envelopes = metadata_store.message_envelopes(ids)
    assert set(envelopes) == {first.ref.id, second.ref.id}
    assert envelopes[first.ref.id] == first.envelope
    assert envelopes[second.ref.id].mail_from == ""


def test_a_listing_may_leave_one_folder_out(metadata_store: SqlMetadataStore) -> None:
    _, [alice] = tenant_with_mailboxes(metadata_store, "acme", "alice")
    inbox = deliver(metadata_store, alice)
    held = deliver(metadata_store, alice, folder=QUARANTINE)
    every = {e.id for e in metadata_store.list_entries(PLATFORM)}
    assert every == {inbox.id, held.id}
    left_out = metadata_store.list_entries(PLATFORM, except_folder=QUARANTINE)
    assert [e.id for e in left_out] == [inbox.id]
