"""The queue is the operator's: counts for every state; tenants are refused."""

from __future__ import annotations

import pytest

from mairust.errors import Forbidden
from mairust.model.principal import Permission, Principal, Role
from mairust.model.queue import QueueState
from mairust.model.scope import TenantScope
from tests.mairust.services.conftest import ADMIN


def test_counts_name_every_state(application):
    counts = application.queue.counts(ADMIN)
    assert counts == {state: 0 for state in QueueState}
    assert application.queue.rows(ADMIN) == []


def test_a_tenant_admin_may_not_see_the_queue(application, tenants):
    admin_a = Principal(
        Role.TENANT_ADMIN, TenantScope(tenants.a.id), frozenset(Permission), "ta", "x"
    )
    with pytest.raises(Forbidden):
        application.queue.counts(admin_a)
    with pytest.raises(Forbidden):
        application.queue.rows(admin_a)
