"""OutboundQueueService: rows and attempts through the caller's scope (a tenant admin sees
its tenant's; another tenant's message is a NotFound), operations on waiting rows only,
audited; the platform's counts for the operator only."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mairust.errors import Forbidden, InvalidInput, NotFound
from mairust.model.ids import new_id
from mairust.model.message import Envelope, MessageRef, SpoolRecord
from mairust.model.outbound import OutboundSelection, QueueAction, RecipientState, RemoteRecipient
from mairust.model.principal import ALL_PERMISSIONS, Principal, Role
from mairust.model.scope import TenantScope
from mairust.services.application import Application
from mairust.storage.stores import Stores
from tests.mairust.services.conftest import ADMIN, Tenants


def admin_of(tenant_id: str) -> Principal:
    return Principal(Role.TENANT_ADMIN, TenantScope(tenant_id), ALL_PERMISSIONS, "t")


def queued(stores: Stores, tenant_id: str, *recipients: str) -> str:
    ref = MessageRef(new_id(), 10, "0" * 64, new_id())
    envelope = Envelope("ann@a.example", recipients, datetime.now(UTC))
    remote = tuple(RemoteRecipient(r, tenant_id) for r in recipients)
    stores.metadata.commit_messages([SpoolRecord(ref, envelope, remote=remote)])
    return ref.id


def test_rows_and_attempts_are_seen_in_scope(
    application: Application, stores: Stores, tenants: Tenants
) -> None:
    mine = queued(stores, tenants.a.id, "joe@far.example")
    theirs = queued(stores, tenants.b.id, "kim@far.example")
    service = application.outbound

    assert [r.message.id for r in service.rows(admin_of(tenants.a.id))] == [mine]
    assert {r.message.id for r in service.rows(ADMIN)} == {mine, theirs}
    assert service.attempts(admin_of(tenants.a.id), mine) == []
    with pytest.raises(NotFound):
        service.attempts(admin_of(tenants.a.id), theirs)
    with pytest.raises(Forbidden):
        service.counts(admin_of(tenants.a.id))
    counts = service.counts(ADMIN)
    assert counts.by_state[RecipientState.SCHEDULED] == 2
    assert counts.by_state[RecipientState.DELIVERED] == 0


def test_operations_change_waiting_rows_in_scope_and_are_audited(
    application: Application, stores: Stores, tenants: Tenants
) -> None:
    message = queued(stores, tenants.a.id, "joe@far.example", "kim@far.example")
    service = application.outbound
    select = OutboundSelection(message_id=message)

    with pytest.raises(NotFound):
        service.act(admin_of(tenants.b.id), QueueAction.HOLD, select)
    held = service.act(admin_of(tenants.a.id), QueueAction.HOLD, select)
    assert len(held) == 2
    assert {r.state for r in stores.metadata.list_outbound()} == {RecipientState.HELD}
    service.act(admin_of(tenants.a.id), QueueAction.RETRY, select)  # a held one is released
    assert {r.state for r in stores.metadata.list_outbound()} == {RecipientState.SCHEDULED}
    with pytest.raises(InvalidInput):
        service.act(ADMIN, QueueAction.HOLD, OutboundSelection())
    actions = [r.action for r in application.audit.page(ADMIN, limit=10)]
    assert actions[:2] == ["outbound.retry", "outbound.hold"]


def test_an_operators_bounce_and_delete_end_each_recipient_in_its_trace(
    application: Application, stores: Stores, tenants: Tenants
) -> None:
    message = queued(stores, tenants.a.id, "joe@far.example", "kim@far.example")
    service = application.outbound
    operator = admin_of(tenants.a.id)
    service.act(operator, QueueAction.HOLD, OutboundSelection(message_id=message))
    [joe] = [r for r in stores.metadata.list_outbound() if r.recipient == "joe@far.example"]
    [kim] = [r for r in stores.metadata.list_outbound() if r.recipient == "kim@far.example"]
    service.act(operator, QueueAction.BOUNCE, OutboundSelection(ids=(joe.id,)))
    service.act(operator, QueueAction.DELETE, OutboundSelection(ids=(kim.id,)))

    traced = stores.metadata.trace_events(operator.scope, message_id=message)
    # Holding ends nothing; the bounce and the delete each end their recipient.
    assert [(e.kind.value, e.recipient) for e in traced] == [
        ("Bounce", "joe@far.example"),
        ("Discard", "kim@far.example"),
    ]
    bounce, discard = traced
    assert bounce.reply and (bounce.detail or {})["action"] == "bounce"
    assert discard.reply is None and (discard.detail or {})["by"] == "operator"
    assert (discard.detail or {})["action"] == "delete"
    assert [r.recipient for r in stores.metadata.list_outbound()] == ["joe@far.example"]
