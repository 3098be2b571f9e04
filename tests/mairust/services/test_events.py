"""The event service: a tenant admin reads their tenant's log and traces; the trace keys
are normalised (Message-ID host part, recipient case); users are refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mairust.errors import Forbidden, InvalidInput
from mairust.events import Event, RecordType
from mairust.model.ids import new_id
from mairust.model.principal import Permission, Principal, Role
from mairust.model.scope import TenantScope
from mairust.services.application import Application
from mairust.services.events import TraceQuery
from mairust.storage.stores import Stores

from .conftest import ADMIN, Tenants

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def principal(role: Role, scope: TenantScope) -> Principal:
    return Principal(role, scope, frozenset(Permission), "token:x", "127.0.0.1")


def test_log_and_trace_through_the_tenant(
    application: Application, stores: Stores, tenants: Tenants
) -> None:
    mine = Event(
        new_id(),
        tenants.a.id,
        RecordType.RECEPTION,
        T0,
        message_id="q1",
        header_message_id="<m@host.example>",
        recipient="alice@a.example",
    )
    theirs = Event(new_id(), tenants.b.id, RecordType.RECEPTION, T0, recipient="bob@b.example")
    stores.metadata.append_events([mine, theirs])
    admin_a = principal(Role.TENANT_ADMIN, TenantScope(tenants.a.id))
    assert application.events.page(admin_a) == [mine]
    assert len(application.events.page(ADMIN)) == 2
    assert application.events.trace(
        admin_a, TraceQuery(header_message_id=" <m@HOST.example> ")
    ) == [mine]
    assert application.events.trace(admin_a, TraceQuery(recipient="Alice@A.example")) == [mine]
    admin_b = principal(Role.TENANT_ADMIN, TenantScope(tenants.b.id))
    assert application.events.trace(admin_b, TraceQuery(message_id="q1")) == []
    with pytest.raises(InvalidInput):
        application.events.trace(admin_a, TraceQuery())
    with pytest.raises(InvalidInput):
        application.events.trace(admin_a, TraceQuery(header_message_id="no id here"))
    with pytest.raises(InvalidInput):
        application.events.page(admin_a, since=T0, until=T0 - timedelta(seconds=1))
    user = principal(Role.USER, TenantScope(tenants.a.id, tenants.alice.id))
    with pytest.raises(Forbidden):
        application.events.page(user)
