"""Webhook endpoints and the durable webhook outbox, on every metadata backend
(conftest.METADATA_URLS): scoping, fan-out by event type, idempotent enqueue, leases that
only their owner settles, expiry, retries, giving up (still listed) and redelivery."""

from __future__ import annotations

import functools
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from mairust.errors import NotFound
from mairust.model.scope import PLATFORM, TenantScope
from mairust.model.webhooks import DeliveryState
from mairust.storage.sql_metadata import SqlMetadataStore
from tests.support.query_plans import plan_of_ordered_select, sorts

BODY = '{"type":"message.received","data":{}}'


@pytest.fixture
def tenants(metadata_store: SqlMetadataStore) -> tuple[str, str]:
    return metadata_store.create_tenant("a").id, metadata_store.create_tenant("b").id


def test_endpoints_are_reached_through_their_tenant(
    metadata_store: SqlMetadataStore, tenants: tuple[str, str]
) -> None:
    a, b = tenants
    store = metadata_store
    endpoint = store.add_webhook_endpoint(a, "https://hooks.example/a", "sec-1", ["x", "x", "y"])
    assert endpoint.event_types == ("x", "y") and endpoint.enabled
    assert store.get_webhook_endpoint(TenantScope(a), endpoint.id) == endpoint
    assert store.get_webhook_endpoint(PLATFORM, endpoint.id) == endpoint
    assert store.list_webhook_endpoints(TenantScope(a)) == [endpoint]
    # Another tenant, or one user's scope, sees nothing and changes nothing.
    for outsider in (TenantScope(b), TenantScope(a, mailbox_id="m1")):
        assert store.list_webhook_endpoints(outsider) == []
        with pytest.raises(NotFound):
            store.get_webhook_endpoint(outsider, endpoint.id)
        with pytest.raises(NotFound):
            store.update_webhook_endpoint(outsider, endpoint.id, enabled=False)
        with pytest.raises(NotFound):
            store.delete_webhook_endpoint(outsider, endpoint.id)
    changed = store.update_webhook_endpoint(
        TenantScope(a), endpoint.id, url="https://hooks.example/new", event_types=[], enabled=False
    )
    assert (changed.url, changed.event_types, changed.enabled, changed.secret_id) == (
        "https://hooks.example/new",
        (),
        False,
        "sec-1",
    )
    with pytest.raises(NotFound):
        store.add_webhook_endpoint("no-such-tenant", "https://x.example", "sec")
    store.delete_webhook_endpoint(TenantScope(a), endpoint.id)
    assert store.list_webhook_endpoints(PLATFORM) == []


def test_an_event_fans_out_to_the_endpoints_that_want_it_once(
    metadata_store: SqlMetadataStore, tenants: tuple[str, str]
) -> None:
    a, b = tenants
    store = metadata_store
    every = store.add_webhook_endpoint(a, "https://hooks.example/every", "s1")
    only_x = store.add_webhook_endpoint(a, "https://hooks.example/x", "s2", ["x"])
    only_y = store.add_webhook_endpoint(a, "https://hooks.example/y", "s3", ["y"])
    store.add_webhook_endpoint(a, "https://hooks.example/off", "s4", enabled=False)
    store.add_webhook_endpoint(b, "https://hooks.example/b", "s5")
    first = store.enqueue_webhook_event(a, "evt-1", "x", BODY)
    assert {d.endpoint_id for d in first} == {every.id, only_x.id}
    assert all(d.state is DeliveryState.PENDING and d.attempts == 0 for d in first)
    assert {d.url for d in first} == {every.url, only_x.url}
    again = store.enqueue_webhook_event(a, "evt-1", "x", BODY)
    assert sorted(d.id for d in again) == sorted(d.id for d in first)  # not enqueued twice
    single = store.enqueue_webhook(a, only_y.id, "evt-1", "x", BODY)  # explicit: type ignored
    assert single.endpoint_id == only_y.id
    assert len(store.list_webhook_deliveries(TenantScope(a))) == 3
    assert store.list_webhook_deliveries(TenantScope(b)) == []
    with pytest.raises(NotFound):
        store.enqueue_webhook(b, only_y.id, "evt-2", "x", BODY)


def test_leases_are_settled_only_by_their_owner(
    metadata_store: SqlMetadataStore, tenants: tuple[str, str]
) -> None:
    a, _ = tenants
    store = metadata_store
    store.add_webhook_endpoint(a, "https://hooks.example/1", "s1")
    for n in range(3):
        store.enqueue_webhook_event(a, f"evt-{n}", "x", BODY)
    leased = store.lease_webhook_deliveries("loop-1/a", 10, 60)
    assert [d.event_id for d in leased] == ["evt-0", "evt-1", "evt-2"]
    assert all(d.state is DeliveryState.LEASED and d.attempts == 1 for d in leased)
    assert store.lease_webhook_deliveries("loop-2/a", 10, 60) == []
    delivered, deferred, failed = leased
    assert not store.mark_webhook_delivered(delivered.id, "loop-2/a", 200)
    assert store.mark_webhook_delivered(delivered.id, "loop-1/a", 204)
    later = datetime.now(UTC) + timedelta(hours=1)
    assert store.defer_webhook_delivery(deferred.id, "loop-1/a", "HTTP 500", later, 500)
    assert store.fail_webhook_delivery(failed.id, "loop-1/a", "gave up after 1 attempts")
    by_id = {d.id: d for d in store.list_webhook_deliveries(TenantScope(a))}
    assert by_id[delivered.id].state is DeliveryState.DELIVERED
    assert by_id[delivered.id].last_status == 204 and by_id[delivered.id].delivered_at
    assert by_id[deferred.id].state is DeliveryState.PENDING
    assert (by_id[deferred.id].last_error, by_id[deferred.id].last_status) == ("HTTP 500", 500)
    assert abs(by_id[deferred.id].next_attempt_at - later) < timedelta(seconds=1)
    assert by_id[failed.id].state is DeliveryState.FAILED
    assert by_id[failed.id].last_error == "gave up after 1 attempts"
    # Nothing is due: the retry waits for its time, the others are settled.
    assert store.lease_webhook_deliveries("loop-1/a", 10, 60) == []
    failed_only = store.list_webhook_deliveries(TenantScope(a), state=DeliveryState.FAILED)
    assert [d.id for d in failed_only] == [failed.id]
    again = store.redeliver_webhook(TenantScope(a), failed.id)
    assert (again.state, again.attempts) == (DeliveryState.PENDING, 0)
    assert [d.id for d in store.lease_webhook_deliveries("loop-1/a", 10, 60)] == [failed.id]


def test_expired_and_released_leases_come_back(
    metadata_store: SqlMetadataStore, tenants: tuple[str, str]
) -> None:
    a, _ = tenants
    store = metadata_store
    store.add_webhook_endpoint(a, "https://hooks.example/1", "s1")
    store.enqueue_webhook_event(a, "evt-1", "x", BODY)
    store.enqueue_webhook_event(a, "evt-2", "x", BODY)
    [short] = store.lease_webhook_deliveries("node/1", 1, 0.2)
    [long] = store.lease_webhook_deliveries("node/1", 1, 600)
    time.sleep(0.3)
    [back] = store.lease_webhook_deliveries("node/2", 10, 60)
    assert (back.id, back.attempts, back.lease_owner) == (short.id, 2, "node/2")
    assert not store.mark_webhook_delivered(short.id, "node/1", 200)  # the old owner lost it
    assert store.release_webhook_leases("node/", keep_owner="node/2") == 1
    [released] = store.lease_webhook_deliveries("node/3", 10, 60)
    assert released.id == long.id
    with pytest.raises(ValueError):
        store.release_webhook_leases("")


def test_a_disabled_endpoints_deliveries_wait(
    metadata_store: SqlMetadataStore, tenants: tuple[str, str]
) -> None:
    a, _ = tenants
    store = metadata_store
    endpoint = store.add_webhook_endpoint(a, "https://hooks.example/1", "s1")
    store.enqueue_webhook_event(a, "evt-1", "x", BODY)
    store.update_webhook_endpoint(TenantScope(a), endpoint.id, enabled=False)
    assert store.lease_webhook_deliveries("loop/1", 10, 60) == []
    store.update_webhook_endpoint(TenantScope(a), endpoint.id, enabled=True)
    assert len(store.lease_webhook_deliveries("loop/1", 10, 60)) == 1


def test_concurrent_leasers_never_share_a_delivery(
    metadata_url: str, tenants: tuple[str, str], metadata_store: SqlMetadataStore
) -> None:
    a, _ = tenants
    metadata_store.add_webhook_endpoint(a, "https://hooks.example/1", "s1")
    for n in range(60):
        metadata_store.enqueue_webhook_event(a, f"evt-{n}", "x", BODY)
    taken: dict[str, list[str]] = {}

    def lease(owner: str) -> None:
        store = SqlMetadataStore(metadata_url)
        try:
            mine = taken.setdefault(owner, [])
            while batch := store.lease_webhook_deliveries(owner, 5, 60):
                mine.extend(d.id for d in batch)
        finally:
            store.close()

    threads = [threading.Thread(target=lease, args=(f"t{n}",)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    every = [d for ids in taken.values() for d in ids]
    assert len(every) == len(set(every)) == 60


def test_a_plugins_deliveries_share_the_outbox_and_no_scope_sees_them(
    metadata_store: SqlMetadataStore, tenants: tuple[str, str]
) -> None:
    a, _ = tenants
    store = metadata_store
    first = store.enqueue_plugin_webhook(
        "tickets", "https://t.example/in", "sec-p", "post_receive:m1", "hook.post_receive", BODY
    )
    assert first.tenant_id is None and first.url == "https://t.example/in"
    assert (first.secret_id, first.state) == ("sec-p", DeliveryState.PENDING)
    # The same call again (a job run twice) is one delivery.
    again = store.enqueue_plugin_webhook(
        "tickets", "https://t.example/in", "sec-p", "post_receive:m1", "hook.post_receive", BODY
    )
    assert again.id == first.id
    # An upgrade (new URL) or a secret set anew: one endpoint, brought up to date.
    moved = store.enqueue_plugin_webhook(
        "tickets", "https://t.example/v2", "sec-q", "post_receive:m2", "hook.post_receive", BODY
    )
    assert (moved.endpoint_id, moved.url, moved.secret_id) == (
        first.endpoint_id,
        "https://t.example/v2",
        "sec-q",
    )
    listed = store.list_plugin_webhook_deliveries("tickets")
    assert [d.event_id for d in listed] == ["post_receive:m2", "post_receive:m1"]
    assert all(d.url == "https://t.example/v2" for d in listed)
    assert store.list_plugin_webhook_deliveries("other") == []
    # Neither a tenant nor the platform's webhook API sees the plugin's endpoint.
    for scope in (PLATFORM, TenantScope(a)):
        assert store.list_webhook_endpoints(scope) == []
        assert store.list_webhook_deliveries(scope) == []
        with pytest.raises(NotFound):
            store.get_webhook_endpoint(scope, first.endpoint_id)
    # The delivery loop leases them like any other, and settles them.
    leased = store.lease_webhook_deliveries("loop", 10, 60)
    assert {d.id for d in leased} == {first.id, moved.id}
    assert store.mark_webhook_delivered(first.id, "loop", 204)
    assert store.list_plugin_webhook_deliveries("tickets")[1].state is DeliveryState.DELIVERED


def test_a_page_of_deliveries_is_read_from_an_index_not_sorted(
    metadata_store: SqlMetadataStore, tenants: tuple[str, str]
) -> None:
    """Deliveries grow with mail: the platform's listing (no index before 0033) and a
    tenant's read a page from an index."""
    a, _ = tenants
    store = metadata_store
    store.add_webhook_endpoint(a, "https://hooks.example/every", "s1")
    for n in range(3):
        store.enqueue_webhook_event(a, f"evt-{n}", "x", BODY)
    for scope in (PLATFORM, TenantScope(a)):
        plan = plan_of_ordered_select(
            store.engine, functools.partial(store.list_webhook_deliveries, scope, limit=2)
        )
        assert plan and not sorts(plan), plan
