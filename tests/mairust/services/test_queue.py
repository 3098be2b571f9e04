"""The queue is the operator's: counts for every state; tenants are refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mairust.errors import Forbidden
from mairust.model.principal import Permission, Principal, Role
from mairust.model.queue import QueueState
from mairust.model.scope import TenantScope
from mairust.services.queue import LeaseAges
from tests.mairust.services.conftest import ADMIN
from tests.mairust.services.test_mailboxes import raw_message, spool


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


def test_lease_ages_read_the_oldest_lease_and_the_expired_ones(application, stores, tenants):
    assert application.queue.lease_ages(ADMIN, 60, datetime.now(UTC)) == LeaseAges(0, 0, None)
    spool(stores, raw_message(), ("alice@a.example", "amos@a.example"))
    leased = stores.metadata.lease_batch("w", 100, lease_seconds=30)
    assert len(leased) == 2
    # Read as if 45 s had passed: each lease (30 s long) began 45 s ago and ended 15 s ago.
    later = datetime.now(UTC) + timedelta(seconds=45)
    ages = application.queue.lease_ages(ADMIN, 30, later)
    assert ages.leased == 2 and ages.expired == 2
    assert ages.oldest_seconds is not None and 44 <= ages.oldest_seconds <= 47
    # Read now: neither lease has ended, each is a few seconds old at most.
    fresh = application.queue.lease_ages(ADMIN, 30, datetime.now(UTC))
    assert fresh.expired == 0 and fresh.oldest_seconds is not None and fresh.oldest_seconds < 5


def test_a_tenant_admin_may_not_see_lease_ages(application, tenants):
    admin_a = Principal(
        Role.TENANT_ADMIN, TenantScope(tenants.a.id), frozenset(Permission), "ta", "x"
    )
    with pytest.raises(Forbidden):
        application.queue.lease_ages(admin_a, 60, datetime.now(UTC))
